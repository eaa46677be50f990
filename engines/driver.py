"""The charge driver: fire a trigger, activate the new status, advance until stable.

This is where the machines' decisions meet the engine's mechanics. A transition is
"fire, then activate": the bound machine checks the trigger and guard and runs the row's entry
actions; the driver then runs the new status's activation actions, persists the charge's state
and appends one `charge_transitions` record, all in the operation's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.charge import UsageBasedCharge
from domain.errors import CorruptRecordError
from domain.history import TransitionRecord
from domain.triggers import Trigger
from engines.charge_actions import perform
from engines.operation import Operation
from statemachines.actions import ChargeAction
from statemachines.registry import CHARGE_MACHINES, ChargeMachine


def machine_for(charge: UsageBasedCharge) -> ChargeMachine:
    """The bound machine of the charge's settlement mode, checking the charge's status is one
    of that machine's (a credit_then_invoice charge can never be `final`)."""
    machine = CHARGE_MACHINES[charge.intent.settlement_mode]
    if charge.state.status not in machine.spec.statuses:
        raise CorruptRecordError(
            "charge_usage_based",
            charge.id,
            f"status {charge.state.status.value!r} does not exist in the "
            f"{machine.spec.name} machine",
        )
    return machine


def can_fire(op: Operation, charge: UsageBasedCharge, trigger: Trigger) -> bool:
    """Whether `trigger` may fire at `charge` now."""
    return machine_for(charge).permits(charge, charge.state.status, trigger, op.now)


def fire(
    op: Operation,
    charge: UsageBasedCharge,
    trigger: Trigger,
    arguments: Mapping[str, Any] | None = None,
) -> None:
    """Fire `trigger` (with `arguments`), activate the status reached, persist, audit.

    Raises the typed refusal from the machine, or any error of an action; the caller's unit of
    work then rolls back, so a refused trigger changes nothing.
    """
    machine = machine_for(charge)
    source = charge.state.status

    def run_entry(action: ChargeAction, entry_arguments: Mapping[str, Any]) -> None:
        perform(op, charge, trigger, action, entry_arguments)

    dest = machine.fire(charge, source, trigger, op.now, run_entry, arguments)
    for action in machine.spec.activation_of(dest):
        perform(op, charge, trigger, action, {})
    # Set only now, so an action's error names the status the refused transition started from.
    charge.state.status = dest
    op.uow.charges.save_state(charge)
    op.uow.history.record(
        TransitionRecord(
            charge_id=charge.id,
            from_status=source,
            to_status=dest,
            trigger=trigger,
            arguments={key: str(value) for key, value in (arguments or {}).items()},
            at=op.now,
        )
    )


def advance(op: Operation, charge: UsageBasedCharge) -> bool:
    """Fire the continuation trigger while it may fire; whether anything moved."""
    machine = machine_for(charge)
    continuation = machine.spec.continuation
    advanced = False
    while machine.permits(charge, charge.state.status, continuation, op.now):
        fire(op, charge, continuation)
        advanced = True
    return advanced
