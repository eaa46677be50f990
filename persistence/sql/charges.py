"""Usage-based charges on ``charge_usage_based``, their runs (with each run's detailed lines,
invoice usage and payment) and the runs' credit allocations, with their mapping.

A charge loads with every run and allocation in four queries, whatever their number: the
charges, the runs joined with their invoice usage and payment, the allocations, the detailed
lines. Loading checks what this version may not know: a status, settlement mode, run type or
price it does not know, or a status outside the charge's mode, raises `CorruptRecordError`
naming the table and row, never a half-built charge. The rest is restored as stored
(`repository.restored`).
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    Update,
    bindparam,
    delete,
    select,
    true,
    tuple_,
    update,
)

from chargeflow.domain.charge import (
    ChargeIntent,
    ChargeState,
    SettlementMode,
    UsageBasedCharge,
    require_status_of_mode,
)
from chargeflow.domain.credits import CreditAllocation
from chargeflow.domain.errors import NotFoundError
from chargeflow.domain.ids import new_id
from chargeflow.domain.prices import PRICE_ADAPTER
from chargeflow.domain.runs import (
    DetailedLine,
    InvoiceUsage,
    Payment,
    PaymentStatus,
    RealizationRun,
    RunType,
)
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.persistence.ports import StoredCharge
from chargeflow.persistence.sql.errors import loading
from chargeflow.persistence.sql.prices import stored_price
from chargeflow.persistence.sql.repository import (
    AnyRow,
    Savepoints,
    SqlRepository,
    claimed,
    flat_values,
    ids_matching,
    restored,
    restored_flat,
    stored_alike,
    stored_period,
    stored_totals,
)
from chargeflow.persistence.sql.tables import (
    ALLOCATIONS,
    CHARGES,
    DETAILED_LINES,
    INVOICE_USAGES,
    PAYMENTS,
    RUNS,
)

_RUN_COLUMNS = (
    RUNS,
    INVOICE_USAGES.c.amount.label("usage_amount"),
    INVOICE_USAGES.c.credits_total.label("usage_credits_total"),
    INVOICE_USAGES.c.total.label("usage_total"),
    INVOICE_USAGES.c.booked_at.label("usage_booked_at"),
    INVOICE_USAGES.c.ledger_reference.label("usage_ledger_reference"),
    PAYMENTS.c.status.label("payment_status"),
    PAYMENTS.c.amount.label("payment_amount"),
    PAYMENTS.c.authorized_at.label("payment_authorized_at"),
    PAYMENTS.c.authorization_reference.label("payment_authorization_reference"),
    PAYMENTS.c.settled_at.label("payment_settled_at"),
    PAYMENTS.c.settlement_reference.label("payment_settlement_reference"),
)
_RUNS_WITH_FACTS = RUNS.outerjoin(INVOICE_USAGES, INVOICE_USAGES.c.run_id == RUNS.c.id).outerjoin(
    PAYMENTS, PAYMENTS.c.run_id == RUNS.c.id
)


@dataclass(frozen=True)
class Mark:
    """What a charge repository kept to write when a savepoint began."""

    states: dict[str, Any]
    runs: dict[str, Any]
    new: tuple[int, ...]


class SqlChargeRepository(SqlRepository):
    """`ChargeRepository` on ``charge_usage_based``, its runs and their facts. Charge states
    are written behind (`save_state` keeps them, `flush` writes them): every read of charges
    flushes first, so a read never sees a stale row."""

    def __init__(self, connection: Connection, savepoints: Savepoints) -> None:
        super().__init__(connection, savepoints)
        self._states: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, tuple[dict[str, Any], tuple[DetailedLine, ...]]] = {}
        self._new: tuple[builtins.list[dict[str, Any]], ...] = ([], [], [])
        """Rows kept to insert, in order: runs, their detailed lines, allocations."""
        self._stored_details: dict[str, tuple[DetailedLine, ...]] = {}
        """The detailed lines stored for each run this unit of work loaded or inserted."""
        self._stored_runs: dict[str, Mapping[Any, Any]] = {}
        """The mutable column values stored for each run this unit of work loaded, inserted or
        updated (by column name): a save writes only the columns that differ."""

    def add(self, charge: UsageBasedCharge) -> None:
        """Insert the charge's row (intent and state; a new charge has no runs)."""
        self.add_many([charge])

    def add_many(self, charges: Sequence[UsageBasedCharge]) -> None:
        """Insert the charges' rows in one statement (`ConflictError`: none is inserted)."""
        self._insert(
            CHARGES, [{**_intent_values(charge), **_state_values(charge)} for charge in charges]
        )

    def get(self, charge_id: str, *, lock: bool = False) -> UsageBasedCharge:
        """The charge with its runs; with `lock`, ``SELECT ... FOR NO KEY UPDATE`` on its row.
        `NotFoundError`, `CorruptRecordError`."""
        [charge] = self.get_many([charge_id], lock=lock)
        return charge

    def get_many(
        self, charge_ids: Sequence[str], *, lock: bool = False
    ) -> builtins.list[UsageBasedCharge]:
        """The charges `charge_ids`, in that order, in four queries; `NotFoundError` for the
        first id that does not exist."""
        if not charge_ids:
            return []
        found = {charge.id: charge for charge in self._load(*_by_ids(charge_ids, lock))}
        missing = next((charge_id for charge_id in charge_ids if charge_id not in found), None)
        if missing is not None:
            raise NotFoundError("charge", missing)
        return [found[charge_id] for charge_id in charge_ids]

    def find_many(self, charge_ids: Sequence[str]) -> builtins.list[UsageBasedCharge]:
        """Those of the charges `charge_ids` that exist, oldest first, in four queries."""
        return self._load(*_by_ids(charge_ids, lock=False)) if charge_ids else []

    def states(self, charge_ids: Sequence[str]) -> dict[str, ChargeState]:
        """The states of those of the charges `charge_ids` that exist, by id, in one query
        of their state columns (after flushing kept states); `CorruptRecordError`."""
        if not charge_ids:
            return {}
        self.flush()
        states: dict[str, ChargeState] = {}
        for row in self._rows(_STATES, {"ids": list(charge_ids)}):
            with loading(CHARGES.name, row.id):
                states[row.id] = _state(row._mapping)
        return states

    def by_references(
        self, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], UsageBasedCharge]:
        """The charges stored under the (customer id, unique reference) `keys`, by key: four
        queries per 1,000 keys."""
        c = CHARGES.c
        found: dict[tuple[str, str], UsageBasedCharge] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), _KEYS_PER_QUERY):
            chunk = ordered[start : start + _KEYS_PER_QUERY]
            where = tuple_(c.customer_id, c.unique_reference_id).in_(chunk)
            for charge in self._load(_reads(where, lock=False)):
                reference = charge.intent.unique_reference_id or ""
                found[(charge.intent.customer_id, reference)] = charge
        return found

    def save_state(self, charge: UsageBasedCharge) -> None:
        """Keep the charge's state columns and `deleted_at` to write: written once, however
        many hops an operation takes, when the unit of work flushes (before it commits, at a
        savepoint's edge, or before the charges are read again)."""
        self._states[charge.id] = _state_values(charge)

    def flush(self) -> None:
        """Insert the kept runs, detailed lines and allocations (one multi-row INSERT each),
        then write every kept run change and state (one executemany UPDATE each, and the
        detailed lines of runs whose lines changed); `NotFoundError` when fewer rows matched
        than were kept (a run or charge without a row), `ConflictError` for a refused insert."""
        new, self._new = self._new, ([], [], [])
        for table, rows in zip((RUNS, DETAILED_LINES, ALLOCATIONS), new, strict=True):
            self._insert(table, rows)
        runs, self._runs = self._runs, {}
        states, self._states = self._states, {}
        if runs:
            self._flush_runs(runs)
        if states:
            parameters = [
                {"b_id": charge_id, **{f"b_{name}": values[name] for name in _STATE_COLUMNS}}
                for charge_id, values in states.items()
            ]
            if self._write(_SAVE_STATE, parameters) != len(parameters):
                raise NotFoundError("charge", ", ".join(states))

    def _flush_runs(self, runs: dict[str, tuple[dict[str, Any], tuple[DetailedLine, ...]]]) -> None:
        """One executemany UPDATE per set of changed columns (a run whose stored values are
        not known writes them all), then the detailed lines that changed."""
        by_columns: defaultdict[tuple[str, ...], builtins.list[dict[str, Any]]] = defaultdict(
            builtins.list
        )
        for run_id, (values, _) in runs.items():
            stored = self._stored_runs.get(run_id)
            columns = (
                _RUN_MUTABLE
                if stored is None
                else tuple(
                    name for name in _RUN_MUTABLE if not stored_alike(stored[name], values[name])
                )
            )
            if columns:
                by_columns[columns].append(
                    {f"b_{name}": values[name] for name in columns} | {"b_id": run_id}
                )
            self._stored_runs[run_id] = values
        for columns, parameters in by_columns.items():
            if self._write(_save_run(columns), parameters) != len(parameters):
                raise NotFoundError("run", ", ".join(parameter["b_id"] for parameter in parameters))
        changed = {
            run_id: details
            for run_id, (_, details) in runs.items()
            if self._stored_details.get(run_id) != details
        }
        if changed:
            self._write(delete(DETAILED_LINES).where(DETAILED_LINES.c.run_id.in_(list(changed))))
            self._insert(
                DETAILED_LINES,
                [
                    row
                    for run_id, details in changed.items()
                    for row in _details_rows(run_id, details)
                ],
            )
            self._stored_details.update(changed)

    def mark(self) -> Mark:
        """What is kept to write now (a savepoint begins: `restore` returns to it)."""
        return Mark(dict(self._states), dict(self._runs), tuple(len(rows) for rows in self._new))

    def restore(self, mark: Mark) -> None:
        """Keep only what was kept at `mark` (the savepoint is rolled back), and forget which
        detailed lines and run values are stored (the rollback may have undone a write)."""
        self._states, self._runs = dict(mark.states), dict(mark.runs)
        for rows, kept in zip(self._new, mark.new, strict=True):
            del rows[kept:]
        self._stored_details, self._stored_runs = {}, {}

    def save_period(self, charge: UsageBasedCharge) -> None:
        """One UPDATE of the charge's period end and `invoice_at`; `NotFoundError`."""
        values = {
            "service_period_to": charge.intent.service_period.end,
            "invoice_at": charge.intent.invoice_at,
        }
        self._update(CHARGES, charge.id, values, "charge")

    def add_run(self, run: RealizationRun) -> None:
        """Keep the run's row, its detailed lines and the allocations it already carries (in
        their order) to insert at the next flush, before any kept change; `ConflictError` then
        if its line is unknown or billed by another run."""
        values = _run_values(run)
        self._new[0].append(values)
        self._stored_runs[run.id] = values
        self._new[1].extend(_detailed_line_values(run))
        self._new[2].extend(
            {**flat_values(allocation), "seq": seq}
            for seq, allocation in enumerate(run.allocations, start=1)
        )
        self._stored_details[run.id] = run.detailed_lines

    def save_run(self, run: RealizationRun) -> None:
        """Keep the run's mutable columns to write, like `save_state`: one UPDATE per run
        however often an operation saves it, and its detailed lines rewritten only when they
        differ from the ones stored."""
        self._runs[run.id] = (_run_values(run), run.detailed_lines)

    def add_allocation(self, allocation: CreditAllocation, seq: int) -> None:
        """Keep `allocation`, the `seq`-th (from 1) of its run, to insert at the next flush."""
        self._new[2].append({**flat_values(allocation), "seq": seq})

    def add_invoice_usage(self, run_id: str, usage: InvoiceUsage) -> None:
        """Record what run `run_id`'s issued line billed; `ConflictError` if it has it already."""
        self.flush()  # the run's row first
        self._insert(INVOICE_USAGES, [{"run_id": run_id, **_usage_values(usage)}])

    def save_payment(self, run_id: str, payment: Payment) -> None:
        """Record run `run_id`'s payment as it now stands (inserted when first authorized)."""
        values = {"run_id": run_id, **flat_values(payment)}
        self.flush()  # the run's row first
        if payment.status is PaymentStatus.AUTHORIZED:
            self._insert(PAYMENTS, [values])
        else:
            self._write(PAYMENTS.update().where(PAYMENTS.c.run_id == run_id).values(values))

    def ids_for_customer(self, customer_id: str) -> builtins.list[str]:
        """Ids of the customer's charges whose status is not ``deleted``, oldest first."""
        c = CHARGES.c
        self.flush()
        rows = self._rows(
            select(c.id)
            .where(c.customer_id == customer_id, c.status != ChargeStatus.DELETED.value)
            .order_by(c.created_at, c.id)
        )
        return [charge_id for (charge_id,) in rows]

    def claim_due(
        self,
        now: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
        *,
        idle: Collection[tuple[SettlementMode, ChargeStatus]] = (),
    ) -> builtins.list[tuple[datetime, str]]:
        """Up to `limit` (advance_after, id) keys with ``advance_after <= now``, in key order,
        strictly after `after` (a row-value bound, which the index on the key serves), none in
        an `idle` (mode, status) pair, locked
        with ``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's write transaction
        already excludes every other writer)."""
        c = CHARGES.c
        statement = select(c.advance_after, c.id).where(
            c.advance_after.is_not(None), c.advance_after <= now
        )
        for mode, status in idle:
            statement = statement.where(
                ~((c.settlement_mode == mode.value) & (c.status == status.value))
            )
        if after is not None:
            statement = statement.where(tuple_(c.advance_after, c.id) > tuple_(*after))
        statement = statement.order_by(c.advance_after, c.id).limit(limit)
        self.flush()
        rows = self._rows(claimed(statement))
        return [(due_at, charge_id) for due_at, charge_id in rows]

    def ids_matching(self, exact: str, suffix: str | None, limit: int) -> builtins.list[str]:
        """One SELECT on ``charge_usage_based`` (`repository.ids_matching`), after flushing
        kept states."""
        self.flush()
        rows = self._rows(ids_matching(CHARGES, exact, suffix, limit))
        return [charge_id for (charge_id,) in rows]

    def list(self, customer_id: str | None = None) -> builtins.list[UsageBasedCharge]:
        """Every charge (or one customer's), oldest first, with their runs."""
        where = true() if customer_id is None else CHARGES.c.customer_id == customer_id
        return self._load(_reads(where, lock=False))

    def read_many(
        self, charge_ids: Sequence[str], *, lock: bool = False
    ) -> builtins.list[StoredCharge]:
        """Those of the charges `charge_ids` that exist, read in four queries and each built
        only when asked (`StoredCharge`); with `lock`, their row locks are taken in ascending
        id order (the order they come in then; oldest first otherwise)."""
        return self._read(*_by_ids(charge_ids, lock)) if charge_ids else []

    def _load(
        self, reads: _Reads, parameters: Mapping[str, Any] | None = None
    ) -> builtins.list[UsageBasedCharge]:
        """The charges `reads` reads (for `parameters`), built, with their runs: four queries
        whatever the number of charges and runs (after flushing kept states)."""
        return [stored.build() for stored in self._read(reads, parameters)]

    def _read(
        self, reads: _Reads, parameters: Mapping[str, Any] | None = None
    ) -> builtins.list[StoredCharge]:
        """The rows of the charges `reads` reads (for `parameters`) and of their runs,
        allocations and detailed lines, in four queries, kept as read: each charge is built
        from them when asked."""
        self.flush()
        charge_rows = self._rows(reads.charges, parameters)
        if not charge_rows:
            return []
        page = _Page()
        for row in self._rows(reads.runs, parameters):
            page.runs[row.charge_id].append(row)
        if page.runs:
            for row in self._rows(reads.allocations, parameters):
                page.allocations[row.run_id].append(row)
            for row in self._rows(reads.details, parameters):
                page.details[row.run_id].append(row)
        return [_StoredCharge(row.id, partial(self._build, row, page)) for row in charge_rows]

    def _build(self, row: AnyRow, page: _Page) -> UsageBasedCharge:
        """The charge stored in `row`, with its runs from `page` (whose detailed lines are then
        known as stored)."""
        runs = []
        for run_row in page.runs.get(row.id, ()):
            run = _run(
                run_row,
                [
                    restored_flat(CreditAllocation, allocation)
                    for allocation in page.allocations.get(run_row.id, ())
                ],
                [restored_flat(DetailedLine, line) for line in page.details.get(run_row.id, ())],
            )
            self._stored_details[run.id] = run.detailed_lines
            self._stored_runs[run.id] = run_row._mapping
            runs.append(run)
        return _charge(row, runs)


