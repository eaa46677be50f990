"""The DB-API side of the floors: `sqlite3` for SQLite, `psycopg` 3 for PostgreSQL, with no
SQLAlchemy in between.

`Raw` hides what differs between the two: placeholders (SQL is written with ``?`` and turned into
``%s`` for psycopg), how a transaction starts (``BEGIN IMMEDIATE`` on SQLite, as chargeflow's
engine does; implicitly on PostgreSQL), the row lock clauses (``FOR NO KEY UPDATE``, and
``SKIP LOCKED`` to claim, on PostgreSQL; nothing on SQLite, whose write transaction already
excludes other writers), and how chargeflow's column types store values: on SQLite an instant
is fixed-width UTC text and a decimal is its exact text, on PostgreSQL both go as they are.
Every statement sent is counted in `seen`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from benchmarks.capture import Statements
from benchmarks.databases import backend_of, dbapi_target

Params = Sequence[object]


class Raw:
    """One DB-API connection, in chargeflow's conventions. Use `connect`."""

    backend: str
    lock: str
    """The clause that locks the rows a SELECT reads (empty on SQLite)."""
    claim: str
    """The clause that locks the rows a SELECT reads, skipping rows others hold."""

    def __init__(self) -> None:
        self._columns: dict[str, frozenset[str]] = {}
        self.seen = Statements()
        """Statements sent, counted as SQLAlchemy's ``before_cursor_execute`` would see them
        for chargeflow: SQLite's ``BEGIN IMMEDIATE`` counts, a COMMIT and psycopg's implicit
        BEGIN do not."""

    @property
    def statements(self) -> int:
        """Every statement counted so far."""
        return self.seen.total

    def begin(self) -> None:
        """Start a write transaction."""
        raise NotImplementedError

    def commit(self) -> None:
        """Commit the transaction."""
        raise NotImplementedError

    def rollback(self) -> None:
        """Roll the transaction back."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""
        raise NotImplementedError

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run a SELECT; its rows."""
        raise NotImplementedError

    def execute(self, sql: str, params: Params = ()) -> None:
        """Run one statement."""
        raise NotImplementedError

    def executemany(self, sql: str, params: Iterable[Params]) -> None:
        """Run one statement for each parameter row (one call: the driver batches it)."""
        raise NotImplementedError

    def columns(self, table: str) -> frozenset[str]:
        """The columns `table` has (asked once per table and connection, not counted): the
        floors follow the schema chargeflow migrated to."""
        known = self._columns.get(table)
        if known is None:
            known = self._columns[table] = self._describe(f'SELECT * FROM "{table}" WHERE 1 = 0')
        return known

    def _describe(self, sql: str) -> frozenset[str]:
        raise NotImplementedError

    def value(self, value: object) -> object:
        """`value` as chargeflow's column types store it on this backend."""
        return value

    def values(self, row: Iterable[object]) -> tuple[object, ...]:
        """Each of `row` through `value`."""
        return tuple(self.value(item) for item in row)

    def instant(self, stored: Any) -> datetime:
        """A stored instant read back as an aware UTC datetime."""
        if isinstance(stored, datetime):
            return stored.astimezone(UTC)
        return datetime.fromisoformat(stored).replace(tzinfo=UTC)

    def decimal(self, stored: Any) -> Decimal:
        """A stored decimal read back (NULL as zero)."""
        return Decimal(0) if stored is None else Decimal(stored)


class SqliteRaw(Raw):
    """`Raw` on `sqlite3`: foreign keys on, a busy timeout, and explicit ``BEGIN IMMEDIATE``
    (pysqlite's own transaction handling off), as chargeflow configures its SQLite engine."""

    backend = "sqlite"
    lock = claim = ""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._connection = sqlite3.connect(path, isolation_level=None)
        self._connection.execute("PRAGMA foreign_keys=ON")
        self._connection.execute("PRAGMA busy_timeout=30000")

    def begin(self) -> None:
        self.seen.add("BEGIN IMMEDIATE")
        self._connection.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._connection.execute("COMMIT")

    def rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def close(self) -> None:
        self._connection.close()

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        self.seen.add(sql)
        return self._connection.execute(sql, tuple(params)).fetchall()

    def execute(self, sql: str, params: Params = ()) -> None:
        self.seen.add(sql)
        self._connection.execute(sql, tuple(params))

    def executemany(self, sql: str, params: Iterable[Params]) -> None:
        self.seen.add(sql)
        self._connection.executemany(sql, (tuple(row) for row in params))

    def _describe(self, sql: str) -> frozenset[str]:
        cursor = self._connection.execute(sql)
        return frozenset(column[0] for column in cursor.description)

    def value(self, value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        if isinstance(value, Decimal):
            return str(value)
        return value


class PostgresRaw(Raw):
    """`Raw` on psycopg 3 (transactions begin implicitly; ``executemany`` is pipelined)."""

    backend = "postgresql"
    lock = " FOR NO KEY UPDATE"
    claim = " FOR NO KEY UPDATE SKIP LOCKED"

    def __init__(self, target: str) -> None:
        super().__init__()
        self._connection: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(target)
        self._sql: dict[str, str] = {}

    def _dialect(self, sql: str) -> str:
        converted = self._sql.get(sql)
        if converted is None:
            converted = self._sql[sql] = sql.replace("?", "%s")
        return converted

    def begin(self) -> None:
        return None  # the first statement begins the transaction

    def commit(self) -> None:
        self._connection.commit()

    def rollback(self) -> None:
        self._connection.rollback()

    def close(self) -> None:
        self._connection.close()

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        self.seen.add(sql)
        return self._connection.execute(self._dialect(sql), tuple(params)).fetchall()

    def execute(self, sql: str, params: Params = ()) -> None:
        self.seen.add(sql)
        self._connection.execute(self._dialect(sql), tuple(params))

    def executemany(self, sql: str, params: Iterable[Params]) -> None:
        self.seen.add(sql)
        with self._connection.cursor() as cursor:
            cursor.executemany(self._dialect(sql), [tuple(row) for row in params])

    def _describe(self, sql: str) -> frozenset[str]:
        cursor = self._connection.execute(sql)
        return frozenset(column.name for column in cursor.description or ())

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        """Load `rows` into `table` with ``COPY ... FROM STDIN`` (set-up only, not a floor)."""
        names = ", ".join(f'"{column}"' for column in columns)
        with (
            self._connection.cursor() as cursor,
            cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(row)


def connect(url: str) -> Raw:
    """A `Raw` connection to the database at SQLAlchemy `url`."""
    if backend_of(url) == "sqlite":
        return SqliteRaw(dbapi_target(url))
    return PostgresRaw(dbapi_target(url))
