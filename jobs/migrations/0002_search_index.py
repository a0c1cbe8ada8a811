"""The full-text GIN index of the jobs search, on PostgreSQL only (SQLite, used by `make run`, has neither
tsvector nor GIN; the search falls back to a simple match there). The index expression is built from the
same `search_vector()` the search uses, so the planner can match them."""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

INDEX_NAME = "jobs_job_search"


def _index():
    from jobs.filters import search_vector

    return GinIndex(search_vector(), name=INDEX_NAME)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("jobs", "Job"), _index())


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("jobs", "Job"), _index())


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
