"""The main table: chargeflow against its floors over the reference lifecycle.

N credit_only charges (unit price 1) of one customer (a large grant, collection interval P2D,
service period January 2026, one usage event mid January) are created, then taken to `final` by
three due sweeps (at 2026-01-01T00:00Z, 2026-02-01T12:00Z and 2026-02-03T00:01Z). Reported: ms
per charge for each operation, the median of the runs, each run on fresh databases, the three
implementations taking turns; and chargeflow's time as a multiple of each floor's.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial

from benchmarks import report
from benchmarks.scenarios import timed
from benchmarks.settings import Sizes
from benchmarks.subjects import CHARGEFLOW, LEGEND, LIFECYCLE
from benchmarks.subjects import LIFECYCLE_IMPLEMENTATIONS as IMPLEMENTATIONS
from benchmarks.subjects import lifecycle_subject as subject

TOTAL = "whole lifecycle"


def measure(implementation: str, backend: str, sizes: Sizes) -> dict[str, float]:
    """One run of `implementation`: ms per charge for each operation."""
    with subject(implementation, backend, sizes.charges, sizes.batch) as measured:
        figures = {}
        for operation in LIFECYCLE:
            seconds, _ = timed(partial(measured.run, operation))
            figures[operation] = seconds * 1e3 / sizes.charges
    figures[TOTAL] = sum(figures.values())
    return figures


def run(sizes: Sizes, backend: str) -> None:
    """Measure and print the table for `backend`."""
    runs: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(sizes.runs):
        for implementation in IMPLEMENTATIONS:
            for operation, value in measure(implementation, backend, sizes).items():
                runs[implementation][operation].append(value)
    median = {
        implementation: {op: report.median(values) for op, values in figures.items()}
        for implementation, figures in runs.items()
    }
    floors = IMPLEMENTATIONS[1:]
    table = report.Table(
        ["ms per charge", CHARGEFLOW, *(h for floor in floors for h in (floor, "ratio"))],
        title=f"{backend}: {sizes.charges:,} credit_only charges, median of {sizes.runs}",
    )
    for operation in (*LIFECYCLE, TOTAL):
        ours = median[CHARGEFLOW][operation]
        cells = [report.ms(ours, 3)]
        for floor in floors:
            theirs = median[floor][operation]
            cells += [report.ms(theirs, 3), report.ratio(ours, theirs)]
        table.add(operation, *cells)
    table.print()
    report.note(LEGEND)
    print()
