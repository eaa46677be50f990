"""The meter snapshot: how much of a charge's feature its customer used, as seen at a cutoff."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.charge import UsageBasedCharge
from engines.operation import Operation


def snapshot(op: Operation, charge: UsageBasedCharge, cutoff: datetime) -> Decimal:
    """Sum of the customer's usage of the charge's feature with event time inside the service
    period (``from <= event_time < to``) and stored before `cutoff`; 0 without events."""
    intent = charge.intent
    return op.uow.usage.total(intent.customer_id, intent.feature_key, intent.service_period, cutoff)
