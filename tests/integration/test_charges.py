"""Operations on charges: create and its validation, auto-advance, advancing one, a customer's
and every due charge, features re-registered, deletion, loading what the database holds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from chargeflow import App, FrozenClock
from chargeflow.domain.errors import (
    ConflictError,
    CorruptRecordError,
    InvalidInputError,
    InvalidTriggerArgumentError,
    NegativeTotalError,
    NotFoundError,
    TriggerNotPermittedError,
)
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.persistence.sql import SqlDatabase
from tests.conftest import Snapshot
from tests.factories import (
    CO,
    CTI,
    FEATURE,
    PERIOD,
    UNIT_1,
    charge,
    charge_in,
    customer,
    legacy_usage,
)

S = ChargeStatus


def create(app: App, **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "feature_key": FEATURE,
        "service_period": PERIOD,
        "settlement_mode": "credit_only",
        "price": UNIT_1,
        **changes,
    }
    return app.charges.create(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "name"),
        ({"service_period": ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z")}, "service_period"),
        ({"feature_key": ""}, "feature_key"),
        ({"price": None}, "price"),
        ({"price": {"type": "unit", "amount": 0.1}}, "float"),
        ({"settlement_mode": "credit_maybe"}, "settlement_mode"),
        ({"service_period": ("2026-01-01T00:00:00", "2026-02-01T00:00:00Z")}, "time zone"),
    ],
)
def test_an_invalid_intent_is_refused_and_changes_nothing(
    app: App, snapshot: Snapshot, changes: dict[str, Any], message: str
) -> None:
    who = customer(app)
    before = snapshot()
    with pytest.raises(InvalidInputError, match=message):
        create(app, customer_id=who.id, **changes)
    assert snapshot() == before


def test_a_customer_needs_a_known_currency_and_a_name(app: App, snapshot: Snapshot) -> None:
    before = snapshot()
    with pytest.raises(InvalidInputError, match="unknown currency 'XYZ'"):
        app.customers.create(name="Acme", currency="XYZ")
    with pytest.raises(InvalidInputError, match="name"):
        app.customers.create(name="", currency="USD")
    with pytest.raises(InvalidInputError, match="ISO-8601 duration"):
        app.customers.create(name="Acme", currency="USD", collection_interval="two days")
    assert snapshot() == before


def test_an_unknown_customer_or_feature_key_is_not_found(app: App, snapshot: Snapshot) -> None:
    who = customer(app)
    before = snapshot()
    with pytest.raises(NotFoundError, match="customer 'nobody'"):
        create(app, customer_id="nobody")
    with pytest.raises(NotFoundError, match="feature 'unknown'"):
        create(app, customer_id=who.id, feature_key="unknown")
    assert snapshot() == before


def test_a_credit_only_charge_created_inside_its_period_is_advanced_at_once(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    clock.set("2026-01-10T00:00:00Z")
    made = charge(app, who.id, CO)
    assert made.state.status is S.ACTIVE
    assert [r.trigger.value for r in app.charges.history(made.id)] == ["next"]


def test_a_credit_then_invoice_charge_is_not_auto_advanced(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    clock.set("2026-01-10T00:00:00Z")
    made = charge(app, who.id, CTI)
    assert made.state.status is S.CREATED
    assert app.charges.history(made.id) == []


def test_a_credit_then_invoice_charge_rests_in_active_whatever_the_time(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CTI, S.ACTIVE)
    clock.set("2026-03-01T00:00:00Z")
    assert app.charges.advance(charge_id) == []
    assert app.charges.get(charge_id).state.status is S.ACTIVE


def test_advancing_a_customer_advances_each_of_their_charges(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    first, second = charge(app, who.id, CO), charge(app, who.id, CO)
    other = customer(app, feature=False)
    theirs = charge(app, other.id, CO)
    clock.set("2026-01-01T00:00:00Z")
    moved = app.charges.advance(customer_id=who.id)
    assert sorted(c.id for c in moved) == sorted([first.id, second.id])
    assert app.charges.get(theirs.id).state.status is S.CREATED


def test_advance_takes_exactly_one_of_a_charge_or_a_customer(app: App) -> None:
    with pytest.raises(InvalidInputError):
        app.charges.advance()
    with pytest.raises(InvalidInputError):
        app.charges.advance("a", customer_id="b")


def test_advance_due_walks_every_due_charge_in_batches(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    clock.set("2026-01-01T00:00:00Z")
    made = [charge(app, who.id, CO).id for _ in range(5)]  # active, due at 2026-02-01
    billed = charge(app, who.id, CTI).id  # created, due at 2026-01-01, then only billing moves it
    clock.set("2026-02-01T00:00:00Z")
    report = app.charges.advance_due(batch_size=2)
    assert sorted(report.advanced) == sorted([*made, billed])
    assert report.failed == {}
    assert {app.charges.get(i).state.status for i in made} == {S.REALIZATION_WAITING_FOR_COLLECTION}
    assert app.charges.get(billed).state.status is S.ACTIVE
    assert app.charges.advance_due(batch_size=2).advanced == []


def test_advance_due_reports_a_failing_charge_and_goes_on(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    who, other = customer(app), customer(app, feature=False)
    clock.set("2026-01-01T00:00:00Z")
    bad = charge(app, other.id, CO).id
    good = charge(app, who.id, CO).id
    legacy_usage(database, other.id, "-5", "2026-01-02T00:00:00Z")
    clock.set("2026-02-01T00:00:00Z")
    report = app.charges.advance_due()
    assert report.advanced == [good]
    assert set(report.failed) == {bad}
    assert "charge total is negative" in str(report.failed[bad])
    assert app.charges.get(bad).state.status is S.ACTIVE


def test_a_feature_key_can_be_registered_again_after_archiving(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    first = app.features.get(FEATURE)
    with pytest.raises(ConflictError):
        app.features.create(key=FEATURE)
    made = charge(app, who.id, CO)
    app.features.archive(FEATURE)
    second = app.features.create(key=FEATURE)
    assert second.id != first.id
    clock.set("2026-01-01T00:00:00Z")
    [active] = app.charges.advance(made.id)
    assert active.state.feature_id == second.id


def test_activating_without_a_live_feature_is_refused_and_changes_nothing(
    app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    who = customer(app)
    made = charge(app, who.id, CO)
    app.features.archive(FEATURE)
    clock.set("2026-01-01T00:00:00Z")
    before = snapshot()
    with pytest.raises(NotFoundError, match="feature"):
        app.charges.advance(made.id)
    assert snapshot() == before


@pytest.mark.parametrize("policy", [None, "", "refund-everything"])
def test_delete_needs_a_known_policy(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot, policy: str | None
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    before = snapshot()
    with pytest.raises(InvalidTriggerArgumentError, match="policy"):
        app.charges.fire(charge_id, "delete", **({} if policy is None else {"policy": policy}))
    assert snapshot() == before


def test_a_deleted_charge_is_soft_deleted_and_never_due(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    deleted = app.charges.delete(charge_id, policy="ignore")
    assert deleted.state.status is S.DELETED
    assert deleted.deleted_at == clock.now()
    assert deleted.state.advance_after is None
    clock.set("2026-03-01T00:00:00Z")
    assert app.charges.advance_due().advanced == []
    with pytest.raises(TriggerNotPermittedError):
        app.charges.delete(charge_id, policy="ignore")


def test_an_unknown_trigger_is_not_permitted(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    with pytest.raises(TriggerNotPermittedError, match="explode"):
        app.charges.fire(charge_id, "explode")


def test_timestamps_are_stored_truncated_to_seconds(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    made = create(
        app,
        customer_id=who.id,
        service_period=("2026-01-01T00:00:00.999Z", "2026-02-01T00:00:00.5+00:00"),
        invoice_at=datetime(2026, 2, 1, 0, 0, 0, 999999, tzinfo=UTC),
    )
    stored = app.charges.get(made.id)
    assert stored.intent.service_period.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert stored.intent.service_period.end == datetime(2026, 2, 1, tzinfo=UTC)
    assert stored.intent.invoice_at == datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("column", "value", "detail"),
    [
        ("status", "active.final_realization.exploded", "not a valid ChargeStatus"),
        ("settlement_mode", "credit_maybe", "not a valid SettlementMode"),
    ],
)
def test_an_unknown_status_or_mode_in_the_database_is_rejected_on_load(
    database: SqlDatabase, app: App, clock: FrozenClock, column: str, value: str, detail: str
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    with database.engine.begin() as connection:
        connection.execute(
            sa.text(f"UPDATE charge_usage_based SET {column} = :value WHERE id = :id"),
            {"value": value, "id": charge_id},
        )
    with pytest.raises(CorruptRecordError, match=detail) as rejected:
        app.charges.get(charge_id)
    assert rejected.value.record_id == charge_id


def test_a_status_outside_its_mode_machine_is_rejected_on_load(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    with database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE charge_usage_based SET status = 'active.awaiting_payment_settlement'"
                " WHERE id = :id"
            ),
            {"id": charge_id},
        )
    for load in (lambda: app.charges.get(charge_id), app.charges.list):
        with pytest.raises(CorruptRecordError, match="does not exist in the credit_only machine"):
            load()


def test_an_error_during_activation_names_the_status_the_transition_started_from(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    who = app.charges.get(charge_id).intent.customer_id
    legacy_usage(database, who, "-50", "2026-01-20T00:00:00Z")
    clock.set("2026-02-01T12:00:00Z")
    before = snapshot()
    with pytest.raises(NegativeTotalError) as refused:
        app.charges.advance(charge_id)
    assert (refused.value.status, refused.value.trigger) == ("active", "next")
    assert "in status 'active', trigger 'next'" in str(refused.value)
    assert refused.value.amount == Decimal("-40.00")
    assert snapshot() == before


def test_advance_due_tells_the_caller_about_every_charge_it_visits(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    who, other = customer(app), customer(app, feature=False)
    clock.set("2026-01-01T00:00:00Z")
    good = charge(app, who.id, CO).id
    bad = charge(app, other.id, CO).id
    legacy_usage(database, other.id, "-5", "2026-01-02T00:00:00Z")
    clock.set("2026-02-01T00:00:00Z")
    visited: list[str] = []
    report = app.charges.advance_due(batch_size=1, visited=visited.append)
    assert sorted(visited) == sorted([good, bad])
    assert (report.advanced, list(report.failed)) == ([good], [bad])
