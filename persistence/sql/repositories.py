"""The SQL repositories: every repository port of `persistence.ports`, on one `sqlmodel.Session`.

This module owns the queries: which rows a port reads, which columns it writes, and in how many
statements. It must not commit or roll back (the unit of work owns the transaction) and must not
build domain models itself (`mapping` does). Every statement goes through `_SessionRepository`,
which translates database errors into domain errors and keeps no ORM identity map: rows are
mapped to domain models at once, so a stale row can never shadow what an UPDATE or an
``ON DELETE SET NULL`` changed in the database.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, delete, func, or_, true, update
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from domain.charge import UsageBasedCharge
from domain.credits import CreditAllocation, CreditGrant
from domain.customer import Customer
from domain.errors import NotFoundError
from domain.feature import Feature
from domain.history import TransitionRecord
from domain.invoices import Invoice, InvoiceKind, InvoiceLine, LineStatus
from domain.money import ZERO
from domain.periods import Period
from domain.runs import RealizationRun
from domain.statuses import ChargeStatus
from domain.usage import UsageEvent
from persistence.ports import GrantBalance
from persistence.sql.mapping import (
    allocation_from_row,
    allocation_to_row,
    charge_from_row,
    charge_to_row,
    customer_from_row,
    customer_to_row,
    database_errors,
    feature_from_row,
    feature_to_row,
    grant_from_row,
    grant_to_row,
    invoice_from_row,
    invoice_to_row,
    line_from_row,
    line_to_row,
    run_from_row,
    run_to_row,
    transition_from_row,
    transition_to_row,
    usage_event_to_row,
)
from persistence.sql.tables import (
    AllocationRow,
    ChargeRow,
    CreditGrantRow,
    CustomerRow,
    FeatureRow,
    InvoiceLineRow,
    InvoiceRow,
    RunRow,
    TransitionRow,
    UsageEventRow,
)

_T = TypeVar("_T")
_A = TypeVar("_A")
_B = TypeVar("_B")

# The columns each save writes; everything else about a record is fixed once inserted.
_CHARGE_STATE = (
    "status",
    "advance_after",
    "current_realization_run_id",
    "feature_id",
    "deleted_at",
)
_RUN_RATING = (
    "asof",
    "collection_end",
    "meter_value",
    "amount",
    "credits_total",
    "total",
    "line_id",
)
_INVOICE_HEADER = ("status", "collection_at", "amount", "credits_total", "total")
_LINE_MUTABLE = ("status", "quantity", "credits_applied", "amount", "credits_total", "total")


class _Keyed(Protocol):
    id: str


def _columns(row: SQLModel, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


class _SessionRepository:
    """The one road to the session: translated errors, no identity map, exact sums."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _insert(self, *rows: SQLModel) -> None:
        """INSERT `rows` now, so a broken constraint surfaces at the call that broke it."""
        with database_errors():
            self._session.add_all(rows)
            self._session.flush()
            self._session.expunge_all()

    def _rows(self, statement: SelectOfScalar[_T]) -> list[_T]:
        with database_errors():
            rows = list(self._session.exec(statement))
            self._session.expunge_all()
        return rows

    def _pairs(self, statement: Select[_A, _B]) -> list[tuple[_A, _B]]:
        with database_errors():
            return [(first, second) for first, second in self._session.exec(statement)]

    def _write(self, statement: UpdateBase) -> int:
        """Run an UPDATE or DELETE; the number of rows it matched."""
        with database_errors():
            result = self._session.exec(statement, execution_options={"synchronize_session": False})
            return result.rowcount

    def _update(
        self, model: type[_Keyed], record_id: str, values: Mapping[str, Any], kind: str
    ) -> None:
        """One UPDATE of `values` on row `record_id`; `NotFoundError` if there is none."""
        statement = update(model).where(col(model.id) == record_id).values(dict(values))
        if self._write(statement) == 0:
            raise NotFoundError(kind, record_id)

    def _sum_by(
        self, key: Mapped[_T], value: Mapped[Decimal], *where: ColumnElement[bool]
    ) -> dict[_T, Decimal]:
        """Exact sums of `value` per `key` over the rows matching `where`.

        SQLite stores decimals as text, which SQL cannot sum exactly: there the values are
        fetched and summed as `Decimal`s. Elsewhere the column is NUMERIC and SUM is exact.
        """
        if self._session.get_bind().dialect.name != "sqlite":
            return dict(self._pairs(select(key, func.sum(value)).where(*where).group_by(key)))
        sums: dict[_T, Decimal] = {}
        for group, amount in self._pairs(select(key, value).where(*where)):
            sums[group] = sums.get(group, ZERO) + amount
        return sums


