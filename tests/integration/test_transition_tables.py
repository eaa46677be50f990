"""The transition tables of docs/lifecycle.md sections 4, 5 and 8, written out here as literal
rows (not read from the machines under test): every machine must have exactly these rows; each
charge row moves a charge and records the transition; every (status, trigger) pair the tables
do not list is refused with the typed error and changes nothing.

Billing's triggers (`invoice_created`, `collection_completed`, `invoice_issued`) are refused by
`charges.fire` in every status; their rows are fired here the way billing's line engine fires
them, through the driver, with the invoice's facts."""

from __future__ import annotations

from typing import Any

import pytest

from chargeflow import App, FrozenClock
from chargeflow.domain.charge import SettlementMode, UsageBasedCharge
from chargeflow.domain.errors import (
    InvalidPeriodChangeError,
    RetryAfterBillingAdvancesError,
    TriggerNotPermittedError,
)
from chargeflow.domain.runs import RunType
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import to_instant
from chargeflow.domain.triggers import InvoiceIssued, Trigger, TriggerArgument
from chargeflow.persistence.sql import SqlDatabase
from chargeflow.statemachines.registry import CHARGE_SPECS, SPECS
from tests.conftest import Snapshot
from tests.factories import (
    charge_in,
    fire_as_billing,
    invoice_created,
    set_status,
    standard_line,
)

Row = tuple[str, str, str, str]
"""``(from, trigger, to, guard)``; the guard is "" for none."""

INTERNAL = "(internal)"
"""The `to` of an internal row: its action decides the status (docs/lifecycle.md section 11)."""

STARTED = "active.realization.started"
WAITING = "active.realization.waiting_for_collection"
PROCESSING = "active.realization.processing"
ISSUING = "active.realization.issuing"
COMPLETED = "active.realization.completed"
AWAITING = "active.awaiting_payment_settlement"

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
    ("created", "extend", INTERNAL, ""),
    ("created", "shrink", INTERNAL, ""),
    ("active", "extend", INTERNAL, ""),
    ("active", "shrink", INTERNAL, ""),
    (STARTED, "extend", INTERNAL, ""),
    (STARTED, "shrink", INTERNAL, ""),
    (WAITING, "extend", INTERNAL, ""),
    (WAITING, "shrink", INTERNAL, ""),
    (COMPLETED, "extend", INTERNAL, ""),
    (COMPLETED, "shrink", INTERNAL, ""),
    ("final", "extend", INTERNAL, ""),
    ("final", "shrink", INTERNAL, ""),
]

CREDIT_THEN_INVOICE: list[Row] = [
    ("created", "next", "active", "inside service period"),
    ("active", "next", AWAITING, "realization completed for the whole period"),
    ("active", "invoice_created", STARTED, ""),
    (STARTED, "next", WAITING, ""),
    (WAITING, "collection_completed", PROCESSING, ""),
    (PROCESSING, "invoice_issued", ISSUING, ""),
    (ISSUING, "next", COMPLETED, ""),
    (COMPLETED, "next", AWAITING, "latest run ends at period end"),
    (COMPLETED, "next", "active", "latest run ends before period end"),
    (AWAITING, "next", "final", "all runs settled"),
    ("created", "delete", "deleted", ""),
    ("active", "delete", "deleted", ""),
    (STARTED, "delete", "deleted", ""),
    (WAITING, "delete", "deleted", ""),
    (PROCESSING, "delete", "deleted", ""),
    (ISSUING, "delete", "deleted", ""),
    (COMPLETED, "delete", "deleted", ""),
    (AWAITING, "delete", "deleted", ""),
    ("final", "delete", "deleted", ""),
    ("created", "extend", INTERNAL, ""),
    ("created", "shrink", INTERNAL, ""),
    ("active", "extend", INTERNAL, ""),
    ("active", "shrink", INTERNAL, ""),
    (STARTED, "extend", INTERNAL, ""),
    (STARTED, "shrink", INTERNAL, ""),
    (WAITING, "extend", INTERNAL, ""),
    (WAITING, "shrink", INTERNAL, ""),
    (PROCESSING, "extend", INTERNAL, ""),
    (PROCESSING, "shrink", INTERNAL, ""),
    (AWAITING, "extend", INTERNAL, ""),
    (AWAITING, "shrink", INTERNAL, ""),
    ("final", "extend", INTERNAL, ""),
    ("final", "shrink", INTERNAL, ""),
]

