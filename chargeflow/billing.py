"""The facade over billing: pending lines, standard invoices and their collection."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.invoices import Invoice, InvoiceLine, LineEngineType
from engines.billing import BillingEngine


class Billing:
    """Invoice pending lines, collect invoices, and read them back."""

    def __init__(self, engine: BillingEngine) -> None:
        self._engine = engine

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
        return self._engine.add_line(
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
        return self._engine.pending_lines(customer_id)

    def invoice_pending_lines(
        self, customer_id: str, as_of: datetime | str | None = None
    ) -> list[Invoice]:
        """Invoice every line billable at `as_of` (default now): one standard invoice per
        currency, its usage-based charges realized against the persisted lines."""
        return self._engine.invoice_pending_lines(customer_id, as_of)

    def advance_invoice(self, invoice_id: str) -> Invoice:
        """Advance a standard invoice; once its collection time has come, collection completes."""
        return self._engine.advance_invoice(invoice_id)

    def get_invoice(self, invoice_id: str) -> Invoice:
        """The invoice with its lines."""
        return self._engine.get_invoice(invoice_id)

    def list_invoices(self, customer_id: str | None = None) -> list[Invoice]:
        """Standard invoices, oldest first."""
        return self._engine.list_invoices(customer_id)
