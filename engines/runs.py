"""Realization runs: rating a charge up to a run's bounds (delta rating), creating a rated run,
re-rating it (docs/lifecycle.md section 7).

These functions do the mechanics the machines ask for; they never change a charge's status.
Everything they create is written through the operation's unit of work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.errors import (
    AmountOutOfRangeError,
    CurrentRunExistsError,
    NegativeTotalError,
    NoCurrentRunError,
)
from chargeflow.domain.money import MAX_INTEGER_DIGITS, ZERO, integer_digits
from chargeflow.domain.runs import DetailedLine, RealizationRun, RunType, Totals
from chargeflow.domain.triggers import Trigger
from chargeflow.engines import credits
from chargeflow.engines.features import current_feature_id
from chargeflow.engines.ledger import AllocationMode
from chargeflow.engines.meter import snapshot
from chargeflow.engines.operation import Operation
from chargeflow.engines.rating import amount_of, delta, rate_lines


@dataclass(frozen=True)
class Rating:
    """What a run bills: the cumulative metered quantity, its detailed lines (the delta over
    earlier runs) and their amount."""

    metered_quantity: Decimal
    detailed_lines: tuple[DetailedLine, ...]
    amount: Decimal


def rate_run(
    op: Operation,
    charge: UsageBasedCharge,
    trigger: Trigger | None,
    *,
    service_period_to: datetime,
    stored_at_lt: datetime,
    run_id: str | None = None,
) -> Rating:
    """Rate the charge's cumulative usage up to the bounds, minus what every earlier
    non-voided run (all but `run_id` and the runs after it) billed.

    Raises `NegativeTotalError` for a negative amount (nothing is persisted then) and
    `AmountOutOfRangeError` for one with more than 15 digits before the point.
    """
    quantity = snapshot(op, charge, service_period_to, stored_at_lt)
    lines = rate_lines(charge.intent.price, quantity, charge.intent.currency)
    billed = delta(lines, (run.detailed_lines for run in earlier_runs(charge, run_id)))
    amount = amount_of(billed)
    if amount < 0:
        raise NegativeTotalError(charge.id, charge.state.status, trigger, amount)
    if integer_digits(amount) > MAX_INTEGER_DIGITS:
        raise AmountOutOfRangeError(charge.id, charge.state.status, trigger, amount)
    return Rating(quantity, billed, amount)


def earlier_runs(charge: UsageBasedCharge, run_id: str | None) -> list[RealizationRun]:
    """The charge's non-voided runs before run `run_id` (all of them when it is None)."""
    live = charge.live_runs()
    ids = [run.id for run in live]
    return live[: ids.index(run_id)] if run_id in ids else live


def create_rated_run(
    op: Operation,
    charge: UsageBasedCharge,
    trigger: Trigger | None,
    *,
    run_type: RunType,
    service_period_to: datetime,
    stored_at_lt: datetime,
    line: tuple[str, str] | None,
    mode: AllocationMode,
) -> RealizationRun:
    """Rate the charge, allocate the run's credits as `mode` says (booked at
    `service_period_to`), persist the run of `run_type` billing it (linked to `line`, a
    ``(line_id, invoice_id)`` pair, if given) with its detailed lines and allocations, and make
    it current.

    Raises the rating's errors, or `CurrentRunExistsError` when the charge has a current run.
    """
    rating = rate_run(
        op, charge, trigger, service_period_to=service_period_to, stored_at_lt=stored_at_lt
    )
    if charge.state.current_run_id is not None:
        raise CurrentRunExistsError(
            charge.id, charge.state.status, trigger, f"run {charge.state.current_run_id}"
        )
    run = RealizationRun(
        charge_id=charge.id,
        type=run_type,
        initial_type=run_type,
        feature_id=charge.state.feature_id or current_feature_id(op, charge),
        service_period_to=service_period_to,
        stored_at_lt=stored_at_lt,
        metered_quantity=rating.metered_quantity,
        line_id=line[0] if line else None,
        invoice_id=line[1] if line else None,
        totals=Totals.of(rating.amount, ZERO),
        detailed_lines=rating.detailed_lines,
        created_at=op.now,
    )
    allocated = credits.allocate(
        op, charge, run, rating.amount, mode=mode, trigger=trigger, unsaved_run=True
    )
    run.totals = Totals.of(rating.amount, allocated)
    op.uow.charges.add_run(run)  # the run, its detailed lines and its allocations
    charge.runs.append(run)
    charge.state.current_run_id = run.id
    return run


def rerate(
    op: Operation,
    charge: UsageBasedCharge,
    run: RealizationRun,
    trigger: Trigger | None,
    *,
    credit_limit: Callable[[], Decimal] | None,
    mode: AllocationMode,
) -> None:
    """Re-rate `run` at its own bounds, move its credits to the new amount (`credit_limit`
    None) or to ``min(amount, credit_limit())``, and store its rating and totals. A limit is
    never below the run's current credits, so it is asked only for an amount above them (it
    may cost a read of the customer's balance)."""
    rating = rate_run(
        op,
        charge,
        trigger,
        service_period_to=run.service_period_to,
        stored_at_lt=run.stored_at_lt,
        run_id=run.id,
    )
    if credit_limit is None or rating.amount <= run.net_credits():
        target = rating.amount
    else:
        target = min(rating.amount, credit_limit())
    applied = credits.reconcile(op, charge, run, target, mode=mode, trigger=trigger)
    run.metered_quantity = rating.metered_quantity
    run.detailed_lines = rating.detailed_lines
    run.totals = Totals.of(rating.amount, applied)
    op.uow.charges.save_run(run)


def require_current_run(charge: UsageBasedCharge, trigger: Trigger | None) -> RealizationRun:
    """The charge's current run; `NoCurrentRunError` if it has none."""
    run = charge.current_run()
    if run is None:
        raise NoCurrentRunError(charge.id, charge.state.status, trigger)
    return run
