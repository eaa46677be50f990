"""What one operation works with: its unit of work, its instant, its credit source.

An `Operation` lives exactly as long as the unit of work it wraps. `now` is read from the
injected clock once, when the operation starts, so every step of it sees the same instant.
`Operations` opens them, for the charge and billing engines alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from domain.clock import Clock
from engines.credit_source import CreditSource
from persistence.ports import UnitOfWork, UnitOfWorkFactory

CreditSourceFactory = Callable[[UnitOfWork], CreditSource]
"""Builds the credit source that works inside one unit of work."""


@dataclass(frozen=True)
class Operation:
    """One unit of work, the operation's instant and its credit source."""

    uow: UnitOfWork
    now: datetime
    credits: CreditSource


class Operations:
    """Opens operations over a unit-of-work factory, a clock and a credit-source factory."""

    def __init__(
        self, uows: UnitOfWorkFactory, clock: Clock, credit_sources: CreditSourceFactory
    ) -> None:
        self.uows = uows
        self.clock = clock
        self._credit_sources = credit_sources

    @contextmanager
    def __call__(self, now: datetime | None = None) -> Iterator[Operation]:
        """One unit of work at `now` (default: the clock's now), committed if the block
        succeeds and rolled back if it raises."""
        with self.uows() as uow:
            yield Operation(uow, now or self.clock.now(), self._credit_sources(uow))
            uow.commit()
