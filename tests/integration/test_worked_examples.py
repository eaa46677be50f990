"""The worked examples of docs/lifecycle.md section 15, step by step, on both databases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from chargeflow import App, FrozenClock
from domain.charge import UsageBasedCharge
from domain.statuses import ChargeStatus
from domain.timestamps import to_instant
from tests.conftest import Snapshot
from tests.factories import CO, CTI, FEATURE, charge, customer

S = ChargeStatus


def at(text: str) -> datetime:
    return to_instant(text)


def allocations(charge_state: UsageBasedCharge) -> list[Decimal]:
    return [a.amount for run in charge_state.runs for a in run.allocations]


def test_credit_only_worked_example(app: App, clock: FrozenClock, snapshot: Snapshot) -> None:
    # 2025-12-01 00:00: create charge
    who = customer(app)
    made = charge(app, who.id, CO)
    assert made.state.status is S.CREATED
    assert made.runs == []
    assert made.state.advance_after == at("2026-01-01T00:00:00Z")
    assert app.billing.pending_lines(who.id) == []
    before = snapshot()
    assert app.charges.advance(made.id) == []
    assert snapshot() == before

    # 2026-01-01 00:00: advance
    clock.set("2026-01-01T00:00:00Z")
    [active] = app.charges.advance(made.id)
    assert active.state.status is S.ACTIVE
    assert active.runs == []
    assert active.state.advance_after == at("2026-02-01T00:00:00Z")
    assert active.state.feature_id == app.features.get(FEATURE).id
    before = snapshot()
    assert app.charges.advance(made.id) == []
    assert snapshot() == before

    # 2026-02-01 12:00: record three events (two of them late), advance
    clock.set("2026-02-01T12:00:00Z")
    record = app.usage.record
    record(who.id, FEATURE, value=1, event_time="2026-01-15T00:00:00Z")
    record(
        who.id,
        FEATURE,
        value=2,
        event_time="2026-01-15T01:00:00Z",
        stored_at="2026-02-01T11:00:00Z",
    )
    record(
        who.id,
        FEATURE,
        value=3,
        event_time="2026-01-15T02:00:00Z",
        stored_at="2026-02-01T12:00:00Z",
    )
    [waiting] = app.charges.advance(made.id)
    assert waiting.state.status is S.FINAL_REALIZATION_WAITING_FOR_COLLECTION
    [run] = waiting.runs
    assert waiting.state.current_run_id == run.id
    assert run.as_of == at("2026-02-01T11:59:00Z")
    assert run.collection_end == at("2026-02-03T00:00:00Z")
    assert run.meter_value == 3
    assert (run.totals.credits_total, run.totals.total) == (Decimal(3), Decimal(0))
    assert allocations(waiting) == [Decimal(3)]
    assert waiting.state.advance_after == at("2026-02-03T00:01:00Z")

    # 2026-02-03 00:00: advance changes nothing
    clock.set("2026-02-03T00:00:00Z")
    before = snapshot()
    assert app.charges.advance(made.id) == []
    assert snapshot() == before

    # 2026-02-03 00:01: two more late events (one outside the period), advance
    clock.set("2026-02-03T00:01:00Z")
    record(
        who.id,
        FEATURE,
        value=5,
        event_time="2026-01-15T03:00:00Z",
        stored_at="2026-02-01T23:59:00Z",
    )
    record(
        who.id,
        FEATURE,
        value=7,
        event_time="2026-02-01T00:00:00Z",
        stored_at="2026-02-02T00:00:00Z",
    )
    [final] = app.charges.advance(made.id)
    assert final.state.status is S.FINAL
    [run] = final.runs
    assert run.as_of == at("2026-02-03T00:00:00Z")
    assert run.meter_value == 11
    assert (run.totals.amount, run.totals.credits_total, run.totals.total) == (
        Decimal("11.00"),
        Decimal(11),
        Decimal(0),
    )
    assert allocations(final) == [Decimal(3), Decimal(8)]
    assert final.state.current_run_id is None
    assert final.state.advance_after is None
    assert [(r.from_status, r.to_status) for r in app.charges.history(made.id)] == [
        (S.CREATED, S.ACTIVE),
        (S.ACTIVE, S.FINAL_REALIZATION_STARTED),
        (S.FINAL_REALIZATION_STARTED, S.FINAL_REALIZATION_WAITING_FOR_COLLECTION),
        (S.FINAL_REALIZATION_WAITING_FOR_COLLECTION, S.FINAL_REALIZATION_PROCESSING),
        (S.FINAL_REALIZATION_PROCESSING, S.FINAL_REALIZATION_COMPLETED),
        (S.FINAL_REALIZATION_COMPLETED, S.FINAL),
    ]


def test_credit_then_invoice_worked_example(app: App, clock: FrozenClock) -> None:
    # 2025-12-01 00:00: grant 5.00 of credit, create charge
    who = customer(app)
    app.credits.grant(who.id, amount="5.00")
    made = charge(app, who.id, CTI)
    assert made.state.status is S.CREATED
    assert made.runs == []
    [gathering] = app.billing.pending_lines(who.id)
    assert (gathering.charge_id, gathering.engine.value) == (made.id, "charge_usagebased")
    assert gathering.status.value == "gathering"

    # 2026-02-01 00:00: record 100, invoice pending lines
    clock.set("2026-02-01T00:00:00Z")
    app.usage.record(who.id, FEATURE, value=100, event_time="2026-01-15T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    [line] = invoice.lines
    assert line.id == gathering.id
    assert line.status.value == "standard"
    assert line.quantity == 100
    assert line.totals.amount == Decimal("10.00")
    assert [c.amount for c in line.credits_applied] == [Decimal("5.00")]
    assert line.totals.total == Decimal("5.00")
    assert app.billing.pending_lines(who.id) == []
    invoiced = app.charges.get(made.id)
    assert invoiced.state.status is S.FINAL_REALIZATION_WAITING_FOR_COLLECTION
    [run] = invoiced.runs
    assert run.meter_value == 100
    assert run.line_id == line.id == app.billing.get_invoice(invoice.id).lines[0].id
    assert allocations(invoiced) == [Decimal("5.00")]
    assert run.as_of == at("2026-02-01T00:00:00Z")
    assert run.collection_end == at("2026-02-03T00:00:00Z")
    assert invoice.collection_at == at("2026-02-03T00:00:00Z")

    # 2026-02-03 00:00: late usage, advance the invoice: collection runs
    clock.set("2026-02-03T00:00:00Z")
    app.usage.record(
        who.id,
        FEATURE,
        value=25,
        event_time="2026-01-20T00:00:00Z",
        stored_at="2026-02-02T12:00:00Z",
    )
    collected = app.billing.advance_invoice(invoice.id)
    assert collected.status is not None and collected.status.value == "draft.ready"
    [line] = app.billing.get_invoice(invoice.id).lines
    assert line.quantity == 125
    assert line.totals.amount == Decimal("12.50")
    assert [c.amount for c in line.credits_applied] == [Decimal("5.00")]
    assert line.totals.total == Decimal("7.50")
    assert app.billing.get_invoice(invoice.id).totals.total == Decimal("7.50")
    completed = app.charges.get(made.id)
    assert completed.state.status is S.FINAL_REALIZATION_COMPLETED
    [run] = completed.runs
    assert completed.state.current_run_id == run.id
    assert run.meter_value == 125
    assert run.line_id == line.id
    assert run.collection_end == collected.collection_at
