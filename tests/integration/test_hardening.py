"""One bad item never blocks the others, a retry never duplicates, and every refusal is typed and
changes nothing: the hardening rules of docs/lifecycle.md sections 7, 8 and 14, on both
databases."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from chargeflow import (
    AmountOutOfRangeError,
    App,
    CorruptRecordError,
    FrozenClock,
    InvalidInputError,
    NoLinesToInvoiceError,
)
from chargeflow.domain.runs import DetailedLine
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.engines import charge_lifecycle, rating
from chargeflow.persistence.sql import SqlDatabase
from tests.conftest import Snapshot
from tests.factories import CO, CTI, FEATURE, PERIOD, charge, customer

S = ChargeStatus
HUGE = "999999999999999"


def test_a_deleted_charges_leftover_line_is_left_behind_and_the_rest_is_billed(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    doomed = charge(app, who.id, CTI)
    [line] = app.billing.pending_lines(who.id)
    app.charges.delete(doomed.id, policy="ignore")
    with database.unit_of_work() as uow:  # a line left by an older version's delete
        uow.invoices.add_lines([line])
        uow.commit()
    healthy = charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-15T00:00:00Z")
    clock.set("2026-02-01T00:00:00Z")

    result = app.billing.invoice_pending_lines(who.id)

    [invoice] = result
    assert [billed.charge_id for billed in invoice.lines] == [healthy.id]
    [left] = result.unbilled
    assert (left.line_id, left.charge_id) == (line.id, doomed.id)
    assert left.reason == f"charge {doomed.id} is deleted"
    assert [pending.id for pending in app.billing.pending_lines(who.id)] == [line.id]


def test_a_charge_whose_feature_was_archived_is_left_behind_and_the_rest_is_billed(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    orphaned = charge(app, who.id, CTI)
    app.features.archive(FEATURE)
    app.features.create(key="storage")
    kept = app.charges.create(
        customer_id=who.id,
        feature_key="storage",
        service_period=PERIOD,
        settlement_mode=CTI,
        price={"type": "flat", "amount": "5"},
    )
    clock.set("2026-02-01T00:00:00Z")

    result = app.billing.invoice_pending_lines(who.id)

    assert [line.charge_id for line in result[0].lines] == [kept.id]
    [left] = result.unbilled
    assert left.charge_id == orphaned.id
    assert "NotFoundError" in left.reason and FEATURE in left.reason
    assert app.charges.get(orphaned.id).state.status is S.CREATED
    assert app.charges.get(kept.id).state.status is S.REALIZATION_WAITING_FOR_COLLECTION


def test_a_rating_out_of_range_is_refused_with_a_typed_error_and_isolated(
    app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    who = customer(app)
    clock.set("2026-01-01T00:00:00Z")
    huge = charge(app, who.id, CO, price={"type": "unit", "amount": HUGE})
    small = charge(app, who.id, CO)
    app.usage.record(who.id, FEATURE, value=HUGE, event_time="2026-01-15T00:00:00Z")
    clock.set("2026-02-01T12:00:00Z")
    before = snapshot()
    with pytest.raises(AmountOutOfRangeError):
        app.charges.advance(huge.id)
    assert snapshot() == before

    report = app.charges.advance_due()

    assert report.advanced == [small.id]
    assert isinstance(report.failed[huge.id], AmountOutOfRangeError)


def test_an_unexpected_error_on_one_charge_is_reported_and_the_sweep_goes_on(
    app: App, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = customer(app)
    clock.set("2026-01-01T00:00:00Z")
    first, second = charge(app, who.id, CO), charge(app, who.id, CO)
    real_rate = rating.rate_lines
    prices = iter([RuntimeError("disk on fire")])

    def flaky(*args: object) -> tuple[DetailedLine, ...]:
        failure = next(prices, None)
        if failure is not None:
            raise failure
        return real_rate(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("chargeflow.engines.runs.rate_lines", flaky)
    clock.set("2026-02-01T12:00:00Z")

    report = app.charges.advance_due()

    [failed_id] = report.failed
    assert isinstance(report.failed[failed_id], RuntimeError)
    assert report.advanced == [
        charge_id for charge_id in (first.id, second.id) if charge_id != failed_id
    ]
    assert app.charges.get(failed_id).state.status is S.ACTIVE


def test_a_corrupt_charge_in_a_due_page_fails_alone_and_the_page_advances(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    clock.set("2026-01-01T00:00:00Z")
    first, corrupt, last = (charge(app, who.id, CO).id for _ in range(3))
    with database.engine.begin() as connection:  # a price this version does not know
        connection.execute(
            sa.text("UPDATE charge_usage_based SET price = :price WHERE id = :id"),
            {"price": '{"type": "per_seat", "amount": "1"}', "id": corrupt},
        )
    clock.set("2026-02-01T12:00:00Z")

    report = app.charges.advance_due(batch_size=3)

    assert report.advanced == [first, last]
    refused = report.failed[corrupt]
    assert isinstance(refused, CorruptRecordError)
    assert refused.record_id == corrupt
    assert {app.charges.get(made).state.status for made in (first, last)} != {S.ACTIVE}
    with database.engine.connect() as connection:
        status = connection.execute(
            sa.text("SELECT status FROM charge_usage_based WHERE id = :id"), {"id": corrupt}
        ).scalar_one()
    assert status == S.ACTIVE.value


@pytest.mark.parametrize("batch_size", [0, -1, True])
def test_a_sweep_batch_size_below_one_is_refused(app: App, batch_size: int) -> None:
    with pytest.raises(InvalidInputError, match="batch_size"):
        app.charges.advance_due(batch_size=batch_size)


def test_creating_a_credit_only_charge_is_one_transaction(
    app: App, clock: FrozenClock, snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = customer(app)
    clock.set("2026-01-05T00:00:00Z")
    before = snapshot()

    def crash(*args: object) -> bool:
        raise InvalidInputError("crash after the charge row was written")

    monkeypatch.setattr(charge_lifecycle, "advance", crash)
    with pytest.raises(InvalidInputError, match="crash"):
        charge(app, who.id, CO)
    assert snapshot() == before


def test_a_new_charge_is_due_when_its_period_starts(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    made = charge(app, who.id, CTI)
    assert made.state.advance_after == made.intent.service_period.start
    clock.set("2026-01-01T00:00:00Z")
    assert app.charges.advance_due().advanced == [made.id]
    assert app.charges.get(made.id).state.status is S.ACTIVE


def test_creating_again_with_the_same_reference_returns_the_first_charge(
    app: App, snapshot: Snapshot
) -> None:
    who, other = customer(app), customer(app, feature=False)
    first = app.charges.create(
        customer_id=who.id,
        feature_key=FEATURE,
        service_period=PERIOD,
        settlement_mode=CTI,
        price={"type": "unit", "amount": "1"},
        unique_reference_id="sub-42",
    )
    before = snapshot()
    again = app.charges.create(
        customer_id=who.id,
        feature_key=FEATURE,
        service_period=PERIOD,
        settlement_mode=CO,
        price={"type": "unit", "amount": "2"},
        unique_reference_id="sub-42",
    )
    assert again == first
    assert snapshot() == before
    elsewhere = app.charges.create(
        customer_id=other.id,
        feature_key=FEATURE,
        service_period=PERIOD,
        settlement_mode=CTI,
        price={"type": "unit", "amount": "1"},
        unique_reference_id="sub-42",
    )
    assert elsewhere.id != first.id
    assert len(app.charges.list(who.id)) == 1


def test_a_grant_finer_than_the_currency_is_refused_and_invoices_stay_in_cents(
    app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    who = customer(app)
    before = snapshot()
    with pytest.raises(InvalidInputError, match="minor units"):
        app.credits.grant(who.id, amount="0.001")
    assert snapshot() == before
    app.credits.grant(who.id, amount="0.01")
    charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=100, event_time="2026-01-15T00:00:00Z")
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    assert invoice.totals.total == Decimal("9.99")


def test_nothing_to_invoice_names_every_line_left_behind(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    made = charge(app, who.id, CTI)
    [line] = app.billing.pending_lines(who.id)
    clock.set("2026-01-31T23:59:59Z")
    with pytest.raises(NoLinesToInvoiceError) as nothing:
        app.billing.invoice_pending_lines(who.id)
    assert nothing.value.left == (
        f"line {line.id} (charge {made.id}): not billable before 2026-02-01T00:00:00Z",
    )
    assert line.id in str(nothing.value)


def test_deleting_with_correct_gives_the_credits_back_and_the_totals_follow(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    app.credits.grant(who.id, amount="5.00")
    clock.set("2026-01-01T00:00:00Z")
    made = charge(app, who.id, CO)
    app.usage.record(who.id, FEATURE, value=3, event_time="2026-01-15T00:00:00Z")
    clock.set("2026-02-03T00:01:00Z")
    app.charges.advance_due()
    deleted = app.charges.delete(made.id, policy="correct")
    [run] = deleted.runs
    assert sum(allocation.amount for allocation in run.allocations) == 0
    assert (run.totals.amount, run.totals.credits_total, run.totals.total) == (
        Decimal("3.00"),
        Decimal(0),
        Decimal("3.00"),
    )
    assert app.credits.balance(who.id) == Decimal("5.00")