@dataclass
class _Page:
    """The run, allocation and detailed-line rows of a page of charges, as read: runs by
    charge id, allocations and detailed lines by run id, each in order."""

    runs: defaultdict[str, builtins.list[AnyRow]] = field(default_factory=lambda: defaultdict(list))
    allocations: defaultdict[str, builtins.list[AnyRow]] = field(
        default_factory=lambda: defaultdict(list)
    )
    details: defaultdict[str, builtins.list[AnyRow]] = field(
        default_factory=lambda: defaultdict(list)
    )


@dataclass(frozen=True)
class _Reads:
    """The four SELECTs of `SqlChargeRepository._read` for one condition on the charges."""

    charges: Select[Any]
    runs: Select[Any]
    allocations: Select[Any]
    details: Select[Any]


def _reads(where: ColumnElement[bool], lock: bool) -> _Reads:
    """The reads of the charges matching `where`: oldest first or, with `lock`, locked in
    ascending id order (the lock order of every caller); then their runs (joined with their
    invoice usage and payment), allocations and detailed lines, each in order."""
    charges = select(CHARGES).where(where)
    if lock:
        charges = charges.order_by(CHARGES.c.id).with_for_update(key_share=True)
    else:
        charges = charges.order_by(CHARGES.c.created_at, CHARGES.c.id)
    charge_ids = select(CHARGES.c.id).where(where)
    run_ids = select(RUNS.c.id).where(RUNS.c.charge_id.in_(charge_ids))
    return _Reads(
        charges,
        select(*_RUN_COLUMNS)
        .select_from(_RUNS_WITH_FACTS)
        .where(RUNS.c.charge_id.in_(charge_ids))
        .order_by(RUNS.c.created_at, RUNS.c.id),
        select(ALLOCATIONS)
        .where(ALLOCATIONS.c.run_id.in_(run_ids))
        .order_by(ALLOCATIONS.c.run_id, ALLOCATIONS.c.seq),
        select(DETAILED_LINES)
        .where(DETAILED_LINES.c.run_id.in_(run_ids))
        .order_by(DETAILED_LINES.c.run_id, DETAILED_LINES.c.seq),
    )


