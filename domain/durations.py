"""ISO-8601 durations such as a customer's collection interval (``P2D``, ``PT0S``, ``P1M``).

Parsing is done by `isodate`, which also handles calendar months and years that `timedelta`
cannot express, so ``P1M`` after January 31 lands where a billing person expects.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated

import isodate
from pydantic import AfterValidator

from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.timestamps import format_instant, to_instant

_ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
_LONGEST = datetime(2100, 1, 1, tzinfo=UTC)
"""A duration may reach from 2000-01-01 to 2100-01-01 at most: 100 years."""


@lru_cache(maxsize=256)
def parse_duration(text: str) -> timedelta | isodate.Duration:
    """The duration `text` denotes; `InvalidInputError` if it is not an ISO-8601 duration
    between zero and 100 years. Parsed once per text (a sweep asks for each charge's
    customer's collection interval)."""
    try:
        duration = isodate.parse_duration(text)
        end = _ANCHOR + duration
    except (isodate.ISO8601Error, ValueError, OverflowError, TypeError) as error:
        raise InvalidInputError(
            f"not an ISO-8601 duration of at most 100 years: {text!r}"
        ) from error
    if end < _ANCHOR:
        raise InvalidInputError(f"duration {text!r} must not be negative")
    if end > _LONGEST:
        raise InvalidInputError(f"duration {text!r} is longer than 100 years")
    return duration


def add_duration(instant: datetime, text: str) -> datetime:
    """`instant` plus the ISO-8601 duration `text`, as an instant; `InvalidInputError` when the
    result is beyond the last year an instant may have."""
    duration = parse_duration(text)
    try:
        moved = instant + duration
    except (OverflowError, ValueError) as error:  # past year 9999
        raise InvalidInputError(f"{format_instant(instant)} plus {text} is out of range") from error
    return to_instant(moved)


def _validate(text: str) -> str:
    parse_duration(text)
    return text


IsoDuration = Annotated[str, AfterValidator(_validate)]
"""A pydantic field type holding a validated ISO-8601 duration string."""
