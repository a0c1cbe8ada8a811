"""On PostgreSQL, the database itself refuses UPDATE and DELETE on ledger rows (entries, postings,
holds, accounts), whatever code path tries. See marketplace/appendonly.py."""

from django.db import migrations

from marketplace.appendonly import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [("escrow", "0001_initial")]

    operations = [append_only_triggers("escrow_append_only", ["escrow_entry", "escrow_posting", "escrow_hold", "escrow_account"])]
