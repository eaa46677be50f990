"""Billing: invoicing pending lines, the line link, collection, and their refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from benchmarks.capture import statements
from chargeflow import App, FrozenClock, open_app
from chargeflow.domain.errors import (
    ConflictError,
    CurrentRunExistsError,
    InvalidInputError,
    InvalidLineError,
    InvalidTriggerArgumentError,
    NoLinesToInvoiceError,
)
from chargeflow.domain.invoices import LineStatus
from chargeflow.domain.runs import RealizationRun
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.triggers import Trigger
from chargeflow.engines import driver
from chargeflow.engines.ledger import DatabaseLedger
from chargeflow.engines.line_engines import LINE_ENGINES
from chargeflow.engines.operation import Operation
from chargeflow.persistence.sql import SqlDatabase
from tests.conftest import Snapshot
from tests.factories import (
    CTI,
    FEATURE,
    PERIOD,
    charge,
    charge_in,
    customer,
    fire_as_billing,
    invoice_created,
    set_status,
    standard_line,
)

S = ChargeStatus


def invoiced(database: SqlDatabase, app: App, clock: FrozenClock) -> tuple[str, str, str]:
    """A credit_then_invoice charge invoiced on 2026-02-01: (charge id, invoice id, line id)."""
    charge_id = charge_in(app, database, clock, CTI, S.REALIZATION_WAITING_FOR_COLLECTION)
    [invoice] = app.billing.list_invoices()
    return charge_id, invoice.id, invoice.lines[0].id


def test_invoice_created_is_fired_only_once_the_standard_line_row_exists(
    app: App, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = customer(app)
    made = charge(app, who.id, CTI)
    seen: list[tuple[LineStatus, str]] = []
    real_fire = driver.fire

    def spy(
        op: Operation, lifecycle: Any, subject: Any, trigger: Any, argument: Any = None
    ) -> None:
        if trigger is Trigger.INVOICE_CREATED:
            line = op.uow.invoices.get_line(argument.line_id)
            assert line is not None, "invoice_created fired before its line row exists"
            seen.append((line.status, line.invoice_id))
        real_fire(op, lifecycle, subject, trigger, argument)

    monkeypatch.setattr(driver, "fire", spy)
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    assert seen == [(LineStatus.STANDARD, invoice.id)]
    assert app.charges.get(made.id).runs[0].line_id == invoice.lines[0].id


def test_invoice_created_with_a_gathering_line_is_refused(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    charge_id = charge_in(app, database, clock, CTI, S.ACTIVE)
    [gathering] = app.billing.pending_lines(app.charges.get(charge_id).intent.customer_id)
    clock.set("2026-02-01T00:00:00Z")
    before = snapshot()
    with pytest.raises(InvalidTriggerArgumentError, match="gathering line, not a standard line"):
        fire_as_billing(
            database,
            clock,
            charge_id,
            Trigger.INVOICE_CREATED,
            invoice_created(gathering.id, gathering.invoice_id),
        )
    assert snapshot() == before


def test_invoice_created_with_an_unknown_line_or_another_invoice_is_refused(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    charge_id = charge_in(app, database, clock, CTI, S.ACTIVE)
    line_id, invoice_id = standard_line(database, charge_id)
    clock.set("2026-02-01T00:00:00Z")
    before = snapshot()
    for argument, message in (
        (invoice_created("no-such-line", invoice_id), "does not exist"),
        (invoice_created(line_id, "another-invoice"), "not 'another-invoice'"),
    ):
        with pytest.raises(InvalidTriggerArgumentError, match=message) as refused:
            fire_as_billing(database, clock, charge_id, Trigger.INVOICE_CREATED, argument)
        assert (refused.value.charge_id, refused.value.status) == (charge_id, "active")
        assert snapshot() == before


def test_invoice_created_with_another_charges_line_is_refused(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    _, invoice_id, line_id = invoiced(database, app, clock)
    who = app.charges.list()[0].intent.customer_id
    clock.set("2025-12-01T00:00:00Z")
    other = charge(app, who, CTI)
    clock.set("2026-02-01T00:00:00Z")
    app.charges.advance(other.id)
    before = snapshot()
    with pytest.raises(InvalidTriggerArgumentError, match="not this charge"):
        fire_as_billing(
            database, clock, other.id, Trigger.INVOICE_CREATED, invoice_created(line_id, invoice_id)
        )
    assert snapshot() == before


def test_invoicing_a_charge_that_already_has_a_current_run_is_refused(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    charge_id, invoice_id, line_id = invoiced(database, app, clock)
    set_status(database, charge_id, S.ACTIVE)
    before = snapshot()
    with pytest.raises(CurrentRunExistsError) as refused:
        fire_as_billing(
            database,
            clock,
            charge_id,
            Trigger.INVOICE_CREATED,
            invoice_created(line_id, invoice_id),
        )
    assert refused.value.trigger == "invoice_created"
    assert snapshot() == before


def test_nothing_is_billable_before_the_service_period_ends(
    app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    who = customer(app)
    charge(app, who.id, CTI)
    clock.set("2026-01-31T23:59:59Z")
    before = snapshot()
    with pytest.raises(NoLinesToInvoiceError):
        app.billing.invoice_pending_lines(who.id)
    with pytest.raises(InvalidInputError, match="cannot invoice as of 2026-02-01T00:00:00Z"):
        app.billing.invoice_pending_lines(who.id, as_of="2026-02-01T00:00:00Z")
    assert snapshot() == before
    clock.set("2026-02-01T00:00:00Z")
    with pytest.raises(NoLinesToInvoiceError):
        app.billing.invoice_pending_lines(who.id, as_of="2026-01-31T23:59:59Z")
    assert len(app.billing.invoice_pending_lines(who.id)) == 1


def add_run(database: SqlDatabase, run: RealizationRun) -> None:
    with database.unit_of_work() as uow:
        uow.charges.add_run(run)
        uow.commit()


def refused_by_the_database(database: SqlDatabase, app: App, run: RealizationRun) -> None:
    """Adding `run` breaks a constraint (PostgreSQL says so at the insert, SQLite at the
    commit): `ConflictError`, and nothing is kept."""
    with pytest.raises(ConflictError):
        add_run(database, run)
    assert run.id not in {r.id for c in app.charges.list() for r in c.runs}


def test_the_run_line_id_references_only_persisted_lines(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id, _, _ = invoiced(database, app, clock)
    stored = app.charges.get(charge_id)
    ghost = RealizationRun.model_validate(
        {
            **stored.runs[0].model_dump(),
            "id": "ghost-run",
            "line_id": "no-such-line",
            "allocations": [],
        }
    )
    refused_by_the_database(database, app, ghost)


def test_a_second_run_for_the_same_line_is_refused_by_the_unique_index(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id, _, line_id = invoiced(database, app, clock)
    stored = app.charges.get(charge_id)
    twin = RealizationRun.model_validate(
        {**stored.runs[0].model_dump(), "id": "twin-run", "allocations": []}
    )
    assert twin.line_id == line_id
    refused_by_the_database(database, app, twin)


def test_deleting_the_standard_line_sets_the_run_line_id_to_null(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id, _, line_id = invoiced(database, app, clock)
    with database.unit_of_work() as uow:
        uow.invoices.remove_lines([line_id])
        uow.commit()
    [run] = app.charges.get(charge_id).runs
    assert run.line_id is None
    assert run.metered_quantity == 10


def test_collecting_twice_changes_nothing_the_second_time(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    charge_id, invoice_id, line_id = invoiced(database, app, clock)
    clock.set("2026-02-03T00:01:00Z")
    app.billing.advance_invoice(invoice_id)
    before = snapshot()
    assert app.billing.advance_invoice(invoice_id).status is not None
    assert snapshot() == before

    # The usage-based engine itself skips lines whose charge can no longer complete collection.
    with database.unit_of_work() as uow:
        invoice = uow.invoices.get(invoice_id)
        op = Operation(uow, clock.now(), DatabaseLedger(uow))
        engine = LINE_ENGINES[invoice.lines[0].engine]
        assert engine.on_collection_completed(op, invoice, invoice.lines) == invoice.lines
        uow.commit()
    assert snapshot() == before
    assert app.charges.get(charge_id).runs[0].line_id == line_id


def test_two_lines_of_one_charge_on_an_invoice_are_refused_before_any_is_handled(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    charge_id, invoice_id, _ = invoiced(database, app, clock)
    clock.set("2026-02-03T00:01:00Z")
    before = snapshot()
    with database.unit_of_work() as uow:
        invoice = uow.invoices.get(invoice_id)
        [line] = invoice.lines
        twin = line.model_copy(update={"id": "line_twin"})
        op = Operation(uow, clock.now(), DatabaseLedger(uow))
        engine = LINE_ENGINES[line.engine]
        with pytest.raises(InvalidLineError, match=f"charge {charge_id} has 2 lines") as refused:
            engine.on_collection_completed(op, invoice, [line, twin])
        assert refused.value.line_id == "line_twin"
    assert snapshot() == before


def test_the_invoice_waits_for_its_collection_time(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id, invoice_id, _ = invoiced(database, app, clock)
    clock.set("2026-02-03T00:00:59Z")  # the run's cutoff plus the internal minute, less a second
    waiting = app.billing.advance_invoice(invoice_id)
    assert waiting.status is not None and waiting.status.value == "draft.waiting_for_collection"
    assert app.charges.get(charge_id).state.status is S.REALIZATION_WAITING_FOR_COLLECTION
    clock.set("2026-02-03T00:01:00Z")
    collected = app.billing.advance_invoice(invoice_id)
    assert collected.status is not None
    assert collected.status.value == "draft.manual_approval_needed"
    assert app.charges.get(charge_id).state.status is S.REALIZATION_PROCESSING


def test_deleting_a_charge_recomputes_when_its_draft_invoice_collects(
    app: App, clock: FrozenClock
) -> None:
    """The usage line collects a minute after its run's cutoff (2026-02-03 00:01), the plain
    line at its invoice_at plus P2D (2026-02-03 00:00): without the usage line, the invoice
    collects when the plain line does, and its totals are the plain line's."""
    who = customer(app)
    made = charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-15T00:00:00Z")
    app.billing.add_line(
        who.id,
        engine="invoicing",
        name="Support hours",
        price={"type": "unit", "amount": "45.50"},
        quantity=2,
        service_period=PERIOD,
    )
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    assert invoice.collection_at == datetime(2026, 2, 3, 0, 1, tzinfo=UTC)
    app.charges.delete(made.id, policy="ignore")
    kept = app.billing.get_invoice(invoice.id)
    assert [line.name for line in kept.lines] == ["Support hours"]
    assert kept.collection_at == datetime(2026, 2, 3, tzinfo=UTC)
    assert kept.totals.total == Decimal("91.00")


