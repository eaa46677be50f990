"""The billing use cases: pending lines, invoicing them, and driving standard invoices through
their machine: collection, approval, payment (docs/lifecycle.md sections 8 and 9). Each takes an
`Operation` first, but the sweep over due invoices, which opens one per invoice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from chargeflow.domain.errors import (
    ChargeflowError,
    InvalidInputError,
    NoLinesToInvoiceError,
    PaymentAlreadyAuthorizedError,
    PaymentAlreadySettledError,
    TriggerNotPermittedError,
)
from chargeflow.domain.history import InvoiceTransition
from chargeflow.domain.invoices import (
    Invoice,
    InvoiceLine,
    InvoicePreview,
    InvoiceStatus,
    InvoiceTrigger,
    InvoicingResult,
    LineEngineType,
    LineStatus,
    UnbilledLine,
    sum_totals,
)
from chargeflow.domain.money import bounded
from chargeflow.domain.periods import Period
from chargeflow.domain.prices import require_flat_amounts_in_minor_units
from chargeflow.domain.timestamps import format_instant, to_instant
from chargeflow.domain.validation import build, validated
from chargeflow.engines import driver, invoicing
from chargeflow.engines.gathering import gathering_invoice
from chargeflow.engines.invoice_calculation import by_engine
from chargeflow.engines.invoice_lifecycle import INVOICES
from chargeflow.engines.line_engines import LINE_ENGINES
from chargeflow.engines.operation import Operation, Operations
from chargeflow.engines.sweeps import AdvanceReport, Sweep, sweep

PaymentEvent = Literal["authorized", "paid"]
"""What `record_payment` records: the payment was authorized, or paid (settled)."""


def add_line(
    op: Operation,
    *,
    customer_id: str,
    engine: LineEngineType | str,
    name: str,
    price: Any,
    quantity: Decimal | int | str,
    service_period: Any,
    invoice_at: datetime | str | None,
) -> InvoiceLine:
    """Add a pending line with a price of its own (plain, flat-fee or credit-purchase) to the
    customer's gathering invoice. Usage-based lines come from charges only; quantities are never
    negative."""
    customer = op.uow.customers.get(customer_id)
    period = validated(Period, service_period)
    line = build(
        InvoiceLine,
        invoice_id=gathering_invoice(op, customer_id, customer.currency).id,
        customer_id=customer_id,
        currency=customer.currency,
        engine=engine,
        status=LineStatus.GATHERING,
        name=name,
        service_period=period,
        invoice_at=invoice_at or period.end,
        price=price,
        quantity=quantity,
        created_at=op.now,
    )
    if line.engine is LineEngineType.CHARGE_USAGEBASED:
        raise InvalidInputError("usage-based lines are created by their charges")
    if bounded(line.quantity) < 0:
        raise InvalidInputError(f"quantity {line.quantity} must not be negative")
    require_flat_amounts_in_minor_units(line.price, line.currency)
    op.uow.invoices.add_lines([line])
    return line


def invoice_pending_lines(
    op: Operation, customer_id: str, as_of: datetime | str | None = None
) -> InvoicingResult:
    """Move the customer's lines billable at `as_of` (default now, never later) onto new
    standard invoices, one per currency, under the customer's billing lock (of two concurrent
    calls, the second finds nothing left to invoice). The result is the invoices created, and
    the lines left on the gathering invoice with their reasons (`unbilled`).

    Raises `NoLinesToInvoiceError`, naming every line left behind and why, when nothing could
    be invoiced.
    """
    cutoff = op.now if as_of is None else to_instant(as_of)
    if cutoff > op.now:
        raise InvalidInputError(
            f"cannot invoice as of {format_instant(cutoff)}: it is only "
            f"{format_instant(op.now)} (charges are realized at now)"
        )
    customer = op.lock_billing(customer_id)
    pending = op.uow.invoices.pending_lines(customer_id)
    billable, left = invoicing.sort_billable(op, customer, pending, cutoff)
    invoices, unbilled = invoicing.create_standard_invoices(op, customer, billable)
    left.extend(unbilled)
    if not invoices:
        raise NoLinesToInvoiceError(
            customer_id, format_instant(cutoff), [line.describe() for line in left]
        )
    return InvoicingResult(tuple(invoices), tuple(left))


def preview(op: Operation, customer_id: str, as_of: datetime | str | None = None) -> InvoicePreview:
    """The customer's gathering lines rated live as of `as_of` (default now): what invoicing
    would bill of each, billable now or not, with no credit applied. Nothing is written and no
    run is created; a line that cannot be rated is reported in `unrated`. `NotFoundError` for
    an unknown customer."""
    customer = op.uow.customers.get(customer_id)
    cutoff = op.now if as_of is None else to_instant(as_of)
    lines: list[InvoiceLine] = []
    unrated: list[UnbilledLine] = []
    pending = op.uow.invoices.pending_lines(customer_id)
    for engine, group in by_engine(pending).items():
        previewed = LINE_ENGINES[engine].preview(op, customer, group, cutoff)
        lines.extend(previewed.lines)
        unrated.extend(
            UnbilledLine(
                line_id=line.id, charge_id=line.charge_id, reason=previewed.unrated[line.id]
            )
            for line in group
            if line.id in previewed.unrated
        )
    order = {line.id: index for index, line in enumerate(pending)}
    lines.sort(key=lambda line: order[line.id])
    return InvoicePreview(
        customer_id=customer_id,
        as_of=cutoff,
        lines=tuple(lines),
        totals=sum_totals(lines),
        unrated=tuple(unrated),
    )


def _driven_invoice(op: Operation, invoice_id: str, trigger: InvoiceTrigger) -> Invoice:
    """The invoice, locked, to fire `trigger` at; `NotFoundError`, and
    `TriggerNotPermittedError` for a deleted invoice (every line of it was removed): it goes
    nowhere any more."""
    invoice = op.uow.invoices.get(invoice_id, lock=True)
    if invoice.deleted_at is not None:
        raise TriggerNotPermittedError(
            invoice.id, str(invoice.status), trigger, "the invoice is deleted", subject="invoice"
        )
    return invoice


def advance_invoice(op: Operation, invoice_id: str) -> Invoice:
    """Move a standard invoice through its lifecycle as far as it may go now: collection
    completes once its time has come, and an auto-approved invoice is issued (and, with
    nothing to pay, paid). A deleted invoice is refused (`TriggerNotPermittedError`)."""
    invoice = _driven_invoice(op, invoice_id, InvoiceTrigger.NEXT)
    driver.advance(op, INVOICES, invoice)
    return invoice


def _advance_moved(op: Operation, invoice_id: str) -> bool:
    """Advance one due invoice; False when it did not move (or was deleted since listed)."""
    invoice = op.uow.invoices.get(invoice_id, lock=True)
    return invoice.deleted_at is None and driver.advance(op, INVOICES, invoice)


def approve_invoice(op: Operation, invoice_id: str) -> Invoice:
    """Approve an invoice waiting for manual approval: it is issued (every usage charge
    records its invoice usage) and goes on to payment, or to `paid` when nothing is due.
    `TriggerNotPermittedError` in any other status, or for a deleted invoice."""
    invoice = _driven_invoice(op, invoice_id, InvoiceTrigger.APPROVE)
    driver.fire(op, INVOICES, invoice, InvoiceTrigger.APPROVE)
    driver.advance(op, INVOICES, invoice)
    return invoice


_PAYMENT_EVENTS: dict[
    str, tuple[InvoiceTrigger, frozenset[InvoiceStatus], type[ChargeflowError]]
] = {
    "authorized": (
        InvoiceTrigger.PAYMENT_AUTHORIZED,
        frozenset({InvoiceStatus.PAYMENT_AUTHORIZED, InvoiceStatus.PAID}),
        PaymentAlreadyAuthorizedError,
    ),
    "paid": (
        InvoiceTrigger.PAYMENT_SETTLED,
        frozenset({InvoiceStatus.PAID}),
        PaymentAlreadySettledError,
    ),
}
"""Each payment event: its invoice trigger, the statuses in which it is a repeat, and the
error a repeat raises."""


def record_payment(op: Operation, invoice_id: str, event: PaymentEvent | str) -> Invoice:
    """Record that the invoice's payment was `authorized`, or `paid` (a direct payment is
    authorized first); each usage line's run records it, and a paid charge whose every invoiced
    run is settled becomes `final`.

    Raises `PaymentAlreadyAuthorizedError` / `PaymentAlreadySettledError` for a repeat,
    `TriggerNotPermittedError` when the invoice is not waiting for payment, `InvalidInputError`
    for another event.
    """
    known = _PAYMENT_EVENTS.get(event) if isinstance(event, str) else None
    if known is None:
        raise InvalidInputError(f"a payment is 'authorized' or 'paid', not {event!r}")
    trigger, repeated_in, repeat_error = known
    invoice = _driven_invoice(op, invoice_id, trigger)
    if invoice.status in repeated_in:
        raise repeat_error(invoice.id)
    driver.fire(op, INVOICES, invoice, trigger)
    return invoice


def invoice_history(op: Operation, invoice_id: str) -> list[InvoiceTransition]:
    """The invoice's transitions from the audit log, oldest first; `NotFoundError`."""
    op.uow.invoices.get(invoice_id)
    return op.uow.history.for_invoice(invoice_id)


