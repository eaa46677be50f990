"""Gathering lines: where a credit_then_invoice charge waits to be invoiced (docs/lifecycle.md
section 8)."""

from __future__ import annotations

from datetime import datetime

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.invoices import Invoice, InvoiceKind, InvoiceLine, LineEngineType, LineStatus
from chargeflow.domain.periods import Period
from chargeflow.engines.operation import Operation


def gathering_invoice(op: Operation, customer_id: str, currency: str) -> Invoice:
    """The customer's gathering invoice for `currency`, created on first use."""
    invoice = op.uow.invoices.gathering_invoice(customer_id, currency)
    if invoice is None:
        invoice = Invoice(
            customer_id=customer_id,
            currency=currency,
            kind=InvoiceKind.GATHERING,
            created_at=op.now,
        )
        op.uow.invoices.add(invoice)
    return invoice


def add_charge_line(
    op: Operation,
    charge: UsageBasedCharge,
    period: Period | None = None,
    invoice_at: datetime | None = None,
) -> InvoiceLine:
    """Put a gathering line for `charge` on its customer's gathering invoice, over `period`
    and invoiced at `invoice_at` (default: the charge's own)."""
    intent = charge.intent
    invoice = gathering_invoice(op, intent.customer_id, intent.currency)
    line = InvoiceLine(
        invoice_id=invoice.id,
        customer_id=intent.customer_id,
        currency=intent.currency,
        engine=LineEngineType.CHARGE_USAGEBASED,
        status=LineStatus.GATHERING,
        charge_id=charge.id,
        name=intent.name,
        service_period=period or intent.service_period,
        invoice_at=invoice_at or intent.invoice_at,
        price=intent.price,
        created_at=op.now,
    )
    op.uow.invoices.add_lines([line])
    return line
