"""Invoices and invoice lines: the gathering invoice that collects pending lines, and the
standard invoices that bill them.

A gathering line waits on its customer's gathering invoice (one per customer and currency)
until it is billable; invoicing moves it, keeping its id, onto a new standard invoice. Only a
persisted standard line may be linked to a realization run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import overload

from pydantic import BaseModel, ConfigDict, Field

from chargeflow.domain.customer import Customer
from chargeflow.domain.ids import new_id
from chargeflow.domain.money import ZERO, Amount, CurrencyCode, NonNegativeAmount
from chargeflow.domain.periods import Period
from chargeflow.domain.prices import Price
from chargeflow.domain.runs import DetailedLine, Totals
from chargeflow.domain.text import Text
from chargeflow.domain.timestamps import Instant


class InvoiceKind(StrEnum):
    """A gathering invoice holds pending lines; a standard invoice is a real one."""

    GATHERING = "gathering"
    STANDARD = "standard"


class InvoiceStatus(StrEnum):
    """The lifecycle of a standard invoice (gathering invoices have no status)."""

    DRAFT_CREATED = "draft.created"
    DRAFT_WAITING_FOR_COLLECTION = "draft.waiting_for_collection"
    DRAFT_COLLECTING = "draft.collecting"
    DRAFT_MANUAL_APPROVAL_NEEDED = "draft.manual_approval_needed"
    ISSUING = "issuing"
    PAYMENT_PENDING = "payment_processing.pending"
    PAYMENT_AUTHORIZED = "payment_processing.authorized"
    PAID = "paid"


class InvoiceMetaStatus(StrEnum):
    """The coarse phase of a standard invoice."""

    DRAFT = "draft"
    ISSUING = "issuing"
    PAYMENT_PROCESSING = "payment_processing"
    PAID = "paid"


def invoice_meta_status(status: InvoiceStatus) -> InvoiceMetaStatus:
    """The meta status of `status`: the text before its first dot."""
    return InvoiceMetaStatus(status.value.split(".", 1)[0])


class InvoiceTrigger(StrEnum):
    """Triggers of the invoice lifecycle."""

    NEXT = "next"
    APPROVE = "approve"
    PAYMENT_AUTHORIZED = "payment_authorized"
    PAYMENT_SETTLED = "payment_settled"


class LineEngineType(StrEnum):
    """Which line engine owns a line (docs/lifecycle.md section 8)."""

    INVOICING = "invoicing"
    CHARGE_FLATFEE = "charge_flatfee"
    CHARGE_USAGEBASED = "charge_usagebased"
    CHARGE_CREDITPURCHASE = "charge_creditpurchase"


class LineStatus(StrEnum):
    """Where a line stands: still gathering, or on a standard invoice."""

    GATHERING = "gathering"
    STANDARD = "standard"


class AppliedCredit(BaseModel):
    """Credit applied to a line: what remains of one run allocation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allocation_id: str
    amount: NonNegativeAmount


def zero_totals() -> Totals:
    """Totals of nothing."""
    return Totals.of(ZERO, ZERO)


def sum_totals(lines: Sequence[InvoiceLine]) -> Totals:
    """An invoice's totals: the sums of its lines' amounts and credits."""
    return Totals.of(
        sum((line.totals.amount for line in lines), ZERO),
        sum((line.totals.credits_total for line in lines), ZERO),
    )


def collection_at(customer: Customer, lines: Sequence[InvoiceLine]) -> datetime:
    """When an invoice's collection ends: the latest of its lines' ends, a realized usage
    line's `collection_period_end` (its run's cutoff plus the internal collection period), any
    other line's `invoice_at` plus the customer's collection interval. `lines` is not empty."""
    return max(
        line.collection_period_end or customer.collection_period_end(line.invoice_at)
        for line in lines
    )


class InvoiceLine(BaseModel):
    """One line; `charge_id` links a charge-engine line to its charge.

    A usage-based line carries what its run rated: `metered_quantity` (cumulative),
    `pre_line_quantity` (what earlier runs metered), `quantity` (the difference, billed), its
    detailed lines and totals, and `collection_period_end` (when late usage stops counting).
    `deleted_at` is set when the line was removed from a draft invoice (kept for audit)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=new_id)
    invoice_id: str
    customer_id: Text = Field(min_length=1)
    currency: CurrencyCode
    engine: LineEngineType
    status: LineStatus
    charge_id: str | None = None
    name: Text = Field(min_length=1)
    service_period: Period
    invoice_at: Instant
    price: Price
    quantity: Amount = ZERO
    metered_quantity: Amount = ZERO
    pre_line_quantity: Amount = ZERO
    detailed_lines: tuple[DetailedLine, ...] = ()
    credits_applied: tuple[AppliedCredit, ...] = ()
    totals: Totals = Field(default_factory=zero_totals)
    collection_period_end: Instant | None = None
    created_at: Instant
    deleted_at: Instant | None = None

    def credits_total(self) -> Decimal:
        """The sum of the credits applied to this line."""
        return sum((credit.amount for credit in self.credits_applied), ZERO)


class Invoice(BaseModel):
    """An invoice with its live lines; `collection_at` is when late usage stops being
    collected, `auto_approve` whether it is issued as soon as collection completes (the
    customer's setting when it was created), `issued_at` when it was issued; `deleted_at` is set
    on an invoice left without lines (kept for audit, never listed)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=new_id)
    customer_id: Text = Field(min_length=1)
    currency: CurrencyCode
    kind: InvoiceKind
    status: InvoiceStatus | None = None
    collection_at: Instant | None = None
    auto_approve: bool = False
    issued_at: Instant | None = None
    totals: Totals = Field(default_factory=zero_totals)
    created_at: Instant
    deleted_at: Instant | None = None
    lines: list[InvoiceLine] = Field(default_factory=list)


class UnbilledLine(BaseModel):
    """A gathering line invoicing left where it was, and why (not billable yet, its charge
    deleted, rating refused...). It stays on the gathering invoice for a later run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line_id: str
    charge_id: str | None
    reason: str

    def describe(self) -> str:
        """``line L (charge C): reason``."""
        charge = f" (charge {self.charge_id})" if self.charge_id else ""
        return f"line {self.line_id}{charge}: {self.reason}"


class InvoicePreview(BaseModel):
    """What invoicing the customer's gathering lines would bill as of `as_of`, rated live and
    written nowhere: each line over its billable part (a usage line with the cutoffs its run
    would get, its pre-line quantity from the charge's latest run, no credit applied), their
    totals, and the lines that could not be rated, with the reason (`unrated`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str
    as_of: Instant
    lines: tuple[InvoiceLine, ...]
    totals: Totals
    unrated: tuple[UnbilledLine, ...] = ()


@dataclass(frozen=True)
class InvoicingResult(Sequence[Invoice]):
    """What invoicing a customer's pending lines did: the standard invoices it created (the
    result is a sequence of them, so ``[invoice] = billing.invoice_pending_lines(...)`` works)
    and the lines it left on the gathering invoice, each with its reason (`unbilled`)."""

    invoices: tuple[Invoice, ...]
    unbilled: tuple[UnbilledLine, ...] = ()

    @overload
    def __getitem__(self, index: int) -> Invoice: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Invoice]: ...

    def __getitem__(self, index: int | slice) -> Invoice | Sequence[Invoice]:
        """The invoice(s) at `index`."""
        return self.invoices[index]

    def __len__(self) -> int:
        """How many invoices were created."""
        return len(self.invoices)
