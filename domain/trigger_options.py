"""Which triggers may fire at a charge now, and why not the others ("why can't this fire?").

A `ChargeTriggers` is a read-only answer, computed from the charge's machine, its persisted
state and an instant; building it writes nothing (docs/lifecycle.md section 2, "Asking what may
fire").
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import Instant
from chargeflow.domain.triggers import Trigger


class TriggerVerdict(StrEnum):
    """What the machine says of one trigger from where the charge stands."""

    PERMITTED = "permitted"
    NOT_FROM_STATUS = "not permitted from this status"
    GUARD_FAILING = "guard failing"


class FailingGuard(BaseModel):
    """A guard that does not hold, with the values it compared (e.g. ``now
    2026-01-20T00:00:00Z < service period end 2026-02-01T00:00:00Z``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    guard: str
    compared: str


class TriggerOption(BaseModel):
    """One trigger of the charge's machine: its verdict; where firing it would go
    (`to_status`; None when refused, or when the row's actions decide); the guards failing;
    and whether only billing fires it (with an invoice's facts), not a user."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger: Trigger
    verdict: TriggerVerdict
    to_status: ChargeStatus | None = None
    failing: tuple[FailingGuard, ...] = ()
    fired_by_billing: bool = False


class ChargeTriggers(BaseModel):
    """Every trigger of charge `charge_id`'s machine judged at `as_of` from `status`, and what
    advancing now would do: the statuses it would pass through (`advance_path`, empty if it
    would not move), or the error it would meet (`advance_error`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    charge_id: str
    status: ChargeStatus
    as_of: Instant
    triggers: tuple[TriggerOption, ...]
    advance_path: tuple[ChargeStatus, ...] = ()
    advance_error: str | None = None

    def permitted(self) -> list[Trigger]:
        """The triggers that may fire now."""
        return [
            option.trigger for option in self.triggers if option.verdict is TriggerVerdict.PERMITTED
        ]
