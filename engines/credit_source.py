"""The pluggable credit source, and its default backed by the customer's credit grants.

The engine asks a source to allocate an amount to a run, or to perform corrections it has
planned; it checks every answer (see `engines.credits`), so a misbehaving source cannot
over-allocate or over-correct.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from domain.charge import UsageBasedCharge
from domain.credits import CreditAllocation
from domain.money import ZERO
from domain.runs import RealizationRun
from persistence.ports import GrantBalance, UnitOfWork


class AllocationMode(StrEnum):
    """How much of an amount the source must cover."""

    NONE = "none"
    EXACT = "exact"
    AVAILABLE = "available"


@dataclass(frozen=True)
class AllocationRequest:
    """Allocate `amount` (> 0) of credit to `run` of `charge`, covering it as `mode` says."""

    charge: UsageBasedCharge
    run: RealizationRun
    amount: Decimal
    mode: AllocationMode
    at: datetime


@dataclass(frozen=True)
class AllocationDraft:
    """Credit the source allocated; `grant_id` None is credit beyond the grants."""

    amount: Decimal
    grant_id: str | None = None


@dataclass(frozen=True)
class CorrectionDraft:
    """Give back `amount` (> 0) of `allocation`."""

    allocation: CreditAllocation
    amount: Decimal


@dataclass(frozen=True)
class CorrectionRequest:
    """Perform the planned `corrections` of `run`'s allocations (newest first)."""

    charge: UsageBasedCharge
    run: RealizationRun
    corrections: tuple[CorrectionDraft, ...]
    at: datetime


class CreditSource(Protocol):
    """Where credit comes from. Implementations may call out to a ledger service."""

    def allocate(self, request: AllocationRequest) -> Sequence[AllocationDraft]:
        """Allocate up to `request.amount`; in exact mode, all of it."""
        ...

    def correct(self, request: CorrectionRequest) -> Sequence[CorrectionDraft]:
        """Perform the corrections; return those performed."""
        ...


def available_credit(uow: UnitOfWork, customer_id: str) -> Decimal:
    """The customer's balance: what its grants still hold, less credit taken beyond them
    (negative when credit_only charges overdrew)."""
    return _net(uow.credits.balances(customer_id), uow.credits.unassigned_total(customer_id))


def _net(balances: Sequence[GrantBalance], beyond_grants: Decimal) -> Decimal:
    return sum((balance.remaining for balance in balances), ZERO) - beyond_grants


class GrantCreditSource:
    """The default source: the customer's promotional grants, FIFO by grant time.

    Exact mode (credit_only charges) covers what the grants cannot as credit beyond the grants,
    driving the balance negative; available mode (credit_then_invoice) takes only what the
    balance holds. Corrections give credit back to the grant the allocation came from.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def allocate(self, request: AllocationRequest) -> list[AllocationDraft]:
        """FIFO over the grants' remaining amounts, net of any negative balance, read and drawn
        under the customer's credit lock."""
        customer_id = request.charge.intent.customer_id
        self._uow.credits.lock(customer_id)
        balances = self._uow.credits.balances(customer_id)
        available = _net(balances, self._uow.credits.unassigned_total(customer_id))
        wanted = request.amount
        budget = min(wanted, max(available, ZERO))
        drafts: list[AllocationDraft] = []
        for balance in balances:
            if budget <= 0:
                break
            take = min(balance.remaining, budget)
            if take > 0:
                drafts.append(AllocationDraft(take, balance.grant.id))
                budget -= take
        taken = sum((draft.amount for draft in drafts), ZERO)
        if request.mode is AllocationMode.EXACT and taken < wanted:
            drafts.append(AllocationDraft(wanted - taken, None))
        return drafts

    def correct(self, request: CorrectionRequest) -> tuple[CorrectionDraft, ...]:
        """Grant balances are derived from allocations, so recording the corrections is all."""
        return request.corrections
