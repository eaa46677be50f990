"""The charge actions the machine specs name, one function each (docs/lifecycle.md 3-6).

The driver calls `perform` for a row's entry actions (with the trigger's typed argument) and for
a status's activation actions (without one). Each action changes the charge and its runs
through the operation, and returns the invoice effects it needs on the billing side; it never
chooses the charge's next status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from chargeflow.domain.charge import SettlementMode, UsageBasedCharge
from chargeflow.domain.effects import DeleteGatheringLine, InvoiceEffect
from chargeflow.domain.errors import InvalidTriggerArgumentError, LedgerError
from chargeflow.domain.invoices import InvoiceLine, LineStatus
from chargeflow.domain.money import ZERO
from chargeflow.domain.periods import Period
from chargeflow.domain.runs import InvoiceUsage, RealizationRun, RunType
from chargeflow.domain.triggers import (
    Delete,
    DeletePolicy,
    InvoiceCreated,
    InvoiceIssued,
    PeriodChange,
    Trigger,
    TriggerArgument,
)
from chargeflow.engines import period_changes
from chargeflow.engines.features import current_feature_id
from chargeflow.engines.ledger import AllocationMode, available_credit
from chargeflow.engines.operation import Operation
from chargeflow.engines.runs import create_rated_run, require_current_run, rerate
from chargeflow.engines.voiding import give_back_credits, void_run
from chargeflow.statemachines.actions import ChargeAction
from chargeflow.statemachines.charge_guards import INTERNAL_COLLECTION_PERIOD

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
    call.charge.state.advance_after = run.stored_at_lt + INTERNAL_COLLECTION_PERIOD
    return NO_EFFECTS


def _clear_advance_after(call: ActionCall) -> Sequence[InvoiceEffect]:
    call.charge.state.advance_after = None
    return NO_EFFECTS


def _start_final_realization_run(call: ActionCall) -> Sequence[InvoiceEffect]:
    """credit_only: a final run over the whole period, with cutoffs fixed now
    (`stored_at_lt = service_period.to + collection_interval`), credits allocated exactly."""
    if call.charge.state.current_run_id is not None:
        return NO_EFFECTS
    end = call.charge.intent.service_period.end
    create_rated_run(
        call.op,
        call.charge,
        call.trigger,
        run_type=RunType.FINAL_REALIZATION,
        service_period_to=end,
        stored_at_lt=_collection_end(call.op, call.charge, end),
        line=None,
        mode=AllocationMode.EXACT,
    )
    return NO_EFFECTS


def _finalize_realization_run(call: ActionCall) -> Sequence[InvoiceEffect]:
    """credit_only: re-rate at the run's own cutoffs, reconcile credits exactly, clear the run."""
    run = require_current_run(call.charge, call.trigger)
    rerate(call.op, call.charge, run, call.trigger, credit_limit=None, mode=AllocationMode.EXACT)
    run.no_fiat_transaction_required = True
    call.op.uow.charges.save_run(run)
    call.charge.state.current_run_id = None
    return NO_EFFECTS


def _start_invoice_run(call: ActionCall) -> Sequence[InvoiceEffect]:
    """credit_then_invoice: a run billing the persisted standard line `invoice_created` names;
    final when the line ends with the service period, else partial, credits allocated from what
    is available."""
    if not isinstance(call.argument, InvoiceCreated):
        raise call.refuse("invoice_created takes line_id, invoice_id and service_period")
    argument, intent = call.argument, call.charge.intent
    _require_standard_line(call, argument.line_id, argument.invoice_id)
    line_end = argument.service_period.end
    if line_end == intent.service_period.end:
        run_type, stored_at_lt = (
            RunType.FINAL_REALIZATION,
            _collection_end(call.op, call.charge, line_end),
        )
    else:
        run_type, stored_at_lt = RunType.PARTIAL_INVOICE, line_end
    create_rated_run(
        call.op,
        call.charge,
        call.trigger,
        run_type=run_type,
        service_period_to=line_end,
        stored_at_lt=stored_at_lt,
        line=(argument.line_id, argument.invoice_id),
        mode=AllocationMode.AVAILABLE,
    )
    return NO_EFFECTS


def _snapshot_invoice_usage(call: ActionCall) -> Sequence[InvoiceEffect]:
    """credit_then_invoice, at collection: re-rate at the run's cutoffs and move its credits to
    ``min(amount, credits + available)`` (topped up, or corrected down newest first)."""
    run = require_current_run(call.charge, call.trigger)

    def limit() -> Decimal:  # a negative balance takes nothing back
        available = available_credit(call.op.uow, call.charge.intent.customer_id, call.op.now)
        return run.net_credits() + max(available, ZERO)

    rerate(
        call.op, call.charge, run, call.trigger, credit_limit=limit, mode=AllocationMode.AVAILABLE
    )
    run.no_fiat_transaction_required = run.totals.total == 0
    call.op.uow.charges.save_run(run)
    return NO_EFFECTS


