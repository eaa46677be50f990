"""The ledger: the one pluggable interface behind credits and money movements
(docs/lifecycle.md section 9), and its default backed by the database.

The engine asks the ledger to allocate credit to a run, to perform corrections it has planned,
and to record that invoiced usage accrued and that a payment was authorized or settled; it
checks every answer (see `engines.credits`), so a misbehaving ledger cannot over-allocate or
over-correct, and an empty reference is refused. `open_app(ledger=...)` plugs another one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.credits import CreditAllocation
from chargeflow.domain.ids import new_id
from chargeflow.domain.money import ZERO
from chargeflow.domain.periods import Period
from chargeflow.domain.runs import RealizationRun
from chargeflow.persistence.ports import GrantBalance, UnitOfWork


class AllocationMode(StrEnum):
    """How much of an amount the ledger must cover."""

    NONE = "none"
    EXACT = "exact"
    AVAILABLE = "available"


@dataclass(frozen=True)
class AllocationRequest:
    """Allocate `amount` (> 0) of credit to `run` of `charge`, covering it as `mode` says, at
    `at` (now), booked at `booked_at` (the end of the period the run bills)."""

    charge: UsageBasedCharge
    run: RealizationRun
    amount: Decimal
    mode: AllocationMode
    at: datetime
    booked_at: datetime


@dataclass(frozen=True)
class AllocationDraft:
    """Credit the ledger allocated; `grant_id` None is credit beyond the grants."""

    amount: Decimal
    grant_id: str | None = None


@dataclass(frozen=True)
class CorrectionDraft:
    """Give back `amount` (> 0) of `allocation`."""

    allocation: CreditAllocation
    amount: Decimal


@dataclass(frozen=True)
class CorrectionRequest:
    """Perform the planned `corrections` of `run`'s allocations (newest first), at `at`,
    booked at `booked_at`."""

    charge: UsageBasedCharge
    run: RealizationRun
    corrections: tuple[CorrectionDraft, ...]
    at: datetime
    booked_at: datetime


class Ledger(Protocol):
    """Where credit comes from and where money movements are recorded. Implementations may
    call out to a ledger service; each call returns what it did, or a reference to it."""

    def allocate(self, request: AllocationRequest) -> Sequence[AllocationDraft]:
        """Allocate up to `request.amount`; in exact mode, all of it."""
        ...

    def correct(self, request: CorrectionRequest) -> Sequence[CorrectionDraft]:
        """Perform the corrections; return those performed."""
        ...

    def invoice_usage_accrued(
        self,
        charge: UsageBasedCharge,
        run: RealizationRun,
        amount: Decimal,
        service_period: Period,
        booked_at: datetime,
    ) -> str:
        """Record that `amount` of `run`'s usage over `service_period` is owed on an issued
        invoice; a non-empty reference to the entry."""
        ...

    def payment_authorized(
        self, charge: UsageBasedCharge, run: RealizationRun, amount: Decimal, at: datetime
    ) -> str:
        """Record that a payment of `amount` for `run` was authorized; a non-empty reference."""
        ...

    def payment_settled(
        self, charge: UsageBasedCharge, run: RealizationRun, amount: Decimal, at: datetime
    ) -> str:
        """Record that a payment of `amount` for `run` was settled; a non-empty reference."""
        ...


LedgerFactory = Callable[[UnitOfWork], Ledger]
"""Builds the ledger that works inside one unit of work."""


def available_credit(uow: UnitOfWork, customer_id: str, now: datetime) -> Decimal:
    """The customer's balance at `now`: what its grants made by then still hold, less credit
    taken beyond the grants (negative when credit_only charges overdrew). Every recorded
    allocation and correction counts, whatever its `booked_at`."""
    return _net(uow.credits.balances(customer_id, now), uow.credits.unassigned_total(customer_id))


def _net(balances: Sequence[GrantBalance], beyond_grants: Decimal) -> Decimal:
    return sum((balance.remaining for balance in balances), ZERO) - beyond_grants


class DatabaseLedger:
    """The default ledger: credit is the customer's promotional grants, FIFO by grant time,
    and money movements are recorded on the runs themselves (their invoice usage and payment
    rows carry the reference this ledger hands out).

    Exact mode (credit_only charges) covers what the grants cannot as credit beyond the grants,
    driving the balance negative; available mode (credit_then_invoice) takes only what the
    balance holds. Corrections give credit back to the grant the allocation came from.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def allocate(self, request: AllocationRequest) -> list[AllocationDraft]:
        """FIFO over the remaining amounts of the grants made by `request.at`, net of any
        negative balance, read and drawn under the customer's credit lock."""
        customer_id = request.charge.intent.customer_id
        self._uow.credits.lock(customer_id)
        balances = self._uow.credits.balances(customer_id, request.at)
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
        self._uow.credits.move_balances(
            customer_id, {draft.grant_id: draft.amount for draft in drafts}
        )
        return drafts

    def correct(self, request: CorrectionRequest) -> tuple[CorrectionDraft, ...]:
        """Give each correction back to the grant its allocation drew on (or off the
        customer's overdraft), under the customer's credit lock; the corrections performed."""
        customer_id = request.charge.intent.customer_id
        self._uow.credits.lock(customer_id)
        given_back: dict[str | None, Decimal] = {}
        for correction in request.corrections:
            grant_id = correction.allocation.grant_id
            given_back[grant_id] = given_back.get(grant_id, ZERO) - correction.amount
        self._uow.credits.move_balances(customer_id, given_back)
        return request.corrections

    def invoice_usage_accrued(
        self,
        charge: UsageBasedCharge,
        run: RealizationRun,
        amount: Decimal,
        service_period: Period,
        booked_at: datetime,
    ) -> str:
        """A new reference: the accrual itself is the run's invoice usage row."""
        return f"accrual-{new_id()}"

    def payment_authorized(
        self, charge: UsageBasedCharge, run: RealizationRun, amount: Decimal, at: datetime
    ) -> str:
        """A new reference: the authorization itself is the run's payment row."""
        return f"authorization-{new_id()}"

    def payment_settled(
        self, charge: UsageBasedCharge, run: RealizationRun, amount: Decimal, at: datetime
    ) -> str:
        """A new reference: the settlement itself is the run's payment row."""
        return f"settlement-{new_id()}"
