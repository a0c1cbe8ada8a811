"""Trigram indexes for the directory search (PostgreSQL only; SQLite searches without them).

`icontains` becomes `UPPER(column::text) LIKE UPPER('%…%')`; a GIN trigram index on exactly that
expression lets PostgreSQL answer it from the index instead of reading every row. The expressions
here must stay the ones Django generates for `name__icontains`, `headline__icontains` and
`skills__name__icontains` (marketplace/selectors.py `freelancer_list`).
"""

from django.db import migrations

INDEXES = [
    ("marketplace_user_name_trgm", "marketplace_user", "name"),
    ("marketplace_profile_headline_trgm", "marketplace_profile", "headline"),
    ("taggit_tag_name_trgm", "taggit_tag", "name"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0003_user_refund_to"),
        ("taggit", "__latest__"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
