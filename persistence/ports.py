"""The ports through which the engines reach storage, in domain types only.

A `UnitOfWork` is one database transaction: entering it begins the transaction, `commit()` makes
its writes durable, and leaving it without a commit rolls everything back. Repositories raise
`NotFoundError` for a missing record, `CorruptRecordError` for a stored row that cannot be
loaded, and `PersistenceError` for any other database failure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Protocol, Self

from chargeflow.domain.charge import ChargeState, SettlementMode, UsageBasedCharge
from chargeflow.domain.credits import CreditAllocation, CreditGrant
from chargeflow.domain.customer import Customer
from chargeflow.domain.feature import Feature
from chargeflow.domain.history import ChargeTransition, InvoiceTransition
from chargeflow.domain.invoices import Invoice, InvoiceLine
from chargeflow.domain.periods import Period
from chargeflow.domain.runs import InvoiceUsage, Payment, RealizationRun
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.usage import UsageEvent


class CustomerRepository(Protocol):
    """Customers and their billing profiles."""

    def add(self, customer: Customer) -> None:
        """Insert `customer`."""
        ...

    def get(self, customer_id: str) -> Customer:
        """The customer `customer_id`; `NotFoundError` if there is none."""
        ...

    def save(self, customer: Customer) -> None:
        """Persist the customer's name and billing profile."""
        ...

    def lock_billing(self, customer_id: str) -> Customer:
        """Take the customer's billing lock until the unit of work ends (the row lock of the
        customer); the customer. `NotFoundError` if there is none. Lock order: the billing lock
        first, then charge locks by ascending id, then the credit lock."""
        ...

    def claim_invoiceable(self, now: datetime, after: str | None, limit: int) -> list[str]:
        """Up to `limit` ids, ascending and after `after`, of customers with a gathering line
        whose `invoice_at` has come, their billing locks taken; customers another transaction
        holds are skipped, not waited for (``SKIP LOCKED`` on PostgreSQL)."""
        ...

    def ids_matching(self, exact: str, suffix: str | None, limit: int) -> list[str]:
        """Up to `limit` ids of customers that are `exact` or, upper-cased, end with `suffix`
        (None: none does; ``%`` and ``_`` in it match only themselves): `exact` first if it is
        one, then the others ascending."""
        ...

    def list(self) -> list[Customer]:
        """Every customer, oldest first (by id: ids are ULIDs, which sort by creation)."""
        ...


class FeatureRepository(Protocol):
    """Features; at most one live (unarchived) feature per key."""

    def add(self, feature: Feature) -> None:
        """Insert `feature`; `ConflictError` if its key names a live feature already."""
        ...

    def live_by_key(self, key: str) -> Feature | None:
        """The live feature registered under `key`, if any."""
        ...

    def archive(self, feature_id: str, at: datetime) -> Feature:
        """Archive feature `feature_id` at `at`; `NotFoundError` if it is not live."""
        ...

    def list(self, *, include_archived: bool) -> list[Feature]:
        """The live features ordered by key; with `include_archived` the archived ones too,
        each key's features oldest first (by id)."""
        ...


class UsageRepository(Protocol):
    """The usage event store and the meter query over it."""

    def add(self, event: UsageEvent) -> None:
        """Insert `event`."""
        ...

    def total(
        self, customer_id: str, feature_id: str, events: Period, stored_before: datetime
    ) -> Decimal:
        """Sum of the values of feature `feature_id`'s events with ``events.start <= event_time
        < events.end`` and ``stored_at < stored_before``; 0 when there are none."""
        ...

    def list(
        self, customer_id: str, feature_key: str | None, events: Period | None
    ) -> list[UsageEvent]:
        """The customer's events (only those recorded under `feature_key`, if given; only those
        with ``events.start <= event_time < events.end``, if given), ordered by event time,
        then id."""
        ...


@dataclass(frozen=True)
class GrantBalance:
    """A grant and what of it is still unallocated."""

    grant: CreditGrant
    remaining: Decimal


class CreditRepository(Protocol):
    """Credit grants and their balances."""

    def add_grant(self, grant: CreditGrant) -> None:
        """Insert `grant`."""
        ...

    def lock(self, customer_id: str) -> None:
        """Take the customer's credit lock until the unit of work ends: read a balance and
        draw on it under this lock, so two concurrent draws never take the same credit. Taken
        last, after any billing and charge locks. In a unit of work told `never_wait`, a lock
        another transaction holds raises `LockBusyError` instead of waiting."""
        ...

    def balances(self, customer_id: str, granted_by: datetime) -> list[GrantBalance]:
        """The customer's grants made by `granted_by`, in FIFO order (grant time, then id),
        each with its remaining amount after every allocation and correction drawn on it (a
        running total: reading it never sums the customer's history)."""
        ...

    def unassigned_total(self, customer_id: str) -> Decimal:
        """Net credit allocated beyond any grant (the customer's negative balance), ``>= 0``."""
        ...

    def move_balances(self, customer_id: str, drawn: Mapping[str | None, Decimal]) -> None:
        """Keep the running totals in step with allocations just recorded: each grant's
        remaining amount goes down by what was drawn on it (up, for a negative amount: a
        correction), and the customer's overdraft (key None) up by what was drawn beyond the
        grants. Call it under the customer's credit lock."""
        ...