INVOICE: list[Row] = [
    ("draft.created", "next", "draft.waiting_for_collection", ""),
    ("draft.waiting_for_collection", "next", "draft.collecting", "collection window closed"),
    ("draft.collecting", "next", "draft.manual_approval_needed", "not auto approve"),
    ("draft.collecting", "next", "issuing", "auto approve"),
    ("draft.manual_approval_needed", "approve", "issuing", ""),
    ("issuing", "next", "payment_processing.pending", "total due"),
    ("issuing", "next", "paid", "nothing due"),
    ("payment_processing.pending", "payment_authorized", "payment_processing.authorized", ""),
    ("payment_processing.pending", "payment_settled", "paid", ""),
    ("payment_processing.authorized", "payment_settled", "paid", ""),
]

TABLES: dict[str, list[Row]] = {
    "credit_only": CREDIT_ONLY,
    "credit_then_invoice": CREDIT_THEN_INVOICE,
    "invoice": INVOICE,
}

STATUSES: dict[str, list[str]] = {
    "credit_only": [
        "created", "active", STARTED, WAITING, PROCESSING, COMPLETED, "final", "deleted",
    ],
    "credit_then_invoice": [
        "created", "active", STARTED, WAITING, PROCESSING, ISSUING, COMPLETED, AWAITING, "final",
        "deleted",
    ],
}  # fmt: skip
TRIGGERS = [
    "next", "invoice_created", "collection_completed", "invoice_issued", "delete", "extend",
    "shrink",
]  # fmt: skip
BILLING = {"invoice_created", "collection_completed", "invoice_issued"}

# When a row's guard needs time to have passed, the clock it is fired at.
GUARD_CLOCK = {
    "created": "2026-01-01T00:00:00Z",
    "active": "2026-02-01T12:00:00Z",
    WAITING: "2026-02-03T00:01:00Z",
}

CHARGE_ROWS = [
    pytest.param(mode, *row[:3], id=f"{mode}:{row[0]}-{row[1]}-{row[2]}")
    for mode in ("credit_only", "credit_then_invoice")
    for row in TABLES[mode]
    if row[2] != INTERNAL
]

PERIOD_CHANGE = {"extend": "2026-03-01T00:00:00Z", "shrink": "2026-01-20T00:00:00Z"}
"""The new period end each internal row is fired with (the period is January 2026)."""

