"""Realization runs: persisted, rated snapshots of a charge's usage, their totals, detailed
lines, invoice usage and payment (docs/lifecycle.md section 7).

A run rates the charge's cumulative usage up to `service_period_to` as stored before
`stored_at_lt`; its detailed lines bill what earlier runs did not (delta rating). Credits are
allocated to it, an invoice line may bill it (`line_id`, `invoice_id`), and once its invoice is
issued it records its invoice usage, then its payment. A voided run (`deleted_at` set) is kept
for audit and ignored by rating, settlement and period math.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chargeflow.domain.credits import CreditAllocation, remaining_by_allocation
from chargeflow.domain.ids import new_id
from chargeflow.domain.money import ZERO, Amount, NonNegativeAmount
from chargeflow.domain.timestamps import Instant


class RunType(StrEnum):
    """What a run bills: usage up to a line's end mid-period, or the rest of the period."""

    FINAL_REALIZATION = "final_realization"
    PARTIAL_INVOICE = "partial_invoice"


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


class DetailedLine(BaseModel):
    """One price component of a rating: `quantity` at `unit_amount`, `amount` rounded to the
    currency's minor units. `key` is stable across runs (``unit``, ``flat``, ``package``,
    ``volume.tier-N``, ``graduated.tier-N``, and ``….flat`` for a tier's flat amount)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    quantity: Amount
    unit_amount: Amount
    amount: Amount


class InvoiceUsage(BaseModel):
    """What the run's issued invoice line billed, booked at the end of the run's period;
    `ledger_reference` is the ledger's answer when fiat was owed (None when nothing was)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    totals: Totals
    booked_at: Instant
    ledger_reference: str | None = Field(default=None, min_length=1)


class PaymentStatus(StrEnum):
    """Where the payment of a run's invoiced total stands."""

    AUTHORIZED = "authorized"
    SETTLED = "settled"


class Payment(BaseModel):
    """The payment of a run's invoiced total: authorized, then settled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: PaymentStatus
    amount: NonNegativeAmount
    authorized_at: Instant
    authorization_reference: str = Field(min_length=1)
    settled_at: Instant | None = None
    settlement_reference: str | None = Field(default=None, min_length=1)


class RealizationRun(BaseModel):
    """A rated snapshot of the charge's usage. Allocations are append-only; rating fields
    change when the run is re-rated at collection or finalized; `type` may be reclassified by a
    period change (`initial_type` keeps what it was created as)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=new_id)
    charge_id: str
    type: RunType
    initial_type: RunType
    feature_id: str
    service_period_to: Instant
    stored_at_lt: Instant
    metered_quantity: Amount
    line_id: str | None = None
    invoice_id: str | None = None
    totals: Totals
    no_fiat_transaction_required: bool = False
    detailed_lines: tuple[DetailedLine, ...] = ()
    allocations: list[CreditAllocation] = Field(default_factory=list)
    invoice_usage: InvoiceUsage | None = None
    payment: Payment | None = None
    created_at: Instant
    deleted_at: Instant | None = None

    @property
    def voided(self) -> bool:
        """Whether the run was voided (kept for audit, never billed)."""
        return self.deleted_at is not None

    def remaining_allocations(self) -> dict[str, Decimal]:
        """Each original allocation's remaining amount, oldest first."""
        return remaining_by_allocation(self.allocations)

    def net_credits(self) -> Decimal:
        """What the run's allocations hold after their corrections."""
        return sum((allocation.amount for allocation in self.allocations), ZERO)

    def needs_fiat_payment(self) -> bool:
        """Whether the run's invoiced total is owed in money (not all credits, not zero)."""
        return self.invoice_usage is not None and not self.no_fiat_transaction_required

    def settled(self) -> bool:
        """Whether the run's payment is settled."""
        return self.payment is not None and self.payment.status is PaymentStatus.SETTLED
