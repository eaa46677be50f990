"""Completing an invoice's collection: every line engine's `on_collection_completed`, then the
invoice recalculated (the invoice machine's `complete collection` activation)."""

from __future__ import annotations

from domain.invoices import Invoice, InvoiceLine
from engines.invoice_calculation import by_engine, recalculate
from engines.line_engines import LINE_ENGINES, same_ids
from engines.operation import Operation


def complete(op: Operation, invoice: Invoice) -> None:
    """Tell every line engine the invoice's collection window has closed; replace the lines by
    the ones returned (same ids), recalculate and persist the invoice."""
    collected: dict[str, InvoiceLine] = {}
    for engine, group in by_engine(invoice.lines).items():
        returned = LINE_ENGINES[engine].on_collection_completed(op, invoice, group)
        same_ids(group, returned, "on_collection_completed")
        collected.update((line.id, line) for line in returned)
    invoice.lines = [collected[line.id] for line in invoice.lines]
    recalculate(op, invoice)