class SqlCustomerRepository(_SessionRepository):
    """`CustomerRepository` on the ``customers`` table."""

    def add(self, customer: Customer) -> None:
        """Insert `customer`; `ConflictError` if its id exists."""
        self._insert(customer_to_row(customer))

    def get(self, customer_id: str) -> Customer:
        """The customer `customer_id`; `NotFoundError` if there is none."""
        rows = self._rows(select(CustomerRow).where(col(CustomerRow.id) == customer_id))
        if not rows:
            raise NotFoundError("customer", customer_id)
        return customer_from_row(rows[0])


class SqlFeatureRepository(_SessionRepository):
    """`FeatureRepository` on the ``features`` table, whose partial unique index keeps one
    live feature per key."""

    def add(self, feature: Feature) -> None:
        """Insert `feature`; `ConflictError` if its key names a live feature already."""
        self._insert(feature_to_row(feature))

    def live_by_key(self, key: str) -> Feature | None:
        """The unarchived feature registered under `key`, if any."""
        rows = self._rows(
            select(FeatureRow).where(
                col(FeatureRow.key) == key, col(FeatureRow.archived_at).is_(None)
            )
        )
        return feature_from_row(rows[0]) if rows else None

    def archive(self, feature_id: str, at: datetime) -> Feature:
        """Set `archived_at` of live feature `feature_id`; `NotFoundError` if it is not live."""
        archived = self._write(
            update(FeatureRow)
            .where(col(FeatureRow.id) == feature_id, col(FeatureRow.archived_at).is_(None))
            .values(archived_at=at)
        )
        if archived == 0:
            raise NotFoundError("feature", feature_id)
        [row] = self._rows(select(FeatureRow).where(col(FeatureRow.id) == feature_id))
        return feature_from_row(row)


class SqlUsageRepository(_SessionRepository):
    """`UsageRepository` on the ``usage_events`` table."""

    def add(self, event: UsageEvent) -> None:
        """Insert `event`."""
        self._insert(usage_event_to_row(event))

    def total(
        self, customer_id: str, feature_key: str, period: Period, stored_before: datetime
    ) -> Decimal:
        """Exact sum of values with ``period.start <= event_time < period.end`` and
        ``stored_at < stored_before``; 0 when there are none."""
        sums = self._sum_by(
            col(UsageEventRow.customer_id),
            col(UsageEventRow.value),
            col(UsageEventRow.customer_id) == customer_id,
            col(UsageEventRow.feature_key) == feature_key,
            col(UsageEventRow.event_time) >= period.start,
            col(UsageEventRow.event_time) < period.end,
            col(UsageEventRow.stored_at) < stored_before,
        )
        return sums.get(customer_id, ZERO)


class SqlCreditRepository(_SessionRepository):
    """`CreditRepository`: grants, with balances derived from the allocations drawn on them."""

    def add_grant(self, grant: CreditGrant) -> None:
        """Insert `grant`."""
        self._insert(grant_to_row(grant))

    def balances(self, customer_id: str) -> list[GrantBalance]:
        """The customer's grants, FIFO by (granted_at, id), each with ``amount`` minus the net
        of the allocations and corrections carrying its id."""
        of_customer = col(CreditGrantRow.customer_id) == customer_id
        grants = self._rows(
            select(CreditGrantRow)
            .where(of_customer)
            .order_by(col(CreditGrantRow.granted_at), col(CreditGrantRow.id))
        )
        used = self._sum_by(
            col(AllocationRow.grant_id),
            col(AllocationRow.amount),
            col(AllocationRow.grant_id).in_(select(CreditGrantRow.id).where(of_customer)),
        )
        return [
            GrantBalance(grant=grant_from_row(row), remaining=row.amount - used.get(row.id, ZERO))
            for row in grants
        ]

    def unassigned_total(self, customer_id: str) -> Decimal:
        """Net amount of the customer's allocations that draw on no grant."""
        sums = self._sum_by(
            col(ChargeRow.customer_id),
            col(AllocationRow.amount),
            col(AllocationRow.charge_id) == col(ChargeRow.id),
            col(ChargeRow.customer_id) == customer_id,
            col(AllocationRow.grant_id).is_(None),
        )
        return sums.get(customer_id, ZERO)


