"""ISO-8601 durations such as a customer's collection interval (``P2D``, ``PT0S``, ``P1M``).

Parsing is done by `isodate`, which also handles calendar months and years that `timedelta`
cannot express, so ``P1M`` after January 31 lands where a billing person expects.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import isodate
from pydantic import AfterValidator

from domain.errors import InvalidInputError
from domain.timestamps import to_instant


def parse_duration(text: str) -> timedelta | isodate.Duration:
    """The duration `text` denotes; `InvalidInputError` if it is not a non-negative ISO-8601 one."""
    try:
        duration = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError) as error:
        raise InvalidInputError(f"not an ISO-8601 duration: {text!r}") from error
    anchor = datetime(2000, 1, 1, tzinfo=UTC)
    if anchor + duration < anchor:
        raise InvalidInputError(f"duration {text!r} must not be negative")
    return duration


def add_duration(instant: datetime, text: str) -> datetime:
    """`instant` plus the ISO-8601 duration `text`, as an instant."""
    return to_instant(instant + parse_duration(text))


def _validate(text: str) -> str:
    parse_duration(text)
    return text


IsoDuration = Annotated[str, AfterValidator(_validate)]
"""A pydantic field type holding a validated ISO-8601 duration string."""
