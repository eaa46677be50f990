"""The usage-based charge: immutable intent + mutable state + append-only realizations (runs).

A charge is a durable billing intent ("bill customer C for feature F over period P at price X"),
the lifecycle state the machine moves, and the runs created while realizing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chargeflow.domain.ids import new_id
from chargeflow.domain.money import CurrencyCode
from chargeflow.domain.periods import Period
from chargeflow.domain.prices import Price, require_flat_amounts_in_minor_units
from chargeflow.domain.runs import RealizationRun
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.text import Text
from chargeflow.domain.timestamps import Instant


class SettlementMode(StrEnum):
    """How a charge is settled: from credits only, or from credits first and then by invoice."""

    CREDIT_ONLY = "credit_only"
    CREDIT_THEN_INVOICE = "credit_then_invoice"


_S = ChargeStatus
MODE_STATUSES: Mapping[SettlementMode, tuple[ChargeStatus, ...]] = {
    SettlementMode.CREDIT_ONLY: (
        _S.CREATED,
        _S.ACTIVE,
        _S.REALIZATION_STARTED,
        _S.REALIZATION_WAITING_FOR_COLLECTION,
        _S.REALIZATION_PROCESSING,
        _S.REALIZATION_COMPLETED,
        _S.FINAL,
        _S.DELETED,
    ),
    SettlementMode.CREDIT_THEN_INVOICE: (
        _S.CREATED,
        _S.ACTIVE,
        _S.REALIZATION_STARTED,
        _S.REALIZATION_WAITING_FOR_COLLECTION,
        _S.REALIZATION_PROCESSING,
        _S.REALIZATION_ISSUING,
        _S.REALIZATION_COMPLETED,
        _S.AWAITING_PAYMENT_SETTLEMENT,
        _S.FINAL,
        _S.DELETED,
    ),
}
"""The statuses of each settlement mode's machine, in the order its diagram lists them: the
machine declares exactly these, and a charge whose status is not one of its mode's is refused
when it is built (so a stored one is a `CorruptRecordError` on load)."""


def require_status_of_mode(mode: SettlementMode, status: ChargeStatus) -> None:
    """`ValueError` unless `status` is one of `mode`'s statuses (`MODE_STATUSES`)."""
    if status not in MODE_STATUSES[mode]:
        raise ValueError(f"status {status.value!r} does not exist in the {mode.value} machine")


class ChargeIntent(BaseModel):
    """What should happen. Frozen after create. `unique_reference_id`, when given, names the
    charge for its customer: creating it again returns the first charge (safe retries)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: Text = Field(min_length=1)
    name: Text = Field(min_length=1)
    currency: CurrencyCode
    feature_key: Text = Field(min_length=1)
    service_period: Period
    invoice_at: Instant
    settlement_mode: SettlementMode
    price: Price
    unique_reference_id: Text | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: object) -> object:
        """`invoice_at` defaults to the end of the service period; `name` to the feature key."""
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        if filled.get("invoice_at") is None:
            with suppress(ValidationError):  # the service_period field reports its own error
                filled["invoice_at"] = Period.model_validate(filled.get("service_period")).end
        if filled.get("name") is None:
            filled["name"] = filled.get("feature_key")
        return filled

    @model_validator(mode="after")
    def _flat_amounts_in_minor_units(self) -> ChargeIntent:
        require_flat_amounts_in_minor_units(self.price, self.currency)
        return self


class ChargeState(BaseModel):
    """The mutable lifecycle data the machine and its actions move."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    status: ChargeStatus = ChargeStatus.CREATED
    advance_after: Instant | None = None
    current_run_id: str | None = None
    feature_id: str | None = None


class UsageBasedCharge(BaseModel):
    """A charge as loaded: intent, state and runs (each with its credit allocations)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=new_id)
    intent: ChargeIntent
    state: ChargeState = Field(default_factory=ChargeState)
    runs: list[RealizationRun] = Field(default_factory=list)
    created_at: Instant
    deleted_at: Instant | None = None

    @model_validator(mode="after")
    def _status_of_its_mode(self) -> UsageBasedCharge:
        require_status_of_mode(self.intent.settlement_mode, self.state.status)
        return self

    def current_run(self) -> RealizationRun | None:
        """The run `state.current_run_id` points at, if any."""
        run_id = self.state.current_run_id
        return next((run for run in self.runs if run.id == run_id), None) if run_id else None

    def live_runs(self) -> list[RealizationRun]:
        """The runs that are not voided, oldest first."""
        return [run for run in self.runs if not run.voided]

    def latest_run(self) -> RealizationRun | None:
        """The newest run that is not voided, if any."""
        live = self.live_runs()
        return live[-1] if live else None
