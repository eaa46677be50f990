"""Concurrent callers never duplicate, lose or overdraw: several threads or real processes at
once on one database. PostgreSQL serializes them with row and advisory locks (`SELECT ... FOR
UPDATE`, the customer's billing and credit locks, the migration lock); SQLite with its single
writer. Set ``CHARGEFLOW_CONCURRENCY_TRIALS`` to repeat the process races more often."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from chargeflow import App, FrozenClock, NoLinesToInvoiceError, open_app
from chargeflow.domain.invoices import InvoiceStatus
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.engines.ledger import AllocationDraft, AllocationRequest, DatabaseLedger
from chargeflow.persistence.sql import SqlDatabase
from tests.databases import postgres_database
from tests.factories import CO, CTI, FEATURE, charge, charge_in, customer

S = ChargeStatus
TRIALS = int(os.environ.get("CHARGEFLOW_CONCURRENCY_TRIALS", "2"))
_SPAWN = multiprocessing.get_context("spawn")


def run_threads(targets: dict[str, Callable[[], object]]) -> list[BaseException]:
    """Run each target in its own thread, named by its key, and wait for all of them; what
    they raised (surfaced in the test's thread)."""
    errors: list[BaseException] = []

    def call(target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=call, args=(t,), name=n) for n, t in targets.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_two_concurrent_advances_of_one_charge_create_one_run(
    database: SqlDatabase, app: App, clock: FrozenClock, database_url: str
) -> None:
    """PostgreSQL: the second waits on ``SELECT ... FOR NO KEY UPDATE``; SQLite: on the write
    transaction. Either way it then finds the charge already realized."""
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    clock.set("2026-02-01T12:00:00Z")
    apps = [open_app(database_url, clock=clock, migrate=False) for _ in range(2)]
    start = threading.Barrier(2)
    moved: list[bool] = []

    def advance(worker: App) -> None:
        start.wait()
        moved.append(bool(worker.charges.advance(charge_id)))

    try:
        errors = run_threads({f"advancer-{n}": partial(advance, w) for n, w in enumerate(apps)})
    finally:
        for worker in apps:
            worker.close()

    assert errors == []
    assert sorted(moved) == [False, True]
    stored = app.charges.get(charge_id)
    assert stored.state.status is S.REALIZATION_WAITING_FOR_COLLECTION
    assert len(stored.runs) == 1


def test_deleting_a_charge_while_its_invoice_is_approved_never_deadlocks(
    database: SqlDatabase, app: App, clock: FrozenClock, database_url: str
) -> None:
    """Approving locks the invoice, then its charges; deleting a credit_then_invoice charge
    takes the invoice's lock before the charge's, so the two queue instead of deadlocking.
    The approval is held for a second between its two locks while the delete starts."""
    charge_id = charge_in(app, database, clock, CTI, S.REALIZATION_PROCESSING)
    [invoice] = app.billing.list_invoices()
    approver, deleter = (open_app(database_url, clock=clock, migrate=False) for _ in range(2))
    approver_holds_invoice = threading.Event()

    def hold_between_locks(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        first = not approver_holds_invoice.is_set()
        in_approver = threading.current_thread().name == "approver"
        if first and in_approver and "FROM charge_usage_based" in statement:
            approver_holds_invoice.set()
            time.sleep(1.0)

    def delete() -> None:
        approver_holds_invoice.wait(timeout=10)
        deleter.charges.delete(charge_id, policy="ignore")

    event.listen(Engine, "before_cursor_execute", hold_between_locks)
    try:
        errors = run_threads(
            {"approver": lambda: approver.billing.approve_invoice(invoice.id), "deleter": delete}
        )
    finally:
        event.remove(Engine, "before_cursor_execute", hold_between_locks)
        approver.close()
        deleter.close()

    assert errors == []
    assert approver_holds_invoice.is_set()
    assert app.charges.get(charge_id).state.status is S.DELETED
    assert app.billing.get_invoice(invoice.id).status is InvoiceStatus.PAYMENT_PENDING


# --- real processes ----------------------------------------------------------------------------


def _sweep(url: str, now: str, barrier: Barrier, results: Any) -> None:
    """Sweep, as a worker does, until a sweep finds nothing left for it (none advanced, none
    left busy by another worker's lock)."""
    app = open_app(url, clock=FrozenClock(now), migrate=False)
    try:
        barrier.wait()
        advanced: list[str] = []
        failed: dict[str, str] = {}
        while True:
            report = app.charges.advance_due(batch_size=7)
            advanced += report.advanced
            failed |= {k: repr(v) for k, v in report.failed.items()}
            if not report.advanced and not report.busy:
                break
        results.put(("ok", sorted(advanced), failed))
    except BaseException as error:
        results.put(("error", repr(error), {}))
    finally:
        app.close()


def _invoice(url: str, now: str, customer_id: str, barrier: Barrier, results: Any) -> None:
    app = open_app(url, clock=FrozenClock(now), migrate=False)
    try:
        barrier.wait()
        invoices = app.billing.invoice_pending_lines(customer_id)
        results.put(("invoiced", [invoice.id for invoice in invoices], {}))
    except NoLinesToInvoiceError:
        results.put(("nothing", [], {}))
    except BaseException as error:
        results.put(("error", repr(error), {}))
    finally:
        app.close()


class _SlowGrants(DatabaseLedger):
    """The default credit source, pausing between reading the balance and the draw being
    written, so that two unguarded draws would surely read the same balance."""

    def allocate(self, request: AllocationRequest) -> list[AllocationDraft]:
        drafts = super().allocate(request)
        time.sleep(0.5)
        return drafts


def _advance(url: str, now: str, charge_id: str, barrier: Barrier, results: Any) -> None:
    app = open_app(url, clock=FrozenClock(now), migrate=False, ledger=_SlowGrants)
    try:
        barrier.wait()
        app.charges.advance(charge_id)
        results.put(("ok", charge_id, {}))
    except BaseException as error:
        results.put(("error", repr(error), {}))
    finally:
        app.close()


def _open(url: str, now: str, barrier: Barrier, results: Any) -> None:
    try:
        barrier.wait()
        app = open_app(url, clock=FrozenClock(now))
        app.customers.create(name="Opened", currency="USD")
        app.close()
        results.put(("ok", url, {}))
    except BaseException as error:
        results.put(("error", repr(error), {}))


def race(target: Callable[..., None], argument_lists: list[tuple[Any, ...]]) -> list[Any]:
    """Run `target(*arguments, barrier, results)` in one spawned process per argument list, all
    released at once by a barrier; what each put on the results queue."""
    barrier = _SPAWN.Barrier(len(argument_lists))
    results = _SPAWN.Queue()
    processes = [
        _SPAWN.Process(target=target, args=(*arguments, barrier, results))
        for arguments in argument_lists
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes


def test_four_workers_sweeping_the_same_due_charges_realize_each_exactly_once(
    app: App, clock: FrozenClock, database_url: str
) -> None:
    """One customer: its credit lock is held by one worker's page at a time; the others leave
    its charges for their next sweep instead of waiting (never a deadlock)."""
    who = customer(app)
    clock.set("2026-01-01T00:00:00Z")
    made = [charge(app, who.id, CO).id for _ in range(24)]
    app.usage.record(who.id, FEATURE, value=2, event_time="2026-01-15T00:00:00Z")
    now = "2026-02-01T12:00:00Z"

    outcomes = race(_sweep, [(database_url, now)] * 4)

    assert [outcome[0] for outcome in outcomes] == ["ok"] * 4, outcomes
    assert all(outcome[2] == {} for outcome in outcomes), outcomes
    advanced = [charge_id for outcome in outcomes for charge_id in outcome[1]]
    assert sorted(advanced) == sorted(made)  # each charge moved by exactly one worker
    for charge_id in made:
        stored = app.charges.get(charge_id)
        assert stored.state.status is S.REALIZATION_WAITING_FOR_COLLECTION
        assert len(stored.runs) == 1
        history = [(r.from_status.value, r.to_status.value) for r in app.charges.history(charge_id)]
        assert history == [
            ("created", "active"),
            ("active", "active.realization.started"),
            ("active.realization.started", "active.realization.waiting_for_collection"),
        ]


@pytest.mark.parametrize("trial", range(TRIALS))
def test_concurrent_invoicing_of_one_customer_creates_one_invoice(
    app: App, clock: FrozenClock, database_url: str, trial: int
) -> None:
    who = customer(app)
    for _ in range(3):
        charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-15T00:00:00Z")

    outcomes = race(_invoice, [(database_url, "2026-02-01T00:00:00Z", who.id)] * 3)

    assert sorted(outcome[0] for outcome in outcomes) == ["invoiced", "nothing", "nothing"], (
        outcomes
    )
    [invoice] = app.billing.list_invoices(who.id)
    assert len(invoice.lines) == 3
    assert app.billing.pending_lines(who.id) == []


@pytest.mark.parametrize("trial", range(TRIALS))
def test_two_charges_drawing_one_grant_never_overdraw_it(
    app: App, clock: FrozenClock, database_url: str, trial: int
) -> None:
    who = customer(app)
    app.credits.grant(who.id, amount="5.00")
    clock.set("2026-01-01T00:00:00Z")
    made = [charge(app, who.id, CO).id for _ in range(2)]
    app.usage.record(who.id, FEATURE, value=5, event_time="2026-01-15T00:00:00Z")
    now = "2026-02-01T12:00:00Z"

    outcomes = race(_advance, [(database_url, now, charge_id) for charge_id in made])

    assert [outcome[0] for outcome in outcomes] == ["ok", "ok"], outcomes
    from_grant = [
        allocation.amount
        for charge_id in made
        for run in app.charges.get(charge_id).runs
        for allocation in run.allocations
        if allocation.grant_id is not None
    ]
    assert sum(from_grant) == Decimal("5.00")  # the grant is drawn once, never twice
    assert app.credits.balance(who.id) == Decimal("-5.00")  # the rest is beyond the grants


@pytest.mark.postgres
def test_four_processes_opening_a_fresh_postgresql_database_all_succeed() -> None:
    with postgres_database() as url:
        outcomes = race(_open, [(url, "2026-01-01T00:00:00Z")] * 4)
        assert [outcome[0] for outcome in outcomes] == ["ok"] * 4, outcomes


def test_four_processes_opening_a_fresh_sqlite_file_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    outcomes = race(_open, [(url, "2026-01-01T00:00:00Z")] * 4)
    assert [outcome[0] for outcome in outcomes] == ["ok"] * 4, outcomes


def test_four_workers_over_many_customers_never_deadlock(
    app: App, clock: FrozenClock, database_url: str
) -> None:
    """Pages hold the credit locks of many customers at once, taken in no common order: a
    page that would wait for one another page holds leaves that charge for later instead, so
    the workers never deadlock and every charge is realized once."""
    made: list[str] = []
    for number in range(8):
        who = app.customers.create(name=f"C{number}", currency="USD", collection_interval="P2D")
        if number == 0:
            app.features.create(key=FEATURE)
        app.credits.grant(who.id, amount="1000")
        made += [charge(app, who.id, CO).id for _ in range(6)]
        app.usage.record(who.id, FEATURE, value=2, event_time="2026-01-15T00:00:00Z")
    clock.set("2026-01-01T00:00:00Z")
    app.charges.advance_due()
    now = "2026-02-01T12:00:00Z"

    outcomes = race(_sweep, [(database_url, now)] * 4)

    assert [outcome[0] for outcome in outcomes] == ["ok"] * 4, outcomes
    assert all(outcome[2] == {} for outcome in outcomes), outcomes
    advanced = [charge_id for outcome in outcomes for charge_id in outcome[1]]
    assert sorted(advanced) == sorted(made)
    assert {app.charges.get(c).state.status for c in made} == {S.REALIZATION_WAITING_FOR_COLLECTION}


@pytest.mark.postgres
def test_a_sweep_leaves_a_charge_whose_credit_lock_is_held_for_the_next_sweep() -> None:
    with postgres_database() as url:
        clock = FrozenClock("2025-12-01T00:00:00Z")
        app = open_app(url, clock=clock)
        held = SqlDatabase(url)
        try:
            busy, free = (customer(app, feature=n == 0) for n in range(2))
            charges = {who.id: charge(app, who.id, CO).id for who in (busy, free)}
            app.usage.record(busy.id, FEATURE, value=2, event_time="2026-01-15T00:00:00Z")
            clock.set("2026-01-01T00:00:00Z")
            app.charges.advance_due()
            clock.set("2026-02-01T12:00:00Z")
            with held.unit_of_work() as uow:
                uow.credits.lock(busy.id)  # another transaction draws on its credit
                report = app.charges.advance_due()
            assert (report.advanced, report.busy, report.failed) == (
                [charges[free.id]],
                [charges[busy.id]],
                {},
            )
            assert app.charges.advance_due().advanced == [charges[busy.id]]  # lock released
        finally:
            held.dispose()
            app.close()
