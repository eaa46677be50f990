"""The worked examples of docs/lifecycle.md section 15, step by step, on both databases: the
credit_only charge with cutoffs fixed in advance, and the credit_then_invoice charge issued and
paid to `final`, and the credit_then_invoice charge billed progressively in two runs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from chargeflow import App, FrozenClock, NoLinesToInvoiceError
from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.invoices import InvoiceLine, InvoiceStatus
from chargeflow.domain.runs import PaymentStatus, RunType
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import to_instant
from tests.conftest import Snapshot
from tests.factories import CO, CTI, FEATURE, charge, customer

S = ChargeStatus
I = InvoiceStatus  # noqa: E741


def at(text: str) -> datetime:
    return to_instant(text)


def allocations(charge_state: UsageBasedCharge) -> list[Decimal]:
    return [a.amount for run in charge_state.runs for a in run.allocations]


def test_credit_only_worked_example(app: App, clock: FrozenClock, snapshot: Snapshot) -> None:
    # 2025-12-01 00:00: create
    who = customer(app)
    made = charge(app, who.id, CO)
    assert made.state.status is S.CREATED
    assert made.runs == []
    assert made.state.advance_after == at("2026-01-01T00:00:00Z")
    assert app.billing.pending_lines(who.id) == []

    # 2026-01-01 00:00: advance due
    clock.set("2026-01-01T00:00:00Z")
    assert app.charges.advance_due().advanced == [made.id]
    active = app.charges.get(made.id)
    assert active.state.status is S.ACTIVE
    assert active.state.advance_after == at("2026-02-01T00:00:00Z")
    assert active.state.feature_id == app.features.get(FEATURE).id

    # 2026-02-01 12:00: record (1, 01-15 00:00), (2, 01-15 01:00, stored 02-01 11:00),
    # (4, 01-15 02:00, stored 02-03 00:00); advance due
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
        value=4,
        event_time="2026-01-15T02:00:00Z",
        stored_at="2026-02-03T00:00:00Z",
    )
    assert app.charges.advance_due().advanced == [made.id]
    waiting = app.charges.get(made.id)
    assert waiting.state.status is S.REALIZATION_WAITING_FOR_COLLECTION
    [run] = waiting.runs
    assert waiting.state.current_run_id == run.id
    assert run.type is RunType.FINAL_REALIZATION
    assert run.stored_at_lt == at("2026-02-03T00:00:00Z")
    assert run.service_period_to == at("2026-02-01T00:00:00Z")
    assert run.metered_quantity == 3
    assert (run.totals.amount, run.totals.credits_total, run.totals.total) == (
        Decimal("3.00"),
        Decimal(3),
        Decimal(0),
    )
    assert [(a.amount, a.booked_at) for a in run.allocations] == [
        (Decimal(3), at("2026-02-01T00:00:00Z"))
    ]
    assert waiting.state.advance_after == at("2026-02-03T00:01:00Z")

    # 2026-02-03 00:00: advance due changes nothing
    clock.set("2026-02-03T00:00:00Z")
    before = snapshot()
    assert app.charges.advance_due().advanced == []
    assert snapshot() == before

    # 2026-02-03 00:01: record (5, 01-15 03:00, stored 02-01 23:59), (7, 02-01 00:00, stored
    # 02-02 00:00); advance due
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
    assert app.charges.advance_due().advanced == [made.id]
    final = app.charges.get(made.id)
    assert final.state.status is S.FINAL
    [run] = final.runs
    assert run.metered_quantity == 8  # the 4 was stored at the cutoff; the 7 is outside the period
    assert (run.totals.amount, run.totals.credits_total, run.totals.total) == (
        Decimal("8.00"),
        Decimal(8),
        Decimal(0),
    )
    assert allocations(final) == [Decimal(3), Decimal(5)]
    assert run.no_fiat_transaction_required
    assert final.state.current_run_id is None
    assert final.state.advance_after is None
    assert [(r.from_status, r.to_status) for r in app.charges.history(made.id)] == [
        (S.CREATED, S.ACTIVE),
        (S.ACTIVE, S.REALIZATION_STARTED),
        (S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION),
        (S.REALIZATION_WAITING_FOR_COLLECTION, S.REALIZATION_PROCESSING),
        (S.REALIZATION_PROCESSING, S.REALIZATION_COMPLETED),
        (S.REALIZATION_COMPLETED, S.FINAL),
    ]


def test_credit_then_invoice_worked_example(app: App, clock: FrozenClock) -> None:
    # 2025-12-01 00:00: grant 5.00; create
    who = customer(app)
    app.credits.grant(who.id, amount="5.00")
    made = charge(app, who.id, CTI)
    assert made.state.status is S.CREATED
    [gathering] = app.billing.pending_lines(who.id)
    assert (gathering.charge_id, gathering.engine.value) == (made.id, "charge_usagebased")

    # 2026-02-01 00:00: record (100, 01-15); invoice pending lines
    clock.set("2026-02-01T00:00:00Z")
    app.usage.record(who.id, FEATURE, value=100, event_time="2026-01-15T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    [line] = invoice.lines
    assert line.id == gathering.id
    assert (line.quantity, line.totals.amount, line.totals.total) == (
        Decimal(100),
        Decimal("10.00"),
        Decimal("5.00"),
    )
    assert [c.amount for c in line.credits_applied] == [Decimal("5.00")]
    invoiced = app.charges.get(made.id)
    assert invoiced.state.status is S.REALIZATION_WAITING_FOR_COLLECTION
    [run] = invoiced.runs
    assert run.type is RunType.FINAL_REALIZATION
    assert run.metered_quantity == 100
    assert (run.line_id, run.invoice_id) == (line.id, invoice.id)
    assert run.stored_at_lt == at("2026-02-03T00:00:00Z")
    assert invoice.collection_at == at("2026-02-03T00:01:00Z")

    # 2026-02-03 00:01: grant 3.00; record (25, 01-20, stored 02-02 12:00); advance invoice
    clock.set("2026-02-03T00:01:00Z")
    app.credits.grant(who.id, amount="3.00")
    app.usage.record(
        who.id,
        FEATURE,
        value=25,
        event_time="2026-01-20T00:00:00Z",
        stored_at="2026-02-02T12:00:00Z",
    )
    collected = app.billing.advance_invoice(invoice.id)
    assert collected.status is I.DRAFT_MANUAL_APPROVAL_NEEDED
    [line] = collected.lines
    assert (line.quantity, line.totals.amount, line.totals.total) == (
        Decimal(125),
        Decimal("12.50"),
        Decimal("4.50"),
    )
    assert [c.amount for c in line.credits_applied] == [Decimal("5.00"), Decimal("3.00")]
    processing = app.charges.get(made.id)
    assert processing.state.status is S.REALIZATION_PROCESSING
    assert processing.state.current_run_id == run.id
    assert processing.runs[0].line_id == line.id

    # same: approve
    approved = app.billing.approve_invoice(invoice.id)
    assert approved.status is I.PAYMENT_PENDING
    awaiting = app.charges.get(made.id)
    [run] = awaiting.runs
    assert run.invoice_usage is not None
    assert (
        run.invoice_usage.totals.amount,
        run.invoice_usage.totals.credits_total,
        run.invoice_usage.totals.total,
    ) == (Decimal("12.50"), Decimal("8.00"), Decimal("4.50"))
    assert run.invoice_usage.ledger_reference
    assert awaiting.state.status is S.AWAITING_PAYMENT_SETTLEMENT
    assert awaiting.state.current_run_id is None
    assert awaiting.state.advance_after is None

    # same: payment authorized
    authorized = app.billing.record_payment(invoice.id, "authorized")
    assert authorized.status is I.PAYMENT_AUTHORIZED
    still = app.charges.get(made.id)
    assert still.state.status is S.AWAITING_PAYMENT_SETTLEMENT
    assert still.runs[0].payment is not None
    assert still.runs[0].payment.status is PaymentStatus.AUTHORIZED

    # same: payment paid
    paid = app.billing.record_payment(invoice.id, "paid")
    assert paid.status is I.PAID
    final = app.charges.get(made.id)
    assert final.runs[0].payment is not None
    assert final.runs[0].payment.status is PaymentStatus.SETTLED
    assert final.state.status is S.FINAL
    assert final.runs[0].line_id == line.id


GRADUATED = {
    "type": "tiered_graduated",
    "tiers": [
        {"up_to": 10, "unit_amount": "1.00"},
        {"up_to": 20, "unit_amount": "0.50"},
        {"up_to": None, "unit_amount": "0.25"},
    ],
}


def quantities(line: InvoiceLine) -> tuple[Decimal, Decimal, Decimal]:
    """The line's metered, pre-line and billed quantities."""
    return (line.metered_quantity, line.pre_line_quantity, line.quantity)