class StoredCharge(Protocol):
    """A charge read from storage and not built yet: a page of charges is read at once, and
    each is built (and checked) only when its turn comes, so one that does not load fails
    alone, and a page holds rows rather than every charge built at once."""

    @property
    def id(self) -> str:
        """The charge's id."""
        ...

    def build(self) -> UsageBasedCharge:
        """The charge with its runs and allocations; `CorruptRecordError` if a row of it holds
        what this version does not know."""
        ...


class ChargeRepository(Protocol):
    """Usage-based charges with their runs and credit allocations."""

    def add(self, charge: UsageBasedCharge) -> None:
        """Insert a new charge (intent and state; it has no runs yet)."""
        ...

    def add_many(self, charges: Sequence[UsageBasedCharge]) -> None:
        """Insert new charges, all or none (`ConflictError` if one breaks a unique index)."""
        ...

    def get(self, charge_id: str, *, lock: bool = False) -> UsageBasedCharge:
        """The charge with its runs and allocations. With `lock`, hold the charge's row lock
        until the unit of work ends. `NotFoundError`, `CorruptRecordError`."""
        ...

    def get_many(self, charge_ids: Sequence[str], *, lock: bool = False) -> list[UsageBasedCharge]:
        """The charges `charge_ids` (in that order) in a fixed number of queries; with `lock`,
        their row locks are taken in ascending id order. `NotFoundError` for a missing one."""
        ...

    def find_many(self, charge_ids: Sequence[str]) -> list[UsageBasedCharge]:
        """Those of the charges `charge_ids` that exist, in a fixed number of queries."""
        ...

    def read_many(self, charge_ids: Sequence[str], *, lock: bool = False) -> list[StoredCharge]:
        """Those of the charges `charge_ids` that exist, in a fixed number of queries, each
        built when asked; with `lock`, their row locks are taken in ascending id order."""
        ...

    def states(self, charge_ids: Sequence[str]) -> dict[str, ChargeState]:
        """The states of those of the charges `charge_ids` that exist, by id, in one query
        (no intent, no runs: for a caller that only asks where charges stand)."""
        ...

    def by_references(
        self, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], UsageBasedCharge]:
        """The charges created under the (customer id, unique reference) `keys`, by key, in a
        fixed number of queries per thousand keys."""
        ...

    def save_state(self, charge: UsageBasedCharge) -> None:
        """Persist the charge's state and `deleted_at` (its intent changes only by a period
        change: `save_period`)."""
        ...

    def save_period(self, charge: UsageBasedCharge) -> None:
        """Persist the end of the charge's service period and its `invoice_at` (`extend` and
        `shrink` move both)."""
        ...

    def add_run(self, run: RealizationRun) -> None:
        """Insert a run with its detailed lines (its allocations come with `add_allocation`)."""
        ...

    def save_run(self, run: RealizationRun) -> None:
        """Persist a run's mutable fields: type, cutoffs, metered quantity, line and invoice
        ids, totals, `no_fiat_transaction_required`, detailed lines, `deleted_at`."""
        ...

    def add_allocation(self, allocation: CreditAllocation, seq: int) -> None:
        """Append an allocation or correction as the `seq`-th (from 1) of its run."""
        ...

    def add_invoice_usage(self, run_id: str, usage: InvoiceUsage) -> None:
        """Record what run `run_id`'s issued line billed."""
        ...

    def save_payment(self, run_id: str, payment: Payment) -> None:
        """Record run `run_id`'s payment as it now stands."""
        ...

    def ids_for_customer(self, customer_id: str) -> list[str]:
        """Ids of the customer's charges that are not deleted, oldest first."""
        ...

    def claim_due(
        self,
        now: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
        *,
        idle: Collection[tuple[SettlementMode, ChargeStatus]] = (),
    ) -> list[tuple[datetime, str]]:
        """Up to `limit` (advance_after, id) keys of charges with ``advance_after <= now``,
        but none standing in one of the `idle` (settlement mode, status) pairs,
        ordered by that key and strictly after `after` (keyset pagination), their rows locked
        until the unit of work ends; rows another transaction holds are skipped, not waited
        for (``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL), so concurrent sweeps share
        the due charges instead of queueing on them."""
        ...

    def ids_matching(self, exact: str, suffix: str | None, limit: int) -> list[str]:
        """Up to `limit` ids of charges (every stored row, deleted ones too) that are `exact`
        or, upper-cased, end with `suffix` (None: none does; ``%`` and ``_`` in it match only
        themselves): `exact` first if it is one, then the others ascending."""
        ...

    def list(self, customer_id: str | None = None) -> list[UsageBasedCharge]:
        """Charges (all, or one customer's), oldest first, with their runs."""
        ...


