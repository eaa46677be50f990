"""`make bench`: figures, not tests.

1. Microseconds per "bind a charge at its persisted status and fire one trigger", through the
   shared machine, next to the same work done by constructing a `transitions.Machine` per charge.
2. The time to advance 10,000 credit_only charges through their whole lifecycle, on SQLite
   and on PostgreSQL.
3. SQL statements and wall time to invoice, and to collect, invoices of 1, 10 and 100
   usage-based lines, counted with SQLAlchemy's ``before_cursor_execute`` event.

Set ``BENCH_CHARGES`` to change the 10,000. PostgreSQL is skipped with a note when unreachable.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import transitions
from sqlalchemy import Engine, event

from chargeflow import App, FrozenClock, open_app
from domain.charge import ChargeIntent, UsageBasedCharge
from domain.statuses import ChargeStatus
from domain.triggers import Trigger
from domain.validation import build
from statemachines.actions import ChargeAction
from statemachines.credit_only import CREDIT_ONLY
from statemachines.registry import CHARGE_MACHINES
from tests.databases import postgres_database

PERIOD = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)


def _a_charge() -> UsageBasedCharge:
    intent = build(
        ChargeIntent,
        customer_id="c",
        currency="USD",
        feature_key="f",
        service_period=PERIOD,
        settlement_mode="credit_only",
        price={"type": "unit", "amount": "1"},
    )
    return UsageBasedCharge(intent=intent, created_at=JAN_1)


def _per_call_us(work: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        work()
    return (time.perf_counter() - started) / calls * 1e6


def bench_binding(calls: int = 20_000) -> None:
    """Shared machine vs a `Machine` per charge, firing `next` from `created`."""
    charge = _a_charge()
    machine = CHARGE_MACHINES[charge.intent.settlement_mode]

    def no_actions(action: ChargeAction, arguments: Any) -> None:
        return None

    def shared() -> object:
        return machine.fire(charge, ChargeStatus.CREATED, Trigger.NEXT, JAN_1, no_actions)

    rows = [
        {
            "trigger": row.trigger.value,
            "source": row.source,
            "dest": row.dest,
            "conditions": [
                lambda event, guard=guard: guard.check(charge, JAN_1) for guard in row.guards
            ],
        }
        for row in CREDIT_ONLY.rows
    ]

    class Model:
        state: ChargeStatus

    def per_charge() -> object:
        model = Model()
        built = transitions.Machine(
            model=model,
            states=list(CREDIT_ONLY.statuses),
            transitions=rows,
            initial=ChargeStatus.CREATED,
            auto_transitions=False,
            send_event=True,
        )
        return built.events["next"].trigger(model)

    print("1. bind a charge at its status and fire `next` (in memory, no database)")
    shared_us = _per_call_us(shared, calls)
    per_charge_us = _per_call_us(per_charge, calls // 20)
    print(f"   shared machine, slotted binding    : {shared_us:9.1f} µs/charge")
    print(f"   new transitions.Machine per charge : {per_charge_us:9.1f} µs/charge")


@contextmanager
def _database(backend: str, directory: Path) -> Iterator[str | None]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    try:
        with postgres_database() as url:
            yield url
    except pytest.skip.Exception as skipped:
        print(f"   PostgreSQL skipped: {skipped}")
        yield None


def bench_lifecycle(app: App, clock: FrozenClock, charges: int) -> None:
    """Create `charges` credit_only charges over 100 customers and drive them to `final`."""
    clock.set("2025-12-01T00:00:00Z")
    app.features.create(key="api_requests")
    customers = [
        app.customers.create(name=f"c{i}", currency="USD", collection_interval="P2D")
        for i in range(100)
    ]
    started = time.perf_counter()
    ids = [
        app.charges.create(
            customer_id=customers[i % 100].id,
            feature_key="api_requests",
            service_period=PERIOD,
            settlement_mode="credit_only",
            price={"type": "unit", "amount": "0.01"},
        ).id
        for i in range(charges)
    ]
    created = time.perf_counter() - started
    for who in customers:
        app.usage.record(who.id, "api_requests", value=100, event_time="2026-01-15T00:00:00Z")

    started = time.perf_counter()
    clock.set("2026-01-01T00:00:00Z")
    for who in customers:  # created charges are not due (advance_after is None): by customer
        app.charges.advance(customer_id=who.id)
    clock.set("2026-02-01T12:00:00Z")
    first = app.charges.advance_due()
    clock.set("2026-02-03T00:01:00Z")
    second = app.charges.advance_due()
    advanced = time.perf_counter() - started

    assert len(first.advanced) == len(second.advanced) == charges, (first, second)
    assert {app.charges.get(ids[0]).state.status, app.charges.get(ids[-1]).state.status} == {
        ChargeStatus.FINAL
    }
    print(f"   create {charges} charges: {created:7.1f} s ({created / charges * 1e3:.2f} ms each)")
    print(
        f"   advance them created -> final (3 sweeps, 6 transitions each): {advanced:7.1f} s "
        f"({advanced / charges * 1e3:.2f} ms per charge)"
    )


@contextmanager
def _statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def bench_billing(app: App, clock: FrozenClock) -> None:
    """Statements and time to invoice and collect invoices of 1, 10 and 100 usage lines."""
    clock.set("2025-12-01T00:00:00Z")
    app.features.create(key="api_requests")
    for lines in (1, 10, 100):
        clock.set("2025-12-01T00:00:00Z")
        who = app.customers.create(name=f"n{lines}", currency="USD", collection_interval="P2D")
        app.credits.grant(who.id, amount="5")
        for _ in range(lines):
            app.charges.create(
                customer_id=who.id,
                feature_key="api_requests",
                service_period=PERIOD,
                settlement_mode="credit_then_invoice",
                price={"type": "unit", "amount": "0.10"},
            )
        app.usage.record(who.id, "api_requests", value=100, event_time="2026-01-15T00:00:00Z")
        clock.set("2026-02-01T00:00:00Z")
        with _statements(app) as invoicing:
            started = time.perf_counter()
            [invoice] = app.billing.invoice_pending_lines(who.id)
            invoiced = time.perf_counter() - started
        clock.set("2026-02-03T00:00:00Z")
        with _statements(app) as collecting:
            started = time.perf_counter()
            app.billing.advance_invoice(invoice.id)
            collected = time.perf_counter() - started
        print(
            f"   {lines:3} lines: invoice {len(invoicing):5} statements {invoiced * 1e3:8.1f} ms"
            f" | collect {len(collecting):5} statements {collected * 1e3:8.1f} ms"
        )


def main() -> None:
    """Run every benchmark and print the figures."""
    charges = int(os.environ.get("BENCH_CHARGES", "10000"))
    bench_binding()
    for title, work in (
        (f"2. {charges} credit_only charges through their lifecycle", "lifecycle"),
        ("3. billing: statements and wall time per invoice", "billing"),
    ):
        print(title)
        for backend in ("sqlite", "postgresql"):
            print(f"  {backend}")
            with (
                tempfile.TemporaryDirectory() as directory,
                _database(backend, Path(directory)) as url,
            ):
                if url is None:
                    continue
                clock = FrozenClock("2025-12-01T00:00:00Z")
                app = open_app(url, clock=clock)
                try:
                    if work == "lifecycle":
                        bench_lifecycle(app, clock, charges)
                    else:
                        bench_billing(app, clock)
                finally:
                    app.close()


if __name__ == "__main__":
    main()
