"""Charges as the driver sees them: the machine of their settlement mode, their actions, and
how a transition is persisted (the state columns) and audited (a charge transition record)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.effects import InvoiceEffect
from chargeflow.domain.history import ChargeTransition
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import format_instant
from chargeflow.domain.triggers import PeriodChange, Trigger, TriggerArgument
from chargeflow.engines import charge_actions, driver, invoice_effects
from chargeflow.engines.operation import Operation
from chargeflow.statemachines.actions import ChargeAction
from chargeflow.statemachines.registry import CHARGE_MACHINES, ChargeMachine


class ChargeLifecycle:
    """The `Lifecycle` of usage-based charges."""

    def machine(self, charge: UsageBasedCharge) -> ChargeMachine:
        """The bound machine of the charge's settlement mode (a charge's status is always one
        of its mode's: `UsageBasedCharge` refuses any other when built)."""
        return CHARGE_MACHINES[charge.intent.settlement_mode]

    def status(self, charge: UsageBasedCharge) -> ChargeStatus:
        """The charge's persisted status."""
        return charge.state.status

    def perform(
        self,
        op: Operation,
        charge: UsageBasedCharge,
        trigger: Trigger,
        action: ChargeAction,
        argument: TriggerArgument | None,
    ) -> Sequence[InvoiceEffect]:
        """Run a charge action (`engines.charge_actions`)."""
        return charge_actions.perform(op, charge, trigger, action, argument)

    def audit(self, charge: UsageBasedCharge, argument: TriggerArgument | None) -> dict[str, str]:
        """The argument's fields as text; a period change also keeps the end it moves from
        (``previous_to``)."""
        audit = argument.audit() if argument is not None else {}
        if isinstance(argument, PeriodChange):
            audit["previous_to"] = format_instant(charge.intent.service_period.end)
        return audit

    def moved(
        self,
        op: Operation,
        charge: UsageBasedCharge,
        transition: tuple[ChargeStatus, Trigger, ChargeStatus],
        audit: Mapping[str, str],
    ) -> None:
        """Store the new status with the rest of the charge's state, and audit the move.

        The status is set only now, so an action's error names the status the refused
        transition started from (an internal row's action sets it last, itself)."""
        charge.state.status = transition[2]
        op.uow.charges.save_state(charge)
        op.uow.history.record_charge(
            op.transition_record(ChargeTransition, charge.id, transition, audit)
        )


CHARGES = ChargeLifecycle()
"""The one charge lifecycle the driver is handed."""


def fire(
    op: Operation, charge: UsageBasedCharge, trigger: Trigger, argument: TriggerArgument | None
) -> None:
    """Fire one trigger at `charge` through the driver, then apply the invoice effects it
    produced (no advance afterwards)."""
    driver.fire(op, CHARGES, charge, trigger, argument)
    invoice_effects.apply(op)


def advance(op: Operation, charge: UsageBasedCharge) -> bool:
    """Advance `charge` until stable, applying the invoice effects of each step before the
    next; whether it moved."""
    moved = False
    while driver.advance(op, CHARGES, charge):
        moved = True
        if not invoice_effects.apply(op):
            break
    return moved