_READS_BY_IDS = {
    lock: _reads(CHARGES.c.id.in_(bindparam("ids", expanding=True)), lock) for lock in (False, True)
}
"""The reads of charges by id (the hot ones: a sweep's page, an invoice's charges), built once
with an expanding parameter ``ids``: SQLAlchemy then finds their compiled form at once instead
of building and keying the statements again on every call."""


def _by_ids(charge_ids: Sequence[str], lock: bool) -> tuple[_Reads, dict[str, Any]]:
    """The reads of the charges `charge_ids` and their parameters."""
    return _READS_BY_IDS[lock], {"ids": list(charge_ids)}


class _StoredCharge:
    """A charge whose rows are read, built (and checked) when `build` is called."""

    __slots__ = ("_build", "id")

    def __init__(self, charge_id: str, build: Callable[[], UsageBasedCharge]) -> None:
        self.id = charge_id
        self._build = build

    def build(self) -> UsageBasedCharge:
        """The charge; `CorruptRecordError` if a row of it holds what this version does not
        know."""
        return self._build()


def _intent_values(charge: UsageBasedCharge) -> dict[str, Any]:
    intent = charge.intent
    return {
        "id": charge.id,
        "customer_id": intent.customer_id,
        "name": intent.name,
        "currency": intent.currency,
        "feature_key": intent.feature_key,
        "service_period_from": intent.service_period.start,
        "service_period_to": intent.service_period.end,
        "invoice_at": intent.invoice_at,
        "settlement_mode": intent.settlement_mode.value,
        "price": PRICE_ADAPTER.dump_json(intent.price).decode(),
        "unique_reference_id": intent.unique_reference_id,
        "created_at": charge.created_at,
    }


