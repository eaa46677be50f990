"""What one operation works with, and the one way an operation is run (docs/architecture.md).

An `Operation` is one unit of work, the operation's instant (read from the injected clock once,
when the operation starts, so every step of it sees the same instant), its ledger, and the
invoice effects its charge actions produced and the caller has not applied yet.

Use cases are engine functions that take an `Operation` first; `Operations.run` opens one,
calls the use case, and commits if it returns (rolling everything back if it raises). Nothing
else opens a unit of work around an engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from chargeflow.domain.clock import Clock
from chargeflow.domain.customer import Customer
from chargeflow.domain.effects import InvoiceEffect
from chargeflow.domain.errors import UnappliedEffectsError
from chargeflow.domain.history import SYSTEM_ACTOR, TransitionRecord
from chargeflow.engines.ledger import Ledger, LedgerFactory
from chargeflow.persistence.ports import UnitOfWork, UnitOfWorkFactory

_log = logging.getLogger("chargeflow.engines")

P = ParamSpec("P")
R = TypeVar("R")
RecordT = TypeVar("RecordT", bound=TransitionRecord[Any, Any])


@dataclass
class Operation:
    """One unit of work, the operation's instant, its ledger, and its pending effects; the
    `actor` it runs for and the wall-clock instant it started (`recorded_at`), which its
    transition records carry.

    It also remembers, for its own duration, the customers and live features it has read: a
    customer's billing profile and the feature live under a key do not change within one
    operation (they change only through operations of their own), so a sweep over a page of
    charges reads each once, not once per charge."""

    uow: UnitOfWork
    now: datetime
    ledger: Ledger
    actor: str = SYSTEM_ACTOR
    recorded_at: datetime | None = None
    effects: list[InvoiceEffect] = field(default_factory=list)
    _customers: dict[str, Customer] = field(default_factory=dict, repr=False)
    _features: dict[str, str | None] = field(default_factory=dict, repr=False)

    def customer(self, customer_id: str) -> Customer:
        """The customer, read once per operation; `NotFoundError`."""
        if customer_id not in self._customers:
            self._customers[customer_id] = self.uow.customers.get(customer_id)
        return self._customers[customer_id]

    def lock_billing(self, customer_id: str) -> Customer:
        """The customer, read under its billing lock (`NotFoundError`), and remembered as
        `customer` for the rest of the operation."""
        self._customers[customer_id] = self.uow.customers.lock_billing(customer_id)
        return self._customers[customer_id]

    def live_feature_id(self, key: str) -> str | None:
        """The id of the feature live under `key`, read once per operation (None if none)."""
        if key not in self._features:
            feature = self.uow.features.live_by_key(key)
            self._features[key] = feature.id if feature is not None else None
        return self._features[key]

    def transition_record(
        self,
        kind: type[RecordT],
        subject_id: str,
        transition: tuple[Any, Any, Any],
        arguments: Mapping[str, str],
    ) -> RecordT:
        """The `kind` record of `transition` taken by `subject_id` in this operation: at its
        instant, for its actor, recorded at its wall-clock start (logged at DEBUG)."""
        if _log.isEnabledFor(logging.DEBUG):
            source, trigger, dest = transition
            _log.debug("%s %s: %s -%s-> %s", kind.__name__, subject_id, source, trigger, dest)
        return kind.of(
            subject_id,
            transition,
            arguments,
            self.now,
            actor=self.actor,
            recorded_at=self.recorded_at or self.now,
        )

    def require_no_pending_effects(self) -> None:
        """Raise `UnappliedEffectsError` while effects wait to be applied."""
        if self.effects:
            raise UnappliedEffectsError(list(self.effects))


class Operations:
    """Opens operations over a unit-of-work factory, a clock and a ledger factory, for `actor`
    (recorded on every transition). `wall_clock` tells when each operation really ran, whatever
    instant `clock` says it runs at; it is injected like `clock` (the engine never reads the
    system time itself)."""

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        clock: Clock,
        ledgers: LedgerFactory,
        *,
        actor: str = SYSTEM_ACTOR,
        wall_clock: Clock,
    ) -> None:
        self.clock = clock
        self.actor = actor
        self._uows = uows
        self._ledgers = ledgers
        self._wall_clock = wall_clock

    @contextmanager
    def __call__(self, now: datetime | None = None) -> Iterator[Operation]:
        """One operation at `now` (default: the clock's now), committed if the block succeeds
        and rolled back if it raises; `UnappliedEffectsError` if effects were left unapplied."""
        with self._uows() as uow:
            op = self._operation(uow, now)
            yield op
            op.require_no_pending_effects()
            uow.commit()

    def run(
        self,
        use_case: Callable[Concatenate[Operation, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """``use_case(operation, *args, **kwargs)`` in one operation at the clock's now."""
        with self() as op:
            return use_case(op, *args, **kwargs)

    def rehearse(
        self,
        use_case: Callable[Concatenate[Operation, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """``use_case(operation, *args, **kwargs)`` in one operation at the clock's now that is
        always rolled back: what the use case would do, with nothing written."""
        with self._uows() as uow:
            return use_case(self._operation(uow, None), *args, **kwargs)

    def _operation(self, uow: UnitOfWork, now: datetime | None) -> Operation:
        return Operation(
            uow,
            now or self.clock.now(),
            self._ledgers(uow),
            actor=self.actor,
            recorded_at=self._wall_clock.now(),
        )
