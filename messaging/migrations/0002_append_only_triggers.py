"""On PostgreSQL, the database itself refuses UPDATE and DELETE on messages and attachments: the
thread is the documented record of a collaboration. See marketplace/appendonly.py."""

from django.db import migrations

from marketplace.appendonly import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial")]

    operations = [append_only_triggers("messaging_append_only", ["messaging_message", "messaging_attachment"])]
