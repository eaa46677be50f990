"""Charge triggers, and the delete policy the `delete` trigger carries (lifecycle.md section 2)."""

from __future__ import annotations

from enum import StrEnum


class Trigger(StrEnum):
    """An event fired at a charge's state machine."""

    NEXT = "next"
    INVOICE_CREATED = "invoice_created"
    COLLECTION_COMPLETED = "collection_completed"
    DELETE = "delete"


class DeletePolicy(StrEnum):
    """What deleting a credit_only charge does to the credits its runs consumed."""

    CORRECT = "correct"
    IGNORE = "ignore"
