"""The facade over what customers consume and what they are given: usage and credits. It only
forwards to the use cases of `engines.usage` and `engines.credit_grants`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from chargeflow.domain.credits import CreditGrant
from chargeflow.domain.text import lookup_id
from chargeflow.domain.usage import UsageEvent
from chargeflow.engines import credit_grants, usage
from chargeflow.engines.operation import Operations


class Usage:
    """Record and list metered usage."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

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
        return self._operations.run(
            usage.record_usage,
            customer_id,
            feature_key,
            value=value,
            event_time=event_time,
            stored_at=stored_at,
        )

    def list(
        self,
        customer_id: str,
        feature_key: str | None = None,
        *,
        period: tuple[datetime | str, datetime | str] | None = None,
    ) -> list[UsageEvent]:
        """The customer's usage events ordered by event time, then id: only those recorded
        under `feature_key` if given, only those with ``from <= event_time < to`` if `period`
        ``(from, to)`` is given. `NotFoundError` for an unknown customer, `InvalidInputError`
        for a malformed period."""
        return self._operations.run(
            usage.list_usage,
            lookup_id(customer_id, "customer"),
            None if feature_key is None else lookup_id(feature_key, "feature"),
            period=period,
        )


class Credits:
    """Grant promotional credit and read balances."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    def grant(
        self,
        customer_id: str,
        *,
        amount: Decimal | int | str,
        granted_at: datetime | str | None = None,
    ) -> CreditGrant:
        """Grant `amount` (> 0) of credit in the customer's currency, usable from `granted_at`
        (default now) on; grants are drawn first-in, first-out."""
        return self._operations.run(
            credit_grants.grant_credit,
            lookup_id(customer_id, "customer"),
            amount=amount,
            granted_at=granted_at,
        )

    def balance(self, customer_id: str) -> Decimal:
        """Unallocated credit: grants' remaining amounts minus credit taken beyond them
        (negative when credit_only charges overdrew)."""
        return self._operations.run(credit_grants.balance, lookup_id(customer_id, "customer"))