class TransitionLog(Protocol):
    """The `charge_transitions` audit log of charges and invoices."""

    def record_charge(self, record: ChargeTransition) -> None:
        """Append a charge's transition in the current transaction."""
        ...

    def record_invoice(self, record: InvoiceTransition) -> None:
        """Append an invoice's transition in the current transaction."""
        ...

    def for_charge(self, charge_id: str) -> list[ChargeTransition]:
        """The charge's transitions, in the order they happened."""
        ...

    def for_invoice(self, invoice_id: str) -> list[InvoiceTransition]:
        """The invoice's transitions, in the order they happened."""
        ...


class InvoiceRepository(Protocol):
    """Gathering and standard invoices with their lines."""

    def gathering_invoice(self, customer_id: str, currency: str) -> Invoice | None:
        """The customer's gathering invoice for `currency` (without lines), if it exists."""
        ...

    def add(self, invoice: Invoice) -> None:
        """Insert an invoice header (its lines are added with `add_lines`)."""
        ...

    def add_lines(self, lines: Sequence[InvoiceLine]) -> None:
        """Insert lines (each carries its `invoice_id`)."""
        ...

    def save(self, invoice: Invoice) -> None:
        """Persist an invoice header: status, collection and issue times, totals, `deleted_at`."""
        ...

    def save_lines(self, lines: Sequence[InvoiceLine]) -> None:
        """Persist everything of existing lines but their identity, invoice and charge."""
        ...

    def remove_lines(self, line_ids: Sequence[str]) -> None:
        """Delete the rows of lines `line_ids` (a run linked to one keeps its row, its link
        nulled): how a gathering line leaves the gathering invoice."""
        ...

    def claim_due(
        self, now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[tuple[datetime, str]]:
        """Up to `limit` (collection_at, id) keys of live standard invoices still collecting
        whose ``collection_at <= now``, in key order, strictly after `after` (keyset pages),
        their rows locked, skipping rows another transaction holds (as `charges.claim_due`)."""
        ...

    def get(self, invoice_id: str, *, lock: bool = False) -> Invoice:
        """The invoice with its live lines; with `lock`, hold its row lock. `NotFoundError`."""
        ...

    def get_line(self, line_id: str) -> InvoiceLine | None:
        """The line `line_id`, if it exists."""
        ...

    def pending_lines(self, customer_id: str) -> list[InvoiceLine]:
        """The customer's gathering lines, oldest first."""
        ...

    def gathering_line_of(self, charge_id: str) -> InvoiceLine | None:
        """The gathering line of charge `charge_id`, if it has one."""
        ...

    def ids_matching(self, exact: str, suffix: str | None, limit: int) -> list[str]:
        """Up to `limit` ids of invoices, gathering ones included (every stored row, deleted
        ones too) that are `exact` or, upper-cased, end with `suffix` (None: none does; ``%``
        and ``_`` in it match only themselves): `exact` first if it is one, then the others
        ascending."""
        ...

    def line_ids_matching(self, exact: str, suffix: str | None, limit: int) -> list[str]:
        """Up to `limit` ids of invoice lines (every stored row, deleted ones too) that are
        `exact` or, upper-cased, end with `suffix` (None: none does; ``%`` and ``_`` in it
        match only themselves): `exact` first if it is one, then the others ascending."""
        ...

    def list(self, customer_id: str | None = None) -> list[Invoice]:
        """Live standard invoices (all, or one customer's), oldest first, with their live
        lines (a deleted invoice is not listed)."""
        ...


class UnitOfWork(Protocol):
    """One transaction and the repositories that work inside it."""

    customers: CustomerRepository
    features: FeatureRepository
    usage: UsageRepository
    credits: CreditRepository
    charges: ChargeRepository
    history: TransitionLog
    invoices: InvoiceRepository

    def __enter__(self) -> Self:
        """Begin the transaction (a write transaction, so locks can be taken)."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back unless `commit` was called; translate database errors."""
        ...

    def commit(self) -> None:
        """Make every write of this unit of work durable."""
        ...

    def never_wait(self) -> None:
        """From now on, meet a lock another transaction holds with `LockBusyError` instead of
        waiting for it (a sweep holds many locks at once: waiting could deadlock)."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A savepoint: if the block raises, every write made inside it is undone (the unit of
        work goes on, as it stood before the block) and the error propagates."""
        ...


class UnitOfWorkFactory(Protocol):
    """Opens a new unit of work."""

    def __call__(self) -> UnitOfWork:
        """A fresh, not yet entered, unit of work."""
        ...
