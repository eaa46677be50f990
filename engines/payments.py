"""Payments of invoiced runs (docs/lifecycle.md section 9): facts recorded on runs, not
triggers. A run whose invoiced total needs no fiat payment (all credits, or nothing owed)
records nothing."""

from __future__ import annotations

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.errors import (
    LedgerError,
    PaymentAlreadyAuthorizedError,
    PaymentAlreadySettledError,
)
from chargeflow.domain.invoices import Invoice, InvoiceLine
from chargeflow.domain.runs import Payment, PaymentStatus, RealizationRun
from chargeflow.engines.operation import Operation


def authorize(op: Operation, invoice: Invoice, line: InvoiceLine, charge: UsageBasedCharge) -> None:
    """Record the authorization of the payment of the run `line` bills, with the ledger's
    reference; `PaymentAlreadyAuthorizedError` if it has one already."""
    run = _owing_run(line, charge)
    if run is None:
        return
    if run.payment is not None:
        raise PaymentAlreadyAuthorizedError(invoice.id, f"line {line.id}")
    _authorize(op, charge, run, line)


def settle(op: Operation, invoice: Invoice, line: InvoiceLine, charge: UsageBasedCharge) -> None:
    """Record the settlement of the payment of the run `line` bills (authorizing it first if
    it was not), with the ledger's reference; `PaymentAlreadySettledError` if it is settled."""
    run = _owing_run(line, charge)
    if run is None:
        return
    payment = run.payment or _authorize(op, charge, run, line)
    if payment.status is PaymentStatus.SETTLED:
        raise PaymentAlreadySettledError(invoice.id, f"line {line.id}")
    reference = _reference(op.ledger.payment_settled(charge, run, payment.amount, op.now), charge)
    settled = payment.model_copy(
        update={
            "status": PaymentStatus.SETTLED,
            "settled_at": op.now,
            "settlement_reference": reference,
        }
    )
    op.uow.charges.save_payment(run.id, settled)
    run.payment = settled


def _owing_run(line: InvoiceLine, charge: UsageBasedCharge) -> RealizationRun | None:
    """The run `line` bills, if it is owed in fiat (not voided, invoiced, a non-zero line)."""
    run = next((run for run in charge.live_runs() if run.line_id == line.id), None)
    if run is None or not run.needs_fiat_payment() or line.totals.total == 0:
        return None
    return run


def _authorize(
    op: Operation, charge: UsageBasedCharge, run: RealizationRun, line: InvoiceLine
) -> Payment:
    amount = line.totals.total
    reference = _reference(op.ledger.payment_authorized(charge, run, amount, op.now), charge)
    payment = Payment(
        status=PaymentStatus.AUTHORIZED,
        amount=amount,
        authorized_at=op.now,
        authorization_reference=reference,
    )
    op.uow.charges.save_payment(run.id, payment)
    run.payment = payment
    return payment


def _reference(reference: object, charge: UsageBasedCharge) -> str:
    if not isinstance(reference, str) or not reference.strip():
        raise LedgerError(charge.id, charge.state.status, None, "an empty payment reference")
    return reference
