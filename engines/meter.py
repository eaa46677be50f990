"""The meter snapshot: how much of a charge's feature its customer used, cumulatively, up to a
run's bounds (docs/lifecycle.md section 7)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.periods import Period
from chargeflow.engines.features import current_feature_id
from chargeflow.engines.operation import Operation


def snapshot(
    op: Operation, charge: UsageBasedCharge, service_period_to: datetime, stored_at_lt: datetime
) -> Decimal:
    """Sum of the usage of the feature the charge was activated with (`state.feature_id`),
    with ``service_period.from <= event_time < service_period_to`` and ``stored_at <
    stored_at_lt``; 0 without events. Events recorded under a later feature reusing the key do
    not count."""
    intent = charge.intent
    feature_id = charge.state.feature_id or current_feature_id(op, charge)
    events = Period.model_construct(start=intent.service_period.start, end=service_period_to)
    return op.uow.usage.total(intent.customer_id, feature_id, events, stored_at_lt)
