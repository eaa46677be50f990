"""The transition audit log: one record per transition a charge takes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.statuses import ChargeStatus
from domain.timestamps import Instant
from domain.triggers import Trigger


class TransitionRecord(BaseModel):
    """Charge `charge_id` moved `from_status -> to_status` on `trigger` (with `arguments`),
    at `at`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    charge_id: str
    from_status: ChargeStatus
    to_status: ChargeStatus
    trigger: Trigger
    arguments: dict[str, str] = Field(default_factory=dict)
    at: Instant
