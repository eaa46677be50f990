"""Applying the invoice effects charge actions return (docs/lifecycle.md section 10).

Whoever drives a charge (the charge operations, billing's line engines) applies the effects
its transitions produced with `apply`, in the same unit of work, before advancing further.
"""

from __future__ import annotations

from typing import assert_never

from chargeflow.domain.effects import DeleteGatheringLine, DeleteStandardLine, UpsertGatheringLine
from chargeflow.domain.errors import InvalidLineError
from chargeflow.domain.invoices import InvoiceStatus, collection_at, sum_totals
from chargeflow.engines.gathering import add_charge_line
from chargeflow.engines.operation import Operation

_DRAFTS = frozenset(status for status in InvoiceStatus if status.value.startswith("draft."))
_BEFORE_COLLECTION = frozenset(
    {InvoiceStatus.DRAFT_CREATED, InvoiceStatus.DRAFT_WAITING_FOR_COLLECTION}
)


def apply(op: Operation) -> bool:
    """Apply and clear every pending effect of `op`; whether there were any."""
    pending, op.effects = op.effects, []
    for effect in pending:
        match effect:
            case DeleteGatheringLine(charge_id=charge_id):
                line = op.uow.invoices.gathering_line_of(charge_id)
                if line is not None:
                    op.uow.invoices.remove_lines([line.id])
            case DeleteStandardLine(line_id=line_id):
                _delete_standard_line(op, line_id)
            case UpsertGatheringLine():
                _upsert_gathering_line(op, effect)
            case _:
                assert_never(effect)
    return bool(pending)


def _delete_standard_line(op: Operation, line_id: str) -> None:
    """Soft-delete the line from its draft invoice and recalculate the invoice, which is
    soft-deleted too when no line is left. Only a draft invoice's line may go. An invoice still
    waiting for collection collects when its remaining lines do (`collection_at` again)."""
    line = op.uow.invoices.get_line(line_id)
    if line is None or line.deleted_at is not None:
        return
    invoice = op.uow.invoices.get(line.invoice_id, lock=True)
    if invoice.status not in _DRAFTS:
        raise InvalidLineError(line_id, f"invoice {invoice.id} is {invoice.status}, not a draft")
    op.uow.invoices.save_lines([line.model_copy(update={"deleted_at": op.now})])
    invoice.lines = [live for live in invoice.lines if live.id != line_id]
    invoice.totals = sum_totals(invoice.lines)
    if not invoice.lines:
        invoice.deleted_at = op.now
    elif invoice.status in _BEFORE_COLLECTION:
        customer = op.uow.customers.get(invoice.customer_id)
        invoice.collection_at = collection_at(customer, invoice.lines)
    op.uow.invoices.save(invoice)


def _upsert_gathering_line(op: Operation, effect: UpsertGatheringLine) -> None:
    """Move the charge's pending gathering line to the effect's period and `invoice_at`, or
    give the charge a new one when it has none (its period was billed to the end, or its
    line was removed)."""
    line = op.uow.invoices.gathering_line_of(effect.charge_id)
    if line is None:
        charge = op.uow.charges.get(effect.charge_id)
        add_charge_line(op, charge, effect.period, effect.invoice_at)
        return
    moved = line.model_copy(
        update={"service_period": effect.period, "invoice_at": effect.invoice_at}
    )
    op.uow.invoices.save_lines([moved])
