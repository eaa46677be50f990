"""Invoicing a customer's pending lines: which lines are billable, and the seven steps that turn
them into one standard invoice per currency (docs/lifecycle.md section 8), in that exact order.

The standard line rows exist (step 5) before any charge is told about them (step 6), so a run's
`line_id` only ever names a persisted standard line. One line never blocks the others: a line
that is not billable, whose charge has two lines, or whose charge refuses at step 6 stays on the
gathering invoice and is reported; an invoice rolls back only if none of its lines was billed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from chargeflow.domain.customer import Customer
from chargeflow.domain.invoices import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    UnbilledLine,
    collection_at,
)
from chargeflow.engines.billable import billed_part, rest_of
from chargeflow.engines.invoice_calculation import by_engine, recalculate
from chargeflow.engines.line_engines import LINE_ENGINES, same_ids
from chargeflow.engines.operation import Operation


class _NothingBilled(Exception):  # noqa: N818 -- a signal to roll the invoice back, never raised out
    """Every line of an invoice was left behind: the invoice is rolled back."""


@dataclass(frozen=True)
class Billed:
    """A billable gathering line and the part of it invoicing bills: the line itself, or, when
    only the part before `as_of` is billable, a new line ``[start, as_of)`` split off it."""

    gathering: InvoiceLine
    part: InvoiceLine

    @property
    def is_split(self) -> bool:
        """Whether the part is split off the line (the rest of the line stays gathering)."""
        return self.part.id != self.gathering.id


def sort_billable(
    op: Operation, customer: Customer, lines: Sequence[InvoiceLine], as_of: datetime
) -> tuple[list[Billed], list[UnbilledLine]]:
    """`lines` split into those billable at `as_of`, each with the part billed (a line billable
    only in part is split there), and those left behind, with their reasons (each engine
    decides for its own lines)."""
    billable: list[Billed] = []
    left: list[UnbilledLine] = []
    for engine, group in by_engine(lines).items():
        line_engine = LINE_ENGINES[engine]
        reasons = line_engine.unbillable(op, customer, group, as_of)
        for line in group:
            if line.id in reasons:
                left.append(_unbilled(line, reasons[line.id]))
                continue
            end = line_engine.billed_until(customer, line, as_of)
            part = billed_part(line, end, op.now) if end < line.service_period.end else line
            billable.append(Billed(line, part))
    return billable, left


def create_standard_invoices(
    op: Operation, customer: Customer, billed: Sequence[Billed]
) -> tuple[list[Invoice], list[UnbilledLine]]:
    """One standard invoice per currency of the `billed` lines; the invoices created and the
    lines left behind."""
    invoices: list[Invoice] = []
    left: list[UnbilledLine] = []
    ordered = sorted(billed, key=lambda one: one.part.currency)
    for _, group in groupby(ordered, key=lambda one: one.part.currency):
        invoice, unbilled = _create_standard_invoice(op, customer, list(group))
        left.extend(unbilled)
        if invoice is not None:
            invoices.append(invoice)
    return invoices, left


def _create_standard_invoice(
    op: Operation, customer: Customer, billed: list[Billed]
) -> tuple[Invoice | None, list[UnbilledLine]]:
    """A standard invoice billing what it can of the `billed` parts (all in one currency), or
    None, rolled back with every split, when it could bill none; and the lines left behind."""
    billed, left = _without_duplicate_charges(billed)  # 1.
    if not billed:
        return None, left
    parts = [one.part for one in billed]
    try:
        with op.uow.savepoint():
            invoice = Invoice(  # 2. the header
                customer_id=customer.id,
                currency=parts[0].currency,
                kind=InvoiceKind.STANDARD,
                status=InvoiceStatus.DRAFT_CREATED,
                collection_at=collection_at(customer, parts),
                auto_approve=customer.auto_approve,
                created_at=op.now,
            )
            op.uow.invoices.add(invoice)
            standard = _build_standard_lines(invoice, parts)  # 3.
            _take_off_gathering(op, billed)  # 4.
            op.uow.invoices.add_lines(standard)  # 5. from here on their rows exist
            invoice.lines, failed = _realize(op, invoice, standard, billed)  # 6.
            left.extend(failed)
            if not invoice.lines:
                raise _NothingBilled
            invoice.collection_at = collection_at(customer, invoice.lines)
            recalculate(op, invoice)  # 7.
    except _NothingBilled:
        return None, left
    return invoice, left


def _without_duplicate_charges(billed: list[Billed]) -> tuple[list[Billed], list[UnbilledLine]]:
    """Step 1: the lines of a charge that has more than one are all left behind."""
    counts: dict[str, int] = {}
    for one in billed:
        if one.gathering.charge_id is not None:
            counts[one.gathering.charge_id] = counts.get(one.gathering.charge_id, 0) + 1
    kept = [one for one in billed if counts.get(one.gathering.charge_id or "", 0) < 2]
    left = [
        _unbilled(one.gathering, f"charge {one.gathering.charge_id} has "
                  f"{counts[one.gathering.charge_id or '']} lines")
        for one in billed
        if counts.get(one.gathering.charge_id or "", 0) > 1
    ]  # fmt: skip
    return kept, left


def _take_off_gathering(op: Operation, billed: Sequence[Billed]) -> None:
    """Step 4: a line billed whole leaves the gathering invoice; a split line stays on it with
    the rest of its period."""
    op.uow.invoices.remove_lines([one.gathering.id for one in billed if not one.is_split])
    op.uow.invoices.save_lines(
        [rest_of(one.gathering, one.part.service_period.end) for one in billed if one.is_split]
    )


def _build_standard_lines(invoice: Invoice, lines: Sequence[InvoiceLine]) -> list[InvoiceLine]:
    """Step 3: per engine, the lines as standard lines of `invoice` (structural, same ids)."""
    standard: list[InvoiceLine] = []
    for engine, group in by_engine(lines).items():
        built = LINE_ENGINES[engine].build_standard_invoice_lines(invoice, group)
        same_ids(group, built, "build_standard_invoice_lines")
        standard.extend(built)
    return standard


def _realize(
    op: Operation, invoice: Invoice, standard: Sequence[InvoiceLine], billed: Sequence[Billed]
) -> tuple[list[InvoiceLine], list[UnbilledLine]]:
    """Step 6: tell each engine the invoice exists. The lines it realized replace theirs by id;
    a line it could not realize goes back onto the gathering invoice as it was (a split undone:
    the billed part merged back into its line), reported."""
    realized: dict[str, InvoiceLine] = {}
    failed: dict[str, Exception] = {}
    for engine, group in by_engine(standard).items():
        outcome = LINE_ENGINES[engine].on_standard_invoice_created(op, invoice, group)
        failing = [line for line in group if line.id in outcome.failed]
        same_ids(group, [*outcome.lines, *failing], "on_standard_invoice_created")
        realized.update((line.id, line) for line in outcome.lines)
        failed.update(outcome.failed)
    undone = [one for one in billed if one.part.id in failed]
    if undone:
        op.uow.invoices.remove_lines([one.part.id for one in undone])
        op.uow.invoices.add_lines([one.gathering for one in undone if not one.is_split])
        op.uow.invoices.save_lines([one.gathering for one in undone if one.is_split])
    left = [
        _unbilled(one.gathering, f"{type(failed[one.part.id]).__name__}: {failed[one.part.id]}")
        for one in undone
    ]
    return [realized[line.id] for line in standard if line.id in realized], left


def _unbilled(line: InvoiceLine, reason: str) -> UnbilledLine:
    return UnbilledLine(line_id=line.id, charge_id=line.charge_id, reason=reason)
