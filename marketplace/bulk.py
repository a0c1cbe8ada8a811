"""Rows written by the thousand (a sweep's postings, wallet lines, transfers): one INSERT, no model instance per row."""

from collections.abc import Iterable, Sequence

from django.db import connection


def insert_rows(model, fields: Sequence[str], rows: Iterable[Sequence], *, returning: Sequence[str] = ()) -> list:
    """INSERT `rows` (tuples of values for `fields`, attribute names such as "entry_id") into `model`'s table in one
    statement; returns, for each row, the tuple of its `returning` columns (empty tuples when none are asked).

    Unlike `bulk_create`, nothing is built or converted per row: the values are what the model's attributes hold, and
    must already be what the columns take (ids, Decimals with the column's places, aware datetimes, strings); only a
    JSON column's values are converted, by their field. In the release sweep's batch, Django preparing
    each field of each posting cost more than the database writing it. Every other column but the primary key gets its
    field's default (as with `bulk_create`); on PostgreSQL computed once for the statement, so a `timezone.now` default
    is the same for every row.
    The database's constraints and triggers apply as to any INSERT.

    On PostgreSQL the rows go as one array per column (UNNEST, as `bulk_create` itself sends them); elsewhere
    (SQLite, the zero-setup default) through `bulk_create`.
    """
    rows = list(rows)
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = model.objects.bulk_create(model(**dict(zip(fields, row, strict=True))) for row in rows)
        return [tuple(getattr(each, name) for name in returning) for each in created]
    meta, quote = model._meta, connection.ops.quote_name
    given = [meta.get_field(name) for name in fields]  # get_field knows "entry_id" as well as "entry"
    # The other columns get what bulk_create would give them: the field's default ("" for a text field without one).
    defaulted = [field for field in meta.concrete_fields if field not in given and not field.primary_key]
    columns = ", ".join(quote(field.column) for field in [*given, *defaulted])
    arrays = ", ".join(f"%s::{_array_type(field)}" for field in given)
    constants = "".join(", %s" for _ in defaulted)
    returned = f" RETURNING {', '.join(quote(meta.get_field(name).column) for name in returning)}" if returning else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT *{constants} FROM UNNEST({arrays}){returned}",  # noqa: S608
            [
                *(field.get_db_prep_save(field.get_default(), connection) for field in defaulted),
                *(_column(field, values) for field, values in zip(given, zip(*rows, strict=True), strict=True)),
            ],
        )
        return [tuple(row) for row in cursor.fetchall()] if returning else [()] * cursor.rowcount


def _array_type(field) -> str:
    """The column's array type without its parameters (varchar[], not varchar(3)[]), as `bulk_create` casts it."""
    column = field.target_field if field.is_relation else field
    return column.db_type(connection).split("(")[0] + "[]"


def _column(field, values) -> list:
    if field.get_internal_type() == "JSONField":
        return [field.get_db_prep_save(value, connection) for value in values]
    return list(values)
