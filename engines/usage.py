"""Recording and listing metered usage (use cases taking an `Operation` first)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.periods import Period
from chargeflow.domain.usage import UsageEvent
from chargeflow.domain.validation import build, validated
from chargeflow.engines.catalog import get_feature
from chargeflow.engines.operation import Operation


def record_usage(
    op: Operation,
    customer_id: str,
    feature_key: str,
    *,
    value: Decimal | int | str,
    event_time: datetime | str,
    stored_at: datetime | str | None,
) -> UsageEvent:
    """Record `value` (never negative) of `feature_key` used at `event_time` (stored at
    `stored_at`, default `event_time`), under the feature live under the key now.
    `NotFoundError` for an unknown customer or a key with no live feature."""
    event = build(
        UsageEvent,
        customer_id=customer_id,
        feature_key=feature_key,
        value=value,
        event_time=event_time,
        stored_at=stored_at,
    )
    if event.value < 0:
        raise InvalidInputError(f"amount {event.value} must not be negative")
    op.uow.customers.get(customer_id)
    recorded = event.model_copy(update={"feature_id": get_feature(op, event.feature_key).id})
    op.uow.usage.add(recorded)
    return recorded


def list_usage(
    op: Operation,
    customer_id: str,
    feature_key: str | None,
    *,
    period: tuple[datetime | str, datetime | str] | None,
) -> list[UsageEvent]:
    """The customer's usage events, by event time, then id: only those recorded under
    `feature_key` if it is given (whichever feature was live under it), only those with
    ``from <= event_time < to`` if `period` is given. `NotFoundError` for an unknown customer,
    `InvalidInputError` for a malformed period (not a pair of timestamps, or ``from > to``)."""
    events = None if period is None else validated(Period, period)
    op.uow.customers.get(customer_id)
    return op.uow.usage.list(customer_id, feature_key, events)
