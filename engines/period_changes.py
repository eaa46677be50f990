"""Changing a charge's service period: `extend` and `shrink` (docs/lifecycle.md section 11).

Both triggers fire internal rows: `change_period` moves the end of the period and `invoice_at`
to the new end, then decides the charge's status and `advance_after` from its settlement mode
and its runs. Runs that no longer fit are voided (their credits given back); a
credit_then_invoice charge's lines move through the invoice effects it returns (its gathering
line upserted or deleted, the standard line of a voided run deleted from its draft invoice).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chargeflow.domain.charge import SettlementMode, UsageBasedCharge
from chargeflow.domain.effects import DeleteGatheringLine, InvoiceEffect, UpsertGatheringLine
from chargeflow.domain.errors import (
    InvalidInputError,
    InvalidPeriodChangeError,
    RetryAfterBillingAdvancesError,
)
from chargeflow.domain.periods import Period
from chargeflow.domain.runs import RunType
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import format_instant, to_instant
from chargeflow.domain.triggers import PERIOD_CHANGES, PeriodChange, Trigger
from chargeflow.engines.operation import Operation
from chargeflow.engines.voiding import void_run
from chargeflow.statemachines.charge_guards import INTERNAL_COLLECTION_PERIOD

S = ChargeStatus

WAITING_FOR_BILLING = frozenset({S.REALIZATION_ISSUING, S.REALIZATION_COMPLETED})
"""credit_then_invoice statuses billing passes through while it issues a run: a period change
there is refused until billing has moved the charge on."""


def refuse_while_billing_advances(charge: UsageBasedCharge, trigger: Trigger) -> None:
    """`RetryAfterBillingAdvancesError` for a period change of a credit_then_invoice charge that
    billing is issuing (nothing has changed)."""
    if (
        trigger in PERIOD_CHANGES
        and charge.intent.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE
        and charge.state.status in WAITING_FOR_BILLING
    ):
        raise RetryAfterBillingAdvancesError(
            charge.id, charge.state.status, trigger, "billing is issuing the charge's run"
        )


def change_period(
    op: Operation, charge: UsageBasedCharge, trigger: Trigger, change: PeriodChange
) -> Sequence[InvoiceEffect]:
    """Move the charge's period end (and `invoice_at`) to `change.to`, then settle its runs,
    status and `advance_after` as its settlement mode says; the invoice effects that follow.

    Raises `InvalidPeriodChangeError` (nothing changed) for an `extend` to an end not after the
    current one, a `shrink` to an end not strictly inside the period, an end whose collection
    would fall beyond the last instant chargeflow can hold, or a shrink cutting an invoiced run.
    """
    _check(op, charge, trigger, change.to)
    old_end = charge.intent.service_period.end
    if charge.intent.settlement_mode is SettlementMode.CREDIT_ONLY:
        _move_end(op, charge, change.to)
        return _credit_only(op, charge, trigger)
    if not charge.live_runs():
        _move_end(op, charge, change.to)
        charge.state.advance_after = _come_back_at(charge)
        return (UpsertGatheringLine(charge.id, charge.intent.service_period, change.to),)
    if trigger is Trigger.EXTEND:
        _move_end(op, charge, change.to)
        return _extend_invoiced(op, charge, trigger, old_end)
    invoiced = [
        run
        for run in charge.live_runs()
        if run.service_period_to > change.to and run.invoice_usage is not None
    ]
    if invoiced:
        raise _refused(
            charge,
            trigger,
            f"run {invoiced[0].id} is invoiced up to "
            f"{format_instant(invoiced[0].service_period_to)}, after {format_instant(change.to)}",
        )
    _move_end(op, charge, change.to)
    return _shrink_invoiced(op, charge, trigger)


def _check(op: Operation, charge: UsageBasedCharge, trigger: Trigger, to: datetime) -> None:
    """Refuse an end the trigger may not move the period to."""
    period = charge.intent.service_period
    if trigger is Trigger.EXTEND and to <= period.end:
        raise _refused(charge, trigger, f"extend needs an end after {format_instant(period.end)}")
    if trigger is Trigger.SHRINK and not period.start < to < period.end:
        raise _refused(
            charge,
            trigger,
            f"shrink needs an end after {format_instant(period.start)} "
            f"and before {format_instant(period.end)}",
        )
    customer = op.customer(charge.intent.customer_id)
    try:
        to_instant(customer.collection_period_end(to) + INTERNAL_COLLECTION_PERIOD)
    except InvalidInputError as error:
        raise _refused(
            charge, trigger, f"its collection would end out of range: {error}"
        ) from error


def _refused(charge: UsageBasedCharge, trigger: Trigger, detail: str) -> InvalidPeriodChangeError:
    return InvalidPeriodChangeError(charge.id, charge.state.status, trigger, detail)


def _move_end(op: Operation, charge: UsageBasedCharge, to: datetime) -> None:
    """The intent's period now ends at `to`, and the charge is invoiced then."""
    period = Period(start=charge.intent.service_period.start, end=to)
    charge.intent = charge.intent.model_copy(update={"service_period": period, "invoice_at": to})
    op.uow.charges.save_period(charge)


