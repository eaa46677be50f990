"""Usage-based charges on ``charge_usage_based``, their runs and the runs' credit allocations,
with their mapping.

A charge loads with every run and allocation in three queries, whatever their number. Loading
validates: a status, settlement mode, run type or price this version does not know raises
`CorruptRecordError` naming the table and row, never a half-built charge.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, true, tuple_

from domain.charge import ChargeIntent, ChargeState, SettlementMode, UsageBasedCharge
from domain.credits import CreditAllocation
from domain.errors import NotFoundError
from domain.periods import Period
from domain.prices import PRICE_ADAPTER
from domain.runs import RealizationRun, RunType, Totals
from domain.statuses import ChargeStatus
from persistence.sql.errors import loading
from persistence.sql.repository import AnyRow, SqlRepository, flat_record, flat_values
from persistence.sql.tables import ALLOCATIONS, CHARGES, RUNS


class SqlChargeRepository(SqlRepository):
    """`ChargeRepository` on ``charge_usage_based``, its runs and their credit allocations."""

    def add(self, charge: UsageBasedCharge) -> None:
        """Insert the charge's row (intent and state; a new charge has no runs)."""
        self._insert(CHARGES, [{**_intent_values(charge), **_state_values(charge)}])

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
        found = {charge.id: charge for charge in self._load(CHARGES.c.id.in_(charge_ids), lock)}
        missing = next((charge_id for charge_id in charge_ids if charge_id not in found), None)
        if missing is not None:
            raise NotFoundError("charge", missing)
        return [found[charge_id] for charge_id in charge_ids]

    def by_reference(self, customer_id: str, reference: str) -> UsageBasedCharge | None:
        """The customer's charge created with `reference` as its unique reference, if any."""
        c = CHARGES.c
        found = self._load(
            (c.customer_id == customer_id) & (c.unique_reference_id == reference), lock=False
        )
        return found[0] if found else None

    def find_many(self, charge_ids: Sequence[str]) -> builtins.list[UsageBasedCharge]:
        """Those of the charges `charge_ids` that exist, oldest first, in three queries."""
        return self._load(CHARGES.c.id.in_(charge_ids), lock=False) if charge_ids else []

    def save_state(self, charge: UsageBasedCharge) -> None:
        """One UPDATE of the charge's state columns and `deleted_at`; `NotFoundError`."""
        self._update(CHARGES, charge.id, _state_values(charge), "charge")

    def add_run(self, run: RealizationRun) -> None:
        """Insert the run's row; `ConflictError` if its line is unknown or billed by another run."""
        self._insert(RUNS, [_run_values(run)])

    def save_run(self, run: RealizationRun) -> None:
        """One UPDATE of the run's rating columns (as of, collection end, meter value, totals,
        line id); `NotFoundError`."""
        values = _run_values(run)
        del values["id"], values["charge_id"], values["type"], values["feature_id"]
        del values["created_at"]
        self._update(RUNS, run.id, values, "run")

    def add_allocation(self, allocation: CreditAllocation) -> None:
        """Append `allocation` as the next `seq` of its run."""
        [(last,)] = self._rows(
            select(func.coalesce(func.max(ALLOCATIONS.c.seq), 0)).where(
                ALLOCATIONS.c.run_id == allocation.run_id
            )
        )
        self._insert(ALLOCATIONS, [{**flat_values(allocation), "seq": last + 1}])

    def ids_for_customer(self, customer_id: str) -> builtins.list[str]:
        """Ids of the customer's charges whose status is not ``deleted``, oldest first."""
        c = CHARGES.c
        rows = self._rows(
            select(c.id)
            .where(c.customer_id == customer_id, c.status != ChargeStatus.DELETED.value)
            .order_by(c.created_at, c.id)
        )
        return [charge_id for (charge_id,) in rows]

    def due_ids(
        self, now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> builtins.list[tuple[datetime, str]]:
        """Up to `limit` (advance_after, id) keys with ``advance_after <= now``, in key order,
        strictly after `after` (a row-value bound, which an index on the key serves)."""
        c = CHARGES.c
        statement = select(c.advance_after, c.id).where(
            c.advance_after.is_not(None), c.advance_after <= now
        )
        if after is not None:
            statement = statement.where(tuple_(c.advance_after, c.id) > tuple_(*after))
        rows = self._rows(statement.order_by(c.advance_after, c.id).limit(limit))
        return [(due_at, charge_id) for due_at, charge_id in rows]

    def list(self, customer_id: str | None = None) -> builtins.list[UsageBasedCharge]:
        """Every charge (or one customer's), oldest first, with runs and allocations."""
        where = true() if customer_id is None else CHARGES.c.customer_id == customer_id
        return self._load(where, lock=False)

    def _load(self, where: ColumnElement[bool], lock: bool) -> builtins.list[UsageBasedCharge]:
        """The charges matching `where`, oldest first (by id when locking): their rows, then
        their runs, then the runs' allocations, three queries whatever the number of charges
        and runs."""
        charges = select(CHARGES).where(where)
        if lock:  # row locks are taken in ascending id order, the lock order of every caller
            charge_rows = self._rows(charges.order_by(CHARGES.c.id).with_for_update())
        else:
            charge_rows = self._rows(charges.order_by(CHARGES.c.created_at, CHARGES.c.id))
        if not charge_rows:
            return []
        charge_ids = select(CHARGES.c.id).where(where)
        run_rows = self._rows(
            select(RUNS)
            .where(RUNS.c.charge_id.in_(charge_ids))
            .order_by(RUNS.c.created_at, RUNS.c.id)
        )
        allocations: defaultdict[str, builtins.list[CreditAllocation]] = defaultdict(list)
        if run_rows:
            run_ids = select(RUNS.c.id).where(RUNS.c.charge_id.in_(charge_ids))
            for row in self._rows(
                select(ALLOCATIONS)
                .where(ALLOCATIONS.c.run_id.in_(run_ids))
                .order_by(ALLOCATIONS.c.run_id, ALLOCATIONS.c.seq)
            ):
                allocations[row.run_id].append(flat_record(CreditAllocation, ALLOCATIONS, row))
        runs: defaultdict[str, builtins.list[RealizationRun]] = defaultdict(list)
        for row in run_rows:
            runs[row.charge_id].append(_run(row, allocations[row.id]))
        return [_charge(row, runs[row.id]) for row in charge_rows]


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
    with loading(CHARGES.name, row.id):
        intent = ChargeIntent(
            customer_id=row.customer_id,
            name=row.name,
            currency=row.currency,
            feature_key=row.feature_key,
            service_period=Period.model_validate((row.service_period_from, row.service_period_to)),
            invoice_at=row.invoice_at,
            settlement_mode=SettlementMode(row.settlement_mode),
            price=PRICE_ADAPTER.validate_json(row.price),
            unique_reference_id=row.unique_reference_id,
        )
        state = ChargeState(
            status=ChargeStatus(row.status),
            advance_after=row.advance_after,
            current_run_id=row.current_realization_run_id,
            feature_id=row.feature_id,
        )
        return UsageBasedCharge(
            id=row.id,
            intent=intent,
            state=state,
            runs=list(runs),
            created_at=row.created_at,
            deleted_at=row.deleted_at,
        )


def _run_values(run: RealizationRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "charge_id": run.charge_id,
        "type": run.type.value,
        "feature_id": run.feature_id,
        "asof": run.as_of,
        "collection_end": run.collection_end,
        "line_id": run.line_id,
        "meter_value": run.meter_value,
        "amount": run.totals.amount,
        "credits_total": run.totals.credits_total,
        "total": run.totals.total,
        "created_at": run.created_at,
    }


def _run(row: AnyRow, allocations: Sequence[CreditAllocation]) -> RealizationRun:
    """The run stored in `row` with its `allocations` (in the order they were added)."""
    with loading(RUNS.name, row.id):
        return RealizationRun(
            id=row.id,
            charge_id=row.charge_id,
            type=RunType(row.type),
            feature_id=row.feature_id,
            as_of=row.asof,
            collection_end=row.collection_end,
            line_id=row.line_id,
            meter_value=row.meter_value,
            totals=Totals(amount=row.amount, credits_total=row.credits_total, total=row.total),
            created_at=row.created_at,
            allocations=list(allocations),
        )
