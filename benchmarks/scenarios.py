"""The chargeflow side of every benchmark, through the public API only (`open_app`,
`FrozenClock`, `App` and its facade), so it keeps measuring whatever the engine becomes.

A `World` is a migrated database opened with a frozen clock, one feature, customers (each with
a grant no benchmark exhausts and one usage event in mid January), and the `Facts` the floors
need about them. The floors' databases are set up the same way, through the API, and closed
before the floor runs.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from benchmarks import rows
from benchmarks.rows import Facts
from benchmarks.settings import (
    COLLECT_AT,
    CREDIT_ONLY_PRICE,
    GRANT,
    INVOICE_AT,
    INVOICED_PRICE,
    PERIOD,
    SETUP_AT,
    SWEEPS,
    USAGE_AT,
    USAGE_VALUE,
)
from chargeflow import AdvanceReport, App, FrozenClock, open_app

FEATURE_KEY = "api_requests"
CURRENCY = "USD"

R = TypeVar("R")


def timed(work: Callable[[], R]) -> tuple[float, R]:
    """Seconds `work` took, and what it returned. The garbage the set-up left is collected
    first, so that no measurement pays for a collection its set-up made due (the work's own
    collections stay in its time)."""
    gc.collect()
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


@dataclass
class World:
    """An open app on a set-up database."""

    url: str
    app: App
    clock: FrozenClock
    facts: Facts

    def close(self) -> None:
        """Release the app's connections."""
        self.app.close()


def open_world(url: str, customers: int = 1) -> World:
    """Open chargeflow on `url` at the set-up instant and create the feature and `customers`
    customers (collection interval P2D), each with a large grant and one usage event."""
    clock = FrozenClock(SETUP_AT)
    app = open_app(url, clock=clock, wall_clock=clock)  # audit rows comparable to the floors'
    feature = app.features.create(key=FEATURE_KEY)
    made = []
    for index in range(customers):
        customer = app.customers.create(
            name=f"customer {index}", currency=CURRENCY, collection_interval="P2D"
        )
        grant = app.credits.grant(customer.id, amount=GRANT)
        app.usage.record(customer.id, FEATURE_KEY, value=USAGE_VALUE, event_time=USAGE_AT)
        made.append(rows.Customer(customer.id, grant.id))
    facts = Facts(feature.id, FEATURE_KEY, CURRENCY, tuple(made))
    return World(url, app, clock, facts)


def create_charges(
    world: World,
    count: int,
    *,
    mode: str = "credit_only",
    price: str = CREDIT_ONLY_PRICE,
    customers: Sequence[rows.Customer] = (),
    per_call: int = 500,
) -> list[str]:
    """Create `count` charges for January 2026 over `customers` (default: all) in turn,
    `per_call` at a time through `create_many` (a billing cycle's charges made at once); their
    ids."""
    world.clock.set(SETUP_AT)
    customers = customers or world.facts.customers
    intents = [
        {
            "customer_id": customers[index % len(customers)].id,
            "feature_key": FEATURE_KEY,
            "service_period": PERIOD,
            "settlement_mode": mode,
            "price": {"type": "unit", "amount": price},
        }
        for index in range(count)
    ]
    return [
        charge.id
        for start in range(0, count, per_call)
        for charge in world.app.charges.create_many(intents[start : start + per_call])
    ]


def sweep(world: World, at: str, batch_size: int = 500) -> AdvanceReport:
    """One due sweep of the charges at `at`."""
    world.clock.set(at)
    return world.app.charges.advance_due(batch_size=batch_size)


def require_advanced(report: AdvanceReport, expected: int, what: str) -> None:
    """Fail loudly when a sweep did not advance what the benchmark set up."""
    if report.failed or len(report.advanced) != expected:
        failures = "; ".join(f"{key}: {error!r}" for key, error in list(report.failed.items())[:3])
        raise RuntimeError(
            f"{what}: advanced {len(report.advanced)} of {expected}, "
            f"{len(report.failed)} failed {failures}"
        )


def invoice(world: World, customer_id: str) -> str:
    """Invoice the customer's pending lines at the invoicing instant; the one invoice's id."""
    world.clock.set(INVOICE_AT)
    [created] = world.app.billing.invoice_pending_lines(customer_id)
    return created.id


def collect(world: World, invoice_id: str) -> None:
    """Advance the invoice at the collection instant (collection completes)."""
    world.clock.set(COLLECT_AT)
    world.app.billing.advance_invoice(invoice_id)


def warm_up(url: str) -> None:
    """Take two charges through the reference lifecycle and invoice and collect a one-line
    invoice on `url`, unmeasured: a process's first use of each code path (lazy imports,
    validators, statement caches) is then paid before any measurement."""
    world = open_world(url, customers=2)
    try:
        create_charges(world, 2, customers=world.facts.customers[:1])
        spare = world.facts.customers[1]
        create_charges(
            world, 1, mode="credit_then_invoice", price=INVOICED_PRICE, customers=[spare]
        )
        for _, at in SWEEPS[:2]:
            sweep(world, at)
        collect(world, invoice(world, spare.id))
        sweep(world, SWEEPS[2][1])
    finally:
        world.close()
