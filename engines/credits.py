"""Credit allocation and correction for a run, checked against what the ledger returns
(docs/lifecycle.md section 7).

`allocate` asks the ledger for credit and refuses an answer that over-allocates (or, in exact
mode, under-allocates); `correct` gives credit back newest allocation first and refuses a
correction beyond what remains; `reconcile` moves a run's credits to a target with either.
Each records the resulting allocations on the run and in the unit of work, booked at the end
of the period the run bills (`run.service_period_to`).
"""

from __future__ import annotations

from decimal import Decimal

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.credits import CreditAllocation
from chargeflow.domain.errors import CreditAllocationMismatchError, InsufficientFundsError
from chargeflow.domain.money import ZERO
from chargeflow.domain.runs import RealizationRun
from chargeflow.domain.triggers import Trigger
from chargeflow.engines.ledger import (
    AllocationMode,
    AllocationRequest,
    CorrectionDraft,
    CorrectionRequest,
)
from chargeflow.engines.operation import Operation


def allocate(
    op: Operation,
    charge: UsageBasedCharge,
    run: RealizationRun,
    amount: Decimal,
    *,
    mode: AllocationMode,
    trigger: Trigger | None,
    unsaved_run: bool = False,
) -> Decimal:
    """Allocate up to `amount` to `run` as `mode` says; return what was allocated. With
    `unsaved_run` (a run not inserted yet) the allocations are only kept on the run, and
    inserting the run saves them with it.

    A zero amount, or mode `none`, never calls the ledger. Raises
    `CreditAllocationMismatchError` if the ledger allocates more than asked, a non-positive
    piece, or (exact mode) less than asked.
    """
    if amount <= 0 or mode is AllocationMode.NONE:
        return ZERO
    request = AllocationRequest(charge, run, amount, mode, op.now, run.service_period_to)
    drafts = op.ledger.allocate(request)
    got = sum((draft.amount for draft in drafts), ZERO)
    short = mode is AllocationMode.EXACT and got < amount
    if got > amount or short or any(draft.amount <= 0 for draft in drafts):
        raise CreditAllocationMismatchError(
            charge.id, charge.state.status, trigger, asked=amount, got=got
        )
    for draft in drafts:
        _record(op, charge, run, draft.amount, draft.grant_id, corrects=None, save=not unsaved_run)
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
    ledger answers with a correction beyond what an allocation holds, and
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
    plan = _plan_corrections(run, remaining, amount)
    request = CorrectionRequest(charge, run, tuple(plan), op.now, run.service_period_to)
    performed = op.ledger.correct(request)
    for draft in performed:
        still = remaining.get(draft.allocation.id, ZERO)
        if draft.amount <= 0 or draft.amount > still:
            raise InsufficientFundsError(
                charge.id, charge.state.status, trigger, asked=draft.amount, remaining=still
            )
        remaining[draft.allocation.id] -= draft.amount
    got = sum((draft.amount for draft in performed), ZERO)
    if got != amount:
        raise CreditAllocationMismatchError(
            charge.id, charge.state.status, trigger, asked=amount, got=got
        )
    for draft in performed:
        allocation = draft.allocation
        _record(
            op, charge, run, -draft.amount, allocation.grant_id, corrects=allocation.id, save=True
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
    """Move `run`'s net credit to `target` (allocating as `mode` says, or correcting newest
    first); return the run's net credit afterwards."""
    current = run.net_credits()
    if target > current:
        return current + allocate(op, charge, run, target - current, mode=mode, trigger=trigger)
    return current - correct(op, charge, run, current - target, trigger)


def _plan_corrections(
    run: RealizationRun, remaining: dict[str, Decimal], amount: Decimal
) -> list[CorrectionDraft]:
    """Corrections taking `amount` back from the newest allocations first."""
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
    return plan


def _record(
    op: Operation,
    charge: UsageBasedCharge,
    run: RealizationRun,
    amount: Decimal,
    grant_id: str | None,
    *,
    corrects: str | None,
    save: bool,
) -> None:
    allocation = CreditAllocation(
        run_id=run.id,
        charge_id=charge.id,
        amount=amount,
        grant_id=grant_id,
        corrects_allocation_id=corrects,
        booked_at=run.service_period_to,
        created_at=op.now,
    )
    if save:
        op.uow.charges.add_allocation(allocation, seq=len(run.allocations) + 1)
    run.allocations.append(allocation)
