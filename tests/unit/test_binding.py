"""The binding: one `transitions.Machine` per spec, charges bound without constructing one,
refusals raised as typed errors, entry actions before activation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import transitions

from chargeflow.domain.charge import ChargeIntent, UsageBasedCharge
from chargeflow.domain.errors import GuardFailedError, TriggerNotPermittedError
from chargeflow.domain.periods import Period
from chargeflow.domain.statuses import ChargeStatus as S
from chargeflow.domain.triggers import InvoiceCreated, Trigger
from chargeflow.domain.validation import build
from chargeflow.statemachines.actions import ChargeAction
from chargeflow.statemachines.registry import CHARGE_MACHINES, CHARGE_SPECS

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = Period.model_validate(("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"))
CREATED = InvoiceCreated(line_id="line-1", invoice_id="invoice-1", service_period=PERIOD)


def a_charge(mode: str = "credit_only", status: S = S.CREATED) -> UsageBasedCharge:
    intent = build(
        ChargeIntent,
        customer_id="c",
        currency="USD",
        feature_key="f",
        service_period=("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        settlement_mode=mode,
        price={"type": "unit", "amount": "1"},
    )
    charge = UsageBasedCharge(intent=intent, created_at=JAN_1)
    charge.state.status = status
    return charge


def no_actions(action: ChargeAction, arguments: Any) -> None:
    """Entry actions are the engine's business: here they do nothing."""


def test_binding_a_charge_constructs_no_machine_and_registers_no_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    machine = CHARGE_MACHINES[a_charge().intent.settlement_mode]

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Machine was constructed per charge")

    monkeypatch.setattr(transitions.Machine, "__init__", forbidden)
    for _ in range(3):
        charge = a_charge()
        assert machine.fire(charge, S.CREATED, Trigger.NEXT, JAN_1, no_actions) is S.ACTIVE
    assert machine._machine.models == []


def test_machines_are_built_once_per_spec_without_auto_transitions() -> None:
    for mode, machine in CHARGE_MACHINES.items():
        assert machine.spec is CHARGE_SPECS[mode]
        assert set(machine._machine.events) == {t.value for t in machine.spec.triggers()}


def test_an_unknown_trigger_for_the_mode_raises_not_permitted_with_context() -> None:
    charge = a_charge("credit_only", S.ACTIVE)
    with pytest.raises(TriggerNotPermittedError) as refused:
        CHARGE_MACHINES[charge.intent.settlement_mode].fire(
            charge,
            S.ACTIVE,
            Trigger.INVOICE_CREATED,
            JAN_1,
            no_actions,
            argument=InvoiceCreated(line_id="l", invoice_id="i", service_period=PERIOD),
        )
    assert (refused.value.charge_id, refused.value.status, refused.value.trigger) == (
        charge.id,
        "active",
        "invoice_created",
    )
    assert charge.id in str(refused.value)


def test_a_failing_guard_raises_guard_failed_naming_the_guard() -> None:
    charge = a_charge()
    before = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    machine = CHARGE_MACHINES[charge.intent.settlement_mode]
    with pytest.raises(GuardFailedError, match="inside service period") as refused:
        machine.fire(charge, S.CREATED, Trigger.NEXT, before, no_actions)
    assert refused.value.guard == "inside service period"
    assert not machine.permits(charge, S.CREATED, Trigger.NEXT, before)
    assert machine.permits(charge, S.CREATED, Trigger.NEXT, JAN_1)


def test_entry_actions_receive_the_typed_trigger_argument() -> None:
    charge = a_charge("credit_then_invoice", S.ACTIVE)
    seen: list[tuple[ChargeAction, object | None]] = []
    machine = CHARGE_MACHINES[charge.intent.settlement_mode]
    dest = machine.fire(
        charge,
        S.ACTIVE,
        Trigger.INVOICE_CREATED,
        datetime(2026, 2, 1, tzinfo=UTC),
        lambda action, argument: seen.append((action, argument)),
        argument=CREATED,
    )
    assert dest is S.REALIZATION_STARTED
    assert seen == [(ChargeAction.START_INVOICE_RUN, CREATED)]
