"""Column types that keep money exact and instants in UTC on both SQLite and PostgreSQL.

This module owns how a `Decimal` and an aware `datetime` are written to and read from a column.
It must not know any table, and it must not round or normalize values: what goes in comes back
equal. The migrations use these types too, so changing what DDL they emit needs a new migration.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import DateTime, Numeric, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

_SQLITE_INSTANT_WIDTH = len("2026-01-01 00:00:00.000000")
_T = TypeVar("_T")
_PARSED_TEXTS = 4_096
"""Texts each SQLite reader keeps parsed: a page of rows repeats the same instants (period
bounds, a batch's creation instant) and amounts over and over."""


@lru_cache(maxsize=_PARSED_TEXTS)
def _decimal_from_text(text: str | None) -> Decimal | None:
    """The Decimal SQLite stores as `text` (None for NULL); Decimals are immutable, so the
    texts read most are parsed once."""
    return None if text is None else Decimal(text)


@lru_cache(maxsize=_PARSED_TEXTS)
def _instant_from_text(text: str | None) -> datetime | None:
    """The aware UTC instant SQLite stores as `text` (None for NULL), parsed once per text."""
    if text is None:
        return None
    if len(text) == _SQLITE_INSTANT_WIDTH:
        try:  # the naive UTC text chargeflow writes, read as UTC (cheaper than a replace)
            return datetime.fromisoformat(text + "+00:00")
        except ValueError:
            pass  # not that text: parsed below
    return _utc(datetime.fromisoformat(text))


class _TextOnSqlite(TypeDecorator[_T]):
    """A column type stored as text on SQLite, whose texts `sqlite_reader` parses: SQLAlchemy
    is handed that cached parser itself as the result processor there (the text impl has no
    processor of its own to keep), one C-level call per value instead of its wrapper, a
    method and a parse. Other dialects keep `process_result_value`."""

    sqlite_reader: Callable[[Any], _T | None]

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], _T | None] | None:
        """`sqlite_reader` on SQLite, the TypeDecorator's own processor elsewhere."""
        if dialect.name == "sqlite":
            return self.sqlite_reader
        return super().result_processor(dialect, coltype)


class ExactDecimal(_TextOnSqlite[Decimal]):
    """A `Decimal` stored exactly: unconstrained ``NUMERIC`` on PostgreSQL (it keeps the scale it
    was given, so ``10.00`` reads back as ``10.00``), decimal text on SQLite.

    SQLite has no decimal type and SQLAlchemy's `Numeric` would go through a float there, so
    SQLite gets the `str` of the Decimal and reads it back with `Decimal(text)`. Text does not
    sort or sum numerically: sum such columns in Python on SQLite.
    """

    impl = Numeric()
    cache_ok = True
    sqlite_reader = staticmethod(_decimal_from_text)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Text on SQLite, unconstrained ``NUMERIC`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """The Decimal itself, or its exact text on SQLite."""
        if value is None or dialect.name != "sqlite":
            return value
        return str(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> Decimal | None:
        """The stored value as a Decimal (parsed from text on SQLite)."""
        if value is None or isinstance(value, Decimal):
            return value
        return _decimal_from_text(value)


class UtcDateTime(_TextOnSqlite[datetime]):
    """An aware instant, always read back as an aware UTC `datetime`.

    PostgreSQL stores ``TIMESTAMP WITH TIME ZONE``. SQLite stores the naive UTC time as fixed-width
    text (``2026-01-01 00:00:00.000000``), so comparing and ordering it in SQL is correct.
    A naive `datetime` is refused: the engine never guesses a time zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True
    sqlite_reader = staticmethod(_instant_from_text)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Fixed-width text on SQLite, ``TIMESTAMP WITH TIME ZONE`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(_SQLITE_INSTANT_WIDTH))
        return dialect.type_descriptor(DateTime(timezone=True))

    _last: tuple[datetime | None, Dialect | None, Any] = (None, None, None)
    """The last instant bound, its dialect and what it was bound as: a unit of work binds the
    same instant object (its operation's now) in every audit record and many states, so that
    one is converted once (a tuple swapped whole: safe across threads; it holds the instant,
    so an identical object is that very instant)."""

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """The instant in UTC (as fixed-width naive text on SQLite); `ValueError` if naive."""
        if value is None:
            return None
        last = self._last
        if last[0] is value and last[1] is dialect:
            return last[2]
        bound = self._bound(value, dialect)
        self._last = (value, dialect, bound)
        return bound

    @staticmethod
    def _bound(value: datetime, dialect: Dialect) -> Any:
        """`value` as `dialect` stores it; `ValueError` if it is naive."""
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store naive datetime {value.isoformat()}")
        utc = value if value.tzinfo is UTC else value.astimezone(UTC)
        if dialect.name == "sqlite":  # the text without its "+00:00" (cheaper than a replace)
            return utc.isoformat(sep=" ", timespec="microseconds")[:_SQLITE_INSTANT_WIDTH]
        return utc

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        """The stored instant as an aware UTC datetime."""
        if value is None or isinstance(value, str):
            return _instant_from_text(value)
        return _utc(value)


def _utc(instant: datetime) -> datetime:
    """`instant` in UTC; a naive one is taken as UTC (SQLite text is naive UTC)."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)
