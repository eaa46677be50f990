"""Builders shared by the tests: the worked examples' world, charges, standard lines, and
charges standing in any status of either machine."""

from __future__ import annotations

from typing import Any

from chargeflow import App, FrozenClock
from domain.charge import SettlementMode, UsageBasedCharge
from domain.customer import Customer
from domain.invoices import Invoice, InvoiceKind, InvoiceStatus, LineStatus
from domain.statuses import ChargeStatus
from domain.triggers import DeletePolicy
from persistence.sql import SqlDatabase

PERIOD = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
FEATURE = "api_requests"
UNIT_1 = {"type": "unit", "amount": "1.00"}
UNIT_010 = {"type": "unit", "amount": "0.10"}
CO = SettlementMode.CREDIT_ONLY
CTI = SettlementMode.CREDIT_THEN_INVOICE

S = ChargeStatus


def customer(app: App, collection_interval: str = "P2D", feature: bool = True) -> Customer:
    """The worked examples' customer (USD, collection interval P2D), and their feature."""
    created = app.customers.create(
        name="Acme", currency="USD", collection_interval=collection_interval
    )
    if feature:
        app.features.create(key=FEATURE)
    return created


def charge(
    app: App,
    customer_id: str,
    mode: SettlementMode = CO,
    price: dict[str, Any] | None = None,
) -> UsageBasedCharge:
    """A charge over January 2026 for the feature (unit 1.00 credit_only, 0.10 otherwise)."""
    return app.charges.create(
        customer_id=customer_id,
        feature_key=FEATURE,
        service_period=PERIOD,
        settlement_mode=mode,
        price=price or (UNIT_1 if mode is CO else UNIT_010),
    )


def standard_line(database: SqlDatabase, charge_id: str) -> str:
    """Move the charge's gathering line onto a new standard invoice, as invoicing's steps 2-5
    do, without telling the charge (step 6); the line's id. For firing `invoice_created` by
    hand."""
    with database.unit_of_work() as uow:
        stored = uow.charges.get(charge_id)
        [line] = [
            line
            for line in uow.invoices.pending_lines(stored.intent.customer_id)
            if line.charge_id == charge_id
        ]
        invoice = Invoice(
            customer_id=line.customer_id,
            currency=line.currency,
            kind=InvoiceKind.STANDARD,
            status=InvoiceStatus.DRAFT_CREATED,
            collection_at=line.invoice_at,
            created_at=line.created_at,
        )
        uow.invoices.add(invoice)
        uow.invoices.remove_lines([line.id])
        uow.invoices.add_lines(
            [line.model_copy(update={"invoice_id": invoice.id, "status": LineStatus.STANDARD})]
        )
        uow.commit()
    return line.id


def set_status(database: SqlDatabase, charge_id: str, status: ChargeStatus) -> None:
    """Rewrite the persisted status, as a crash between two hops would have left it."""
    with database.unit_of_work() as uow:
        stored = uow.charges.get(charge_id, lock=True)
        stored.state.status = status
        uow.charges.save_state(stored)
        uow.commit()


def charge_in(
    app: App, database: SqlDatabase, clock: FrozenClock, mode: SettlementMode, status: ChargeStatus
) -> str:
    """A persisted charge standing in `status`, with the runs and state that status implies,
    usage of 10 recorded in mid-January; the clock is left where the charge got there.

    Statuses a charge passes through within one operation (credit_only's `started`,
    `processing`, `completed`; credit_then_invoice's `started` and `processing`) are reached
    the way a crash between two hops would leave them: the charge is driven to the next
    resting status and its persisted status is set back.
    """
    who = customer(app)
    clock.set("2025-12-01T00:00:00Z")
    made = charge(app, who.id, mode)
    app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-15T00:00:00Z")
    if status is S.CREATED:
        return made.id
    clock.set(PERIOD[0])
    app.charges.advance(made.id)
    if status is S.ACTIVE:
        return made.id
    if status is S.DELETED:
        app.charges.delete(made.id, policy=DeletePolicy.IGNORE)
        return made.id
    clock.set("2026-02-01T12:00:00Z")
    if mode is CO:
        app.charges.advance(made.id)
    else:
        [invoice] = app.billing.invoice_pending_lines(who.id)
    if status in (S.FINAL_REALIZATION_STARTED, S.FINAL_REALIZATION_WAITING_FOR_COLLECTION):
        set_status(database, made.id, status)
        return made.id
    clock.set("2026-02-03T00:01:00Z")
    if mode is CO:
        app.charges.advance(made.id)
    else:
        app.billing.advance_invoice(invoice.id)
    set_status(database, made.id, status)
    return made.id