def _finalize_invoice_run(call: ActionCall) -> Sequence[InvoiceEffect]:
    """credit_then_invoice, on issue: record the run's invoice usage (with the ledger's
    reference when fiat is owed), then clear the current run and `advance_after`."""
    if not isinstance(call.argument, InvoiceIssued):
        raise call.refuse("invoice_issued takes line_id and invoice_id")
    run = require_current_run(call.charge, call.trigger)
    line = _require_standard_line(call, call.argument.line_id, call.argument.invoice_id)
    if run.line_id != line.id:
        raise call.refuse(f"line {line.id!r} does not bill the current run {run.id!r}")
    if run.invoice_usage is not None:
        raise call.refuse(f"run {run.id!r} already records its invoice usage")
    if run.no_fiat_transaction_required != (line.totals.total == 0):
        raise call.refuse(f"line {line.id!r} total {line.totals.total} disagrees with the run")
    usage = InvoiceUsage(
        totals=run.totals,
        booked_at=run.service_period_to,
        ledger_reference=_accrue(call, run, line.service_period) if run.totals.total else None,
    )
    call.op.uow.charges.add_invoice_usage(run.id, usage)
    run.invoice_usage = usage
    call.charge.state.current_run_id = None
    call.charge.state.advance_after = None
    return NO_EFFECTS


def _accrue(call: ActionCall, run: RealizationRun, period: Period) -> str:
    """The ledger's reference for the run's total, owed on an issued invoice for the line's
    `period` and booked at the run's end; `LedgerError` for an empty one."""
    reference = call.op.ledger.invoice_usage_accrued(
        call.charge, run, run.totals.total, period, run.service_period_to
    )
    if not isinstance(reference, str) or not reference.strip():
        raise LedgerError(
            call.charge.id, call.charge.state.status, call.trigger, "an empty accrual reference"
        )
    return reference


def _delete_charge(call: ActionCall) -> Sequence[InvoiceEffect]:
    """Soft-delete (docs/lifecycle.md section 6): credit_then_invoice runs not yet invoiced are
    voided (credits corrected, their standard lines deleted through effects); with policy
    `correct` every other run not invoiced gives its credits back; the charge is never due
    again, its current run is cleared, and its gathering line goes."""
    if not isinstance(call.argument, Delete):
        raise call.refuse("delete takes a policy")
    charge, op = call.charge, call.op
    billed_by_invoice = charge.intent.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE
    effects: list[InvoiceEffect] = []
    for run in charge.live_runs():
        if run.invoice_usage is not None:
            continue
        if billed_by_invoice:
            effects.extend(void_run(op, charge, run, call.trigger))
        elif call.argument.policy is DeletePolicy.CORRECT:
            give_back_credits(op, charge, run, call.trigger)
    charge.deleted_at = op.now
    charge.state.advance_after = None
    charge.state.current_run_id = None
    if billed_by_invoice:
        effects.append(DeleteGatheringLine(charge.id))
    return effects


def _change_period(call: ActionCall) -> Sequence[InvoiceEffect]:
    """`extend` / `shrink` (internal rows): move the period's end, then settle runs, status and
    `advance_after` (`engines.period_changes`)."""
    if not isinstance(call.argument, PeriodChange):
        raise call.refuse("extend and shrink take the new end of the period, `to`")
    return period_changes.change_period(call.op, call.charge, call.trigger, call.argument)


ACTIONS: Mapping[ChargeAction, Callable[[ActionCall], Sequence[InvoiceEffect]]] = {
    ChargeAction.SYNC_FEATURE_ID: _sync_feature_id,
    ChargeAction.ADVANCE_AFTER_PERIOD_FROM: _advance_after_period_from,
    ChargeAction.ADVANCE_AFTER_PERIOD_TO: _advance_after_period_to,
    ChargeAction.ADVANCE_AFTER_COLLECTION_END: _advance_after_collection_end,
    ChargeAction.CLEAR_ADVANCE_AFTER: _clear_advance_after,
    ChargeAction.START_FINAL_REALIZATION_RUN: _start_final_realization_run,
    ChargeAction.FINALIZE_REALIZATION_RUN: _finalize_realization_run,
    ChargeAction.START_INVOICE_RUN: _start_invoice_run,
    ChargeAction.SNAPSHOT_INVOICE_USAGE: _snapshot_invoice_usage,
    ChargeAction.FINALIZE_INVOICE_RUN: _finalize_invoice_run,
    ChargeAction.DELETE_CHARGE: _delete_charge,
    ChargeAction.CHANGE_PERIOD: _change_period,
}
"""The implementation of every action the charge specs name."""


def _collection_end(op: Operation, charge: UsageBasedCharge, end: datetime) -> datetime:
    """`end` plus the customer's collection interval: the ingestion cutoff of a final run."""
    return op.customer(charge.intent.customer_id).collection_period_end(end)


def _require_standard_line(call: ActionCall, line_id: str, invoice_id: str) -> InvoiceLine:
    """The live standard line `line_id` of invoice `invoice_id`, billing this charge."""
    line = call.op.uow.invoices.get_line(line_id)
    if line is None or line.deleted_at is not None:
        raise call.refuse(f"line {line_id!r} does not exist")
    if line.status is not LineStatus.STANDARD:
        raise call.refuse(f"line {line_id!r} is a {line.status.value} line, not a standard line")
    if line.charge_id != call.charge.id:
        raise call.refuse(f"line {line_id!r} bills charge {line.charge_id!r}, not this charge")
    if line.invoice_id != invoice_id:
        raise call.refuse(f"line {line_id!r} is on invoice {line.invoice_id!r}, not {invoice_id!r}")
    return line
