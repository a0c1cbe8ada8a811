"""Rows written by the thousand (a sweep's postings, wallet lines, transfers): one INSERT, no model instance per row."""

from collections.abc import Iterable, Sequence

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Field, ForeignObject, Lookup, Model


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


def insert_objects(objects: list, fields: Sequence[str]) -> list:
    """Save new model instances (all of one model) as `bulk_create` would, in one `insert_rows`: only `fields` are
    written from each (the others get their field's default in the row, not on the instance); each gets its id."""
    if not objects:
        return objects
    model = type(objects[0])
    rows = [tuple(getattr(each, name) for name in fields) for each in objects]
    for each, (pk,) in zip(objects, insert_rows(model, fields, rows, returning=(model._meta.pk.attname,)), strict=True):
        each.pk = pk
        each._state.adding, each._state.db = False, connection.alias
    return objects


def _array_type(field) -> str:
    """The column's array type without its parameters (varchar[], not varchar(3)[]), as `bulk_create` casts it."""
    column = field.target_field if field.is_relation else field
    return column.db_type(connection).split("(")[0] + "[]"


def _column(field, values) -> list:
    kind = field.get_internal_type()
    if kind == "JSONField":
        return [field.get_db_prep_save(value, connection) for value in values]
    if kind == "DateTimeField":
        # As ISO 8601 text (with its UTC offset, so the session's time zone does not matter), each distinct time
        # once: psycopg quotes a datetime in an array 4 times slower, and a batch's rows mostly share one time.
        texts = {}
        return [
            None if value is None else texts.get(value) or texts.setdefault(value, value.isoformat())
            for value in values
        ]
    return list(values)


class AnyOf(Lookup):
    """`filter(id__any=[...])`: as `__in`, with the values sent as one array (`= ANY(%s)`) on PostgreSQL.

    For the batches' hundreds of ids and references: Django prepares an `__in` value by value, with a placeholder
    each that psycopg then finds again in the SQL: 1.3 ms of Python for 250 ids here, against 0.25 ms for an
    array. The values must be what the column holds (ids, strings), or model instances (their pk). Elsewhere
    (SQLite) it is an IN list."""

    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        # Not converted value by value (that is the cost saved): ids and strings already are what the column holds.
        return "%s", [[each.pk if isinstance(each, Model) else each for each in value]]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        _rhs, (values,) = self.process_rhs(compiler, connection)
        if not values:
            raise EmptyResultSet  # as `__in` with no values: nothing matches, and the query is not sent
        if connection.vendor != "postgresql":
            return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]
        return f"{lhs} = ANY(%s)", [*lhs_params, values]


def register_lookups() -> None:
    """Make `__any` available on every field (the app's `ready()` calls this)."""
    Field.register_lookup(AnyOf)
    ForeignObject.register_lookup(AnyOf)  # a foreign key's lookups are its own: `milestone__any=[...]`
