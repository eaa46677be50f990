"""The facade over billing: pending lines, standard invoices and their collection. It only
forwards to the billing use cases (`engines.billing`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.history import InvoiceTransition
from domain.invoices import Invoice, InvoiceLine, InvoicingResult, LineEngineType
from engines import billing
from engines.operation import Operations


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
            customer_id=customer_id,
            engine=engine,
            name=name,
            price=price,
            quantity=quantity,
            service_period=service_period,
            invoice_at=invoice_at,
        )

    def pending_lines(self, customer_id: str) -> list[InvoiceLine]:
        """The customer's gathering lines, oldest first."""
        return self._operations.run(billing.pending_lines, customer_id)

    def invoice_pending_lines(
        self, customer_id: str, as_of: datetime | str | None = None
    ) -> InvoicingResult:
        """Invoice every line billable at `as_of` (default now): one standard invoice per
        currency, its usage-based charges realized against the persisted lines. The result is
        the sequence of invoices created; its `unbilled` lists the lines left behind and why.
        `NoLinesToInvoiceError` (naming them) when nothing could be invoiced."""
        return self._operations.run(billing.invoice_pending_lines, customer_id, as_of)

    def advance_invoice(self, invoice_id: str) -> Invoice:
        """Advance a standard invoice; once its collection time has come, collection completes."""
        return self._operations.run(billing.advance_invoice, invoice_id)

    def history(self, invoice_id: str) -> list[InvoiceTransition]:
        """The invoice's transitions (from the same audit log as the charges')."""
        return self._operations.run(billing.invoice_history, invoice_id)

    def get_invoice(self, invoice_id: str) -> Invoice:
        """The invoice with its lines."""
        return self._operations.run(billing.get_invoice, invoice_id)

    def list_invoices(self, customer_id: str | None = None) -> list[Invoice]:
        """Standard invoices, oldest first."""
        return self._operations.run(billing.list_invoices, customer_id)
