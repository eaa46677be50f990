"""The usage event store on ``usage_events``, and the meter query over it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.money import ZERO
from domain.periods import Period
from domain.usage import UsageEvent
from persistence.sql.repository import SqlRepository, flat_values
from persistence.sql.tables import USAGE_EVENTS


class SqlUsageRepository(SqlRepository):
    """`UsageRepository` on the ``usage_events`` table."""

    def add(self, event: UsageEvent) -> None:
        """Insert `event`."""
        self._insert(USAGE_EVENTS, [flat_values(event)])

    def total(
        self, customer_id: str, feature_id: str, events: Period, stored_before: datetime
    ) -> Decimal:
        """Exact sum of the values of feature `feature_id`'s events with ``events.start <=
        event_time < events.end`` and ``stored_at < stored_before``; 0 when there are none."""
        c = USAGE_EVENTS.c
        sums = self._sum_by(
            c.customer_id,
            c.value,
            c.customer_id == customer_id,
            c.feature_id == feature_id,
            c.event_time >= events.start,
            c.event_time < events.end,
            c.stored_at < stored_before,
        )
        return sums.get(customer_id, ZERO)
