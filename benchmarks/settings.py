"""How big each benchmark is: the full sizes `make bench` uses, and the ``--quick`` ones
(``BENCH=quick``) that finish in under a minute; and the instants of the reference scenario.

``BENCH_CHARGES`` overrides the number of charges of the reference lifecycle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Sizes:
    """One run's sizes."""

    name: str
    charges: int
    """Charges of the reference lifecycle (main table)."""
    runs: int
    """Runs of each measurement; the median is reported."""
    statement_charges: int
    """Charges (and invoice lines) of the statement-count and write-shape pass."""
    invoice_lines: tuple[int, ...]
    """Lines per invoice in the invoicing table."""
    invoice_runs_up_to: int
    """Invoices of at most this many lines are measured `small_invoice_runs` times, bigger
    ones `runs` times."""
    small_invoice_runs: int
    """Runs of each measurement of a small invoice: it takes milliseconds, so one noisy moment
    of this shared machine moves it most; more runs keep its median steady."""
    due: int
    """The fixed due set of the flatness table."""
    flatness_runs: int
    """Runs of each flatness measurement: a sweep of the due set takes a fraction of a second,
    and the table compares medians at 1.1x, finer than one noisy moment of this machine."""
    customers: int
    """Customers the due set and the not-due charges are spread over."""
    not_due: tuple[int, ...]
    """Not-due charges added beside the due set."""
    not_due_kinds: tuple[str, ...]
    """``history`` (finalized, with runs and allocations) and/or ``future`` (not started)."""
    worker_charges: int
    """Due charges drained by the worker-scaling table."""
    worker_customers: int
    worker_batch: int
    """Batch size of the workers' sweeps: small enough that the due charges make several
    batches for the processes to share."""
    worker_seconds: float
    """How long a worker process may drain before it gives up (reported)."""
    processes: tuple[int, ...]
    binding_calls: int
    batch: int = 500
    """Batch size of the sweeps and of the batched floors."""


FULL = Sizes(
    name="full",
    charges=2_000,
    runs=3,
    statement_charges=10,
    invoice_lines=(1, 10, 100, 1_000),
    invoice_runs_up_to=100,
    small_invoice_runs=5,
    due=200,
    flatness_runs=5,
    customers=100,
    not_due=(1_000, 20_000),
    not_due_kinds=("future", "history"),
    worker_charges=1_000,
    worker_customers=100,
    worker_batch=50,
    worker_seconds=60.0,
    processes=(1, 2, 4),
    binding_calls=20_000,
)

QUICK = Sizes(
    name="quick",
    charges=200,
    runs=1,
    statement_charges=10,
    invoice_lines=(1, 10, 100),
    invoice_runs_up_to=100,
    small_invoice_runs=1,
    due=50,
    flatness_runs=1,
    customers=25,
    not_due=(1_000, 20_000),
    not_due_kinds=("history",),
    worker_charges=200,
    worker_customers=30,
    worker_batch=25,
    worker_seconds=5.0,
    processes=(1, 2, 4),
    binding_calls=5_000,
)


def sizes(quick: bool) -> Sizes:
    """The sizes for this run: quick when asked (or ``BENCH=quick``), else full; with
    ``BENCH_CHARGES`` overriding the reference lifecycle's charges."""
    chosen = QUICK if quick or os.environ.get("BENCH", "").lower() == "quick" else FULL
    override = os.environ.get("BENCH_CHARGES")
    return replace(chosen, charges=int(override)) if override else chosen


def instant(text: str) -> datetime:
    """An ISO-8601 UTC instant."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


SETUP_AT = "2025-12-01T00:00:00Z"
"""When customers, features, grants and charges are created."""
PERIOD = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
"""The service period of every measured charge: January 2026."""
FUTURE_PERIOD = ("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z")
"""The service period of not-due charges that have not started."""
USAGE_AT = "2026-01-15T00:00:00Z"
"""The one usage event per customer, mid January."""
SWEEPS = (
    ("sweep 1 (activate)", "2026-01-01T00:00:00Z"),
    ("sweep 2 (realize)", "2026-02-01T12:00:00Z"),
    ("sweep 3 (finalize)", "2026-02-03T00:01:00Z"),
)
"""The three due sweeps that take a credit_only charge from `created` to `final`."""
INVOICE_AT = "2026-02-01T00:00:00Z"
COLLECT_AT = "2026-02-03T00:01:00Z"
IDLE_AT = "2026-02-04T00:00:00Z"
"""A due sweep after collection, while the invoice waits for manual approval."""
COLLECTION_INTERVAL = timedelta(days=2)
"""Every customer's collection interval (``P2D``)."""
INTERNAL_COLLECTION_PERIOD = timedelta(minutes=1)
"""How long after a run's cutoff chargeflow waits before collecting it."""
USAGE_VALUE = 100
CREDIT_ONLY_PRICE = "1"
INVOICED_PRICE = "0.10"
GRANT = "1000000000"
"""A grant no benchmark exhausts: every run is covered by credits."""
