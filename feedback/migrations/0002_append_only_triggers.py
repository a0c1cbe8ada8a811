"""On PostgreSQL, the database itself refuses UPDATE and DELETE on feedback: what a party wrote is never
changed. See marketplace/appendonly.py."""

from django.db import migrations

from marketplace.appendonly import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [("feedback", "0001_initial")]

    operations = [append_only_triggers("feedback_append_only", ["feedback_feedback"])]
