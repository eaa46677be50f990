"""The one road from a repository to the database: SQLAlchemy Core statements on the unit of
work's connection, with database errors translated and decimals summed exactly.

Repositories build their statements on the Core tables of `tables` and run them through
`SqlRepository`; rows come back as plain tuples, mapped to domain models by each repository's
own mapping. This module must not commit or roll back (the unit of work owns the transaction)
and knows no table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Executable,
    Insert,
    Row,
    Select,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import NestedTransaction
from sqlalchemy.sql.dml import UpdateBase

from chargeflow.domain.errors import NotFoundError
from chargeflow.domain.money import ZERO, exact_arithmetic
from chargeflow.domain.periods import Period
from chargeflow.domain.runs import Totals
from chargeflow.persistence.sql.errors import database_errors, loading

M = TypeVar("M", bound=BaseModel)
AnyRow = Row[*tuple[Any, ...]]
"""A result row of any width."""


@cache
def _insert_into(table: Table) -> Insert:
    """The INSERT of `table`, built once: a statement object SQLAlchemy has seen before skips
    building it again and finds its compiled form at once (statements on the hot path are built
    once, with bound parameters)."""
    return insert(table)


def claimed(statement: Select[Any]) -> Select[Any]:
    """`statement` locking the rows it returns until the transaction ends and skipping rows
    another transaction holds (``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL; SQLite renders
    no lock clause: its write transaction already excludes every other writer)."""
    return statement.with_for_update(skip_locked=True, key_share=True)


class Savepoints:
    """The savepoints of one unit of work's connection, each begun lazily.

    `begin` only notes a savepoint; the SAVEPOINT is sent when a statement is about to run
    inside it (`ready`, which every statement of `SqlRepository` calls first), after those of
    the savepoints around it that are not begun yet, outermost first. So every statement run
    inside a savepoint runs after it began (PostgreSQL aborts the whole transaction on a
    failed statement that no savepoint encloses), and a block that runs no statement costs no
    round trip: it changed nothing in the database that a rollback would have to undo.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._stack: list[NestedTransaction | None] = []
        """The savepoints entered and not ended, outermost first; None while not begun (the
        begun ones are always the outermost)."""

    def begin(self) -> None:
        """Enter a savepoint (sent before the next statement)."""
        self._stack.append(None)

    def ready(self) -> None:
        """Begin every savepoint entered and not begun yet, outermost first."""
        if self._stack and self._stack[-1] is None:
            for index, nested in enumerate(self._stack):
                if nested is None:
                    self._stack[index] = self._connection.begin_nested()

    def end(self, *, keep: bool) -> None:
        """Leave the innermost savepoint: RELEASE it (`keep`) or ROLLBACK TO it, if it was
        begun."""
        nested = self._stack.pop()
        if nested is not None:
            if keep:
                nested.commit()
            else:
                nested.rollback()