class SqlChargeRepository(_SessionRepository):
    """`ChargeRepository` on ``charge_usage_based``, its runs and their credit allocations."""

    def add(self, charge: UsageBasedCharge) -> None:
        """Insert the charge's row (intent and state; a new charge has no runs)."""
        self._insert(charge_to_row(charge))

    def get(self, charge_id: str, *, lock: bool = False) -> UsageBasedCharge:
        """The charge with its runs and allocations; with `lock`, ``SELECT ... FOR UPDATE`` on
        its row. `NotFoundError`, `CorruptRecordError`."""
        [charge] = self.get_many([charge_id], lock=lock)
        return charge

    def get_many(
        self, charge_ids: Sequence[str], *, lock: bool = False
    ) -> builtins.list[UsageBasedCharge]:
        """The charges `charge_ids`, in that order, in three queries; `NotFoundError` for the
        first id that does not exist."""
        if not charge_ids:
            return []
        found = {
            charge.id: charge for charge in self._load(col(ChargeRow.id).in_(charge_ids), lock=lock)
        }
        missing = next((charge_id for charge_id in charge_ids if charge_id not in found), None)
        if missing is not None:
            raise NotFoundError("charge", missing)
        return [found[charge_id] for charge_id in charge_ids]

    def save_state(self, charge: UsageBasedCharge) -> None:
        """One UPDATE of the charge's state columns and `deleted_at`; `NotFoundError`."""
        values = _columns(charge_to_row(charge), _CHARGE_STATE)
        self._update(ChargeRow, charge.id, values, "charge")

    def add_run(self, run: RealizationRun) -> None:
        """Insert the run's row; `ConflictError` if its line is unknown or billed by another run."""
        self._insert(run_to_row(run))

    def save_run(self, run: RealizationRun) -> None:
        """One UPDATE of the run's rating columns (as of, collection end, meter value, totals,
        line id); `NotFoundError`."""
        self._update(RunRow, run.id, _columns(run_to_row(run), _RUN_RATING), "run")

    def add_allocation(self, allocation: CreditAllocation) -> None:
        """Append `allocation` as the next `seq` of its run."""
        [last] = self._rows(
            select(func.coalesce(func.max(AllocationRow.seq), 0)).where(
                col(AllocationRow.run_id) == allocation.run_id
            )
        )
        self._insert(allocation_to_row(allocation, seq=last + 1))

    def ids_for_customer(self, customer_id: str) -> builtins.list[str]:
        """Ids of the customer's charges whose status is not ``deleted``, oldest first."""
        return self._rows(
            select(ChargeRow.id)
            .where(
                col(ChargeRow.customer_id) == customer_id,
                col(ChargeRow.status) != ChargeStatus.DELETED.value,
            )
            .order_by(col(ChargeRow.created_at), col(ChargeRow.id))
        )

    def due_ids(
        self, now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> builtins.list[tuple[datetime, str]]:
        """Up to `limit` (advance_after, id) keys with ``advance_after <= now``, in key order,
        strictly after `after`."""
        due_at, charge_id = col(ChargeRow.advance_after), col(ChargeRow.id)
        statement = select(due_at, charge_id).where(due_at.is_not(None), due_at <= now)
        if after is not None:
            after_at, after_id = after
            statement = statement.where(
                or_(due_at > after_at, and_(due_at == after_at, charge_id > after_id))
            )
        keys = self._pairs(statement.order_by(due_at, charge_id).limit(limit))
        return [(at, key) for at, key in keys if at is not None]

    def list(self, customer_id: str | None = None) -> builtins.list[UsageBasedCharge]:
        """Every charge (or one customer's), oldest first, with runs and allocations."""
        where = true() if customer_id is None else col(ChargeRow.customer_id) == customer_id
        return self._load(where, lock=False)

    def _load(self, where: ColumnElement[bool], *, lock: bool) -> builtins.list[UsageBasedCharge]:
        """The charges matching `where`, oldest first: their rows, then their runs, then the
        runs' allocations, three queries whatever the number of charges and runs."""
        charges = (
            select(ChargeRow).where(where).order_by(col(ChargeRow.created_at), col(ChargeRow.id))
        )
        charge_rows = self._rows(charges.with_for_update() if lock else charges)
        if not charge_rows:
            return []
        charge_ids = select(ChargeRow.id).where(where)
        run_rows = self._rows(
            select(RunRow)
            .where(col(RunRow.charge_id).in_(charge_ids))
            .order_by(col(RunRow.created_at), col(RunRow.id))
        )
        allocations: defaultdict[str, builtins.list[CreditAllocation]] = defaultdict(list)
        if run_rows:
            run_ids = select(RunRow.id).where(col(RunRow.charge_id).in_(charge_ids))
            for allocation_row in self._rows(
                select(AllocationRow)
                .where(col(AllocationRow.run_id).in_(run_ids))
                .order_by(col(AllocationRow.run_id), col(AllocationRow.seq))
            ):
                allocations[allocation_row.run_id].append(allocation_from_row(allocation_row))
        runs: defaultdict[str, builtins.list[RealizationRun]] = defaultdict(list)
        for run_row in run_rows:
            runs[run_row.charge_id].append(run_from_row(run_row, allocations[run_row.id]))
        return [charge_from_row(row, runs[row.id]) for row in charge_rows]


class SqlTransitionLog(_SessionRepository):
    """`TransitionLog` on ``charge_transitions``; the autoincrement id keeps the order."""

    def record(self, record: TransitionRecord) -> None:
        """Append `record` in the current transaction."""
        self._insert(transition_to_row(record))

    def for_charge(self, charge_id: str) -> list[TransitionRecord]:
        """The charge's transitions in the order they were recorded."""
        rows = self._rows(
            select(TransitionRow)
            .where(col(TransitionRow.charge_id) == charge_id)
            .order_by(col(TransitionRow.id))
        )
        return [transition_from_row(row) for row in rows]


class SqlInvoiceRepository(_SessionRepository):
    """`InvoiceRepository` on ``billing_invoices`` and ``billing_invoice_lines``."""

    def gathering_invoice(self, customer_id: str, currency: str) -> Invoice | None:
        """The customer's gathering invoice for `currency`, without its lines, if it exists."""
        rows = self._rows(
            select(InvoiceRow).where(
                col(InvoiceRow.customer_id) == customer_id,
                col(InvoiceRow.currency) == currency,
                col(InvoiceRow.kind) == InvoiceKind.GATHERING.value,
            )
        )
        return invoice_from_row(rows[0], ()) if rows else None

    def add(self, invoice: Invoice) -> None:
        """Insert the invoice header; `ConflictError` for a second gathering invoice of the
        same customer and currency."""
        self._insert(invoice_to_row(invoice))

    def add_lines(self, lines: Sequence[InvoiceLine]) -> None:
        """Insert `lines` (each names its invoice)."""
        self._insert(*(line_to_row(line) for line in lines))

    def save(self, invoice: Invoice) -> None:
        """One UPDATE of the header's status, collection time and totals; `NotFoundError`."""
        values = _columns(invoice_to_row(invoice), _INVOICE_HEADER)
        self._update(InvoiceRow, invoice.id, values, "invoice")

    def save_lines(self, lines: Sequence[InvoiceLine]) -> None:
        """One UPDATE per line of its status, quantity, credits applied and totals."""
        for line in lines:
            values = _columns(line_to_row(line), _LINE_MUTABLE)
            self._update(InvoiceLineRow, line.id, values, "invoice line")

    def remove_lines(self, line_ids: Sequence[str]) -> None:
        """Delete the lines; the database nulls the `line_id` of a run linked to one."""
        if line_ids:
            self._write(delete(InvoiceLineRow).where(col(InvoiceLineRow.id).in_(line_ids)))

    def get(self, invoice_id: str, *, lock: bool = False) -> Invoice:
        """The invoice with its lines (oldest first); with `lock`, ``SELECT ... FOR UPDATE`` on
        its row. `NotFoundError`."""
        invoices = self._load(col(InvoiceRow.id) == invoice_id, lock=lock)
        if not invoices:
            raise NotFoundError("invoice", invoice_id)
        return invoices[0]

    def get_line(self, line_id: str) -> InvoiceLine | None:
        """The line `line_id`, if it exists."""
        rows = self._rows(select(InvoiceLineRow).where(col(InvoiceLineRow.id) == line_id))
        return line_from_row(rows[0]) if rows else None

    def pending_lines(self, customer_id: str) -> builtins.list[InvoiceLine]:
        """The customer's lines in status ``gathering``, oldest first."""
        rows = self._rows(
            select(InvoiceLineRow)
            .where(
                col(InvoiceLineRow.customer_id) == customer_id,
                col(InvoiceLineRow.status) == LineStatus.GATHERING.value,
            )
            .order_by(col(InvoiceLineRow.created_at), col(InvoiceLineRow.id))
        )
        return [line_from_row(row) for row in rows]

    def list(self, customer_id: str | None = None) -> builtins.list[Invoice]:
        """Standard invoices (all, or one customer's), oldest first, with their lines."""
        where = col(InvoiceRow.kind) == InvoiceKind.STANDARD.value
        if customer_id is not None:
            where = and_(where, col(InvoiceRow.customer_id) == customer_id)
        return self._load(where, lock=False)

    def _load(self, where: ColumnElement[bool], *, lock: bool) -> builtins.list[Invoice]:
        """The invoices matching `where`, oldest first, with their lines: two queries."""
        invoices = (
            select(InvoiceRow).where(where).order_by(col(InvoiceRow.created_at), col(InvoiceRow.id))
        )
        invoice_rows = self._rows(invoices.with_for_update() if lock else invoices)
        if not invoice_rows:
            return []
        lines: defaultdict[str, builtins.list[InvoiceLine]] = defaultdict(list)
        for row in self._rows(
            select(InvoiceLineRow)
            .where(col(InvoiceLineRow.invoice_id).in_(select(InvoiceRow.id).where(where)))
            .order_by(col(InvoiceLineRow.created_at), col(InvoiceLineRow.id))
        ):
            lines[row.invoice_id].append(line_from_row(row))
        return [invoice_from_row(row, lines[row.id]) for row in invoice_rows]
