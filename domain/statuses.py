"""Charge statuses and their meta statuses (docs/lifecycle.md section 1).

A status is a detailed dotted string; its meta status is the text before the first dot.
`meta_status` is the one mapping. A stored string becomes a status through `ChargeStatus(text)`
when a charge is loaded (an unknown one is a `CorruptRecordError`).
"""

from __future__ import annotations

from enum import StrEnum


class MetaStatus(StrEnum):
    """The coarse phase of a charge."""

    CREATED = "created"
    ACTIVE = "active"
    FINAL = "final"
    DELETED = "deleted"


class ChargeStatus(StrEnum):
    """Every status a usage-based charge can be in (`REALIZATION_ISSUING` and
    `AWAITING_PAYMENT_SETTLEMENT` belong to the credit_then_invoice machine only)."""

    CREATED = "created"
    ACTIVE = "active"
    REALIZATION_STARTED = "active.realization.started"
    REALIZATION_WAITING_FOR_COLLECTION = "active.realization.waiting_for_collection"
    REALIZATION_PROCESSING = "active.realization.processing"
    REALIZATION_ISSUING = "active.realization.issuing"
    REALIZATION_COMPLETED = "active.realization.completed"
    AWAITING_PAYMENT_SETTLEMENT = "active.awaiting_payment_settlement"
    FINAL = "final"
    DELETED = "deleted"


def meta_status(status: ChargeStatus) -> MetaStatus:
    """The meta status of `status`: the text before its first dot."""
    return MetaStatus(status.value.split(".", 1)[0])
