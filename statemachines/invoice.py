"""The standard invoice lifecycle (docs/lifecycle.md section 8): created, waiting for collection,
collecting once ``now >= collection_at``, then ready."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.invoices import Invoice, InvoiceStatus, InvoiceTrigger, invoice_meta_status
from statemachines.spec import Guard, MachineSpec, Row

S = InvoiceStatus


class InvoiceAction(StrEnum):
    """An action the invoice machine asks the billing engine to perform."""

    COMPLETE_COLLECTION = "complete collection"


def _collection_window_closed(invoice: Invoice, now: datetime) -> bool:
    return invoice.collection_at is not None and now >= invoice.collection_at


COLLECTION_WINDOW_CLOSED = Guard[Invoice]("collection window closed", _collection_window_closed)

InvoiceRow = Row[InvoiceStatus, InvoiceTrigger, InvoiceAction, Invoice]

INVOICE = MachineSpec[InvoiceStatus, InvoiceTrigger, InvoiceAction, Invoice](
    name="invoice",
    statuses=(
        S.DRAFT_CREATED,
        S.DRAFT_WAITING_FOR_COLLECTION,
        S.DRAFT_COLLECTING,
        S.DRAFT_READY,
    ),
    initial=S.DRAFT_CREATED,
    terminal=frozenset({S.DRAFT_READY}),
    continuation=InvoiceTrigger.NEXT,
    meta=invoice_meta_status,
    rows=(
        InvoiceRow(InvoiceTrigger.NEXT, S.DRAFT_CREATED, S.DRAFT_WAITING_FOR_COLLECTION),
        InvoiceRow(
            InvoiceTrigger.NEXT,
            S.DRAFT_WAITING_FOR_COLLECTION,
            S.DRAFT_COLLECTING,
            guards=(COLLECTION_WINDOW_CLOSED,),
        ),
        InvoiceRow(InvoiceTrigger.NEXT, S.DRAFT_COLLECTING, S.DRAFT_READY),
    ),
    activation={S.DRAFT_COLLECTING: (InvoiceAction.COMPLETE_COLLECTION,)},
)
