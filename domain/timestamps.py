"""Instants: UTC datetimes truncated (not rounded) to whole seconds.

Every timestamp chargeflow stores or compares goes through `to_instant`, so a value given as an
aware `datetime` or as an ISO-8601 string ends up in one exact form. Naive datetimes are refused:
a billing engine must never guess a time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator

from chargeflow.domain.errors import InvalidInputError

EARLIEST_YEAR = 1970
LATEST_YEAR = 9998
"""Instants are refused outside these years (inclusive): no billing happens before 1970, and
9999 leaves no room for the durations added to an instant."""


def to_instant(value: datetime | str) -> datetime:
    """`value` as an aware UTC datetime truncated to whole seconds.

    Raises `InvalidInputError` for a naive datetime, an unparsable string, any other type, or an
    instant outside the years 1970 to 9998.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as error:
            raise InvalidInputError(f"not an ISO-8601 timestamp: {value!r}") from error
    if not isinstance(value, datetime):
        raise InvalidInputError(f"not a timestamp: {value!r}")
    if value.tzinfo is UTC and not value.microsecond:
        instant = value  # an instant already (most values are: loaded, or computed from one)
    elif value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"timestamp {value.isoformat()!r} has no time zone")
    else:
        try:
            instant = value.astimezone(UTC).replace(microsecond=0)
        except OverflowError as error:
            raise InvalidInputError(f"timestamp {value.isoformat()!r} is out of range") from error
    if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        raise InvalidInputError(
            f"timestamp {value.isoformat()!r} is outside the years {EARLIEST_YEAR}-{LATEST_YEAR}"
        )
    return instant


def format_instant(value: datetime) -> str:
    """The canonical text of an instant: ``2026-02-01T00:00:00Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Instant = Annotated[datetime, BeforeValidator(to_instant)]
"""A pydantic field type that accepts aware datetimes or ISO-8601 strings."""