def get_invoice(op: Operation, invoice_id: str) -> Invoice:
    """The invoice with its live lines; `NotFoundError`."""
    return op.uow.invoices.get(invoice_id)


def pending_lines(op: Operation, customer_id: str) -> list[InvoiceLine]:
    """The customer's gathering lines; `NotFoundError` for an unknown customer."""
    op.uow.customers.get(customer_id)
    return op.uow.invoices.pending_lines(customer_id)


def list_invoices(op: Operation, customer_id: str | None = None) -> list[Invoice]:
    """Live standard invoices, oldest first."""
    return op.uow.invoices.list(customer_id)


DUE_INVOICES = Sweep[tuple[datetime, str], str](
    kind="invoice",
    claim=lambda op, now, after, limit: [
        (key, key[1]) for key in op.uow.invoices.claim_due(now, after, limit)
    ],
    handle=_advance_moved,
    ident=lambda invoice_id: invoice_id,
)
"""The invoices whose collection time has come: claimed by `collection_at`, each advanced."""


def _invoice_moved(op: Operation, customer_id: str) -> bool:
    """Invoice one claimed customer's billable lines; whether an invoice was created (a
    customer whose lines are not billable after all is left as it is, not failed)."""
    try:
        invoice_pending_lines(op, customer_id)
    except NoLinesToInvoiceError:
        return False
    return True