def test_an_invoice_mixing_usage_based_flat_fee_and_plain_lines_totals_them(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    app.credits.grant(who.id, amount="1.00")
    charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=125, event_time="2026-01-15T00:00:00Z")
    app.billing.add_line(
        who.id,
        engine="charge_flatfee",
        name="Platform fee",
        price={"type": "flat", "amount": "20"},
        service_period=PERIOD,
    )
    app.billing.add_line(
        who.id,
        engine="invoicing",
        name="Support hours",
        price={"type": "unit", "amount": "45.50"},
        quantity="2.5",
        service_period=PERIOD,
    )
    app.billing.add_line(
        who.id,
        engine="charge_creditpurchase",
        name="Credit pack",
        price={"type": "flat", "amount": "9.99"},
        service_period=PERIOD,
        invoice_at="2026-03-01T00:00:00Z",  # not billable yet
    )
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    by_name = {line.name: line.totals for line in invoice.lines}
    assert by_name[FEATURE].amount == Decimal("12.50")
    assert by_name[FEATURE].credits_total == Decimal("1.00")
    assert by_name["Platform fee"].total == Decimal("20.00")
    assert by_name["Support hours"].total == Decimal("113.75")
    assert "Credit pack" not in by_name
    assert (invoice.totals.amount, invoice.totals.credits_total, invoice.totals.total) == (
        Decimal("146.25"),
        Decimal("1.00"),
        Decimal("145.25"),
    )
    assert app.billing.get_invoice(invoice.id).totals == invoice.totals
    assert [line.name for line in app.billing.pending_lines(who.id)] == ["Credit pack"]


