"""The due sweeps' cost beside not-due charges: it must stay flat.

A fixed due set (credit_only charges for January 2026, created through the API, over the
customers in turn) is swept to `final` (the three sweeps of the reference lifecycle) in a
database that also holds not-due charges of the same customers, written raw
(`benchmarks.seeding`):

- ``history``: finalized charges with their runs, allocations and audit rows (the customers'
  past), which cost a sweep only if it reads a customer's whole history (its balance, say);
- ``future``: charges whose service period starts a year later, which cost a sweep only if
  finding the due charges does not use the ``advance_after`` index.

Reported: ms per due charge for each sweep and in all, and the whole as a multiple of the
baseline (no not-due charges). 1.0x is flat.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial

from benchmarks import report
from benchmarks.databases import fresh_database
from benchmarks.raw import connect
from benchmarks.scenarios import create_charges, open_world, require_advanced, sweep, timed
from benchmarks.seeding import seed
from benchmarks.settings import SWEEPS, Sizes

BASELINE = ("baseline", "history", 0)


def settings(sizes: Sizes) -> list[tuple[str, str, int]]:
    """(label, kind, count) of each setting, the baseline first."""
    return [BASELINE] + [
        (f"+{count:,} {kind}", kind, count)
        for kind in sizes.not_due_kinds
        for count in sizes.not_due
    ]


def measure(backend: str, sizes: Sizes, kind: str, count: int) -> list[float]:
    """ms per due charge of each sweep, beside `count` not-due charges of `kind`."""
    with fresh_database(backend) as url:
        world = open_world(url, customers=sizes.customers)
        try:
            create_charges(world, sizes.due)
            raw = connect(url)
            try:
                seed(raw, world.facts, kind, count)
            finally:
                raw.close()
            figures = []
            for label, at in SWEEPS:
                seconds, swept = timed(partial(sweep, world, at, sizes.batch))
                require_advanced(swept, sizes.due, f"{label} beside {count} {kind}")
                figures.append(seconds * 1e3 / sizes.due)
            return figures
        finally:
            world.close()


def run(sizes: Sizes, backend: str) -> None:
    """Measure and print the table for `backend`."""
    found: dict[str, list[list[float]]] = defaultdict(list)
    for _ in range(sizes.flatness_runs):
        for label, kind, count in settings(sizes):
            found[label].append(measure(backend, sizes, kind, count))
    medians = {
        label: [report.median(column) for column in zip(*runs, strict=True)]
        for label, runs in found.items()
    }
    baseline = sum(medians[BASELINE[0]])
    table = report.Table(
        ["ms per due charge", *(label.split(" (")[0] for label, _ in SWEEPS), "all", "vs baseline"],
        title=(
            f"{backend}: {sizes.due} due charges over {sizes.customers} customers, "
            f"median of {sizes.flatness_runs}"
        ),
    )
    for label, figures in medians.items():
        table.add(
            label,
            *(report.ms(value, 3) for value in figures),
            report.ms(sum(figures), 3),
            report.ratio(sum(figures), baseline),
        )
    table.print()
