"""Watching what a piece of work does to the database: the SQL statements it sends, and the net
rows it leaves changed.

`statements()` counts every statement SQLAlchemy sends (its ``before_cursor_execute`` event on
`sqlalchemy.Engine`), sorted into reads, writes and transaction control. `Snapshots` and
`net_changes()` compare a database before and after some work, table by table, by primary key:
which rows were inserted, deleted or updated (and which columns of them changed). A row that
was deleted and re-inserted with the same content under a new id counts as *replaced
unchanged*: churn, not a change. `normalized()` masks ids and the audit log's serial key so the
net changes of two databases (chargeflow's and a floor's) can be compared row for row.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sqlalchemy as sa

Row = tuple[tuple[str, object], ...]
"""A row as sorted (column, value) pairs."""

_ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
_SERIAL_KEYS = {("charge_transitions", "id")}
_WRITES = ("INSERT", "UPDATE", "DELETE")
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass
class Statements:
    """Statements seen, by kind: ``read``, ``write`` and ``control`` (BEGIN, SAVEPOINT...)."""

    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """Every statement seen."""
        return sum(self.kinds.values())

    def add(self, statement: str) -> None:
        """Count one statement."""
        self.kinds[_kind(statement)] += 1


@cache
def _kind(statement: str) -> str:
    words = statement.split(None, 1)
    verb = words[0].upper() if words else ""
    return "write" if verb in _WRITES else "control" if verb in _CONTROL else "read"


@contextmanager
def statements() -> Iterator[Statements]:
    """Count the statements every SQLAlchemy engine in this process sends inside the block."""
    seen = Statements()

    def count(*event: Any) -> None:  # (conn, cursor, statement, parameters, context, many)
        seen.add(event[2])

    sa.event.listen(sa.Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", count)


Snapshot = dict[str, dict[tuple[object, ...], Row]]
"""Every application table's rows, by primary key."""


class Snapshots:
    """Snapshots of one database: every row of every table but Alembic's, read through a
    private engine (the tables are reflected once). `close` when done."""

    def __init__(self, url: str) -> None:
        self._engine = sa.create_engine(url)
        metadata = sa.MetaData()
        metadata.reflect(self._engine)
        self._tables = [t for t in metadata.sorted_tables if "alembic" not in t.name]

    def take(self) -> Snapshot:
        """Every row now, by table and primary key."""
        result: Snapshot = {}
        with self._engine.connect() as connection:
            for table in self._tables:
                keys = [column.name for column in table.primary_key.columns]
                rows: dict[tuple[object, ...], Row] = {}
                for record in connection.execute(table.select()).mappings():
                    pairs = tuple(sorted((str(k), v) for k, v in record.items()))
                    rows[tuple(record[key] for key in keys)] = pairs
                result[table.name] = rows
        return result

    def close(self) -> None:
        """Release the private engine."""
        self._engine.dispose()


@dataclass
class TableChanges:
    """One table's net changes: rows inserted, rows deleted, (before, after) of rows updated,
    and how many rows were deleted and re-inserted unchanged under a new id."""

    inserted: list[Row] = field(default_factory=list)
    deleted: list[Row] = field(default_factory=list)
    updated: list[tuple[Row, Row]] = field(default_factory=list)
    replaced_unchanged: int = 0

    def summary(self) -> str:
        """E.g. ``+2 ~1(status,advance_after)``."""
        parts = []
        if self.inserted:
            parts.append(f"+{len(self.inserted)}")
        if self.updated:
            columns = sorted({c for before, after in self.updated for c in _changed(before, after)})
            parts.append(f"~{len(self.updated)}({','.join(columns)})")
        if self.deleted:
            parts.append(f"-{len(self.deleted)}")
        return " ".join(parts)


def _changed(before: Row, after: Row) -> list[str]:
    old = dict(before)
    return [column for column, value in after if old.get(column) != value]


def net_changes(before: Snapshot, after: Snapshot) -> dict[str, TableChanges]:
    """What changed between two snapshots, per table (tables without a net change, or only
    with unchanged replacements, are still listed when something was replaced)."""
    changes: dict[str, TableChanges] = {}
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, {}), after.get(table, {})
        found = TableChanges(
            inserted=[new[key] for key in new.keys() - old.keys()],
            deleted=[old[key] for key in old.keys() - new.keys()],
            updated=[
                (old[key], new[key]) for key in old.keys() & new.keys() if old[key] != new[key]
            ],
        )
        _pair_replacements(table, found)
        if found.inserted or found.deleted or found.updated or found.replaced_unchanged:
            changes[table] = found
    return changes


def _pair_replacements(table: str, found: TableChanges) -> None:
    """Take deleted rows re-inserted with the same content (but a new id) out of both lists."""
    waiting = Counter(normalized(table, row) for row in found.deleted)
    if not waiting:
        return
    matched: Counter[Row] = Counter()
    inserted: list[Row] = []
    for row in found.inserted:
        key = normalized(table, row)
        if waiting[key] > matched[key]:
            matched[key] += 1
        else:
            inserted.append(row)
    deleted: list[Row] = []
    for row in found.deleted:
        key = normalized(table, row)
        if matched[key] > 0:
            matched[key] -= 1
            found.replaced_unchanged += 1
        else:
            deleted.append(row)
    found.inserted, found.deleted = inserted, deleted


def normalized(table: str, row: Row) -> Row:
    """`row` with every ULID (in any text, JSON included) masked and serial keys dropped."""
    return tuple(
        (column, _ULID.sub("<id>", value) if isinstance(value, str) else value)
        for column, value in row
        if (table, column) not in _SERIAL_KEYS
    )


def shape(changes: dict[str, TableChanges]) -> Counter[tuple[str, str, Row]]:
    """Net changes as a comparable multiset of (table, kind, normalized row); an update is its
    changed columns' new values."""
    found: Counter[tuple[str, str, Row]] = Counter()
    for table, change in changes.items():
        for row in change.inserted:
            found[(table, "insert", normalized(table, row))] += 1
        for row in change.deleted:
            found[(table, "delete", normalized(table, row))] += 1
        for before, after in change.updated:
            columns = set(_changed(before, after))
            values = tuple(pair for pair in after if pair[0] in columns)
            found[(table, "update", normalized(table, values))] += 1
    return found


def differences(
    engine: dict[str, TableChanges], floor: dict[str, TableChanges], limit: int = 4
) -> list[str]:
    """How the floor's net changes differ from chargeflow's (at most `limit` lines)."""
    ours, theirs = shape(engine), shape(floor)
    lines = []
    for (table, kind, values), count in sorted((ours - theirs).items(), key=repr):
        lines.append(f"only chargeflow {kind}s {count} {table} row(s) {_brief(values)}")
    for (table, kind, values), count in sorted((theirs - ours).items(), key=repr):
        lines.append(f"only the floor {kind}s {count} {table} row(s) {_brief(values)}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def _brief(values: Row) -> str:
    text = ", ".join(f"{column}={value!s}" for column, value in values)
    return f"({text[:160]}{'...' if len(text) > 160 else ''})"
