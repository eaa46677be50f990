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
    """Every status a usage-based charge can be in."""

    CREATED = "created"
    ACTIVE = "active"
    FINAL_REALIZATION_STARTED = "active.final_realization.started"
    FINAL_REALIZATION_WAITING_FOR_COLLECTION = "active.final_realization.waiting_for_collection"
    FINAL_REALIZATION_PROCESSING = "active.final_realization.processing"
    FINAL_REALIZATION_COMPLETED = "active.final_realization.completed"
    FINAL = "final"
    DELETED = "deleted"


def meta_status(status: ChargeStatus) -> MetaStatus:
    """The meta status of `status`: the text before its first dot."""
    return MetaStatus(status.value.split(".", 1)[0])
