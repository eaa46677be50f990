"""Builders shared by the tests: the worked examples' world, charges, standard lines, and
charges standing in any status of either machine."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from chargeflow import App, FrozenClock
from chargeflow.cli import main
from chargeflow.domain.charge import SettlementMode, UsageBasedCharge
from chargeflow.domain.customer import Customer
from chargeflow.domain.ids import new_id
from chargeflow.domain.invoices import Invoice, InvoiceKind, InvoiceStatus, LineStatus
from chargeflow.domain.periods import Period
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import to_instant
from chargeflow.domain.triggers import DeletePolicy, InvoiceCreated, Trigger, TriggerArgument
from chargeflow.domain.usage import UsageEvent
from chargeflow.engines import charge_lifecycle
from chargeflow.engines.ledger import DatabaseLedger
from chargeflow.engines.operation import Operations
from chargeflow.persistence.sql import SqlDatabase

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


def standard_line(database: SqlDatabase, charge_id: str) -> tuple[str, str]:
    """Move the charge's gathering line onto a new standard invoice, as invoicing's steps 2-5
    do, without telling the charge (step 6); the line's and the invoice's ids. For firing
    `invoice_created` by hand."""
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
    return line.id, invoice.id


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
    `processing`, `completed`; credit_then_invoice's `started`, `issuing`, `completed`) are
    reached the way a crash between two hops would leave them: the charge is driven to the next
    resting status and its persisted status is set back.
    """
    who = customer(app)
    clock.set("2025-12-01T00:00:00Z")
    made = charge(app, who.id, mode)
    app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-15T00:00:00Z")
    for reach, rests_in in _CO_STEPS if mode is CO else _CTI_STEPS:
        if status in rests_in:
            break
        reach(app, clock, who.id, made.id)
    if status is S.DELETED:
        app.charges.delete(made.id, policy=DeletePolicy.IGNORE)
    elif app.charges.get(made.id).state.status is not status:
        set_status(database, made.id, status)
    return made.id


Step = Callable[[App, FrozenClock, str, str], object]


def _activate(app: App, clock: FrozenClock, customer_id: str, charge_id: str) -> object:
    clock.set(PERIOD[0])
    return app.charges.advance(charge_id)


def _realize(app: App, clock: FrozenClock, customer_id: str, charge_id: str) -> object:
    clock.set("2026-02-01T12:00:00Z")
    return app.charges.advance(charge_id)


def _finalize(app: App, clock: FrozenClock, customer_id: str, charge_id: str) -> object:
    clock.set("2026-02-03T00:01:00Z")
    return app.charges.advance(charge_id)


def _invoice(app: App, clock: FrozenClock, customer_id: str, charge_id: str) -> object:
    clock.set("2026-02-01T12:00:00Z")
    return app.billing.invoice_pending_lines(customer_id)


def _collect(app: App, clock: FrozenClock, customer_id: str, charge_id: str) -> object:
    clock.set("2026-02-03T00:01:00Z")
    return app.billing.advance_due()


def _approve(app: App, clock: FrozenClock, customer_id: str, charge_id: str) -> object:
    [invoice] = app.billing.list_invoices(customer_id)
    return app.billing.approve_invoice(invoice.id)


def _pay(app: App, clock: FrozenClock, customer_id: str, charge_id: str) -> object:
    [invoice] = app.billing.list_invoices(customer_id)
    return app.billing.record_payment(invoice.id, "paid")


_CO_STEPS: tuple[tuple[Step, frozenset[ChargeStatus]], ...] = (
    (_activate, frozenset({S.CREATED})),
    (_realize, frozenset({S.ACTIVE, S.DELETED})),
    (_finalize, frozenset({S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION})),
)
"""How a credit_only charge is driven, and in which statuses it stops short of each step (a
deleted charge is deleted once active)."""

_CTI_STEPS: tuple[tuple[Step, frozenset[ChargeStatus]], ...] = (
    (_activate, frozenset({S.CREATED})),
    (_invoice, frozenset({S.ACTIVE, S.DELETED})),
    (_collect, frozenset({S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION})),
    (_approve, frozenset({S.REALIZATION_PROCESSING})),
    (
        _pay,
        frozenset({S.REALIZATION_ISSUING, S.REALIZATION_COMPLETED, S.AWAITING_PAYMENT_SETTLEMENT}),
    ),
)
"""How a credit_then_invoice charge is driven, and where it stops short of each step."""


def legacy_usage(
    database: SqlDatabase,
    customer_id: str,
    value: str,
    event_time: str,
    stored_at: str | None = None,
) -> None:
    """Store a usage event as an earlier version could (a negative correction, which the API
    now refuses), under the live feature."""
    with database.unit_of_work() as uow:
        feature = uow.features.live_by_key(FEATURE)
        assert feature is not None
        uow.usage.add(
            UsageEvent.model_construct(
                id=new_id(),
                customer_id=customer_id,
                feature_key=FEATURE,
                feature_id=feature.id,
                value=Decimal(value),
                event_time=to_instant(event_time),
                stored_at=to_instant(stored_at or event_time),
            )
        )
        uow.commit()


def fire_as_billing(
    database: SqlDatabase,
    clock: FrozenClock,
    charge_id: str,
    trigger: Trigger,
    argument: TriggerArgument | None,
) -> None:
    """Fire one of billing's triggers at the charge the way billing's line engine does:
    through the driver, inside one operation, with the invoice's facts as `argument`."""
    with Operations(database.unit_of_work, clock, DatabaseLedger, wall_clock=clock)() as op:
        charge_lifecycle.fire(op, op.uow.charges.get(charge_id, lock=True), trigger, argument)


def invoice_created(
    line_id: str, invoice_id: str, period: tuple[str, str] = PERIOD
) -> InvoiceCreated:
    """The argument of `invoice_created` for a line over `period`."""
    return InvoiceCreated(
        line_id=line_id, invoice_id=invoice_id, service_period=Period.model_validate(period)
    )


class Terminal:
    """Runs `chargeflow` against one database as a user would, at `--now`, capturing its
    output: `run` gives (exit code, stdout, stderr); `json` the parsed output of ``--json``."""

    def __init__(self, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.database_url = database_url
        self.capsys = capsys

    def run(self, *args: str, now: str = "2025-12-01T00:00:00Z") -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["--database", self.database_url, "--now", now, *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, *args: str, now: str = "2025-12-01T00:00:00Z") -> Any:
        code, stdout, stderr = self.run("--json", *args, now=now)
        assert code == 0, stderr
        return json.loads(stdout)
