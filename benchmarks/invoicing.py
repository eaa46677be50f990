"""Invoicing and collection per line, at 1, 10, 100 (and 1,000) lines per invoice.

One customer has L credit_then_invoice charges (unit price 0.10, usage recorded, activated);
`invoice_pending_lines` at 2026-02-01 puts their L lines on one invoice, then `advance_invoice`
at 2026-02-03T00:01Z completes its collection (the customer approves manually, so collection
stops at `draft.manual_approval_needed`). Reported per line: chargeflow's ms and SQL statements,
each floor's ms, and the ratios. A per-line figure that grows with L is a scaling problem.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial

from benchmarks import report
from benchmarks.capture import statements
from benchmarks.scenarios import timed
from benchmarks.settings import Sizes
from benchmarks.subjects import BILLING, CHARGEFLOW, LEGEND
from benchmarks.subjects import BILLING_IMPLEMENTATIONS as IMPLEMENTATIONS
from benchmarks.subjects import billing_subject as subject

Figures = dict[str, tuple[float, int]]
"""Per operation: (ms per line, statements per line)."""


def measure(implementation: str, backend: str, lines: int, batch: int) -> Figures:
    """One run: ms and statements per line for invoicing and for collection."""
    figures: Figures = {}
    with subject(implementation, backend, lines, batch) as measured:
        for operation in BILLING:
            with statements() as seen:
                seconds, _ = timed(partial(measured.run, operation))
            figures[operation] = (seconds * 1e3 / lines, seen.total)
    return figures


def run(sizes: Sizes, backend: str) -> None:
    """Measure and print both tables for `backend`."""
    results: dict[int, dict[str, dict[str, list[float]]]] = {}
    counted: dict[int, dict[str, float]] = defaultdict(dict)
    for lines in sizes.invoice_lines:
        runs = sizes.small_invoice_runs if lines <= sizes.invoice_runs_up_to else sizes.runs
        per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for _ in range(runs):
            for implementation in IMPLEMENTATIONS:
                for operation, (ms, total) in measure(
                    implementation, backend, lines, sizes.batch
                ).items():
                    per[implementation][operation].append(ms)
                    if implementation == CHARGEFLOW:
                        counted[lines][operation] = total / lines
        results[lines] = per
    floors = IMPLEMENTATIONS[1:]
    for operation in BILLING:
        table = report.Table(
            [
                "lines",
                f"{CHARGEFLOW} ms/line",
                "statements/line",
                *(h for floor in floors for h in (floor, "ratio")),
            ],
            title=(
                f"{backend}: {'invoicing' if operation == 'invoice' else 'collection'}, "
                f"median of {sizes.small_invoice_runs} up to {sizes.invoice_runs_up_to} lines, "
                f"of {sizes.runs} above"
            ),
        )
        for lines, per in results.items():
            ours = report.median(per[CHARGEFLOW][operation])
            cells = [report.ms(ours, 3), report.count(counted[lines][operation])]
            for floor in floors:
                theirs = report.median(per[floor][operation])
                cells += [report.ms(theirs, 3), report.ratio(ours, theirs)]
            table.add(f"{lines:,}", *cells)
        table.print()
    report.note(LEGEND)
    print()