_KEYS_PER_QUERY = 1_000
"""Keys per query of `by_references` (two bound parameters each: far below any limit)."""

_RUN_MUTABLE = (
    "type",
    "service_period_to",
    "stored_at_lt",
    "metered_quantity",
    "line_id",
    "invoice_id",
    "amount",
    "credits_total",
    "total",
    "no_fiat_transaction_required",
    "deleted_at",
)
"""The run columns a save may change (its identity, charge, initial type, feature and creation
never change)."""

_STATE_COLUMNS = (
    "status",
    "advance_after",
    "current_realization_run_id",
    "feature_id",
    "deleted_at",
)


@cache
def _save_run(columns: tuple[str, ...]) -> Update:
    """The executemany UPDATE of a run's `columns` (some of `_RUN_MUTABLE`), built once per
    set of columns."""
    return (
        update(RUNS)
        .where(RUNS.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in columns})
    )


_STATES = select(CHARGES.c.id, *(CHARGES.c[name] for name in _STATE_COLUMNS)).where(
    CHARGES.c.id.in_(bindparam("ids", expanding=True))
)
"""The state columns of the charges ``ids``, built once."""

_SAVE_STATE = (
    update(CHARGES)
    .where(CHARGES.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in _STATE_COLUMNS})
)
"""The executemany UPDATE of kept states, built once."""


