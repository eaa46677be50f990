"""A crash between two steps loses nothing and a retry never duplicates.

For each operation (create, create_many, advance, advance_due, invoice_pending_lines, invoicing a
progressive customer mid-period, advance_invoice, delete, extend, approve_invoice,
record_payment), the same world is rebuilt and the operation is crashed once at every point it
touches the database: before each SQL statement, and before and after each commit. The crash is
a `BaseException` (like a killed process, it gets past every ``except Exception``). Then the
operation is run again without faults, and the end state must equal that of a run that never
crashed, with the invariants kept: one run per line, a run's credits are the sum of its
allocations, totals balance, and the audit log replays each charge's status changes.

Runs on SQLite and PostgreSQL. ``CHARGEFLOW_CRASH_STRIDE=N`` crashes at every Nth point only
(1, every point, is the default).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import Engine, event

from chargeflow import App, FrozenClock, NoLinesToInvoiceError
from chargeflow.domain.invoices import InvoiceStatus
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import to_instant
from chargeflow.persistence.sql import SqlDatabase
from chargeflow.persistence.sql.database import SqlUnitOfWork
from tests.conftest import Snapshot
from tests.databases import application_tables, empty_tables
from tests.factories import CO, CTI, FEATURE, PERIOD, customer

STRIDE = int(os.environ.get("CHARGEFLOW_CRASH_STRIDE", "1"))


class Crash(BaseException):
    """The process died here."""


@dataclass
class World:
    """What a setup left behind for the operation under test."""

    customer_id: str
    charge_ids: list[str]
    invoice_id: str = ""


Setup = Callable[[App, FrozenClock], World]
Act = Callable[[App, World], object]


def _base(app: App, clock: FrozenClock, modes: tuple[Any, ...]) -> World:
    clock.set("2025-12-01T00:00:00Z")
    who = customer(app)
    app.credits.grant(who.id, amount="4.00")
    charges = [
        app.charges.create(
            customer_id=who.id,
            feature_key=FEATURE,
            service_period=PERIOD,
            settlement_mode=mode,
            price={"type": "unit", "amount": "1.00"},
            unique_reference_id=f"ref-{number}",
        ).id
        for number, mode in enumerate(modes)
    ]
    app.usage.record(who.id, FEATURE, value=3, event_time="2026-01-15T00:00:00Z")
    return World(who.id, charges)


def setup_create(app: App, clock: FrozenClock) -> World:
    world = _base(app, clock, ())
    clock.set("2026-01-05T00:00:00Z")
    return world


def act_create(app: App, world: World) -> object:
    return [
        app.charges.create(
            customer_id=world.customer_id,
            feature_key=FEATURE,
            service_period=PERIOD,
            settlement_mode=mode,
            price={"type": "unit", "amount": "1.00"},
            unique_reference_id=f"created-{number}",
        )
        for number, mode in enumerate((CO, CTI))
    ]


def act_create_many(app: App, world: World) -> object:
    """Three charges in one call (a credit_only, a credit_then_invoice with its gathering line,
    and one referenced twice); a retry of the whole call returns the same charges."""
    return app.charges.create_many(
        {
            "customer_id": world.customer_id,
            "feature_key": FEATURE,
            "service_period": PERIOD,
            "settlement_mode": mode,
            "price": {"type": "unit", "amount": "1.00"},
            "unique_reference_id": reference,
        }
        for mode, reference in ((CO, "many-0"), (CTI, "many-1"), (CO, "many-0"))
    )


def setup_due(app: App, clock: FrozenClock) -> World:
    world = _base(app, clock, (CO, CO, CTI))
    clock.set("2026-02-03T00:01:00Z")
    return world


def act_advance(app: App, world: World) -> object:
    return app.charges.advance(world.charge_ids[0])


def act_advance_due(app: App, world: World) -> object:
    return app.charges.advance_due(batch_size=2)


def setup_invoicing(app: App, clock: FrozenClock) -> World:
    world = _base(app, clock, (CTI, CTI))
    clock.set("2026-02-01T00:00:00Z")
    return world


def act_invoice(app: App, world: World) -> object:
    return app.billing.invoice_pending_lines(world.customer_id)


def setup_progressive_invoicing(app: App, clock: FrozenClock) -> World:
    """Two charges of a customer billed progressively, invoiced mid-period: each line split."""
    world = _base(app, clock, (CTI, CTI))
    app.customers.update(world.customer_id, progressive_billing=True)
    clock.set("2026-01-20T00:00:00Z")
    return world


def setup_collection(app: App, clock: FrozenClock) -> World:
    world = setup_invoicing(app, clock)
    [invoice] = app.billing.invoice_pending_lines(world.customer_id)
    app.usage.record(
        world.customer_id,
        FEATURE,
        value=2,
        event_time="2026-01-20T00:00:00Z",
        stored_at="2026-02-02T00:00:00Z",
    )
    clock.set("2026-02-03T00:01:00Z")
    world.invoice_id = invoice.id
    return world


def act_advance_invoice(app: App, world: World) -> object:
    return app.billing.advance_invoice(world.invoice_id)


def setup_approval(app: App, clock: FrozenClock) -> World:
    world = setup_collection(app, clock)
    app.billing.advance_invoice(world.invoice_id)
    return world


def act_approve(app: App, world: World) -> object:
    """Approve the invoice; a retrying caller skips it once it is no longer waiting."""
    invoice = app.billing.get_invoice(world.invoice_id)
    if invoice.status is InvoiceStatus.DRAFT_MANUAL_APPROVAL_NEEDED:
        return app.billing.approve_invoice(world.invoice_id)
    return invoice


def setup_payment(app: App, clock: FrozenClock) -> World:
    world = setup_approval(app, clock)
    app.billing.approve_invoice(world.invoice_id)
    return world


def act_pay(app: App, world: World) -> object:
    """Record the payment; a retrying caller skips it once the invoice is paid."""
    invoice = app.billing.get_invoice(world.invoice_id)
    if invoice.status is not InvoiceStatus.PAID:
        return app.billing.record_payment(world.invoice_id, "paid")
    return invoice


def setup_delete(app: App, clock: FrozenClock) -> World:
    world = _base(app, clock, (CO, CTI))
    clock.set("2026-02-03T00:01:00Z")
    app.charges.advance(world.charge_ids[0])
    return world


def act_delete(app: App, world: World) -> object:
    """Delete both charges; a retrying caller skips the one already deleted."""
    return [
        app.charges.delete(charge_id, policy="correct")
        for charge_id in world.charge_ids
        if app.charges.get(charge_id).state.status is not ChargeStatus.DELETED
    ]


def setup_extend(app: App, clock: FrozenClock) -> World:
    """A credit_only charge realized to `final` and a credit_then_invoice charge invoiced but
    not issued: extending voids both runs (and the invoiced one's line)."""
    world = _base(app, clock, (CO, CTI))
    clock.set("2026-02-01T00:00:00Z")
    app.billing.invoice_pending_lines(world.customer_id)
    clock.set("2026-02-03T00:01:00Z")
    app.charges.advance(world.charge_ids[0])
    return world


EXTENDED_TO = to_instant("2026-03-01T00:00:00Z")


def act_extend(app: App, world: World) -> object:
    """Extend both charges to March; a retrying caller skips the one already extended."""
    return [
        app.charges.extend(charge_id, to=EXTENDED_TO)
        for charge_id in world.charge_ids
        if app.charges.get(charge_id).intent.service_period.end != EXTENDED_TO
    ]


OPERATIONS: dict[str, tuple[Setup, Act]] = {
    "create": (setup_create, act_create),
    "create_many": (setup_create, act_create_many),
    "advance": (setup_due, act_advance),
    "advance_due": (setup_due, act_advance_due),
    "invoice_pending_lines": (setup_invoicing, act_invoice),
    "invoice_progressively": (setup_progressive_invoicing, act_invoice),
    "advance_invoice": (setup_collection, act_advance_invoice),
    "delete": (setup_delete, act_delete),
    "extend": (setup_extend, act_extend),
    "approve_invoice": (setup_approval, act_approve),
    "record_payment": (setup_payment, act_pay),
}


class Faults:
    """Counts the statements and commits of an operation, and crashes at one of them."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self.crash_at: tuple[str, int] | None = None

    def before_statement(self, *_: object) -> None:
        self.statements += 1
        if self.crash_at == ("statement", self.statements):
            raise Crash(f"before statement {self.statements}")

    @contextmanager
    def armed(self, crash_at: tuple[str, int] | None) -> Iterator[None]:
        self.statements, self.commits, self.crash_at = 0, 0, crash_at
        real_commit = SqlUnitOfWork.commit
        faults = self

        def commit(self: SqlUnitOfWork) -> None:
            faults.commits += 1
            if faults.crash_at == ("before commit", faults.commits):
                raise Crash(f"before commit {faults.commits}")
            real_commit(self)
            if faults.crash_at == ("after commit", faults.commits):
                raise Crash(f"after commit {faults.commits}")

        event.listen(Engine, "before_cursor_execute", self.before_statement)
        SqlUnitOfWork.commit = commit  # type: ignore[method-assign]
        try:
            yield
        finally:
            SqlUnitOfWork.commit = real_commit  # type: ignore[method-assign]
            event.remove(Engine, "before_cursor_execute", self.before_statement)
            self.crash_at = None


def retry(act: Act, app: App, world: World) -> None:
    """Run `act` again after a crash; a typed refusal that only says "already done" is what a
    retry of a finished operation may get."""
    with suppress(NoLinesToInvoiceError):  # the crashed run had invoiced everything already
        act(app, world)


def state(app: App, world: World) -> dict[str, Any]:
    """Everything the operation could have changed, with ids replaced by their order, so two
    worlds built alike compare equal."""
    ids: dict[str, str] = {}

    def name(value: str | None) -> str | None:
        return None if value is None else ids.setdefault(value, f"#{len(ids)}")

    charges = app.charges.list(world.customer_id)
    invoices = app.billing.list_invoices(world.customer_id)
    for charge in charges:
        name(charge.id)
    return {
        "charges": [
            {
                "id": name(charge.id),
                "status": charge.state.status.value,
                "advance_after": charge.state.advance_after,
                "current_run": name(charge.state.current_run_id),
                "deleted_at": charge.deleted_at,
                "runs": [
                    {
                        "id": name(run.id),
                        "type": run.type,
                        "metered": run.metered_quantity,
                        "lines": run.detailed_lines,
                        "usage": run.invoice_usage and run.invoice_usage.totals,
                        "payment": run.payment and run.payment.status,
                        "voided": run.deleted_at,
                        "totals": run.totals,
                        "line": name(run.line_id),
                        "allocations": [(a.amount, name(a.grant_id)) for a in run.allocations],
                    }
                    for run in charge.runs
                ],
                "history": [
                    (r.from_status.value, r.trigger.value, r.to_status.value, r.arguments and "…")
                    for r in app.charges.history(charge.id)
                ],
            }
            for charge in charges
        ],
        "invoices": [
            {
                "status": invoice.status,
                "collection_at": invoice.collection_at,
                "totals": invoice.totals,
                "lines": [
                    (name(line.id), name(line.charge_id), line.quantity, line.totals)
                    for line in invoice.lines
                ],
            }
            for invoice in invoices
        ],
        "pending": [name(line.charge_id) for line in app.billing.pending_lines(world.customer_id)],
        "balance": app.credits.balance(world.customer_id),
    }


def check_invariants(app: App, world: World) -> None:
    lines = [
        line for invoice in app.billing.list_invoices(world.customer_id) for line in invoice.lines
    ]
    linked = [run.line_id for charge in app.charges.list(world.customer_id) for run in charge.runs]
    assert len([line for line in linked if line]) == len({line for line in linked if line})
    for charge in app.charges.list(world.customer_id):
        for run in charge.runs:
            net = sum((a.amount for a in run.allocations), Decimal(0))
            assert run.totals.credits_total == net, (charge.id, run.id)
            assert run.totals.total == run.totals.amount - run.totals.credits_total
        history = app.charges.history(charge.id)
        if history:
            assert history[-1].to_status is charge.state.status
            for earlier, later in pairwise(history):
                assert earlier.to_status is later.from_status
    for line in lines:
        assert line.totals.total == line.totals.amount - line.totals.credits_total
    # the running balances agree with the allocations: grants made (4.00) less credit drawn
    drawn = sum(
        (a.amount for charge in app.charges.list(world.customer_id)
         for run in charge.runs for a in run.allocations),
        Decimal(0),
    )  # fmt: skip
    assert app.credits.balance(world.customer_id) == Decimal("4.00") - drawn


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_crash_at_any_point_converges_on_rerun(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot, operation: str
) -> None:
    setup, act = OPERATIONS[operation]
    tables = application_tables(database.engine)
    faults = Faults()

    def fresh() -> World:
        empty_tables(database.engine, tables)
        return setup(app, clock)

    world = fresh()
    with faults.armed(None):
        act(app, world)
    expected = state(app, world)
    check_invariants(app, world)
    points = [("statement", n) for n in range(1, faults.statements + 1)]
    points += [
        (kind, n)
        for n in range(1, faults.commits + 1)
        for kind in ("before commit", "after commit")
    ]

    tried = 0
    for point in points[::STRIDE]:
        world = fresh()
        with faults.armed(point), pytest.raises(Crash):
            act(app, world)
        retry(act, app, world)
        assert state(app, world) == expected, f"{operation}: crash {point}"
        check_invariants(app, world)
        tried += 1
    assert tried >= 3
    print(f"{operation} on {database.engine.dialect.name}: {tried} crash points, all converged")
