"""`app.charges.triggers`: each guard of the charge machines, failing, named with the values it
compared; and the rehearsed advance, on both databases."""

from __future__ import annotations

import pytest

from chargeflow import App, ChargeStatus, FrozenClock, SettlementMode, TriggerVerdict
from chargeflow.persistence.sql import SqlDatabase
from chargeflow.statemachines.charge_guards import (
    LATEST_RUN_ENDS_AT_PERIOD_END,
    LATEST_RUN_ENDS_BEFORE_PERIOD_END,
)
from tests.factories import CO, CTI, charge_in

S = ChargeStatus


@pytest.mark.parametrize(
    ("mode", "status", "failing"),
    [
        (CO, S.CREATED, [("inside service period",
                          "now 2025-12-01T00:00:00Z < service period start 2026-01-01T00:00:00Z")]),
        (CO, S.ACTIVE, [("after service period",
                         "now 2026-01-01T00:00:00Z < service period end 2026-02-01T00:00:00Z")]),
        (CO, S.REALIZATION_WAITING_FOR_COLLECTION, [("after collection period",
                         "now 2026-02-01T12:00:00Z < collection closes 2026-02-03T00:01:00Z")]),
        (CTI, S.ACTIVE, [("realization completed for the whole period",
                          "no final realization run")]),
    ],
)  # fmt: skip
def test_a_failing_guard_is_named_with_the_values_it_compared(
    app: App,
    database: SqlDatabase,
    clock: FrozenClock,
    mode: SettlementMode,
    status: ChargeStatus,
    failing: list[tuple[str, str]],
) -> None:
    charge_id = charge_in(app, database, clock, mode, status)
    explained = app.charges.triggers(charge_id)
    [next_] = [option for option in explained.triggers if option.trigger == "next"]
    assert next_.verdict is TriggerVerdict.GUARD_FAILING
    assert [(guard.guard, guard.compared) for guard in next_.failing] == failing
    assert explained.advance_path == ()


def test_an_unpaid_run_is_named_by_the_settlement_guard(
    app: App, database: SqlDatabase, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CTI, S.AWAITING_PAYMENT_SETTLEMENT)
    [run] = app.charges.get(charge_id).runs
    [next_] = [o for o in app.charges.triggers(charge_id).triggers if o.trigger == "next"]
    assert [(guard.guard, guard.compared) for guard in next_.failing] == [
        ("all runs settled", f"1 of 1 invoiced runs unpaid: {run.id}")
    ]


def test_the_period_end_guards_state_both_ends(
    app: App, database: SqlDatabase, clock: FrozenClock
) -> None:
    charge = app.charges.get(charge_in(app, database, clock, CTI, S.REALIZATION_COMPLETED))
    compared = "latest run ends 2026-02-01T00:00:00Z == period end 2026-02-01T00:00:00Z"
    for guard in (LATEST_RUN_ENDS_AT_PERIOD_END, LATEST_RUN_ENDS_BEFORE_PERIOD_END):
        assert guard.explain(charge, clock.now()) == compared


def test_the_rehearsed_advance_tells_the_path_and_writes_nothing(
    app: App, database: SqlDatabase, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    clock.set("2026-02-01T12:00:00Z")
    before = (app.charges.get(charge_id), app.charges.history(charge_id))
    explained = app.charges.triggers(charge_id)
    assert (explained.status, explained.advance_path) == (
        S.ACTIVE,
        (S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION),
    )
    assert (app.charges.get(charge_id), app.charges.history(charge_id)) == before
