"""The transition tables of docs/lifecycle.md sections 4, 5 and 8, written out here as literal
rows (not read from the machines under test): every machine must have exactly these rows; each
row moves a charge and records the transition; every (status, trigger) pair the table does not
list is refused with the typed error and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from chargeflow import App, FrozenClock
from domain.charge import SettlementMode
from domain.errors import TriggerNotPermittedError
from domain.statuses import ChargeStatus
from domain.triggers import Trigger
from persistence.sql import SqlDatabase
from statemachines.registry import CHARGE_SPECS, SPECS
from tests.conftest import Snapshot
from tests.factories import charge_in, standard_line

Row = tuple[str, str, str, str]
"""``(from, trigger, to, guard)``; the guard is "" for none."""

STARTED = "active.final_realization.started"
WAITING = "active.final_realization.waiting_for_collection"
PROCESSING = "active.final_realization.processing"
COMPLETED = "active.final_realization.completed"

CREDIT_ONLY: list[Row] = [
    ("created", "next", "active", "inside service period"),
    ("active", "next", STARTED, "after service period"),
    (STARTED, "next", WAITING, ""),
    (WAITING, "next", PROCESSING, "after collection period"),
    (PROCESSING, "next", COMPLETED, ""),
    (COMPLETED, "next", "final", ""),
    ("created", "delete", "deleted", ""),
    ("active", "delete", "deleted", ""),
    (STARTED, "delete", "deleted", ""),
    (WAITING, "delete", "deleted", ""),
    (PROCESSING, "delete", "deleted", ""),
    (COMPLETED, "delete", "deleted", ""),
    ("final", "delete", "deleted", ""),
]

CREDIT_THEN_INVOICE: list[Row] = [
    ("created", "next", "active", "inside service period"),
    ("active", "invoice_created", STARTED, "after service period"),
    (STARTED, "next", WAITING, ""),
    (WAITING, "collection_completed", PROCESSING, ""),
    (PROCESSING, "next", COMPLETED, ""),
    ("created", "delete", "deleted", ""),
    ("active", "delete", "deleted", ""),
    (STARTED, "delete", "deleted", ""),
    (WAITING, "delete", "deleted", ""),
    (PROCESSING, "delete", "deleted", ""),
    (COMPLETED, "delete", "deleted", ""),
]

INVOICE: list[Row] = [
    ("draft.created", "next", "draft.waiting_for_collection", ""),
    ("draft.waiting_for_collection", "next", "draft.collecting", "collection window closed"),
    ("draft.collecting", "next", "draft.ready", ""),
]

TABLES: dict[str, list[Row]] = {
    "credit_only": CREDIT_ONLY,
    "credit_then_invoice": CREDIT_THEN_INVOICE,
    "invoice": INVOICE,
}

STATUSES: dict[str, list[str]] = {
    "credit_only": [
        "created",
        "active",
        STARTED,
        WAITING,
        PROCESSING,
        COMPLETED,
        "final",
        "deleted",
    ],
    "credit_then_invoice": [
        "created",
        "active",
        STARTED,
        WAITING,
        PROCESSING,
        COMPLETED,
        "deleted",
    ],
}
TRIGGERS = ["next", "invoice_created", "collection_completed", "delete"]

# When a row's guard needs time to have passed, the clock it is fired at.
GUARD_CLOCK = {
    "created": "2026-01-01T00:00:00Z",
    "active": "2026-02-01T12:00:00Z",
    WAITING: "2026-02-03T00:01:00Z",
}

CHARGE_ROWS = [
    pytest.param(mode, *row[:3], id=f"{mode}:{row[0]}-{row[1]}")
    for mode in ("credit_only", "credit_then_invoice")
    for row in TABLES[mode]
]
REFUSED = [
    pytest.param(mode, status, trigger, id=f"{mode}:{status}-{trigger}")
    for mode in ("credit_only", "credit_then_invoice")
    for status in STATUSES[mode]
    for trigger in TRIGGERS
    if not any(row[:2] == (status, trigger) for row in TABLES[mode])
]


@pytest.mark.parametrize("name", TABLES)
def test_each_machine_has_exactly_the_rows_of_its_table(name: str) -> None:
    [spec] = [spec for spec in SPECS if spec.name == name]
    rows = {
        (
            row.source.value,
            row.trigger.value,
            row.dest.value,
            " and ".join(g.name for g in row.guards),
        )
        for row in spec.rows
    }
    assert rows == set(TABLES[name])
    assert len(spec.rows) == len(TABLES[name])


@pytest.mark.parametrize("mode", STATUSES)
def test_each_charge_machine_has_exactly_its_statuses(mode: str) -> None:
    spec = CHARGE_SPECS[SettlementMode(mode)]
    assert [status.value for status in spec.statuses] == STATUSES[mode]


def test_the_tables_cover_every_status_and_trigger_pair() -> None:
    pairs = sum(len(statuses) * len(TRIGGERS) for statuses in STATUSES.values())
    assert len(CHARGE_ROWS) + len(REFUSED) == pairs == 60


def arguments_for(database: SqlDatabase, charge_id: str, trigger: str) -> dict[str, Any]:
    if trigger == "invoice_created":
        return {"line_id": standard_line(database, charge_id)}
    if trigger == "delete":
        return {"policy": "correct"}
    return {}


@pytest.mark.parametrize(("mode", "source", "trigger", "dest"), CHARGE_ROWS)
def test_each_row_moves_the_charge_and_records_the_transition(
    database: SqlDatabase,
    app: App,
    clock: FrozenClock,
    mode: str,
    source: str,
    trigger: str,
    dest: str,
) -> None:
    charge_id = charge_in(app, database, clock, SettlementMode(mode), ChargeStatus(source))
    if trigger != "delete" and source in GUARD_CLOCK:
        clock.set(GUARD_CLOCK[source])
    arguments = arguments_for(database, charge_id, trigger)

    fired = app.charges.fire(charge_id, trigger, **arguments)

    assert fired.state.status.value == dest
    assert app.charges.get(charge_id).state.status.value == dest
    last = app.charges.history(charge_id)[-1]
    assert (last.from_status.value, last.to_status.value, last.trigger.value, last.at) == (
        source,
        dest,
        trigger,
        clock.now(),
    )
    assert last.arguments == arguments


VALID_ARGUMENTS: dict[str, dict[str, str]] = {
    "invoice_created": {"line_id": "line-that-does-not-matter"},
    "delete": {"policy": "correct"},
}


@pytest.mark.parametrize(("mode", "status", "trigger"), REFUSED)
def test_a_trigger_not_permitted_in_a_status_is_refused_and_changes_nothing(
    database: SqlDatabase,
    app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    mode: str,
    status: str,
    trigger: str,
) -> None:
    charge_id = charge_in(app, database, clock, SettlementMode(mode), ChargeStatus(status))
    before = snapshot()

    with pytest.raises(TriggerNotPermittedError) as refused:
        app.charges.fire(charge_id, trigger, **VALID_ARGUMENTS.get(trigger, {}))

    assert (refused.value.charge_id, refused.value.status, refused.value.trigger) == (
        charge_id,
        status,
        trigger,
    )
    assert charge_id in str(refused.value) and trigger in str(refused.value)
    assert snapshot() == before


def test_every_trigger_of_the_tables_is_a_trigger() -> None:
    assert sorted(TRIGGERS) == sorted(trigger.value for trigger in Trigger)
