"""The implementations of the charge actions the machine specs name.

`perform` is what the driver hands the binding for entry actions and calls itself for
activation actions. Each action receives the trigger being processed (for error context) and,
for entry actions, the trigger's arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from domain.charge import SettlementMode, UsageBasedCharge
from domain.errors import InvalidTriggerArgumentError
from domain.invoices import LineStatus
from domain.money import ZERO
from domain.triggers import DeletePolicy, Trigger
from engines import credits
from engines.credit_source import AllocationMode
from engines.features import current_feature_id
from engines.operation import Operation
from engines.runs import create_rated_run, finalize_run, require_current_run
from statemachines.actions import ChargeAction
from statemachines.charge_guards import INTERNAL_COLLECTION_PERIOD

FINALIZATION_DELAY = timedelta(minutes=1)
"""credit_only runs rate usage stored up to a minute before now: later events may be in flight."""


def perform(
    op: Operation,
    charge: UsageBasedCharge,
    trigger: Trigger,
    action: ChargeAction,
    arguments: Mapping[str, Any],
) -> None:
    """Run `action` on `charge` within `op`."""
    state = charge.state
    match action:
        case ChargeAction.SYNC_FEATURE_ID:
            state.feature_id = current_feature_id(op, charge)
        case ChargeAction.ADVANCE_AFTER_PERIOD_TO:
            state.advance_after = charge.intent.service_period.end
        case ChargeAction.ADVANCE_AFTER_COLLECTION_END:
            run = require_current_run(charge, trigger)
            state.advance_after = run.collection_end + INTERNAL_COLLECTION_PERIOD
        case ChargeAction.CLEAR_ADVANCE_AFTER:
            state.advance_after = None
        case ChargeAction.START_FINAL_REALIZATION_RUN:
            create_rated_run(
                op,
                charge,
                trigger,
                as_of=op.now - FINALIZATION_DELAY,
                collection_end=_collection_end(op, charge),
                line_id=None,
                mode=AllocationMode.EXACT,
            )
        case ChargeAction.FINALIZE_REALIZATION_RUN:
            run = require_current_run(charge, trigger)
            finalize_run(
                op,
                charge,
                run,
                trigger,
                cutoff=op.now - FINALIZATION_DELAY,
                credit_target=None,
                mode=AllocationMode.EXACT,
            )
            state.current_run_id = None
        case ChargeAction.START_INVOICE_CREATED_RUN:
            create_rated_run(
                op,
                charge,
                trigger,
                as_of=op.now,
                collection_end=_collection_end(op, charge),
                line_id=_standard_line_id(op, charge, trigger, arguments),
                mode=AllocationMode.AVAILABLE,
            )
        case ChargeAction.FINALIZE_INVOICE_CREATED_RUN:
            run = require_current_run(charge, trigger)
            finalize_run(
                op,
                charge,
                run,
                trigger,
                cutoff=run.collection_end,
                credit_target=run.totals.credits_total,
                mode=AllocationMode.AVAILABLE,
            )
        case ChargeAction.DELETE_CHARGE:
            _delete(op, charge, trigger, arguments)


def _collection_end(op: Operation, charge: UsageBasedCharge) -> datetime:
    customer = op.uow.customers.get(charge.intent.customer_id)
    return customer.collection_period_end(charge.intent.service_period.end)


def _standard_line_id(
    op: Operation, charge: UsageBasedCharge, trigger: Trigger, arguments: Mapping[str, Any]
) -> str:
    """The `line_id` argument, if it names a persisted standard line billing this charge."""
    line_id = arguments.get("line_id")

    def refuse(detail: str) -> InvalidTriggerArgumentError:
        return InvalidTriggerArgumentError(charge.id, charge.state.status, trigger, detail)

    if not isinstance(line_id, str) or not line_id.strip():
        raise refuse("line_id must be a non-empty id")
    line = op.uow.invoices.get_line(line_id)
    if line is None:
        raise refuse(f"line {line_id!r} does not exist")
    if line.status is not LineStatus.STANDARD:
        raise refuse(f"line {line_id!r} is a {line.status.value} line, not a standard line")
    if line.charge_id != charge.id:
        raise refuse(f"line {line_id!r} bills charge {line.charge_id!r}, not this charge")
    return line_id


def _delete(
    op: Operation, charge: UsageBasedCharge, trigger: Trigger, arguments: Mapping[str, Any]
) -> None:
    """Soft-delete; a credit_only charge deleted with policy `correct` first gives back every
    run's remaining credit (as corrections; the runs' rated totals stay as realized).
    Deleted charges are never due again."""
    try:
        policy = DeletePolicy(str(arguments.get("policy")))
    except ValueError as error:
        raise InvalidTriggerArgumentError(
            charge.id,
            charge.state.status,
            trigger,
            f"policy must be one of {[p.value for p in DeletePolicy]}",
        ) from error
    if charge.intent.settlement_mode is SettlementMode.CREDIT_ONLY and (
        policy is DeletePolicy.CORRECT
    ):
        for run in charge.runs:
            held = sum(run.remaining_allocations().values(), ZERO)
            credits.correct(op, charge, run, held, trigger)
    charge.deleted_at = op.now
    charge.state.advance_after = None