def test_usage_based_lines_come_from_charges_only(app: App, snapshot: Snapshot) -> None:
    who = customer(app)
    before = snapshot()
    with pytest.raises(Exception, match="usage-based lines are created by their charges"):
        app.billing.add_line(
            who.id,
            engine="charge_usagebased",
            name="sneaky",
            price={"type": "unit", "amount": "1"},
            service_period=PERIOD,
        )
    assert snapshot() == before


class ExplodingSource(DatabaseLedger):
    def allocate(self, request: Any) -> Any:
        raise RuntimeError("ledger unavailable")


@pytest.fixture
def exploding_app(database_url: str, clock: FrozenClock) -> Iterator[App]:
    application = open_app(database_url, clock=clock, migrate=False, ledger=ExplodingSource)
    yield application
    application.close()


def test_a_failure_inside_on_standard_invoice_created_leaves_the_line_and_rolls_back(
    database: SqlDatabase, exploding_app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    app = exploding_app
    charge_id = charge_in(app, database, clock, CTI, S.ACTIVE)
    who = app.charges.get(charge_id).intent.customer_id
    clock.set("2026-02-01T00:00:00Z")
    before = snapshot()
    with pytest.raises(NoLinesToInvoiceError, match="RuntimeError: ledger unavailable"):
        app.billing.invoice_pending_lines(who)
    assert snapshot() == before
    assert app.billing.list_invoices() == []
    assert [line.charge_id for line in app.billing.pending_lines(who)] == [charge_id]
    assert app.charges.get(charge_id).state.status is S.ACTIVE


def test_a_standard_line_without_a_charge_is_refused_by_the_usage_based_engine(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    _, invoice_id, _ = invoiced(database, app, clock)
    with database.unit_of_work() as uow:
        invoice = uow.invoices.get(invoice_id)
        orphan = invoice.lines[0].model_copy(update={"charge_id": None})
        op = Operation(uow, clock.now(), DatabaseLedger(uow))
        with pytest.raises(InvalidLineError, match="charge_id"):
            LINE_ENGINES[orphan.engine].on_standard_invoice_created(op, invoice, [orphan])


def test_two_gathering_lines_of_one_charge_are_both_left_behind(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    charge_id = charge_in(app, database, clock, CTI, S.ACTIVE)
    who = app.charges.get(charge_id).intent.customer_id
    [line] = app.billing.pending_lines(who)
    with database.unit_of_work() as uow:
        uow.invoices.add_lines([line.model_copy(update={"id": "duplicate-line"})])
        uow.commit()
    clock.set("2026-02-01T00:00:00Z")
    before = snapshot()
    with pytest.raises(NoLinesToInvoiceError) as nothing:
        app.billing.invoice_pending_lines(who)
    assert [left.endswith(f"charge {charge_id} has 2 lines") for left in nothing.value.left] == [
        True,
        True,
    ]
    assert snapshot() == before


def test_the_schema_holds_the_line_link_constraints(database: SqlDatabase, app: App) -> None:
    inspector = sa.inspect(database.engine)
    [foreign_key] = [
        fk
        for fk in inspector.get_foreign_keys("charge_usage_based_runs")
        if fk["referred_table"] == "billing_invoice_lines"
    ]
    assert foreign_key["constrained_columns"] == ["line_id"]
    assert foreign_key["options"].get("ondelete", "").upper() == "SET NULL"
    unique = [
        index
        for index in inspector.get_indexes("charge_usage_based_runs")
        if index["column_names"] == ["line_id"]
    ]
    assert unique and unique[0]["unique"]


@pytest.mark.parametrize(
    "service_period",
    [None, ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"), ("2026-01-01T00:00:00Z",)],
)
def test_a_line_with_a_malformed_service_period_is_refused(
    app: App, snapshot: Snapshot, service_period: Any
) -> None:
    who = customer(app)
    before = snapshot()
    with pytest.raises(InvalidInputError, match="invalid Period"):
        app.billing.add_line(
            who.id,
            engine="charge_flatfee",
            name="Platform fee",
            price={"type": "flat", "amount": "20"},
            service_period=service_period,
        )
    assert snapshot() == before


def test_the_audit_log_keeps_invoice_created_as_text_and_json(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    made = charge(app, who.id, CTI)
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    [created] = [t for t in app.charges.history(made.id) if t.trigger is Trigger.INVOICE_CREATED]
    assert created.arguments["line_id"] == invoice.lines[0].id
    assert created.arguments["invoice_id"] == invoice.id
    assert json.loads(created.arguments["service_period"]) == {
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-02-01T00:00:00Z",
    }


def test_invoicing_and_collection_send_no_statement_per_line(app: App, clock: FrozenClock) -> None:
    """An invoice's lines, their charges, runs, credits and audit records are read and written
    a fixed number of statements each, however many lines it has: six lines (of charges sharing
    the feature and the period, so their usage is read once) take as many as two."""
    counts: list[tuple[int, int]] = []
    for lines in (2, 6):
        clock.set("2025-12-01T00:00:00Z")
        who = customer(app, feature=not counts)
        app.credits.grant(who.id, amount="100")
        for _ in range(lines):
            charge(app, who.id, CTI)
        app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-15T00:00:00Z")
        clock.set(PERIOD[0])
        app.charges.advance_due()
        clock.set("2026-02-01T12:00:00Z")
        with statements() as invoicing:
            [invoice] = app.billing.invoice_pending_lines(who.id)
        clock.set("2026-02-03T00:01:00Z")
        with statements() as collecting:
            app.billing.advance_invoice(invoice.id)
        counts.append((invoicing.total, collecting.total))
    assert counts[0] == counts[1]
