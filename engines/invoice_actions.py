"""The invoice actions the invoice machine names (docs/lifecycle.md section 8): each tells every
line engine of the invoice what happened, one group of lines per engine.

`complete collection` re-rates and recalculates the invoice; `issue` stamps `issued_at`;
`authorize payment` and `settle payment` record the payment of each usage line's run. None of
them chooses the invoice's next status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chargeflow.domain.invoices import Invoice, InvoiceLine
from chargeflow.engines.invoice_calculation import by_engine, recalculate
from chargeflow.engines.line_engines import LINE_ENGINES, same_ids
from chargeflow.engines.operation import Operation
from chargeflow.statemachines.invoice import InvoiceAction


def complete_collection(op: Operation, invoice: Invoice) -> None:
    """Tell every line engine the collection window has closed; replace the lines by the ones
    returned (same ids), recalculate and persist the invoice."""
    collected: dict[str, InvoiceLine] = {}
    for engine, group in by_engine(invoice.lines).items():
        returned = LINE_ENGINES[engine].on_collection_completed(op, invoice, group)
        same_ids(group, returned, "on_collection_completed")
        collected.update((line.id, line) for line in returned)
    invoice.lines = [collected[line.id] for line in invoice.lines]
    recalculate(op, invoice)


def issue(op: Operation, invoice: Invoice) -> None:
    """Stamp the invoice issued now, and tell every line engine (usage-based charges record
    their invoice usage)."""
    invoice.issued_at = op.now
    for engine, group in by_engine(invoice.lines).items():
        LINE_ENGINES[engine].on_invoice_issued(op, invoice, group)


def authorize_payment(op: Operation, invoice: Invoice) -> None:
    """Tell every line engine the invoice's payment is authorized."""
    for engine, group in by_engine(invoice.lines).items():
        LINE_ENGINES[engine].on_payment_authorized(op, invoice, group)


def settle_payment(op: Operation, invoice: Invoice) -> None:
    """Tell every line engine the invoice's payment is settled."""
    for engine, group in by_engine(invoice.lines).items():
        LINE_ENGINES[engine].on_payment_settled(op, invoice, group)


INVOICE_ACTIONS: Mapping[InvoiceAction, Callable[[Operation, Invoice], None]] = {
    InvoiceAction.COMPLETE_COLLECTION: complete_collection,
    InvoiceAction.ISSUE: issue,
    InvoiceAction.AUTHORIZE_PAYMENT: authorize_payment,
    InvoiceAction.SETTLE_PAYMENT: settle_payment,
}
"""The implementation of every action the invoice spec names."""