def details(line: InvoiceLine) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [(d.key, d.quantity, d.unit_amount, d.amount) for d in line.detailed_lines]


def test_progressive_billing_worked_example(
    app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    # 2025-12-01: create credit_then_invoice (customer with progressive billing)
    who = app.customers.create(
        name="Acme", currency="USD", collection_interval="P2D", progressive_billing=True
    )
    app.features.create(key=FEATURE)
    made = charge(app, who.id, CTI, price=GRADUATED)
    assert made.state.status is S.CREATED
    [gathering] = app.billing.pending_lines(who.id)

    # 2026-01-01 00:00: invoice pending lines -> no lines to invoice; still created, no runs
    clock.set("2026-01-01T00:00:00Z")
    before = snapshot()
    with pytest.raises(NoLinesToInvoiceError):
        app.billing.invoice_pending_lines(who.id)
    assert snapshot() == before
    assert (app.charges.get(made.id).state.status, app.charges.get(made.id).runs) == (S.CREATED, [])

    # 2026-01-16 00:00: record (15, 01-15); invoice pending lines
    clock.set("2026-01-16T00:00:00Z")
    app.usage.record(who.id, FEATURE, value=15, event_time="2026-01-15T00:00:00Z")
    [first] = app.billing.invoice_pending_lines(who.id)
    [line] = first.lines
    assert (line.service_period.start, line.service_period.end) == (
        at("2026-01-01T00:00:00Z"),
        at("2026-01-16T00:00:00Z"),
    )
    assert quantities(line) == (Decimal(15), Decimal(0), Decimal(15))
    assert details(line) == [
        ("graduated.tier-1", Decimal(10), Decimal("1.00"), Decimal("10.00")),
        ("graduated.tier-2", Decimal(5), Decimal("0.50"), Decimal("2.50")),
    ]
    assert line.totals.total == Decimal("12.50")
    assert first.collection_at == at("2026-01-16T00:01:00Z")
    [run] = app.charges.get(made.id).runs
    assert run.type is RunType.PARTIAL_INVOICE
    assert run.service_period_to == run.stored_at_lt == at("2026-01-16T00:00:00Z")
    assert (run.line_id, run.invoice_id) == (line.id, first.id)
    [rest] = app.billing.pending_lines(who.id)
    assert rest.id == gathering.id
    assert (rest.service_period.start, rest.service_period.end) == (
        at("2026-01-16T00:00:00Z"),
        at("2026-02-01T00:00:00Z"),
    )

    # 2026-01-21: record (5, 01-20); invoice pending lines -> the charge has a current run
    clock.set("2026-01-21T00:00:00Z")
    app.usage.record(who.id, FEATURE, value=5, event_time="2026-01-20T00:00:00Z")
    before = snapshot()
    with pytest.raises(NoLinesToInvoiceError, match="an active realization run already exists"):
        app.billing.invoice_pending_lines(who.id)
    assert snapshot() == before

    # same: preview -> metered 20, pre-line 15, quantity 5, total 2.50; nothing written
    preview = app.billing.preview(who.id)
    assert snapshot() == before
    [previewed] = preview.lines
    assert previewed.id == gathering.id
    assert quantities(previewed) == (Decimal(20), Decimal(15), Decimal(5))
    assert previewed.totals.total == preview.totals.total == Decimal("2.50")
    assert details(previewed) == [
        ("graduated.tier-2", Decimal(5), Decimal("0.50"), Decimal("2.50")),
    ]

    # 2026-01-21: advance the invoice; approve
    assert app.billing.advance_invoice(first.id).status is I.DRAFT_MANUAL_APPROVAL_NEEDED
    assert app.billing.approve_invoice(first.id).status is I.PAYMENT_PENDING
    active = app.charges.get(made.id)
    assert active.state.status is S.ACTIVE
    assert active.state.current_run_id is None
    assert active.state.advance_after == at("2026-02-01T00:00:00Z")

    # 2026-02-01: record (10, 01-25); invoice pending lines
    clock.set("2026-02-01T00:00:00Z")
    app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-25T00:00:00Z")
    [second] = app.billing.invoice_pending_lines(who.id)
    [line] = second.lines
    assert line.id == gathering.id
    assert (line.service_period.start, line.service_period.end) == (
        at("2026-01-16T00:00:00Z"),
        at("2026-02-01T00:00:00Z"),
    )
    assert quantities(line) == (Decimal(30), Decimal(15), Decimal(15))
    assert details(line) == [
        ("graduated.tier-2", Decimal(5), Decimal("0.50"), Decimal("2.50")),
        ("graduated.tier-3", Decimal(10), Decimal("0.25"), Decimal("2.50")),
    ]
    assert line.totals.total == Decimal("5.00")
    runs = app.charges.get(made.id).runs
    assert [r.type for r in runs] == [RunType.PARTIAL_INVOICE, RunType.FINAL_REALIZATION]
    assert app.billing.pending_lines(who.id) == []

    # 2026-02-03 00:01: advance the second invoice; approve it
    clock.set("2026-02-03T00:01:00Z")
    assert app.billing.advance_invoice(second.id).status is I.DRAFT_MANUAL_APPROVAL_NEEDED
    app.billing.approve_invoice(second.id)
    assert app.charges.get(made.id).state.status is S.AWAITING_PAYMENT_SETTLEMENT

    # same: second invoice paid -> still awaiting (the first is unpaid)
    app.billing.record_payment(second.id, "paid")
    assert app.charges.get(made.id).state.status is S.AWAITING_PAYMENT_SETTLEMENT

    # same: first invoice paid -> final
    app.billing.record_payment(first.id, "paid")
    final = app.charges.get(made.id)
    assert final.state.status is S.FINAL
    assert [r.payment.status for r in final.runs if r.payment] == [PaymentStatus.SETTLED] * 2
