"""The transition audit log: one record per transition a charge or an invoice takes.

Charges and invoices are audited in the same log, by the same driver; a record names its subject
by id and keeps the statuses and trigger typed for that subject's machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from chargeflow.domain.invoices import InvoiceStatus, InvoiceTrigger
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import Instant
from chargeflow.domain.triggers import Trigger

StatusT = TypeVar("StatusT", ChargeStatus, InvoiceStatus)
TriggerT = TypeVar("TriggerT", Trigger, InvoiceTrigger)


SYSTEM_ACTOR = "system"
"""The actor of transitions nobody in particular asked for (the default of `open_app`)."""


class TransitionRecord(BaseModel, Generic[StatusT, TriggerT]):
    """Subject `subject_id` moved `from_status -> to_status` on `trigger` (with `arguments`,
    each as text), at the business instant `at`, on behalf of `actor`; `recorded_at` is the
    wall-clock instant the record was written (None for records made before chargeflow kept
    it). `at` is what the lifecycle reasons with (it may be set back or ahead by a caller's
    clock); `recorded_at` is when it really happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_id: str
    from_status: StatusT
    to_status: StatusT
    trigger: TriggerT
    arguments: dict[str, str] = Field(default_factory=dict)
    at: Instant
    actor: str = SYSTEM_ACTOR
    recorded_at: Instant | None = None

    @classmethod
    def of(
        cls,
        subject_id: str,
        transition: tuple[StatusT, TriggerT, StatusT],
        arguments: Mapping[str, str],
        at: datetime,
        *,
        actor: str,
        recorded_at: datetime,
    ) -> Self:
        """The record of ``(source, trigger, dest)`` taken by `subject_id` at `at` for `actor`,
        written at the wall-clock `recorded_at`."""
        source, trigger, dest = transition
        return cls(
            subject_id=subject_id,
            from_status=source,
            to_status=dest,
            trigger=trigger,
            arguments=dict(arguments),
            at=at,
            actor=actor,
            recorded_at=recorded_at,
        )


ChargeTransition = TransitionRecord[ChargeStatus, Trigger]
"""A transition of a charge."""
InvoiceTransition = TransitionRecord[InvoiceStatus, InvoiceTrigger]
"""A transition of a standard invoice."""
