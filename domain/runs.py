"""Realization runs: persisted, rated snapshots of a charge's usage, and their totals."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.credits import CreditAllocation, remaining_by_allocation
from domain.ids import new_id
from domain.money import Amount, NonNegativeAmount
from domain.timestamps import Instant


class RunType(StrEnum):
    """Why a run was created. This version only realizes charges at the end of their period."""

    FINAL_REALIZATION = "final_realization"


class Totals(BaseModel):
    """``amount``, ``credits_total`` and ``total = amount - credits_total``, all ``>= 0``.

    Taxes and discounts are out of scope and are not faked here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: NonNegativeAmount
    credits_total: NonNegativeAmount
    total: NonNegativeAmount

    @model_validator(mode="after")
    def _balanced(self) -> Totals:
        if self.total != self.amount - self.credits_total:
            raise ValueError(
                f"total {self.total} != amount {self.amount} - credits {self.credits_total}"
            )
        return self

    @classmethod
    def of(cls, amount: Decimal, credits_total: Decimal) -> Totals:
        """Totals for `amount` of which `credits_total` is paid by credits."""
        return cls(amount=amount, credits_total=credits_total, total=amount - credits_total)


class RealizationRun(BaseModel):
    """A rated snapshot of the charge's usage at `as_of`, optionally billed by invoice line
    `line_id`. Its allocations are append-only; rating fields change only when it is finalized."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=new_id)
    charge_id: str
    type: RunType
    feature_id: str
    as_of: Instant
    collection_end: Instant
    line_id: str | None = None
    meter_value: Amount
    totals: Totals
    created_at: Instant
    allocations: list[CreditAllocation] = Field(default_factory=list)

    def remaining_allocations(self) -> dict[str, Decimal]:
        """Each original allocation's remaining amount, oldest first."""
        return remaining_by_allocation(self.allocations)
