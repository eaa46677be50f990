"""Invoicing a customer's pending lines: which lines are billable, and the seven steps that turn
them into one standard invoice per currency (docs/lifecycle.md section 8), in that exact order.

The standard line rows exist (step 5) before any charge is told about them (step 6), so a run's
`line_id` only ever names a persisted standard line. One line never blocks the others: a line
that is not billable, whose charge has two lines, or whose charge refuses at step 6 stays on the
gathering invoice and is reported; an invoice rolls back only if none of its lines was billed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby

from domain.customer import Customer
from domain.invoices import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    UnbilledLine,
    collection_at,
)
from engines.invoice_calculation import by_engine, recalculate
from engines.line_engines import LINE_ENGINES, same_ids
from engines.operation import Operation


class _NothingBilled(Exception):  # noqa: N818 -- a signal to roll the invoice back, never raised out
    """Every line of an invoice was left behind: the invoice is rolled back."""


def sort_billable(
    op: Operation, lines: Sequence[InvoiceLine], as_of: datetime
) -> tuple[list[InvoiceLine], list[UnbilledLine]]:
    """`lines` split into those billable at `as_of` and those left behind, with their reasons
    (each engine decides for its own lines)."""
    billable: list[InvoiceLine] = []
    left: list[UnbilledLine] = []
    for engine, group in by_engine(lines).items():
        reasons = LINE_ENGINES[engine].unbillable(op, group, as_of)
        for line in group:
            if line.id in reasons:
                left.append(_unbilled(line, reasons[line.id]))
            else:
                billable.append(line)
    return billable, left


def create_standard_invoices(
    op: Operation, customer: Customer, lines: Sequence[InvoiceLine]
) -> tuple[list[Invoice], list[UnbilledLine]]:
    """One standard invoice per currency of the billable `lines`; the invoices created and the
    lines left behind."""
    invoices: list[Invoice] = []
    left: list[UnbilledLine] = []
    ordered = sorted(lines, key=lambda line: line.currency)
    for currency, group in groupby(ordered, key=lambda line: line.currency):
        invoice, unbilled = _create_standard_invoice(op, customer, currency, list(group))
        left.extend(unbilled)
        if invoice is not None:
            invoices.append(invoice)
    return invoices, left


def _create_standard_invoice(
    op: Operation, customer: Customer, currency: str, lines: list[InvoiceLine]
) -> tuple[Invoice | None, list[UnbilledLine]]:
    """A standard invoice in `currency` billing what it can of `lines` (or None, rolled back,
    when it could bill none), and the lines left behind."""
    lines, left = _without_duplicate_charges(lines)  # 1.
    if not lines:
        return None, left
    try:
        with op.uow.savepoint():
            invoice = Invoice(  # 2. the header
                customer_id=customer.id,
                currency=currency,
                kind=InvoiceKind.STANDARD,
                status=InvoiceStatus.DRAFT_CREATED,
                collection_at=collection_at(customer, lines),
                auto_approve=customer.auto_approve,
                created_at=op.now,
            )
            op.uow.invoices.add(invoice)
            standard = _build_standard_lines(invoice, lines)  # 3.
            op.uow.invoices.remove_lines([line.id for line in lines])  # 4.
            op.uow.invoices.add_lines(standard)  # 5. from here on their rows exist
            invoice.lines, failed = _realize(op, invoice, standard, lines)  # 6.
            left.extend(failed)
            if not invoice.lines:
                raise _NothingBilled
            invoice.collection_at = collection_at(customer, invoice.lines)
            recalculate(op, invoice)  # 7.
    except _NothingBilled:
        return None, left
    return invoice, left


def _without_duplicate_charges(
    lines: list[InvoiceLine],
) -> tuple[list[InvoiceLine], list[UnbilledLine]]:
    """Step 1: the lines of a charge that has more than one are all left behind."""
    counts: dict[str, int] = {}
    for line in lines:
        if line.charge_id is not None:
            counts[line.charge_id] = counts.get(line.charge_id, 0) + 1
    kept = [line for line in lines if counts.get(line.charge_id or "", 0) < 2]
    left = [
        _unbilled(line, f"charge {line.charge_id} has {counts[line.charge_id or '']} lines")
        for line in lines
        if counts.get(line.charge_id or "", 0) > 1
    ]
    return kept, left


def _build_standard_lines(invoice: Invoice, lines: Sequence[InvoiceLine]) -> list[InvoiceLine]:
    """Step 3: per engine, the lines as standard lines of `invoice` (structural, same ids)."""
    standard: list[InvoiceLine] = []
    for engine, group in by_engine(lines).items():
        built = LINE_ENGINES[engine].build_standard_invoice_lines(invoice, group)
        same_ids(group, built, "build_standard_invoice_lines")
        standard.extend(built)
    return standard


def _realize(
    op: Operation,
    invoice: Invoice,
    standard: Sequence[InvoiceLine],
    gathering: Sequence[InvoiceLine],
) -> tuple[list[InvoiceLine], list[UnbilledLine]]:
    """Step 6: tell each engine the invoice exists. The lines it realized replace theirs by id;
    a line it could not realize goes back onto the gathering invoice as it was, reported."""
    realized: dict[str, InvoiceLine] = {}
    failed: dict[str, Exception] = {}
    for engine, group in by_engine(standard).items():
        outcome = LINE_ENGINES[engine].on_standard_invoice_created(op, invoice, group)
        failing = [line for line in group if line.id in outcome.failed]
        same_ids(group, [*outcome.lines, *failing], "on_standard_invoice_created")
        realized.update((line.id, line) for line in outcome.lines)
        failed.update(outcome.failed)
    if failed:
        op.uow.invoices.remove_lines(list(failed))
        op.uow.invoices.add_lines([line for line in gathering if line.id in failed])
    left = [
        _unbilled(line, f"{type(failed[line.id]).__name__}: {failed[line.id]}")
        for line in gathering
        if line.id in failed
    ]
    return [realized[line.id] for line in standard if line.id in realized], left


def _unbilled(line: InvoiceLine, reason: str) -> UnbilledLine:
    return UnbilledLine(line_id=line.id, charge_id=line.charge_id, reason=reason)
