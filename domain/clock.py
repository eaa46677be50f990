"""The injected clock. The engine reads time only from a `Clock`, never from the system directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from chargeflow.domain.timestamps import to_instant


class Clock(Protocol):
    """Tells the current instant (UTC, whole seconds)."""

    def now(self) -> datetime:
        """The current instant."""
        ...


class SystemClock:
    """The wall clock, truncated to whole seconds. The default outside tests."""

    def now(self) -> datetime:
        """The wall-clock instant."""
        return to_instant(datetime.now(UTC))


class FrozenClock:
    """A clock that stands still until told otherwise: for tests, scenarios and the demo."""

    def __init__(self, instant: datetime | str) -> None:
        self._now = to_instant(instant)

    def now(self) -> datetime:
        """The instant the clock was last set to."""
        return self._now

    def set(self, instant: datetime | str) -> None:
        """Move the clock to `instant` (forwards or backwards)."""
        self._now = to_instant(instant)

    def advance(self, delta: timedelta) -> None:
        """Move the clock by `delta`."""
        self._now = to_instant(self._now + delta)