INVOICEABLE_CUSTOMERS = Sweep[str, str](
    kind="customer",
    claim=lambda op, now, after, limit: [
        (customer_id, customer_id)
        for customer_id in op.uow.customers.claim_invoiceable(now, after, limit)
    ],
    handle=_invoice_moved,
    ident=lambda customer_id: customer_id,
)
"""The customers with a gathering line whose `invoice_at` has come: claimed by id (their
billing locks), each invoiced as `invoice_pending_lines` would."""


def advance_due_invoices(
    operations: Operations,
    batch_size: int = 500,
    visited: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> AdvanceReport:
    """Advance every invoice whose collection time has come, a batch per unit of work and each
    invoice in its own savepoint (one that fails is reported in `failed`, and the sweep goes
    on)."""
    return sweep(operations, DUE_INVOICES, batch_size=batch_size, visited=visited, stop=stop)


def invoice_due_customers(
    operations: Operations,
    batch_size: int = 500,
    visited: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> AdvanceReport:
    """Invoice every customer with a gathering line whose `invoice_at` has come, a batch of
    customers per unit of work and each customer in its own savepoint; `advanced` lists the
    customers invoiced, `failed` those whose invoicing failed."""
    return sweep(
        operations, INVOICEABLE_CUSTOMERS, batch_size=batch_size, visited=visited, stop=stop
    )