def _come_back_at(charge: UsageBasedCharge) -> datetime:
    """`advance_after` of a charge resting in `created` (its period start) or `active` (its
    period end)."""
    period = charge.intent.service_period
    return period.start if charge.state.status is S.CREATED else period.end


def _back_to_active(charge: UsageBasedCharge) -> None:
    """No current run, status `active`, due again at the period's end (set last: an error
    before names the status the period change started from)."""
    charge.state.current_run_id = None
    charge.state.advance_after = charge.intent.service_period.end
    charge.state.status = S.ACTIVE


def _credit_only(
    op: Operation, charge: UsageBasedCharge, trigger: Trigger
) -> Sequence[InvoiceEffect]:
    """credit_only: `created` and `active` stay and come back when their period says; a charge
    already realizing or realized has every run voided and is `active` again, to be realized
    over the new period (credit_only runs have no lines: no effects)."""
    if charge.state.status in (S.CREATED, S.ACTIVE):
        charge.state.advance_after = _come_back_at(charge)
        return ()
    for run in charge.live_runs():
        void_run(op, charge, run, trigger)
    _back_to_active(charge)
    return ()


def _extend_invoiced(
    op: Operation, charge: UsageBasedCharge, trigger: Trigger, old_end: datetime
) -> list[InvoiceEffect]:
    """credit_then_invoice `extend` of a charge with runs (the period already moved)."""
    current = charge.current_run()
    latest = charge.live_runs()[-1]
    end = charge.intent.service_period.end
    if (
        current is not None
        and current.type is RunType.FINAL_REALIZATION
        and current.service_period_to == old_end
        and current.invoice_usage is None
    ):  # billed up to the old end, not issued yet: voided, its line deleted, billed again
        effects = list(void_run(op, charge, current, trigger))
        kept = charge.live_runs()
        start = kept[-1].service_period_to if kept else charge.intent.service_period.start
        effects.append(UpsertGatheringLine(charge.id, Period(start=start, end=end), end))
        _back_to_active(charge)
        return effects
    if latest.type is RunType.FINAL_REALIZATION and latest.invoice_usage is not None:
        latest.type = RunType.PARTIAL_INVOICE  # issued up to the old end: now a partial run
        op.uow.charges.save_run(latest)
        _back_to_active(charge)
        return [UpsertGatheringLine(charge.id, Period(start=old_end, end=end), end)]
    if charge.state.status is S.ACTIVE:  # the latest run is partial: runs and status stay
        charge.state.advance_after = end
    return [UpsertGatheringLine(charge.id, Period(start=latest.service_period_to, end=end), end)]


def _shrink_invoiced(
    op: Operation, charge: UsageBasedCharge, trigger: Trigger
) -> list[InvoiceEffect]:
    """credit_then_invoice `shrink` of a charge with runs (the period already moved; no run
    ending after the new end is invoiced): those runs are voided, the gathering line covers
    what no kept run does, and a run reaching the new end becomes the final one."""
    end = charge.intent.service_period.end
    effects: list[InvoiceEffect] = []
    for run in charge.live_runs():
        if run.service_period_to > end:
            effects.extend(void_run(op, charge, run, trigger))
    kept = charge.live_runs()
    kept_end = kept[-1].service_period_to if kept else charge.intent.service_period.start
    if kept_end < end:
        effects.append(UpsertGatheringLine(charge.id, Period(start=kept_end, end=end), end))
    else:
        effects.append(DeleteGatheringLine(charge.id))
    current = charge.current_run()
    if current is not None:  # still being billed: status and advance_after stay
        if current.service_period_to == end:
            current.type = RunType.FINAL_REALIZATION
            op.uow.charges.save_run(current)
        return effects
    if kept and kept_end == end:
        kept[-1].type = RunType.FINAL_REALIZATION
        op.uow.charges.save_run(kept[-1])
    _back_to_active(charge)
    return effects