def _state_values(charge: UsageBasedCharge) -> dict[str, Any]:
    state = charge.state
    return {
        "status": state.status.value,
        "advance_after": state.advance_after,
        "current_realization_run_id": state.current_run_id,
        "feature_id": state.feature_id,
        "deleted_at": charge.deleted_at,
    }


def _charge(row: AnyRow, runs: Sequence[RealizationRun]) -> UsageBasedCharge:
    """The charge stored in `row` with its already loaded `runs`."""
    values = row._mapping
    with loading(CHARGES.name, values["id"]):
        intent = restored(
            ChargeIntent,
            {
                "customer_id": values["customer_id"],
                "name": values["name"],
                "currency": values["currency"],
                "feature_key": values["feature_key"],
                "service_period": stored_period(
                    values["service_period_from"], values["service_period_to"]
                ),
                "invoice_at": values["invoice_at"],
                "settlement_mode": SettlementMode(values["settlement_mode"]),
                "price": stored_price(values["price"]),
                "unique_reference_id": values["unique_reference_id"],
            },
        )
        state = _state(values)
        require_status_of_mode(intent.settlement_mode, state.status)
        return restored(
            UsageBasedCharge,
            {
                "id": values["id"],
                "intent": intent,
                "state": state,
                "runs": list(runs),
                "created_at": values["created_at"],
                "deleted_at": values["deleted_at"],
            },
        )


