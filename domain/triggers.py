"""Charge triggers and their typed arguments (docs/lifecycle.md section 2).

Every trigger that takes an argument has a small frozen model here, validated before the machine
is asked: a missing, extra or malformed field is refused, naming the field. The models are what
travels from the caller through the driver and `transitions` to the entry actions; no loose
keyword arguments cross a layer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from chargeflow.domain.periods import Period
from chargeflow.domain.timestamps import Instant


class Trigger(StrEnum):
    """An event fired at a charge's state machine."""

    NEXT = "next"
    INVOICE_CREATED = "invoice_created"
    COLLECTION_COMPLETED = "collection_completed"
    INVOICE_ISSUED = "invoice_issued"
    DELETE = "delete"
    EXTEND = "extend"
    SHRINK = "shrink"


class DeletePolicy(StrEnum):
    """What deleting a charge does to the credits its runs consumed."""

    CORRECT = "correct"
    IGNORE = "ignore"


def _non_empty_id(value: str) -> str:
    if not value.strip():
        raise ValueError("must be a non-empty id")
    return value


def _delete_policy(value: Any) -> DeletePolicy:
    try:
        return DeletePolicy(value)
    except ValueError as error:
        raise ValueError(f"must be one of {[policy.value for policy in DeletePolicy]}") from error


NonEmptyId = Annotated[str, AfterValidator(_non_empty_id)]


class TriggerArgument(BaseModel):
    """The argument of one trigger: frozen, and unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def audit(self) -> dict[str, str]:
        """The argument as the audit log keeps it: each field as text, a text field as it is
        and any other as JSON (a period is ``{"start": "…", "end": "…"}``)."""
        return {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in self.model_dump(mode="json").items()
        }


class InvoiceCreated(TriggerArgument):
    """`invoice_created`: the persisted standard line that bills the charge, its invoice, and
    the line's service period (which decides whether the run is partial or final)."""

    line_id: NonEmptyId
    invoice_id: NonEmptyId
    service_period: Period


class InvoiceIssued(TriggerArgument):
    """`invoice_issued`: the standard line of the charge's current run, and its invoice."""

    line_id: NonEmptyId
    invoice_id: NonEmptyId


class Delete(TriggerArgument):
    """`delete`: what happens to credits the charge's runs already consumed."""

    policy: Annotated[DeletePolicy, BeforeValidator(_delete_policy)]


class PeriodChange(TriggerArgument):
    """`extend` / `shrink`: the new end of the charge's service period (later for `extend`,
    earlier but still after its start for `shrink`; the action checks which)."""

    to: Instant


TRIGGER_ARGUMENTS: Mapping[Trigger, type[TriggerArgument] | None] = {
    Trigger.NEXT: None,
    Trigger.INVOICE_CREATED: InvoiceCreated,
    Trigger.COLLECTION_COMPLETED: None,
    Trigger.INVOICE_ISSUED: InvoiceIssued,
    Trigger.DELETE: Delete,
    Trigger.EXTEND: PeriodChange,
    Trigger.SHRINK: PeriodChange,
}
"""The argument model of every trigger (None: the trigger takes no argument)."""

BILLING_TRIGGERS = frozenset(
    {Trigger.INVOICE_CREATED, Trigger.COLLECTION_COMPLETED, Trigger.INVOICE_ISSUED}
)
"""Triggers only billing fires, with the invoice's facts, through its line engine:
`charges.fire` refuses them."""

PERIOD_CHANGES = frozenset({Trigger.EXTEND, Trigger.SHRINK})
"""Triggers that move the end of a charge's service period (docs/lifecycle.md section 11): their
rows are internal, the action decides the status."""
