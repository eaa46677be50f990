"""The facade over what customers consume and what they are given: usage and credits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.clock import Clock
from domain.credits import CreditGrant
from domain.errors import NotFoundError
from domain.money import ZERO
from domain.usage import UsageEvent
from domain.validation import build
from persistence.ports import UnitOfWorkFactory


class Usage:
    """Record metered usage."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock) -> None:
        self._uows = uows
        self._clock = clock

    def record(
        self,
        customer_id: str,
        feature_key: str,
        *,
        value: Decimal | int | str,
        event_time: datetime | str,
        stored_at: datetime | str | None = None,
    ) -> UsageEvent:
        """Record `value` of `feature_key` used at `event_time` (stored at `stored_at`, default
        `event_time`). `NotFoundError` for an unknown customer or a key with no live feature."""
        event = build(
            UsageEvent,
            customer_id=customer_id,
            feature_key=feature_key,
            value=value,
            event_time=event_time,
            stored_at=stored_at,
        )
        with self._uows() as uow:
            uow.customers.get(customer_id)
            if uow.features.live_by_key(feature_key) is None:
                raise NotFoundError("feature", feature_key)
            uow.usage.add(event)
            uow.commit()
        return event


class Credits:
    """Grant promotional credit and read balances."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock) -> None:
        self._uows = uows
        self._clock = clock

    def grant(
        self,
        customer_id: str,
        *,
        amount: Decimal | int | str,
        granted_at: datetime | str | None = None,
    ) -> CreditGrant:
        """Grant `amount` (> 0) of credit in the customer's currency, usable from `granted_at`
        (default now) on; grants are drawn first-in, first-out."""
        grant = build(
            CreditGrant,
            customer_id=customer_id,
            amount=amount,
            granted_at=granted_at or self._clock.now(),
        )
        with self._uows() as uow:
            uow.customers.get(customer_id)
            uow.credits.add_grant(grant)
            uow.commit()
        return grant

    def balance(self, customer_id: str) -> Decimal:
        """Unallocated credit: grants' remaining amounts minus credit taken beyond them
        (negative when credit_only charges overdrew)."""
        with self._uows() as uow:
            uow.customers.get(customer_id)
            remaining = sum((b.remaining for b in uow.credits.balances(customer_id)), ZERO)
            return remaining - uow.credits.unassigned_total(customer_id)