class SqlRepository:
    """Base of every SQL repository: runs statements on one connection, each after the
    savepoints it runs in have begun."""

    def __init__(self, connection: Connection, savepoints: Savepoints) -> None:
        self._connection = connection
        self._savepoints = savepoints

    def _execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        """Run `statement` (with `parameters`: one set, or several as an executemany)."""
        self._savepoints.ready()
        if parameters is None:
            return self._connection.execute(statement)
        return self._connection.execute(statement, parameters)

    def _rows(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[AnyRow]:
        """Every row `statement` returns (for `parameters`, when it was built with bound
        parameters)."""
        with database_errors():
            return self._execute(statement, parameters).all()

    def _insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """INSERT `rows` (one statement, executemany for several)."""
        if rows:
            with database_errors():
                self._execute(_insert_into(table), list(rows))

    def _write(
        self, statement: UpdateBase, parameters: Sequence[Mapping[str, Any]] | None = None
    ) -> int:
        """Run an UPDATE or DELETE (once per parameter set, as one executemany, when
        `parameters` are given); the number of rows it matched (not reliable for several
        parameter sets on every driver)."""
        with database_errors():
            return self._execute(
                statement, None if parameters is None else list(parameters)
            ).rowcount

    def _update(self, table: Table, record_id: str, values: Mapping[str, Any], kind: str) -> None:
        """One UPDATE of `values` on row `record_id`; `NotFoundError` if there is none."""
        statement = update(table).where(table.c.id == record_id).values(dict(values))
        if self._write(statement) == 0:
            raise NotFoundError(kind, record_id)

    def _sum_by(
        self, key: ColumnElement[Any], value: ColumnElement[Decimal], *where: ColumnElement[bool]
    ) -> dict[Any, Decimal]:
        """Exact sums of `value` per `key` over the rows matching `where`.

        SQLite stores decimals as text, which SQL cannot sum exactly: there the values are
        fetched and summed as `Decimal`s. Elsewhere the column is NUMERIC and SUM is exact.
        """
        if self._connection.dialect.name != "sqlite":
            statement: Select[Any] = select(key, func.sum(value)).where(*where).group_by(key)
            return dict(self._rows(statement))
        sums: dict[Any, Decimal] = {}
        with exact_arithmetic():
            for group, amount in self._rows(select(key, value).where(*where)):
                sums[group] = sums.get(group, ZERO) + amount
        return sums


def flat_record(model: type[M], table: Table, row: AnyRow) -> M:
    """The domain record of `model` stored in `row` of `table`, whose columns carry the
    model's field names; `CorruptRecordError` if it does not validate."""
    values = row._mapping
    with loading(table.name, str(values["id"])):
        return model.model_validate({name: values[name] for name in _field_names(model)})


def restored_flat(model: type[M], row: AnyRow) -> M:
    """The record of `model` stored in `row`, whose columns carry the model's field names and
    hold nothing this version may not know (amounts, instants, ids), `restored`."""
    values = row._mapping
    return restored(model, {name: values[name] for name in _field_names(model)})


@cache
def _field_names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(model.model_fields)


_set_attribute = object.__setattr__


def restored(model: type[M], values: dict[str, Any]) -> M:
    """`model` holding `values` (each of its fields, by name) as they were stored, without
    validating them again: chargeflow validated them before writing them, and the column types
    return them as written. What a stored row may hold that this version does not know (a
    status, a mode, a type, a price) is checked by the caller, which raises
    `CorruptRecordError`. This is pydantic's `model_construct` without its handling of
    aliases and defaults, which costs more than validating."""
    record = model.__new__(model)
    _set_attribute(record, "__dict__", values)
    _set_attribute(record, "__pydantic_fields_set__", set(values))
    _set_attribute(record, "__pydantic_extra__", None)
    _set_attribute(record, "__pydantic_private__", None)
    return record


def stored_alike(held: object, given: object) -> bool:
    """Whether `given` would be stored exactly as `held` is: equal values, and decimals of the
    same exponent too (``10.0`` and ``10.00`` are equal, but stored as different text, or
    NUMERIC scale). Models are compared field by field, by name."""
    if held is given:  # most values of a record saved as it stands are the very objects held
        return True
    if type(held) is not type(given):
        return False
    if isinstance(held, Decimal) and isinstance(given, Decimal):
        return not held.compare_total(given)  # 0 only for the same digits and exponent
    if isinstance(held, BaseModel) and isinstance(given, BaseModel):
        fields = given.__dict__
        return all(stored_alike(kept, fields[name]) for name, kept in held.__dict__.items())
    if isinstance(held, (tuple, list)) and isinstance(given, (tuple, list)):
        return len(held) == len(given) and all(map(stored_alike, held, given))
    return held == given


def stored_period(start: datetime, end: datetime) -> Period:
    """The `Period` a row stores in two instant columns, `restored`."""
    return restored(Period, {"start": start, "end": end})


def stored_totals(values: Mapping[Any, Any], prefix: str = "") -> Totals:
    """The `Totals` a row stores in its ``{prefix}amount``, ``{prefix}credits_total`` and
    ``{prefix}total`` columns (a run, an invoice, a line; a run's invoice usage as ``usage_``)."""
    return restored(
        Totals,
        {
            "amount": values[f"{prefix}amount"],
            "credits_total": values[f"{prefix}credits_total"],
            "total": values[f"{prefix}total"],
        },
    )


def flat_values(record: BaseModel) -> dict[str, Any]:
    """The column values of a record whose fields are its table's columns."""
    return record.model_dump()


def ids_matching(table: Table, exact: str, suffix: str | None, limit: int) -> Select[Any]:
    """The SELECT of up to `limit` ids of `table` that are `exact` or, upper-cased, end with
    `suffix` (escaped: ``%`` and ``_`` match only themselves), `exact` first, then ascending.

    Upper-casing the column makes the match case-insensitive alike on PostgreSQL (whose LIKE is
    case-sensitive) and SQLite (whose LIKE is not, for ASCII). A LIKE with a leading wildcard
    reads every id of the table: a user's lookup, never a hot path."""
    column = table.c.id
    match = column == exact
    if suffix is not None:
        match = match | func.upper(column).endswith(suffix, autoescape=True)
    return select(column).where(match).order_by((column == exact).desc(), column).limit(limit)
