"""On PostgreSQL, the database itself refuses UPDATE and DELETE on messages and attachments, whatever
code path tries (raw SQL, another app, a shell): the thread is the documented record of a collaboration.
The model layer refuses them too. TRUNCATE (test-database flushes) is not affected.
SQLite (development only) relies on the model layer.
"""

from django.db import migrations

TABLES = ["messaging_message", "messaging_attachment"]

FUNCTION = """
CREATE OR REPLACE FUNCTION messaging_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'messages are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)  # no placeholders: the % are PL/pgSQL formats
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION messaging_append_only();"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS messaging_append_only();")


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
