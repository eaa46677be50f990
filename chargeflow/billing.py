"""The facade over billing: pending lines, standard invoices and their collection. It only
forwards to the billing use cases (`engines.billing`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from chargeflow.domain.history import InvoiceTransition
from chargeflow.domain.invoices import (
    Invoice,
    InvoiceLine,
    InvoicePreview,
    InvoicingResult,
    LineEngineType,
)
from chargeflow.domain.text import lookup_id
from chargeflow.engines import billing
from chargeflow.engines.billing import PaymentEvent
from chargeflow.engines.operation import Operations
from chargeflow.engines.sweeps import AdvanceReport


class Billing:
    """Invoice pending lines, collect invoices, and read them back."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    def add_line(
        self,
        customer_id: str,
        *,
        engine: LineEngineType | str,
        name: str,
        price: Any,
        service_period: tuple[datetime | str, datetime | str],
        quantity: Decimal | int | str = 1,
        invoice_at: datetime | str | None = None,
    ) -> InvoiceLine:
        """Add a plain (`invoicing`), flat-fee or credit-purchase line to the gathering invoice."""
        return self._operations.run(
            billing.add_line,
            customer_id=lookup_id(customer_id, "customer"),
            engine=engine,
            name=name,
            price=price,
            quantity=quantity,
            service_period=service_period,
            invoice_at=invoice_at,
        )

    def pending_lines(self, customer_id: str) -> list[InvoiceLine]:
        """The customer's gathering lines, oldest first."""
        return self._operations.run(billing.pending_lines, lookup_id(customer_id, "customer"))

    def invoice_pending_lines(
        self, customer_id: str, as_of: datetime | str | None = None
    ) -> InvoicingResult:
        """Invoice every line billable at `as_of` (default now): one standard invoice per
        currency, its usage-based charges realized against the persisted lines. The result is
        the sequence of invoices created; its `unbilled` lists the lines left behind and why.
        `NoLinesToInvoiceError` (naming them) when nothing could be invoiced."""
        customer_id = lookup_id(customer_id, "customer")
        return self._operations.run(billing.invoice_pending_lines, customer_id, as_of)

    def preview(self, customer_id: str, as_of: datetime | str | None = None) -> InvoicePreview:
        """The customer's gathering lines rated live as of `as_of` (default now): what
        invoicing would bill of each, billable now or not, no credit applied. Nothing is
        written; lines that cannot be rated are listed in `unrated`."""
        return self._operations.run(billing.preview, lookup_id(customer_id, "customer"), as_of)

    def advance_invoice(self, invoice_id: str) -> Invoice:
        """Advance a standard invoice as far as it may go now: once its collection time has
        come, collection completes (and an auto-approved invoice is issued)."""
        return self._operations.run(billing.advance_invoice, lookup_id(invoice_id, "invoice"))

    def approve_invoice(self, invoice_id: str) -> Invoice:
        """Approve an invoice waiting for manual approval: it is issued, then waits for payment
        (or is paid at once when nothing is due)."""
        return self._operations.run(billing.approve_invoice, lookup_id(invoice_id, "invoice"))

    def record_payment(self, invoice_id: str, event: PaymentEvent | str) -> Invoice:
        """Record that the invoice's payment was ``"authorized"`` or ``"paid"`` (a direct
        payment is authorized first); a charge whose every invoiced run is paid becomes final."""
        invoice_id = lookup_id(invoice_id, "invoice")
        return self._operations.run(billing.record_payment, invoice_id, event)

    def advance_due(
        self,
        batch_size: int = 500,
        visited: Callable[[str], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> AdvanceReport:
        """Advance every invoice whose collection time has come, a batch per transaction and
        each invoice isolated: one that fails is reported in `failed` and the others go on;
        `stop()` ends the sweep after the batch in flight."""
        return billing.advance_due_invoices(self._operations, batch_size, visited, stop)

    def invoice_due(
        self,
        batch_size: int = 500,
        visited: Callable[[str], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> AdvanceReport:
        """Invoice every customer with a gathering line whose `invoice_at` has come (as
        `invoice_pending_lines` does), a batch of customers per transaction, each isolated;
        `advanced` lists the customers invoiced."""
        return billing.invoice_due_customers(self._operations, batch_size, visited, stop)

    def history(self, invoice_id: str) -> list[InvoiceTransition]:
        """The invoice's transitions (from the same audit log as the charges')."""
        return self._operations.run(billing.invoice_history, lookup_id(invoice_id, "invoice"))

    def get_invoice(self, invoice_id: str) -> Invoice:
        """The invoice with its lines."""
        return self._operations.run(billing.get_invoice, lookup_id(invoice_id, "invoice"))

    def list_invoices(self, customer_id: str | None = None) -> list[Invoice]:
        """Standard invoices, oldest first."""
        if customer_id is not None:
            customer_id = lookup_id(customer_id, "customer")
        return self._operations.run(billing.list_invoices, customer_id)
