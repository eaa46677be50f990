"""The charge actions the machine specs name, one function each (docs/lifecycle.md 3-6).

The driver calls `perform` for a row's entry actions (with the trigger's typed argument) and for
a status's activation actions (without one). Each action changes the charge and its runs
through the operation, and returns the invoice effects it needs on the billing side; it never
chooses the charge's next status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.charge import SettlementMode, UsageBasedCharge
from domain.effects import DeleteGatheringLine, InvoiceEffect
from domain.errors import InvalidTriggerArgumentError
from domain.invoices import LineStatus
from domain.money import ZERO
from domain.runs import Totals
from domain.triggers import Delete, DeletePolicy, InvoiceCreated, Trigger, TriggerArgument
from engines import credits
from engines.credit_source import AllocationMode
from engines.features import current_feature_id
from engines.operation import Operation
from engines.runs import create_rated_run, finalize_run, require_current_run
from statemachines.actions import ChargeAction
from statemachines.charge_guards import INTERNAL_COLLECTION_PERIOD

FINALIZATION_DELAY = timedelta(minutes=1)
"""credit_only runs rate usage stored up to a minute before now: later events may be in flight."""

NO_EFFECTS: Sequence[InvoiceEffect] = ()


@dataclass(frozen=True)
class ActionCall:
    """One action being performed: on `charge`, within `op`, for `trigger` (with its typed
    `argument` when the action is a row's entry action)."""

    op: Operation
    charge: UsageBasedCharge
    trigger: Trigger
    argument: TriggerArgument | None

    def refuse(self, detail: str) -> InvalidTriggerArgumentError:
        """The typed refusal of this trigger's argument."""
        return InvalidTriggerArgumentError(
            self.charge.id, self.charge.state.status, self.trigger, detail
        )


def perform(
    op: Operation,
    charge: UsageBasedCharge,
    trigger: Trigger,
    action: ChargeAction,
    argument: TriggerArgument | None,
) -> Sequence[InvoiceEffect]:
    """Run `action` on `charge` within `op`; the invoice effects it needs."""
    return ACTIONS[action](ActionCall(op, charge, trigger, argument))


def _sync_feature_id(call: ActionCall) -> Sequence[InvoiceEffect]:
    call.charge.state.feature_id = current_feature_id(call.op, call.charge)
    return NO_EFFECTS


def _advance_after_period_from(call: ActionCall) -> Sequence[InvoiceEffect]:
    call.charge.state.advance_after = call.charge.intent.service_period.start
    return NO_EFFECTS


def _advance_after_period_to(call: ActionCall) -> Sequence[InvoiceEffect]:
    call.charge.state.advance_after = call.charge.intent.service_period.end
    return NO_EFFECTS


def _advance_after_collection_end(call: ActionCall) -> Sequence[InvoiceEffect]:
    run = require_current_run(call.charge, call.trigger)
    call.charge.state.advance_after = run.collection_end + INTERNAL_COLLECTION_PERIOD
    return NO_EFFECTS


def _clear_advance_after(call: ActionCall) -> Sequence[InvoiceEffect]:
    call.charge.state.advance_after = None
    return NO_EFFECTS


def _start_final_realization_run(call: ActionCall) -> Sequence[InvoiceEffect]:
    create_rated_run(
        call.op,
        call.charge,
        call.trigger,
        as_of=call.op.now - FINALIZATION_DELAY,
        collection_end=_collection_end(call.op, call.charge),
        line_id=None,
        mode=AllocationMode.EXACT,
    )
    return NO_EFFECTS


def _finalize_realization_run(call: ActionCall) -> Sequence[InvoiceEffect]:
    run = require_current_run(call.charge, call.trigger)
    finalize_run(
        call.op,
        call.charge,
        run,
        call.trigger,
        cutoff=call.op.now - FINALIZATION_DELAY,
        credit_target=None,
        mode=AllocationMode.EXACT,
    )
    call.charge.state.current_run_id = None
    return NO_EFFECTS


def _start_invoice_created_run(call: ActionCall) -> Sequence[InvoiceEffect]:
    if not isinstance(call.argument, InvoiceCreated):
        raise call.refuse("invoice_created takes a line_id")
    create_rated_run(
        call.op,
        call.charge,
        call.trigger,
        as_of=call.op.now,
        collection_end=_collection_end(call.op, call.charge),
        line_id=_standard_line_id(call, call.argument.line_id),
        mode=AllocationMode.AVAILABLE,
    )
    return NO_EFFECTS


def _finalize_invoice_created_run(call: ActionCall) -> Sequence[InvoiceEffect]:
    run = require_current_run(call.charge, call.trigger)
    finalize_run(
        call.op,
        call.charge,
        run,
        call.trigger,
        cutoff=run.collection_end,
        credit_target=run.totals.credits_total,
        mode=AllocationMode.AVAILABLE,
    )
    return NO_EFFECTS


def _delete_charge(call: ActionCall) -> Sequence[InvoiceEffect]:
    """Soft-delete; a credit_only charge deleted with policy `correct` first gives back every
    run's remaining credit (as corrections, newest first; each run's totals then show no
    credits). Deleted charges are never due again; a credit_then_invoice charge's gathering line
    goes with it."""
    if not isinstance(call.argument, Delete):
        raise call.refuse("delete takes a policy")
    charge = call.charge
    credit_only = charge.intent.settlement_mode is SettlementMode.CREDIT_ONLY
    if credit_only and call.argument.policy is DeletePolicy.CORRECT:
        for run in charge.runs:
            held = sum(run.remaining_allocations().values(), ZERO)
            if held:
                credits.correct(call.op, charge, run, held, call.trigger)
                run.totals = Totals.of(run.totals.amount, ZERO)
                call.op.uow.charges.save_run(run)
    charge.deleted_at = call.op.now
    charge.state.advance_after = None
    return NO_EFFECTS if credit_only else (DeleteGatheringLine(charge.id),)


ACTIONS: Mapping[ChargeAction, Callable[[ActionCall], Sequence[InvoiceEffect]]] = {
    ChargeAction.SYNC_FEATURE_ID: _sync_feature_id,
    ChargeAction.ADVANCE_AFTER_PERIOD_FROM: _advance_after_period_from,
    ChargeAction.ADVANCE_AFTER_PERIOD_TO: _advance_after_period_to,
    ChargeAction.ADVANCE_AFTER_COLLECTION_END: _advance_after_collection_end,
    ChargeAction.CLEAR_ADVANCE_AFTER: _clear_advance_after,
    ChargeAction.START_FINAL_REALIZATION_RUN: _start_final_realization_run,
    ChargeAction.FINALIZE_REALIZATION_RUN: _finalize_realization_run,
    ChargeAction.START_INVOICE_CREATED_RUN: _start_invoice_created_run,
    ChargeAction.FINALIZE_INVOICE_CREATED_RUN: _finalize_invoice_created_run,
    ChargeAction.DELETE_CHARGE: _delete_charge,
}
"""The implementation of every action the charge specs name."""


def _collection_end(op: Operation, charge: UsageBasedCharge) -> datetime:
    customer = op.uow.customers.get(charge.intent.customer_id)
    return customer.collection_period_end(charge.intent.service_period.end)


def _standard_line_id(call: ActionCall, line_id: str) -> str:
    """`line_id`, if it names a persisted standard line billing this charge."""
    line = call.op.uow.invoices.get_line(line_id)
    if line is None:
        raise call.refuse(f"line {line_id!r} does not exist")
    if line.status is not LineStatus.STANDARD:
        raise call.refuse(f"line {line_id!r} is a {line.status.value} line, not a standard line")
    if line.charge_id != call.charge.id:
        raise call.refuse(f"line {line_id!r} bills charge {line.charge_id!r}, not this charge")
    return line_id
