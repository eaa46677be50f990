"""Recalculating a standard invoice: each line engine's `calculate_lines`, then the invoice's
totals as the sums of its lines', both persisted."""

from __future__ import annotations

from collections.abc import Sequence

from chargeflow.domain.invoices import Invoice, InvoiceLine, LineEngineType, sum_totals
from chargeflow.engines.line_engines import LINE_ENGINES
from chargeflow.engines.operation import Operation


def by_engine(lines: Sequence[InvoiceLine]) -> dict[LineEngineType, list[InvoiceLine]]:
    """`lines` grouped by their engine, each group in the order given."""
    groups: dict[LineEngineType, list[InvoiceLine]] = {}
    for line in lines:
        groups.setdefault(line.engine, []).append(line)
    return groups


def recalculate(op: Operation, invoice: Invoice) -> None:
    """Each engine's `calculate_lines`, then the invoice totals as sums; persist both."""
    calculated: dict[str, InvoiceLine] = {}
    for engine, group in by_engine(invoice.lines).items():
        calculated.update((line.id, line) for line in LINE_ENGINES[engine].calculate_lines(group))
    invoice.lines = [calculated[line.id] for line in invoice.lines]
    invoice.totals = sum_totals(invoice.lines)
    op.uow.invoices.save_lines(invoice.lines)
    op.uow.invoices.save(invoice)
