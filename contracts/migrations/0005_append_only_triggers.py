"""On PostgreSQL, the database itself refuses UPDATE and DELETE on the contract record: offer revisions
and their milestones, the audit trail, and submitted files. See marketplace/appendonly.py."""

from django.db import migrations

from marketplace.appendonly import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [("contracts", "0004_offer_thread")]

    operations = [
        append_only_triggers(
            "contracts_append_only",
            [
                "contracts_offerrevision",
                "contracts_offermilestone",
                "contracts_contractevent",
                "contracts_submissionfile",
            ],
        )
    ]
