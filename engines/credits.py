"""Credit allocation and correction for a run, checked against what the source returns.

`allocate` asks the source for credit and refuses an answer that over-allocates (or, in exact
mode, under-allocates); `correct` gives credit back newest allocation first and refuses a
correction beyond what remains; `reconcile` moves a run's credits to a target with either.
Each records the resulting allocations on the run and in the unit of work.
"""

from __future__ import annotations

from decimal import Decimal

from domain.charge import UsageBasedCharge
from domain.credits import CreditAllocation
from domain.errors import CreditAllocationMismatchError, InsufficientFundsError
from domain.money import ZERO
from domain.runs import RealizationRun
from domain.triggers import Trigger
from engines.credit_source import (
    AllocationMode,
    AllocationRequest,
    CorrectionDraft,
    CorrectionRequest,
)
from engines.operation import Operation


def allocate(
    op: Operation,
    charge: UsageBasedCharge,
    run: RealizationRun,
    amount: Decimal,
    *,
    mode: AllocationMode,
    trigger: Trigger | None,
) -> Decimal:
    """Allocate up to `amount` to `run` as `mode` says; return what was allocated.

    A zero amount, or mode `none`, never calls the source. Raises
    `CreditAllocationMismatchError` if the source allocates more than asked, a non-positive
    piece, or (exact mode) less than asked.
    """
    if amount <= 0 or mode is AllocationMode.NONE:
        return ZERO
    drafts = op.credits.allocate(AllocationRequest(charge, run, amount, mode, op.now))
    got = sum((draft.amount for draft in drafts), ZERO)
    short = mode is AllocationMode.EXACT and got < amount
    if got > amount or short or any(draft.amount <= 0 for draft in drafts):
        raise CreditAllocationMismatchError(
            charge.id, charge.state.status, trigger, asked=amount, got=got
        )
    for draft in drafts:
        _record(
            op,
            run,
            CreditAllocation(
                run_id=run.id,
                charge_id=charge.id,
                amount=draft.amount,
                grant_id=draft.grant_id,
                created_at=op.now,
            ),
        )
    return got


def correct(
    op: Operation,
    charge: UsageBasedCharge,
    run: RealizationRun,
    amount: Decimal,
    trigger: Trigger | None,
) -> Decimal:
    """Give back `amount` of `run`'s credit, newest allocation first; return `amount`.

    Raises `InsufficientFundsError` if the run's allocations hold less than `amount`, or if the
    source answers with a correction beyond what an allocation holds, and
    `CreditAllocationMismatchError` if its corrections do not add up to `amount`.
    """
    if amount <= 0:
        return ZERO
    remaining = run.remaining_allocations()
    held = sum(remaining.values(), ZERO)
    if held < amount:
        raise InsufficientFundsError(
            charge.id, charge.state.status, trigger, asked=amount, remaining=held
        )
    by_id = {allocation.id: allocation for allocation in run.allocations}
    plan: list[CorrectionDraft] = []
    left = amount
    for allocation_id in reversed(remaining):
        take = min(remaining[allocation_id], left)
        if take > 0:
            plan.append(CorrectionDraft(by_id[allocation_id], take))
            left -= take
        if left == 0:
            break
    performed = op.credits.correct(CorrectionRequest(charge, run, tuple(plan), op.now))
    for draft in performed:
        if draft.amount <= 0 or draft.amount > remaining.get(draft.allocation.id, ZERO):
            raise InsufficientFundsError(
                charge.id,
                charge.state.status,
                trigger,
                asked=draft.amount,
                remaining=remaining.get(draft.allocation.id, ZERO),
            )
        remaining[draft.allocation.id] -= draft.amount
    got = sum((draft.amount for draft in performed), ZERO)
    if got != amount:
        raise CreditAllocationMismatchError(
            charge.id, charge.state.status, trigger, asked=amount, got=got
        )
    for draft in performed:
        _record(
            op,
            run,
            CreditAllocation(
                run_id=run.id,
                charge_id=charge.id,
                amount=-draft.amount,
                grant_id=draft.allocation.grant_id,
                corrects_allocation_id=draft.allocation.id,
                created_at=op.now,
            ),
        )
    return amount


def reconcile(
    op: Operation,
    charge: UsageBasedCharge,
    run: RealizationRun,
    target: Decimal,
    *,
    mode: AllocationMode,
    trigger: Trigger | None,
) -> Decimal:
    """Move `run`'s net credit to `target` (allocating as `mode` says, or correcting);
    return the run's net credit afterwards."""
    current = sum(run.remaining_allocations().values(), ZERO)
    if target > current:
        return current + allocate(op, charge, run, target - current, mode=mode, trigger=trigger)
    return current - correct(op, charge, run, current - target, trigger)


def _record(op: Operation, run: RealizationRun, allocation: CreditAllocation) -> None:
    op.uow.charges.add_allocation(allocation)
    run.allocations.append(allocation)
