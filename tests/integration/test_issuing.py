"""Invoices are issued and paid, and credit_then_invoice charges settle to `final`
(docs/lifecycle.md sections 5, 6, 8 and 9), on both databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from chargeflow import (
    AdvanceReport,
    App,
    FrozenClock,
    InvalidInputError,
    LedgerError,
    PaymentAlreadyAuthorizedError,
    PaymentAlreadySettledError,
    TriggerNotPermittedError,
    open_app,
)
from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.invoices import Invoice, InvoiceStatus
from chargeflow.domain.runs import PaymentStatus
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.engines.ledger import DatabaseLedger
from chargeflow.persistence.ports import UnitOfWork
from chargeflow.persistence.sql import SqlDatabase
from tests.conftest import Snapshot
from tests.factories import CO, CTI, FEATURE, charge, customer

S = ChargeStatus
I = InvoiceStatus  # noqa: E741


def invoiced(
    app: App, clock: FrozenClock, *, grant: str | None = None, usage: int = 100, **profile: bool
) -> tuple[str, Invoice]:
    """A credit_then_invoice charge (unit price 0.10) invoiced and collected: its id, and its
    invoice as collection left it."""
    who = app.customers.create(name="Acme", currency="USD", collection_interval="P2D", **profile)
    app.features.create(key=FEATURE)
    if grant:
        app.credits.grant(who.id, amount=grant)
    made = charge(app, who.id, CTI)
    if usage:
        app.usage.record(who.id, FEATURE, value=usage, event_time="2026-01-15T00:00:00Z")
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    clock.set("2026-02-03T00:01:00Z")
    return made.id, app.billing.advance_invoice(invoice.id)


def test_an_unpaid_charge_waits_for_its_payment(app: App, clock: FrozenClock) -> None:
    charge_id, invoice = invoiced(app, clock)
    assert app.billing.approve_invoice(invoice.id).status is I.PAYMENT_PENDING
    waiting = app.charges.get(charge_id)
    assert waiting.state.status is S.AWAITING_PAYMENT_SETTLEMENT
    assert waiting.state.advance_after is None
    clock.set("2027-01-01T00:00:00Z")
    assert app.charges.advance_due().advanced == []
    assert app.charges.get(charge_id).state.status is S.AWAITING_PAYMENT_SETTLEMENT


def test_a_fully_credited_charge_is_final_on_approval_without_a_payment(
    app: App, clock: FrozenClock
) -> None:
    charge_id, invoice = invoiced(app, clock, grant="50.00")
    assert invoice.totals.total == 0
    approved = app.billing.approve_invoice(invoice.id)
    assert approved.status is I.PAID
    assert approved.issued_at == clock.now()
    final = app.charges.get(charge_id)
    assert final.state.status is S.FINAL
    [run] = final.runs
    assert run.no_fiat_transaction_required
    assert run.invoice_usage is not None and run.invoice_usage.ledger_reference is None
    assert run.payment is None


def test_auto_approval_issues_the_invoice_as_soon_as_collection_completes(
    app: App, clock: FrozenClock
) -> None:
    charge_id, invoice = invoiced(app, clock, auto_approve=True)
    assert invoice.status is I.PAYMENT_PENDING
    assert app.charges.get(charge_id).state.status is S.AWAITING_PAYMENT_SETTLEMENT


def test_a_direct_payment_authorizes_first_and_settles(app: App, clock: FrozenClock) -> None:
    charge_id, invoice = invoiced(app, clock)
    app.billing.approve_invoice(invoice.id)
    assert app.billing.record_payment(invoice.id, "paid").status is I.PAID
    [run] = app.charges.get(charge_id).runs
    assert run.payment is not None
    assert (run.payment.status, run.payment.amount) == (PaymentStatus.SETTLED, Decimal("10.00"))
    assert run.payment.authorized_at == run.payment.settled_at == clock.now()
    assert run.payment.authorization_reference and run.payment.settlement_reference
    assert app.charges.get(charge_id).state.status is S.FINAL


def test_a_payment_recorded_twice_is_refused_and_changes_nothing(
    app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    _, invoice = invoiced(app, clock)
    app.billing.approve_invoice(invoice.id)
    app.billing.record_payment(invoice.id, "authorized")
    before = snapshot()
    with pytest.raises(PaymentAlreadyAuthorizedError):
        app.billing.record_payment(invoice.id, "authorized")
    assert snapshot() == before
    app.billing.record_payment(invoice.id, "paid")
    before = snapshot()
    with pytest.raises(PaymentAlreadySettledError):
        app.billing.record_payment(invoice.id, "paid")
    with pytest.raises(PaymentAlreadyAuthorizedError):
        app.billing.record_payment(invoice.id, "authorized")
    with pytest.raises(InvalidInputError, match="'authorized' or 'paid'"):
        app.billing.record_payment(invoice.id, "refunded")
    assert snapshot() == before


def test_an_invoice_is_approved_or_paid_only_in_its_turn(
    app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    _, invoice = invoiced(app, clock)
    before = snapshot()
    with pytest.raises(TriggerNotPermittedError) as refused:
        app.billing.record_payment(invoice.id, "paid")
    assert (refused.value.subject, refused.value.status) == (
        "invoice",
        "draft.manual_approval_needed",
    )
    app.billing.approve_invoice(invoice.id)
    with pytest.raises(TriggerNotPermittedError):
        app.billing.approve_invoice(invoice.id)
    assert snapshot() != before


class _Forgetful(DatabaseLedger):
    """A ledger that answers an accrual without a reference."""

    def invoice_usage_accrued(self, *facts: object) -> str:
        return " "


@pytest.fixture
def forgetful_app(database_url: str, clock: FrozenClock) -> Iterator[App]:
    application = open_app(database_url, clock=clock, migrate=False, ledger=_Forgetful)
    yield application
    application.close()


def test_an_accrual_without_a_ledger_reference_refuses_the_issue(
    forgetful_app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    _, invoice = invoiced(forgetful_app, clock)
    before = snapshot()
    with pytest.raises(LedgerError, match="empty accrual reference"):
        forgetful_app.billing.approve_invoice(invoice.id)
    assert snapshot() == before


def test_the_invoice_sweep_collects_every_due_invoice_and_isolates_failures(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    first, first_invoice = _draft(app, clock, "Acme")
    second, second_invoice = _draft(app, clock, "Globex")
    with database.unit_of_work() as uow:  # a run lost by an outside hand: collection fails
        _drop_current_run(uow, second)
        uow.commit()
    clock.set("2026-02-03T00:00:59Z")  # not due before their collection time
    assert app.billing.advance_due() == AdvanceReport()
    clock.set("2026-02-03T00:01:00Z")
    report = app.billing.advance_due()
    assert report.advanced == [first_invoice]
    assert list(report.failed) == [second_invoice]
    assert app.billing.get_invoice(first_invoice).status is I.DRAFT_MANUAL_APPROVAL_NEEDED
    assert app.billing.get_invoice(second_invoice).status is I.DRAFT_CREATED  # rolled back
    assert app.charges.get(first).state.status is S.REALIZATION_PROCESSING
    assert app.billing.advance_due().advanced == []


def _draft(app: App, clock: FrozenClock, name: str) -> tuple[str, str]:
    clock.set("2025-12-01T00:00:00Z")
    who = app.customers.create(name=name, currency="USD", collection_interval="P2D")
    if name == "Acme":
        app.features.create(key=FEATURE)
    made = charge(app, who.id, CTI)
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    return made.id, invoice.id


def _drop_current_run(uow: UnitOfWork, charge_id: str) -> None:
    stored: UsageBasedCharge = uow.charges.get(charge_id, lock=True)
    stored.state.current_run_id = None
    uow.charges.save_state(stored)


def test_deleting_a_charge_billed_on_a_draft_voids_its_run_and_removes_its_line(
    app: App, clock: FrozenClock
) -> None:
    charge_id, invoice = invoiced(app, clock, grant="3.00")
    who = app.charges.get(charge_id).intent.customer_id
    deleted = app.charges.delete(charge_id, policy="ignore")
    assert deleted.state.status is S.DELETED
    [run] = deleted.runs
    assert run.deleted_at == clock.now()
    assert [a.amount for a in run.allocations] == [Decimal("3.00"), Decimal("-3.00")]
    assert [a.booked_at for a in run.allocations] == [run.service_period_to] * 2
    assert (run.totals.credits_total, run.totals.total) == (Decimal(0), Decimal("10.00"))
    assert run.line_id == invoice.lines[0].id  # kept for audit
    assert app.credits.balance(who) == Decimal("3.00")
    assert app.billing.list_invoices(who) == []  # its only line went: the invoice is deleted
    assert app.billing.get_invoice(invoice.id).deleted_at == clock.now()


def test_deleting_a_charge_whose_invoice_was_issued_keeps_its_line_and_credits(
    app: App, clock: FrozenClock
) -> None:
    charge_id, invoice = invoiced(app, clock, grant="3.00")
    app.billing.approve_invoice(invoice.id)
    deleted = app.charges.delete(charge_id, policy="correct")
    [run] = deleted.runs
    assert run.deleted_at is None
    assert [a.amount for a in run.allocations] == [Decimal("3.00")]
    [kept] = app.billing.get_invoice(invoice.id).lines
    assert kept.id == run.line_id


def test_a_credit_only_charge_is_never_invoiced(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    clock.set("2026-01-01T00:00:00Z")
    charge(app, who.id, CO)
    clock.set("2026-02-03T00:01:00Z")
    app.charges.advance_due()
    assert app.billing.list_invoices(who.id) == []
    assert app.billing.pending_lines(who.id) == []


def test_a_deleted_invoice_goes_nowhere_and_the_sweep_passes_it_by(
    app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    charge_id, invoice = invoiced(app, clock)
    app.charges.delete(charge_id, policy="ignore")  # its only line: the invoice is deleted
    assert app.billing.get_invoice(invoice.id).deleted_at is not None
    before = snapshot()
    refusals: list[Callable[[], object]] = [
        lambda: app.billing.advance_invoice(invoice.id),
        lambda: app.billing.approve_invoice(invoice.id),
        lambda: app.billing.record_payment(invoice.id, "authorized"),
        lambda: app.billing.record_payment(invoice.id, "paid"),
    ]
    for refused in refusals:
        with pytest.raises(TriggerNotPermittedError, match="the invoice is deleted") as error:
            refused()
        assert (error.value.subject, error.value.status) == ("invoice", invoice.status)
    assert app.billing.advance_due() == AdvanceReport(advanced=[], failed={})
    assert snapshot() == before
