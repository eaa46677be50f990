"""The standard invoice lifecycle (docs/lifecycle.md section 8): drafted, collected once its
collection time has come, approved (by hand, or at once with auto approval), issued, then paid
(a zero total is paid on issue)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from chargeflow.domain.invoices import Invoice, InvoiceStatus, InvoiceTrigger, invoice_meta_status
from chargeflow.statemachines.spec import Guard, MachineSpec, Row

S = InvoiceStatus
T = InvoiceTrigger


class InvoiceAction(StrEnum):
    """An action the invoice machine asks the billing engine to perform."""

    COMPLETE_COLLECTION = "complete collection"
    ISSUE = "issue"
    AUTHORIZE_PAYMENT = "authorize payment"
    SETTLE_PAYMENT = "settle payment"


def _collection_window_closed(invoice: Invoice, now: datetime) -> bool:
    return invoice.collection_at is not None and now >= invoice.collection_at


COLLECTION_WINDOW_CLOSED = Guard[Invoice]("collection window closed", _collection_window_closed)
AUTO_APPROVE = Guard[Invoice]("auto approve", lambda invoice, now: invoice.auto_approve)
NOT_AUTO_APPROVE = Guard[Invoice]("not auto approve", lambda invoice, now: not invoice.auto_approve)
TOTAL_DUE = Guard[Invoice]("total due", lambda invoice, now: invoice.totals.total > 0)
NOTHING_DUE = Guard[Invoice]("nothing due", lambda invoice, now: invoice.totals.total == 0)

InvoiceRow = Row[InvoiceStatus, InvoiceTrigger, InvoiceAction, Invoice]
_PAY = (InvoiceAction.AUTHORIZE_PAYMENT, InvoiceAction.SETTLE_PAYMENT)

INVOICE = MachineSpec[InvoiceStatus, InvoiceTrigger, InvoiceAction, Invoice](
    name="invoice",
    statuses=(
        S.DRAFT_CREATED,
        S.DRAFT_WAITING_FOR_COLLECTION,
        S.DRAFT_COLLECTING,
        S.DRAFT_MANUAL_APPROVAL_NEEDED,
        S.ISSUING,
        S.PAYMENT_PENDING,
        S.PAYMENT_AUTHORIZED,
        S.PAID,
    ),
    initial=S.DRAFT_CREATED,
    terminal=frozenset({S.PAID}),
    continuation=T.NEXT,
    meta=invoice_meta_status,
    rows=(
        InvoiceRow(T.NEXT, S.DRAFT_CREATED, S.DRAFT_WAITING_FOR_COLLECTION),
        InvoiceRow(
            T.NEXT,
            S.DRAFT_WAITING_FOR_COLLECTION,
            S.DRAFT_COLLECTING,
            guards=(COLLECTION_WINDOW_CLOSED,),
        ),
        InvoiceRow(
            T.NEXT, S.DRAFT_COLLECTING, S.DRAFT_MANUAL_APPROVAL_NEEDED, guards=(NOT_AUTO_APPROVE,)
        ),
        InvoiceRow(T.NEXT, S.DRAFT_COLLECTING, S.ISSUING, guards=(AUTO_APPROVE,)),
        InvoiceRow(T.APPROVE, S.DRAFT_MANUAL_APPROVAL_NEEDED, S.ISSUING),
        InvoiceRow(T.NEXT, S.ISSUING, S.PAYMENT_PENDING, guards=(TOTAL_DUE,)),
        InvoiceRow(T.NEXT, S.ISSUING, S.PAID, guards=(NOTHING_DUE,)),
        InvoiceRow(
            T.PAYMENT_AUTHORIZED,
            S.PAYMENT_PENDING,
            S.PAYMENT_AUTHORIZED,
            entry=(InvoiceAction.AUTHORIZE_PAYMENT,),
        ),
        InvoiceRow(T.PAYMENT_SETTLED, S.PAYMENT_PENDING, S.PAID, entry=_PAY),
        InvoiceRow(
            T.PAYMENT_SETTLED,
            S.PAYMENT_AUTHORIZED,
            S.PAID,
            entry=(InvoiceAction.SETTLE_PAYMENT,),
        ),
    ),
    activation={
        S.DRAFT_COLLECTING: (InvoiceAction.COMPLETE_COLLECTION,),
        S.ISSUING: (InvoiceAction.ISSUE,),
    },
)
