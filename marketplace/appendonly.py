"""Append-only records: the ledger, the message threads and the contract audit trail are facts.

`AppendOnlyModel` refuses updates and deletions in the ORM (instances and querysets);
`append_only_triggers` is the migration operation that makes PostgreSQL refuse them too, whatever
path tries (raw SQL, another app, a shell). TRUNCATE (test-database flushes) is not affected.
SQLite (development only) relies on the model layer.
"""

from django.db import migrations, models


class ImmutableRecordError(Exception):
    """A record is never edited or deleted: a correction is a new record."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableRecordError(f"{self.model.__name__} rows are append-only: update() is refused.")

    def delete(self):
        raise ImmutableRecordError(f"{self.model.__name__} rows are append-only: delete() is refused.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise ImmutableRecordError(f"{self.model.__name__} rows are append-only: bulk_update() is refused.")


class AppendOnlyModel(models.Model):
    """Rows are inserted once and never changed or removed."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRecordError(f"{type(self).__name__} #{self.pk} is append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecordError(f"{type(self).__name__} #{self.pk} is append-only and cannot be deleted.")


def append_only_triggers(function: str, tables: list[str]) -> migrations.RunPython:
    """A migration operation: PostgreSQL triggers refusing UPDATE and DELETE on `tables`."""
    body = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'append-only rows: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
"""

    def create(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(body, params=None)  # no placeholders: the % are PL/pgSQL formats
        for table in tables:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}();"
            )

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}();")

    return migrations.RunPython(create, drop)
