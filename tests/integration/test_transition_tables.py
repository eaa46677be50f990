"""The transition tables of lifecycle.md sections 4 and 5, row by row, and every
(status, trigger) pair they do not permit: refused with the typed error, database unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from chargeflow import App, FrozenClock
from domain.charge import SettlementMode
from domain.errors import TriggerNotPermittedError
from domain.statuses import ChargeStatus
from domain.triggers import Trigger
from statemachines.registry import CHARGE_SPECS
from tests.conftest import Snapshot
from tests.factories import charge_in, standard_line

S = ChargeStatus

# When a row's guard needs time to have passed, the clock it is fired at.
GUARD_CLOCK = {
    S.CREATED: "2026-01-01T00:00:00Z",
    S.ACTIVE: "2026-02-01T12:00:00Z",
    S.FINAL_REALIZATION_WAITING_FOR_COLLECTION: "2026-02-03T00:01:00Z",
}

ROWS = [
    pytest.param(mode, row.source, row.trigger, row.dest, id=f"{mode}:{row.source}-{row.trigger}")
    for mode, spec in CHARGE_SPECS.items()
    for row in spec.rows
]

REFUSED = [
    pytest.param(mode, status, trigger, id=f"{mode}:{status}-{trigger}")
    for mode, spec in CHARGE_SPECS.items()
    for status in spec.statuses
    for trigger in Trigger
    if not spec.rows_from(status, trigger)
]


def arguments_for(app: App, charge_id: str, trigger: Trigger) -> dict[str, Any]:
    if trigger is Trigger.INVOICE_CREATED:
        return {"line_id": standard_line(app, charge_id)}
    if trigger is Trigger.DELETE:
        return {"policy": "correct"}
    return {}


@pytest.mark.parametrize(("mode", "source", "trigger", "dest"), ROWS)
def test_each_row_moves_the_charge_and_records_the_transition(
    app: App,
    clock: FrozenClock,
    mode: SettlementMode,
    source: ChargeStatus,
    trigger: Trigger,
    dest: ChargeStatus,
) -> None:
    charge_id = charge_in(app, clock, mode, source)
    if trigger is not Trigger.DELETE and source in GUARD_CLOCK:
        clock.set(GUARD_CLOCK[source])
    arguments = arguments_for(app, charge_id, trigger)

    fired = app.charges.fire(charge_id, trigger, **arguments)

    assert fired.state.status is dest
    assert app.charges.get(charge_id).state.status is dest
    last = app.charges.history(charge_id)[-1]
    assert (last.from_status, last.to_status, last.trigger, last.at) == (
        source,
        dest,
        trigger,
        clock.now(),
    )
    assert last.arguments == {key: str(value) for key, value in arguments.items()}


def test_the_tables_cover_every_status_and_trigger_pair() -> None:
    pairs = sum(len(spec.statuses) * len(Trigger) for spec in CHARGE_SPECS.values())
    assert len(ROWS) + len(REFUSED) == pairs == 60


@pytest.mark.parametrize(("mode", "status", "trigger"), REFUSED)
def test_a_trigger_not_permitted_in_a_status_is_refused_and_changes_nothing(
    app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    mode: SettlementMode,
    status: ChargeStatus,
    trigger: Trigger,
) -> None:
    charge_id = charge_in(app, clock, mode, status)
    arguments = {"line_id": "line-that-does-not-matter", "policy": "correct"}
    before = snapshot()

    with pytest.raises(TriggerNotPermittedError) as refused:
        app.charges.fire(charge_id, trigger, **arguments)

    assert (refused.value.charge_id, refused.value.status, refused.value.trigger) == (
        charge_id,
        status.value,
        trigger.value,
    )
    assert charge_id in str(refused.value) and trigger.value in str(refused.value)
    assert snapshot() == before