def _state(row: RowMapping) -> ChargeState:
    """The state stored in `row` (a charge's row, or its state columns with its id)."""
    return restored(
        ChargeState,
        {
            "status": ChargeStatus(row["status"]),
            "advance_after": row["advance_after"],
            "current_run_id": row["current_realization_run_id"],
            "feature_id": row["feature_id"],
        },
    )


def _run_values(run: RealizationRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "charge_id": run.charge_id,
        "type": run.type.value,
        "initial_type": run.initial_type.value,
        "feature_id": run.feature_id,
        "service_period_to": run.service_period_to,
        "stored_at_lt": run.stored_at_lt,
        "line_id": run.line_id,
        "invoice_id": run.invoice_id,
        "metered_quantity": run.metered_quantity,
        "amount": run.totals.amount,
        "credits_total": run.totals.credits_total,
        "total": run.totals.total,
        "no_fiat_transaction_required": run.no_fiat_transaction_required,
        "created_at": run.created_at,
        "deleted_at": run.deleted_at,
    }


def _details_rows(run_id: str, details: Sequence[DetailedLine]) -> builtins.list[dict[str, Any]]:
    """The rows of a run's detailed lines, in order."""
    return [
        {"id": new_id(), "run_id": run_id, "seq": seq, **flat_values(line)}
        for seq, line in enumerate(details, start=1)
    ]


