"""The usage event store on ``usage_events``, the meter query over it, and its listing.

A unit of work answers each distinct meter query once: a page of charges of one customer,
feature and period (a sweep) reads their usage in one statement, as if it were batched. Usage
recorded in the same unit of work, or a savepoint rolled back, forgets the answers kept; usage
other transactions commit meanwhile is not seen by a query already answered (it is no more
ordered before the unit of work than usage recorded just after it)."""

from __future__ import annotations

import builtins
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, bindparam, func, select

from chargeflow.domain.money import ZERO, exact_arithmetic
from chargeflow.domain.periods import Period
from chargeflow.domain.usage import UsageEvent
from chargeflow.persistence.sql.repository import (
    Savepoints,
    SqlRepository,
    flat_record,
    flat_values,
)
from chargeflow.persistence.sql.tables import USAGE_EVENTS


class SqlUsageRepository(SqlRepository):
    """`UsageRepository` on the ``usage_events`` table, each meter total read once per unit of
    work (until usage is recorded in it, or a savepoint is rolled back)."""

    def __init__(self, connection: Connection, savepoints: Savepoints) -> None:
        super().__init__(connection, savepoints)
        self._totals: dict[tuple[str, str, datetime, datetime, datetime], Decimal] = {}

    def add(self, event: UsageEvent) -> None:
        """Insert `event` (the totals kept are forgotten)."""
        self._totals.clear()
        self._insert(USAGE_EVENTS, [flat_values(event)])

    def forget(self) -> None:
        """Forget the totals kept (a savepoint is rolled back: it may have recorded usage)."""
        self._totals.clear()

    def total(
        self, customer_id: str, feature_id: str, events: Period, stored_before: datetime
    ) -> Decimal:
        """Exact sum of the values of feature `feature_id`'s events with ``events.start <=
        event_time < events.end`` and ``stored_at < stored_before``; 0 when there are none.
        Read once per unit of work."""
        key = (customer_id, feature_id, events.start, events.end, stored_before)
        if key not in self._totals:
            self._totals[key] = self._total(*key)
        return self._totals[key]

    def _total(
        self,
        customer_id: str,
        feature_id: str,
        start: datetime,
        end: datetime,
        stored_before: datetime,
    ) -> Decimal:
        sqlite = self._connection.dialect.name == "sqlite"
        values = self._rows(
            _METERED_VALUES if sqlite else _METERED_SUM,
            {
                "customer_id": customer_id,
                "feature_id": feature_id,
                "start": start,
                "end": end,
                "stored_before": stored_before,
            },
        )
        with exact_arithmetic():
            return sum((value for (value,) in values if value is not None), ZERO)

    def list(
        self, customer_id: str, feature_key: str | None, events: Period | None
    ) -> builtins.list[UsageEvent]:
        """The customer's events (of `feature_key`; with ``events.start <= event_time <
        events.end``), by event time, then id: one SELECT the customer's indexes serve."""
        statement = select(USAGE_EVENTS).where(_c.customer_id == customer_id)
        if feature_key is not None:
            statement = statement.where(_c.feature_key == feature_key)
        if events is not None:
            statement = statement.where(_c.event_time >= events.start, _c.event_time < events.end)
        rows = self._rows(statement.order_by(_c.event_time, _c.id))
        return [flat_record(UsageEvent, USAGE_EVENTS, row) for row in rows]


_c = USAGE_EVENTS.c
_METERED_WHERE = (
    _c.customer_id == bindparam("customer_id"),
    _c.feature_id == bindparam("feature_id"),
    _c.event_time >= bindparam("start"),
    _c.event_time < bindparam("end"),
    _c.stored_at < bindparam("stored_before"),
)
_METERED_SUM = select(func.sum(_c.value)).where(*_METERED_WHERE)
_METERED_VALUES = select(_c.value).where(*_METERED_WHERE)
"""What a meter snapshot sums, built once: summed by PostgreSQL (NUMERIC sums are exact), or
fetched and summed in Python on SQLite, which stores decimals as text."""
