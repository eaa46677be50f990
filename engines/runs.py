"""Realization runs: creating a rated run and finalizing it (docs/lifecycle.md sections 4, 5 and 7).

These functions do the mechanics the machines ask for; they never change a charge's status.
Everything they create is written through the operation's unit of work.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.charge import UsageBasedCharge
from domain.errors import (
    AmountOutOfRangeError,
    CurrentRunExistsError,
    NegativeTotalError,
    NoCurrentRunError,
)
from domain.money import MAX_INTEGER_DIGITS, integer_digits
from domain.runs import RealizationRun, RunType, Totals
from domain.triggers import Trigger
from engines import credits
from engines.credit_source import AllocationMode
from engines.features import current_feature_id
from engines.meter import snapshot
from engines.operation import Operation
from engines.rating import rate


def rated_amount(
    op: Operation, charge: UsageBasedCharge, cutoff: datetime, trigger: Trigger | None
) -> tuple[Decimal, Decimal]:
    """(meter value, rated amount) of the charge's usage stored before `cutoff`.

    Raises `NegativeTotalError` when the rated amount is negative, `AmountOutOfRangeError` when
    it has more than 15 digits before the point.
    """
    quantity = snapshot(op, charge, cutoff)
    amount = rate(charge.intent.price, quantity, charge.intent.currency)
    if amount < 0:
        raise NegativeTotalError(charge.id, charge.state.status, trigger, amount)
    if integer_digits(amount) > MAX_INTEGER_DIGITS:
        raise AmountOutOfRangeError(charge.id, charge.state.status, trigger, amount)
    return quantity, amount


def create_rated_run(
    op: Operation,
    charge: UsageBasedCharge,
    trigger: Trigger | None,
    *,
    as_of: datetime,
    collection_end: datetime,
    line_id: str | None,
    mode: AllocationMode,
) -> RealizationRun:
    """Rate the charge at `as_of`, persist a final-realization run, make it current, and
    allocate its credits as `mode` says (docs/lifecycle.md section 7)."""
    quantity, amount = rated_amount(op, charge, as_of, trigger)
    if charge.state.current_run_id is not None:
        raise CurrentRunExistsError(
            charge.id, charge.state.status, trigger, f"run {charge.state.current_run_id}"
        )
    run = RealizationRun(
        charge_id=charge.id,
        type=RunType.FINAL_REALIZATION,
        feature_id=charge.state.feature_id or current_feature_id(op, charge),
        as_of=as_of,
        collection_end=collection_end,
        line_id=line_id,
        meter_value=quantity,
        totals=Totals.of(amount, Decimal(0)),
        created_at=op.now,
    )
    op.uow.charges.add_run(run)
    charge.runs.append(run)
    charge.state.current_run_id = run.id
    allocated = credits.allocate(op, charge, run, amount, mode=mode, trigger=trigger)
    if allocated:
        run.totals = Totals.of(amount, allocated)
        op.uow.charges.save_run(run)
    return run


def require_current_run(charge: UsageBasedCharge, trigger: Trigger | None) -> RealizationRun:
    """The charge's current run; `NoCurrentRunError` if it has none."""
    run = charge.current_run()
    if run is None:
        raise NoCurrentRunError(charge.id, charge.state.status, trigger)
    return run


def finalize_run(
    op: Operation,
    charge: UsageBasedCharge,
    run: RealizationRun,
    trigger: Trigger | None,
    *,
    cutoff: datetime,
    credit_target: Decimal | None,
    mode: AllocationMode,
) -> None:
    """Re-rate the whole service period at `cutoff` and reconcile the run's credits.

    With `credit_target` None the credits follow the new amount (credit_only); otherwise they
    move to ``min(credit_target, new amount)``. The run's `as_of`, meter value and totals are
    updated; its `line_id` is kept.
    """
    quantity, amount = rated_amount(op, charge, cutoff, trigger)
    target = amount if credit_target is None else min(credit_target, amount)
    applied = credits.reconcile(op, charge, run, target, mode=mode, trigger=trigger)
    run.as_of = cutoff
    run.meter_value = quantity
    run.totals = Totals.of(amount, applied)
    op.uow.charges.save_run(run)
