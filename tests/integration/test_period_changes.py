"""Period changes (docs/lifecycle.md section 11): `extend` and `shrink` of both settlement modes,
each rule step by step, on both databases. The machines' rows (which statuses allow a change,
which refuse it) are in `test_transition_tables.py`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from chargeflow import App, FrozenClock, InvalidPeriodChangeError, InvalidTriggerArgumentError
from chargeflow.domain.runs import RunType
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import to_instant
from chargeflow.persistence.sql import SqlDatabase
from tests.conftest import Snapshot
from tests.factories import CO, CTI, FEATURE, charge, charge_in, customer

S = ChargeStatus
JAN_1, MID, FEB_1, MAR_1 = (
    to_instant(text)
    for text in (
        "2026-01-01T00:00:00Z",
        "2026-01-16T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
    )
)


def period(line: object) -> tuple[datetime, datetime]:
    service_period = line.service_period  # type: ignore[attr-defined]
    return (service_period.start, service_period.end)


def gathering(app: App, customer_id: str) -> list[tuple[datetime, datetime]]:
    return [period(line) for line in app.billing.pending_lines(customer_id)]


# --- both modes: which ends are refused ---------------------------------------------------------


@pytest.mark.parametrize("mode", [CO, CTI])
@pytest.mark.parametrize(
    ("trigger", "to", "message"),
    [
        ("extend", "2026-02-01T00:00:00Z", "extend needs an end after 2026-02-01"),
        ("extend", "2026-01-20T00:00:00Z", "extend needs an end after 2026-02-01"),
        ("shrink", "2026-02-01T00:00:00Z", "shrink needs an end after 2026-01-01"),
        ("shrink", "2026-01-01T00:00:00Z", "shrink needs an end after 2026-01-01"),
        ("shrink", "2025-12-15T00:00:00Z", "shrink needs an end after 2026-01-01"),
        ("extend", "9998-12-31T23:59:59Z", "its collection would end out of range"),
    ],
)
def test_an_end_the_rules_refuse_is_a_typed_error_and_changes_nothing(
    database: SqlDatabase,
    app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    mode: object,
    trigger: str,
    to: str,
    message: str,
) -> None:
    charge_id = charge_in(app, database, clock, mode, S.ACTIVE)  # type: ignore[arg-type]
    before = snapshot()
    with pytest.raises(InvalidPeriodChangeError, match=message):
        getattr(app.charges, trigger)(charge_id, to=to)
    assert snapshot() == before


@pytest.mark.parametrize("to", ["not a time", "2026-03-01", None, 5])
def test_a_malformed_end_is_refused_before_the_machine_is_asked(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot, to: object
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    before = snapshot()
    with pytest.raises(InvalidTriggerArgumentError, match="to"):
        app.charges.extend(charge_id, to=to)  # type: ignore[arg-type]
    assert snapshot() == before


# --- credit_only --------------------------------------------------------------------------------


def test_credit_only_in_created_moves_the_period_and_waits_for_its_start(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    made = charge(app, who.id, CO)
    moved = app.charges.extend(made.id, to=MAR_1)
    assert moved.state.status is S.CREATED
    assert moved.state.advance_after == JAN_1
    assert (moved.intent.service_period.end, moved.intent.invoice_at) == (MAR_1, MAR_1)
    assert app.charges.get(made.id).intent.service_period.end == MAR_1


def test_credit_only_in_active_comes_back_at_the_new_end(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    shrunk = app.charges.shrink(charge_id, to=MID)
    assert (shrunk.state.status, shrunk.state.advance_after) == (S.ACTIVE, MID)
    clock.set("2026-01-18T00:01:00Z")  # after the new end plus the P2D collection interval
    app.charges.advance_due()
    realized = app.charges.get(charge_id)
    assert realized.state.status is S.FINAL
    [run] = realized.runs
    assert (run.service_period_to, run.stored_at_lt) == (MID, to_instant("2026-01-18T00:00:00Z"))


@pytest.mark.parametrize("status", [S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION,
                                    S.REALIZATION_COMPLETED, S.FINAL])  # fmt: skip
def test_credit_only_realizing_or_realized_voids_every_run_and_is_active_again(
    database: SqlDatabase, app: App, clock: FrozenClock, status: ChargeStatus
) -> None:
    charge_id = charge_in(app, database, clock, CO, status)
    who = app.charges.get(charge_id).intent.customer_id
    [held] = app.charges.get(charge_id).runs
    balance = app.credits.balance(who)
    clock.set("2026-02-10T00:00:00Z")

    extended = app.charges.extend(charge_id, to=MAR_1)

    assert (extended.state.status, extended.state.advance_after) == (S.ACTIVE, MAR_1)
    assert extended.state.current_run_id is None
    [run] = extended.runs
    assert run.voided and run.deleted_at == clock.now()
    assert run.net_credits() == 0
    assert [a.booked_at for a in run.allocations if a.amount < 0] == [FEB_1] * (
        len(run.allocations) - len(held.allocations)
    )
    assert app.credits.balance(who) == balance + held.net_credits()
    # the next advance realizes the new period, from scratch
    app.usage.record(who, FEATURE, value=4, event_time="2026-02-15T00:00:00Z")
    clock.set("2026-03-03T00:01:00Z")
    app.charges.advance_due()
    final = app.charges.get(charge_id)
    assert final.state.status is S.FINAL
    assert [(r.voided, r.metered_quantity, r.service_period_to) for r in final.runs] == [
        (True, Decimal(10), FEB_1),
        (False, Decimal(14), MAR_1),
    ]


# --- credit_then_invoice ------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "trigger", "to", "due"), [
    (S.CREATED, "extend", MAR_1, JAN_1),
    (S.CREATED, "shrink", MID, JAN_1),
    (S.ACTIVE, "extend", MAR_1, MAR_1),
    (S.ACTIVE, "shrink", MID, MID),
])  # fmt: skip
def test_credit_then_invoice_without_runs_moves_its_gathering_line(
    database: SqlDatabase,
    app: App,
    clock: FrozenClock,
    status: ChargeStatus,
    trigger: str,
    to: datetime,
    due: datetime,
) -> None:
    charge_id = charge_in(app, database, clock, CTI, status)
    who = app.charges.get(charge_id).intent.customer_id
    [line] = app.billing.pending_lines(who)
    moved = getattr(app.charges, trigger)(charge_id, to=to)
    assert (moved.state.status, moved.state.advance_after) == (status, due)
    [kept] = app.billing.pending_lines(who)
    assert (kept.id, period(kept), kept.invoice_at) == (line.id, (JAN_1, to), to)


@pytest.mark.parametrize("status", [S.REALIZATION_WAITING_FOR_COLLECTION,
                                    S.REALIZATION_PROCESSING])  # fmt: skip
def test_extending_past_an_uninvoiced_final_run_voids_it_and_its_line(
    database: SqlDatabase, app: App, clock: FrozenClock, status: ChargeStatus
) -> None:
    charge_id = charge_in(app, database, clock, CTI, status)
    made = app.charges.get(charge_id)
    who = made.intent.customer_id
    [invoice] = app.billing.list_invoices(who)
    [run] = made.runs

    extended = app.charges.extend(charge_id, to=MAR_1)

    assert (extended.state.status, extended.state.advance_after) == (S.ACTIVE, MAR_1)
    assert extended.state.current_run_id is None
    assert extended.runs[0].voided
    assert extended.runs[0].line_id == run.line_id  # kept for audit
    assert app.billing.get_invoice(invoice.id).deleted_at == clock.now()  # its only line went
    assert app.billing.list_invoices(who) == []
    assert gathering(app, who) == [(JAN_1, MAR_1)]
    # billed again, over the whole new period
    clock.set("2026-03-01T00:00:00Z")
    [again] = app.billing.invoice_pending_lines(who)
    assert period(again.lines[0]) == (JAN_1, MAR_1)


@pytest.mark.parametrize("status", [S.AWAITING_PAYMENT_SETTLEMENT, S.FINAL])
def test_extending_past_an_issued_final_run_makes_it_partial_and_bills_the_rest(
    database: SqlDatabase, app: App, clock: FrozenClock, status: ChargeStatus
) -> None:
    charge_id = charge_in(app, database, clock, CTI, status)
    who = app.charges.get(charge_id).intent.customer_id
    [first] = app.billing.list_invoices(who)

    extended = app.charges.extend(charge_id, to=MAR_1)

    assert (extended.state.status, extended.state.advance_after) == (S.ACTIVE, MAR_1)
    [run] = extended.runs
    assert (run.type, run.initial_type, run.voided) == (
        RunType.PARTIAL_INVOICE,
        RunType.FINAL_REALIZATION,
        False,
    )
    assert gathering(app, who) == [(FEB_1, MAR_1)]
    # February is billed as the delta over January's run
    app.usage.record(who, FEATURE, value=5, event_time="2026-02-10T00:00:00Z")
    clock.set("2026-03-01T00:00:00Z")
    [second] = app.billing.invoice_pending_lines(who)
    [line] = second.lines
    assert (line.metered_quantity, line.pre_line_quantity, line.quantity) == (
        Decimal(15),
        Decimal(10),
        Decimal(5),
    )
    clock.set("2026-03-03T00:01:00Z")
    app.billing.advance_invoice(second.id)
    app.billing.approve_invoice(second.id)
    app.billing.record_payment(second.id, "paid")
    if status is S.AWAITING_PAYMENT_SETTLEMENT:  # January's invoice is not paid yet
        assert app.charges.get(charge_id).state.status is S.AWAITING_PAYMENT_SETTLEMENT
        app.billing.record_payment(first.id, "paid")
    assert app.charges.get(charge_id).state.status is S.FINAL


def progressive_partial(app: App, clock: FrozenClock, *, issue: bool) -> tuple[str, str, str]:
    """A progressive customer's charge invoiced at 01-16 (a partial run, current until its
    invoice is issued; issued when `issue`); the customer, charge and invoice ids."""
    who = app.customers.create(
        name="Acme", currency="USD", collection_interval="P2D", progressive_billing=True
    )
    app.features.create(key=FEATURE)
    made = charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-10T00:00:00Z")
    clock.set(MID)
    [invoice] = app.billing.invoice_pending_lines(who.id)
    if issue:
        clock.set("2026-01-16T00:01:00Z")
        app.billing.advance_invoice(invoice.id)
        app.billing.approve_invoice(invoice.id)
    return who.id, made.id, invoice.id


@pytest.mark.parametrize("issue", [False, True], ids=["current", "issued"])
def test_extending_after_a_partial_run_keeps_runs_and_status_and_moves_the_line(
    app: App, clock: FrozenClock, issue: bool
) -> None:
    who, charge_id, _ = progressive_partial(app, clock, issue=issue)
    before = app.charges.get(charge_id)
    extended = app.charges.extend(charge_id, to=MAR_1)
    assert extended.state.status is before.state.status
    expected_due = MAR_1 if before.state.status is S.ACTIVE else before.state.advance_after
    assert extended.state.advance_after == expected_due
    assert [(r.type, r.voided) for r in extended.runs] == [(RunType.PARTIAL_INVOICE, False)]
    assert gathering(app, who) == [(MID, MAR_1)]


def test_shrinking_before_an_issued_run_ends_is_refused_and_changes_nothing(
    app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    _, charge_id, _ = progressive_partial(app, clock, issue=True)
    before = snapshot()
    with pytest.raises(InvalidPeriodChangeError, match="is invoiced up to 2026-01-16T00:00:00Z"):
        app.charges.shrink(charge_id, to="2026-01-10T00:00:00Z")
    assert snapshot() == before


def test_shrinking_voids_the_uninvoiced_runs_after_the_new_end_and_their_lines(
    app: App, clock: FrozenClock
) -> None:
    who, charge_id, invoice_id = progressive_partial(app, clock, issue=False)
    shrunk = app.charges.shrink(charge_id, to="2026-01-10T00:00:00Z")
    assert (shrunk.state.status, shrunk.state.advance_after) == (
        S.ACTIVE,
        to_instant("2026-01-10T00:00:00Z"),
    )
    assert [r.voided for r in shrunk.runs] == [True]
    assert app.billing.get_invoice(invoice_id).deleted_at is not None
    assert gathering(app, who) == [(JAN_1, to_instant("2026-01-10T00:00:00Z"))]


def test_shrinking_onto_kept_runs_makes_the_latest_final_and_the_charge_settles(
    app: App, clock: FrozenClock
) -> None:
    who, charge_id, invoice_id = progressive_partial(app, clock, issue=True)
    shrunk = app.charges.shrink(charge_id, to=MID)
    assert (shrunk.state.status, shrunk.state.advance_after) == (S.ACTIVE, MID)
    [run] = shrunk.runs
    assert (run.type, run.initial_type) == (RunType.FINAL_REALIZATION, RunType.PARTIAL_INVOICE)
    assert app.billing.pending_lines(who) == []  # the kept runs reach the new end
    app.charges.advance(charge_id)  # realization completed for the whole period
    awaiting = app.charges.get(charge_id)
    assert awaiting.state.status is S.AWAITING_PAYMENT_SETTLEMENT
    assert awaiting.state.advance_after is None  # only a payment moves it on
    app.billing.record_payment(invoice_id, "paid")
    assert app.charges.get(charge_id).state.status is S.FINAL


def test_shrinking_onto_the_current_run_makes_it_final_and_keeps_the_status(
    app: App, clock: FrozenClock
) -> None:
    who, charge_id, invoice_id = progressive_partial(app, clock, issue=False)
    before = app.charges.get(charge_id)
    shrunk = app.charges.shrink(charge_id, to=MID)
    assert (shrunk.state.status, shrunk.state.advance_after) == (
        S.REALIZATION_WAITING_FOR_COLLECTION,
        before.state.advance_after,
    )
    assert shrunk.current_run() is not None
    assert shrunk.runs[0].type is RunType.FINAL_REALIZATION
    assert app.billing.pending_lines(who) == []
    clock.set("2026-01-16T00:01:00Z")
    app.billing.advance_invoice(invoice_id)
    app.billing.approve_invoice(invoice_id)
    assert app.charges.get(charge_id).state.status is S.AWAITING_PAYMENT_SETTLEMENT
