"""Credit allocation and correction through the pluggable credit source."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

import pytest

from chargeflow import App, FrozenClock, open_app
from chargeflow.domain.errors import (
    CreditAllocationMismatchError,
    InsufficientFundsError,
    NoLinesToInvoiceError,
)
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.engines import credits
from chargeflow.engines.ledger import (
    AllocationDraft,
    AllocationMode,
    AllocationRequest,
    CorrectionDraft,
    CorrectionRequest,
    DatabaseLedger,
)
from chargeflow.engines.operation import Operation
from chargeflow.persistence.sql import SqlDatabase
from tests.conftest import Snapshot
from tests.factories import CO, CTI, FEATURE, charge, charge_in, customer, legacy_usage

S = ChargeStatus


class ScriptedSource:
    """A ledger that answers as told and remembers what credit it was asked for."""

    def __init__(self, allocate_factor: Decimal = Decimal(1), correct_extra: Decimal = Decimal(0)):
        self.allocate_factor = allocate_factor
        self.correct_extra = correct_extra
        self.requests: list[AllocationRequest | CorrectionRequest] = []

    def allocate(self, request: AllocationRequest) -> Sequence[AllocationDraft]:
        self.requests.append(request)
        return [AllocationDraft(request.amount * self.allocate_factor)]

    def correct(self, request: CorrectionRequest) -> Sequence[CorrectionDraft]:
        self.requests.append(request)
        first, *rest = request.corrections
        return [CorrectionDraft(first.allocation, first.amount + self.correct_extra), *rest]

    def invoice_usage_accrued(self, *facts: object) -> str:
        return "scripted-accrual"

    def payment_authorized(self, *facts: object) -> str:
        return "scripted-authorization"

    def payment_settled(self, *facts: object) -> str:
        return "scripted-settlement"


@pytest.fixture
def scripted() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture
def scripted_app(database_url: str, clock: FrozenClock, scripted: ScriptedSource) -> Iterator[App]:
    application = open_app(database_url, clock=clock, migrate=False, ledger=lambda _: scripted)
    yield application
    application.close()


def amounts(app: App, charge_id: str) -> list[Decimal]:
    return [a.amount for run in app.charges.get(charge_id).runs for a in run.allocations]


def finish_credit_only(app: App, clock: FrozenClock, charge_id: str) -> None:
    for instant in ("2026-01-01T00:00:00Z", "2026-02-01T12:00:00Z", "2026-02-03T00:01:00Z"):
        clock.set(instant)
        app.charges.advance(charge_id)


def test_exact_mode_draws_grants_fifo_then_drives_the_balance_negative(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    later = app.credits.grant(who.id, amount="5", granted_at="2025-11-02T00:00:00Z")
    earlier = app.credits.grant(who.id, amount="2", granted_at="2025-11-01T00:00:00Z")
    made = charge(app, who.id, CO)
    app.usage.record(who.id, FEATURE, value=9, event_time="2026-01-10T00:00:00Z")
    finish_credit_only(app, clock, made.id)
    [run] = app.charges.get(made.id).runs
    assert [(a.grant_id, a.amount) for a in run.allocations] == [
        (earlier.id, Decimal(2)),
        (later.id, Decimal(5)),
        (None, Decimal(2)),
    ]
    assert app.credits.balance(who.id) == Decimal(-2)


def test_available_mode_takes_only_what_the_balance_holds(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    app.credits.grant(who.id, amount="3.00")
    made = charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=100, event_time="2026-01-10T00:00:00Z")
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    assert amounts(app, made.id) == [Decimal("3.00")]
    assert invoice.lines[0].totals.total == Decimal("7.00")
    assert app.credits.balance(who.id) == 0


def test_available_mode_takes_less_than_the_grants_when_usage_is_smaller(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    app.credits.grant(who.id, amount="50")
    made = charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-10T00:00:00Z")
    clock.set("2026-02-01T00:00:00Z")
    app.billing.invoice_pending_lines(who.id)
    assert amounts(app, made.id) == [Decimal("1.00")]
    assert app.credits.balance(who.id) == Decimal("49.00")


def test_a_zero_amount_never_calls_the_credit_source(
    scripted_app: App, clock: FrozenClock, scripted: ScriptedSource
) -> None:
    who = customer(scripted_app)
    made = charge(scripted_app, who.id, CO)
    finish_credit_only(scripted_app, clock, made.id)
    final = scripted_app.charges.get(made.id)
    assert final.state.status is S.FINAL
    assert final.runs[0].totals.amount == 0
    assert scripted.requests == []


def test_mode_none_never_calls_the_credit_source(
    database: SqlDatabase, scripted_app: App, clock: FrozenClock, scripted: ScriptedSource
) -> None:
    charge_id = charge_in(scripted_app, database, clock, CO, S.REALIZATION_WAITING_FOR_COLLECTION)
    with database.unit_of_work() as uow:
        stored = uow.charges.get(charge_id)
        op = Operation(uow, clock.now(), scripted)
        allocated = credits.allocate(
            op, stored, stored.runs[0], Decimal(5), mode=AllocationMode.NONE, trigger=None
        )
    assert allocated == 0
    assert len(scripted.requests) == 1  # only the run's own exact allocation, earlier


@pytest.mark.parametrize(
    ("factor", "mode"),
    [(Decimal("1.5"), "exact"), (Decimal("0.5"), "exact"), (Decimal("1.5"), "available")],
    ids=["over-allocation", "under-allocation-in-exact-mode", "over-allocation-available"],
)
def test_a_source_that_over_or_under_allocates_is_refused_and_nothing_changes(
    database: SqlDatabase,
    scripted_app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    scripted: ScriptedSource,
    factor: Decimal,
    mode: str,
) -> None:
    settlement = CO if mode == "exact" else CTI
    charge_id = charge_in(scripted_app, database, clock, settlement, S.ACTIVE)
    scripted.allocate_factor = factor
    clock.set("2026-02-01T12:00:00Z")
    before = snapshot()
    who = scripted_app.charges.get(charge_id).intent.customer_id
    if settlement is CO:
        with pytest.raises(CreditAllocationMismatchError) as refused:
            scripted_app.charges.advance(charge_id)
        assert (refused.value.asked, refused.value.charge_id) == (Decimal("10.00"), charge_id)
    else:  # invoicing isolates the charge: its line is left behind, naming the refusal
        with pytest.raises(NoLinesToInvoiceError) as nothing:
            scripted_app.billing.invoice_pending_lines(who)
        [left] = nothing.value.left
        assert charge_id in left
        assert "CreditAllocationMismatchError" in left and "asked 1.00" in left
    assert snapshot() == before


def test_available_mode_accepts_less_than_asked(
    database: SqlDatabase, scripted_app: App, clock: FrozenClock, scripted: ScriptedSource
) -> None:
    charge_id = charge_in(scripted_app, database, clock, CTI, S.ACTIVE)
    scripted.allocate_factor = Decimal("0.5")
    clock.set("2026-02-01T12:00:00Z")
    who = scripted_app.charges.get(charge_id).intent.customer_id
    [invoice] = scripted_app.billing.invoice_pending_lines(who)
    assert amounts(scripted_app, charge_id) == [Decimal("0.50")]
    assert invoice.lines[0].totals.total == Decimal("0.50")


def test_delete_with_correct_gives_credits_back_newest_allocation_first(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    grant = app.credits.grant(who.id, amount="20")
    made = charge(app, who.id, CO)
    clock.set("2026-02-01T12:00:00Z")
    app.usage.record(who.id, FEATURE, value=3, event_time="2026-01-15T00:00:00Z")
    app.charges.advance(made.id)
    app.usage.record(
        who.id,
        FEATURE,
        value=8,
        event_time="2026-01-16T00:00:00Z",
        stored_at="2026-02-02T00:00:00Z",
    )
    clock.set("2026-02-03T00:01:00Z")
    app.charges.advance(made.id)
    assert app.credits.balance(who.id) == Decimal(9)

    app.charges.delete(made.id, policy="correct")

    [run] = app.charges.get(made.id).runs
    first, second = run.allocations[:2]
    assert [(a.amount, a.corrects_allocation_id, a.grant_id) for a in run.allocations] == [
        (Decimal(3), None, grant.id),
        (Decimal(8), None, grant.id),
        (Decimal(-8), second.id, grant.id),
        (Decimal(-3), first.id, grant.id),
    ]
    assert app.credits.balance(who.id) == Decimal(20)


def test_delete_with_ignore_keeps_the_credits_consumed(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.FINAL)
    who = app.charges.get(charge_id).intent.customer_id
    app.charges.delete(charge_id, policy="ignore")
    assert amounts(app, charge_id) == [Decimal(10)]
    assert app.credits.balance(who) == Decimal(-10)


def test_collection_with_less_usage_corrects_credits_down_newest_first(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    app.credits.grant(who.id, amount="5.00")
    made = charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=100, event_time="2026-01-15T00:00:00Z")
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    legacy_usage(database, who.id, "-80", "2026-01-15T00:00:00Z", "2026-02-02T00:00:00Z")
    clock.set("2026-02-03T00:01:00Z")
    app.billing.advance_invoice(invoice.id)
    [run] = app.charges.get(made.id).runs
    assert [a.amount for a in run.allocations] == [Decimal("5.00"), Decimal("-3.00")]
    assert (run.totals.amount, run.totals.credits_total, run.totals.total) == (
        Decimal("2.00"),
        Decimal("2.00"),
        Decimal("0.00"),
    )
    assert run.no_fiat_transaction_required
    assert app.credits.balance(who.id) == Decimal("3.00")


def test_collection_tops_credits_up_from_credit_granted_since(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    app.credits.grant(who.id, amount="1.00")
    made = charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=100, event_time="2026-01-15T00:00:00Z")
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    app.credits.grant(who.id, amount="20.00")
    clock.set("2026-02-03T00:01:00Z")
    app.billing.advance_invoice(invoice.id)
    [run] = app.charges.get(made.id).runs
    assert [a.amount for a in run.allocations] == [Decimal("1.00"), Decimal("9.00")]
    assert (run.totals.credits_total, run.totals.total) == (Decimal("10.00"), Decimal("0.00"))
    assert [a.booked_at for a in run.allocations] == [run.service_period_to] * 2
    assert app.credits.balance(who.id) == Decimal("11.00")


def test_a_grant_counts_only_from_when_it_is_granted(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    app.credits.grant(who.id, amount="5.00", granted_at="2026-03-01T00:00:00Z")
    assert app.credits.balance(who.id) == Decimal(0)
    clock.set("2026-03-01T00:00:00Z")
    assert app.credits.balance(who.id) == Decimal("5.00")


def test_a_correction_beyond_what_remains_is_insufficient_funds(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.REALIZATION_WAITING_FOR_COLLECTION)
    with database.unit_of_work() as uow:
        stored = uow.charges.get(charge_id)
        op = Operation(uow, clock.now(), DatabaseLedger(uow))
        with pytest.raises(InsufficientFundsError) as refused:
            credits.correct(op, stored, stored.runs[0], Decimal("10.01"), None)
    assert (refused.value.asked, refused.value.remaining) == (Decimal("10.01"), Decimal(10))


def test_a_source_that_over_corrects_is_refused_and_nothing_changes(
    database: SqlDatabase,
    scripted_app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    scripted: ScriptedSource,
) -> None:
    charge_id = charge_in(scripted_app, database, clock, CO, S.FINAL)
    scripted.correct_extra = Decimal("0.01")
    before = snapshot()
    with pytest.raises(InsufficientFundsError):
        scripted_app.charges.delete(charge_id, policy="correct")
    assert snapshot() == before
