"""Recording metered usage (a use case taking an `Operation` first)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.usage import UsageEvent
from domain.validation import build
from engines.catalog import get_feature
from engines.operation import Operation


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
    op.uow.customers.get(customer_id)
    recorded = event.model_copy(update={"feature_id": get_feature(op, event.feature_key).id})
    op.uow.usage.add(recorded)
    return recorded