REFUSED_CHANGE = "InvalidPeriodChangeError"
INTERNAL_OUTCOMES: list[tuple[str, str, str, str]] = [
    # (mode, from, trigger, where a charge `charge_in` prepared ends, or the error)
    ("credit_only", "created", "extend", "created"),
    ("credit_only", "created", "shrink", "created"),
    ("credit_only", "active", "extend", "active"),
    ("credit_only", "active", "shrink", "active"),
    ("credit_only", STARTED, "extend", "active"),  # every run voided
    ("credit_only", STARTED, "shrink", "active"),
    ("credit_only", WAITING, "extend", "active"),
    ("credit_only", WAITING, "shrink", "active"),
    ("credit_only", COMPLETED, "extend", "active"),
    ("credit_only", COMPLETED, "shrink", "active"),
    ("credit_only", "final", "extend", "active"),
    ("credit_only", "final", "shrink", "active"),
    ("credit_then_invoice", "created", "extend", "created"),  # no runs: the line moves
    ("credit_then_invoice", "created", "shrink", "created"),
    ("credit_then_invoice", "active", "extend", "active"),
    ("credit_then_invoice", "active", "shrink", "active"),
    ("credit_then_invoice", STARTED, "extend", "active"),  # the uninvoiced final run voided
    ("credit_then_invoice", STARTED, "shrink", "active"),
    ("credit_then_invoice", WAITING, "extend", "active"),
    ("credit_then_invoice", WAITING, "shrink", "active"),
    ("credit_then_invoice", PROCESSING, "extend", "active"),
    ("credit_then_invoice", PROCESSING, "shrink", "active"),
    ("credit_then_invoice", AWAITING, "extend", "active"),  # the issued run becomes partial
    ("credit_then_invoice", AWAITING, "shrink", REFUSED_CHANGE),  # it would cut an issued run
    ("credit_then_invoice", "final", "extend", "active"),
    ("credit_then_invoice", "final", "shrink", REFUSED_CHANGE),
]
INTERNAL_ROWS = [
    pytest.param(*outcome, id=f"{outcome[0]}:{outcome[1]}-{outcome[2]}")
    for outcome in INTERNAL_OUTCOMES
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
    rows = [
        (
            row.source.value,
            row.trigger.value,
            row.dest.value if row.dest is not None else INTERNAL,
            " and ".join(g.name for g in row.guards),
        )
        for row in spec.rows
    ]
    assert sorted(rows) == sorted(TABLES[name])


def test_every_internal_row_has_an_outcome() -> None:
    internal = {(m, r[0], r[1]) for m in STATUSES for r in TABLES[m] if r[2] == INTERNAL}
    assert internal == {outcome[:3] for outcome in INTERNAL_OUTCOMES}


@pytest.mark.parametrize("mode", STATUSES)
def test_each_charge_machine_has_exactly_its_statuses(mode: str) -> None:
    spec = CHARGE_SPECS[SettlementMode(mode)]
    assert [status.value for status in spec.statuses] == STATUSES[mode]


def test_the_tables_cover_every_status_and_trigger_pair() -> None:
    permitted = {(mode, row[0], row[1]) for mode in STATUSES for row in TABLES[mode]}
    refused = {tuple(pair.values) for pair in REFUSED}
    assert not permitted & refused
    assert len(permitted | refused) == sum(len(s) * len(TRIGGERS) for s in STATUSES.values()) == 126
    assert sorted(TRIGGERS) == sorted(trigger.value for trigger in Trigger)


def billing_argument(database: SqlDatabase, charge_id: str, trigger: str) -> TriggerArgument | None:
    """The argument billing's line engine fires `trigger` with at this charge."""
    if trigger == "invoice_created":
        return invoice_created(*standard_line(database, charge_id))
    if trigger == "invoice_issued":
        with database.unit_of_work() as uow:
            run = uow.charges.get(charge_id).current_run()
        assert run is not None and run.line_id and run.invoice_id
        return InvoiceIssued(line_id=run.line_id, invoice_id=run.invoice_id)
    return None


def fire(
    app: App, database: SqlDatabase, clock: FrozenClock, charge_id: str, trigger: str, **given: Any
) -> UsageBasedCharge:
    """Fire `trigger` as its author would: billing's triggers through the driver, the others
    through `charges.fire`."""
    if trigger not in BILLING:
        return app.charges.fire(charge_id, trigger, **given)
    argument = billing_argument(database, charge_id, trigger) if not given else given["argument"]
    fire_as_billing(database, clock, charge_id, Trigger(trigger), argument)
    return app.charges.get(charge_id)


def prepare(
    app: App, database: SqlDatabase, clock: FrozenClock, mode: str, source: str, dest: str
) -> str:
    """A charge standing in `source`, with what the row to `dest` needs to pass its guard."""
    if mode == "credit_then_invoice" and (source, dest) == ("active", AWAITING):
        charge_id = charge_in(app, database, clock, SettlementMode(mode), ChargeStatus(AWAITING))
        set_status(database, charge_id, ChargeStatus.ACTIVE)  # e.g. after a shrink onto it
        return charge_id
    if mode == "credit_then_invoice" and (source, dest) == (AWAITING, "final"):
        charge_id = charge_in(app, database, clock, SettlementMode(mode), ChargeStatus.FINAL)
        set_status(database, charge_id, ChargeStatus.AWAITING_PAYMENT_SETTLEMENT)
        return charge_id
    charge_id = charge_in(app, database, clock, SettlementMode(mode), ChargeStatus(source))
    if (source, dest) == (COMPLETED, "active"):  # the run billed only part of the period
        with database.unit_of_work() as uow:
            stored = uow.charges.get(charge_id, lock=True)
            [run] = stored.runs
            run.type = RunType.PARTIAL_INVOICE
            run.service_period_to = to_instant("2026-01-16T00:00:00Z")
            uow.charges.save_run(run)
            uow.commit()
    return charge_id


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
    charge_id = prepare(app, database, clock, mode, source, dest)
    if trigger != "delete" and source in GUARD_CLOCK:
        clock.set(GUARD_CLOCK[source])
    arguments = {"policy": "correct"} if trigger == "delete" else {}

    fired = fire(app, database, clock, charge_id, trigger, **arguments)

    assert fired.state.status.value == dest
    assert app.charges.get(charge_id).state.status.value == dest
    last = app.charges.history(charge_id)[-1]
    assert (last.from_status.value, last.to_status.value, last.trigger.value, last.at) == (
        source,
        dest,
        trigger,
        clock.now(),
    )
    if trigger == "delete":
        assert last.arguments == arguments


@pytest.mark.parametrize(("mode", "source", "trigger", "outcome"), INTERNAL_ROWS)
def test_each_internal_row_moves_the_period_and_records_where_the_charge_ended(
    database: SqlDatabase,
    app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    mode: str,
    source: str,
    trigger: str,
    outcome: str,
) -> None:
    charge_id = charge_in(app, database, clock, SettlementMode(mode), ChargeStatus(source))
    to = PERIOD_CHANGE[trigger]
    if outcome == REFUSED_CHANGE:
        before = snapshot()
        with pytest.raises(InvalidPeriodChangeError, match="is invoiced up to"):
            app.charges.fire(charge_id, trigger, to=to)
        assert snapshot() == before
        return

    fired = app.charges.fire(charge_id, trigger, to=to)

    assert fired.state.status.value == app.charges.get(charge_id).state.status.value == outcome
    assert fired.intent.service_period.end == fired.intent.invoice_at == to_instant(to)
    last = app.charges.history(charge_id)[-1]
    assert (last.from_status.value, last.trigger.value, last.to_status.value) == (
        source,
        trigger,
        outcome,
    )
    assert last.arguments == {"to": to, "previous_to": "2026-02-01T00:00:00Z"}


ANY_ARGUMENT: dict[str, dict[str, Any]] = {
    "invoice_created": {"argument": invoice_created("line-x", "invoice-x")},
    "invoice_issued": {
        "argument": InvoiceIssued(line_id="line-x", invoice_id="invoice-x"),
    },
    "collection_completed": {"argument": None},
    "delete": {"policy": "correct"},
    "extend": {"to": PERIOD_CHANGE["extend"]},
    "shrink": {"to": PERIOD_CHANGE["shrink"]},
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
        fire(app, database, clock, charge_id, trigger, **ANY_ARGUMENT.get(trigger, {}))

    assert (refused.value.charge_id, refused.value.status, refused.value.trigger) == (
        charge_id,
        status,
        trigger,
    )
    assert charge_id in str(refused.value) and trigger in str(refused.value)
    assert snapshot() == before


@pytest.mark.parametrize("trigger", sorted(BILLING))
def test_charges_fire_refuses_billings_triggers_in_every_status(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot, trigger: str
) -> None:
    charge_id = charge_in(
        app, database, clock, SettlementMode.CREDIT_THEN_INVOICE, ChargeStatus.ACTIVE
    )
    clock.set("2026-02-01T12:00:00Z")
    before = snapshot()
    with pytest.raises(TriggerNotPermittedError, match="only billing fires it"):
        app.charges.fire(charge_id, trigger, line_id="l", invoice_id="i")
    assert snapshot() == before


@pytest.mark.parametrize("status", [ISSUING, COMPLETED])
@pytest.mark.parametrize("trigger", ["extend", "shrink"])
def test_a_period_change_waits_while_billing_issues_the_charge(
    database: SqlDatabase,
    app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    status: str,
    trigger: str,
) -> None:
    charge_id = charge_in(
        app, database, clock, SettlementMode.CREDIT_THEN_INVOICE, ChargeStatus(status)
    )
    before = snapshot()
    with pytest.raises(RetryAfterBillingAdvancesError, match="billing is issuing"):
        app.charges.fire(charge_id, trigger, to=PERIOD_CHANGE[trigger])
    assert snapshot() == before
