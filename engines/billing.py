"""The billing use cases: pending lines, invoicing them, and driving standard invoices through
their machine (docs/lifecycle.md section 8). Each takes an `Operation` first."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.errors import InvalidInputError, NoLinesToInvoiceError
from domain.history import InvoiceTransition
from domain.invoices import Invoice, InvoiceLine, InvoicingResult, LineEngineType, LineStatus
from domain.money import bounded
from domain.periods import Period
from domain.prices import require_flat_amounts_in_minor_units
from domain.timestamps import format_instant, to_instant
from domain.validation import build, validated
from engines import driver, invoicing
from engines.gathering import gathering_invoice
from engines.invoice_lifecycle import INVOICES
from engines.operation import Operation


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
    customer's gathering invoice. Usage-based lines come from charges only."""
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
    bounded(line.quantity)
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
    customer = op.uow.customers.lock_billing(customer_id)
    billable, left = invoicing.sort_billable(op, op.uow.invoices.pending_lines(customer_id), cutoff)
    invoices, unbilled = invoicing.create_standard_invoices(op, customer, billable)
    left.extend(unbilled)
    if not invoices:
        raise NoLinesToInvoiceError(
            customer_id, format_instant(cutoff), [line.describe() for line in left]
        )
    return InvoicingResult(tuple(invoices), tuple(left))


def advance_invoice(op: Operation, invoice_id: str) -> Invoice:
    """Move a standard invoice through its lifecycle as far as it may go now; entering
    `draft.collecting` completes collection on every line engine."""
    invoice = op.uow.invoices.get(invoice_id, lock=True)
    driver.advance(op, INVOICES, invoice)
    return invoice


def invoice_history(op: Operation, invoice_id: str) -> list[InvoiceTransition]:
    """The invoice's transitions from the audit log, oldest first; `NotFoundError`."""
    op.uow.invoices.get(invoice_id)
    return op.uow.history.for_invoice(invoice_id)


def get_invoice(op: Operation, invoice_id: str) -> Invoice:
    """The invoice with its lines; `NotFoundError`."""
    return op.uow.invoices.get(invoice_id)


def pending_lines(op: Operation, customer_id: str) -> list[InvoiceLine]:
    """The customer's gathering lines."""
    return op.uow.invoices.pending_lines(customer_id)


def list_invoices(op: Operation, customer_id: str | None = None) -> list[Invoice]:
    """Standard invoices, oldest first."""
    return op.uow.invoices.list(customer_id)
