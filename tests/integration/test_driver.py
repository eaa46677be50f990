"""The one driver: invoices are driven and audited like charges, and invoice effects stop the
advance until the caller applies them (an operation never commits with effects unapplied)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from chargeflow import App, FrozenClock, UnappliedEffectsError
from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.effects import DeleteGatheringLine, InvoiceEffect
from chargeflow.domain.errors import InvalidTriggerArgumentError
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.triggers import (
    Delete,
    DeletePolicy,
    InvoiceCreated,
    InvoiceIssued,
    Trigger,
    TriggerArgument,
)
from chargeflow.engines import charge_lifecycle, driver, invoice_effects
from chargeflow.engines.charge_lifecycle import CHARGES, ChargeLifecycle
from chargeflow.engines.ledger import DatabaseLedger
from chargeflow.engines.operation import Operation, Operations
from chargeflow.persistence.sql import SqlDatabase
from chargeflow.statemachines.actions import ChargeAction
from tests.conftest import Snapshot
from tests.factories import CO, CTI, PERIOD, charge, charge_in, customer

S = ChargeStatus


def test_an_invoice_is_driven_and_audited_in_the_same_log_as_charges(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    charge(app, who.id, CTI)
    clock.set("2026-02-01T00:00:00Z")
    [invoice] = app.billing.invoice_pending_lines(who.id)
    collected_at = "2026-02-03T00:01:00Z"
    clock.set(collected_at)
    app.billing.advance_invoice(invoice.id)
    app.billing.approve_invoice(invoice.id)  # nothing was used: paid on issue
    assert [
        (record.from_status.value, record.trigger.value, record.to_status.value, record.at)
        for record in app.billing.history(invoice.id)
    ] == [
        ("draft.created", "next", "draft.waiting_for_collection", clock.now()),
        ("draft.waiting_for_collection", "next", "draft.collecting", clock.now()),
        ("draft.collecting", "next", "draft.manual_approval_needed", clock.now()),
        ("draft.manual_approval_needed", "approve", "issuing", clock.now()),
        ("issuing", "next", "paid", clock.now()),
    ]


def test_deleting_a_charge_before_it_is_invoiced_removes_its_gathering_line(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    made = charge(app, who.id, CTI)
    assert [line.charge_id for line in app.billing.pending_lines(who.id)] == [made.id]
    app.charges.delete(made.id, policy="ignore")
    assert app.billing.pending_lines(who.id) == []


class _EffectOnNext(ChargeLifecycle):
    """The charge lifecycle, but every `sync feature id` also asks to delete a gathering line."""

    def perform(
        self,
        op: Operation,
        charge: UsageBasedCharge,
        trigger: Trigger,
        action: ChargeAction,
        argument: TriggerArgument | None,
    ) -> Sequence[InvoiceEffect]:
        effects = list(super().perform(op, charge, trigger, action, argument))
        if action is ChargeAction.SYNC_FEATURE_ID:
            effects.append(DeleteGatheringLine(charge.id))
        return effects


def test_effects_stop_the_advance_and_must_be_applied_before_it_goes_on(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    made = charge(app, who.id, CTI)
    clock.set("2026-02-01T12:00:00Z")
    operations = Operations(database.unit_of_work, clock, DatabaseLedger, wall_clock=clock)
    with operations() as op:
        stored = op.uow.charges.get(made.id, lock=True)
        assert driver.advance(op, _EffectOnNext(), stored)
        assert stored.state.status is S.ACTIVE
        assert op.effects == [DeleteGatheringLine(made.id)]
        with pytest.raises(UnappliedEffectsError):
            driver.advance(op, CHARGES, stored)
        with pytest.raises(UnappliedEffectsError):
            driver.fire(op, CHARGES, stored, Trigger.NEXT)
        assert invoice_effects.apply(op)
        assert op.effects == []
    assert app.billing.pending_lines(who.id) == []


def test_an_operation_left_with_effects_unapplied_commits_nothing(
    database: SqlDatabase, app: App, clock: FrozenClock, snapshot: Snapshot
) -> None:
    who = customer(app)
    made = charge(app, who.id, CTI)
    clock.set("2026-01-01T00:00:00Z")
    before = snapshot()
    operations = Operations(database.unit_of_work, clock, DatabaseLedger, wall_clock=clock)
    with pytest.raises(UnappliedEffectsError), operations() as op:
        driver.advance(op, _EffectOnNext(), op.uow.charges.get(made.id, lock=True))
    assert snapshot() == before


def test_the_charge_lifecycle_applies_effects_between_steps(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    made = charge(app, who.id, CTI)
    clock.set("2026-01-01T00:00:00Z")
    operations = Operations(database.unit_of_work, clock, DatabaseLedger, wall_clock=clock)
    with operations() as op:
        stored = op.uow.charges.get(made.id, lock=True)
        charge_lifecycle.fire(op, stored, Trigger.DELETE, Delete(policy=DeletePolicy.IGNORE))
        assert op.effects == []
    assert app.billing.pending_lines(who.id) == []


@pytest.mark.parametrize(
    ("trigger", "arguments", "message"),
    [
        ("delete", {}, "policy is required"),
        ("delete", {"policy": "sometimes"}, "policy must be one of ['correct', 'ignore']"),
        ("delete", {"policy": "ignore", "foo": "bar"}, "foo is not an argument of delete"),
        ("next", {"foo": "bar"}, "next takes no argument, got foo"),
    ],
)
def test_trigger_arguments_are_validated_before_the_machine_is_asked(
    database: SqlDatabase,
    app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    trigger: str,
    arguments: dict[str, str],
    message: str,
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.CREATED)
    before = snapshot()
    with pytest.raises(InvalidTriggerArgumentError) as refused:
        app.charges.fire(charge_id, trigger, **arguments)
    assert message in str(refused.value)
    assert (refused.value.status, refused.value.trigger) == ("created", trigger)
    assert snapshot() == before
    assert app.charges.history(charge_id) == []


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (InvoiceCreated, {"line_id": " ", "invoice_id": "i", "service_period": PERIOD}),
        (InvoiceCreated, {"line_id": "l", "invoice_id": "i"}),
        (InvoiceCreated, {"line_id": "l", "invoice_id": "i", "service_period": PERIOD, "x": 1}),
        (InvoiceIssued, {"line_id": "l", "invoice_id": ""}),
    ],
)
def test_billing_trigger_arguments_refuse_a_missing_extra_or_empty_field(
    model: type[TriggerArgument], fields: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(fields)