def _detailed_line_values(run: RealizationRun) -> builtins.list[dict[str, Any]]:
    return _details_rows(run.id, run.detailed_lines)


def _usage_values(usage: InvoiceUsage) -> dict[str, Any]:
    return {
        "amount": usage.totals.amount,
        "credits_total": usage.totals.credits_total,
        "total": usage.totals.total,
        "booked_at": usage.booked_at,
        "ledger_reference": usage.ledger_reference,
    }


def _run(
    row: AnyRow, allocations: Sequence[CreditAllocation], details: Sequence[DetailedLine]
) -> RealizationRun:
    """The run stored in `row` (joined with its invoice usage and payment), with its
    `allocations` and detailed lines (in the order they were added)."""
    values = row._mapping
    with loading(RUNS.name, values["id"]):
        return restored(
            RealizationRun,
            {
                "id": values["id"],
                "charge_id": values["charge_id"],
                "type": RunType(values["type"]),
                "initial_type": RunType(values["initial_type"]),
                "feature_id": values["feature_id"],
                "service_period_to": values["service_period_to"],
                "stored_at_lt": values["stored_at_lt"],
                "metered_quantity": values["metered_quantity"],
                "line_id": values["line_id"],
                "invoice_id": values["invoice_id"],
                "totals": stored_totals(values),
                "no_fiat_transaction_required": values["no_fiat_transaction_required"],
                "detailed_lines": tuple(details),
                "allocations": list(allocations),
                "invoice_usage": _invoice_usage(values),
                "payment": _payment(values),
                "created_at": values["created_at"],
                "deleted_at": values["deleted_at"],
            },
        )


def _invoice_usage(row: RowMapping) -> InvoiceUsage | None:
    if row["usage_booked_at"] is None:
        return None
    return restored(
        InvoiceUsage,
        {
            "totals": stored_totals(row, "usage_"),
            "booked_at": row["usage_booked_at"],
            "ledger_reference": row["usage_ledger_reference"],
        },
    )


def _payment(row: RowMapping) -> Payment | None:
    if row["payment_status"] is None:
        return None
    return restored(
        Payment,
        {
            "status": PaymentStatus(row["payment_status"]),
            "amount": row["payment_amount"],
            "authorized_at": row["payment_authorized_at"],
            "authorization_reference": row["payment_authorization_reference"],
            "settled_at": row["payment_settled_at"],
            "settlement_reference": row["payment_settlement_reference"],
        },
    )
