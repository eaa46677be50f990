"""Customers and features on ``customers`` and ``features``, with their mapping.

A feature key names at most one live feature (a partial unique index); archiving frees the key.
"""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import select, update

from chargeflow.domain.customer import Customer
from chargeflow.domain.errors import NotFoundError
from chargeflow.domain.feature import Feature
from chargeflow.domain.invoices import LineStatus
from chargeflow.persistence.sql.repository import (
    SqlRepository,
    claimed,
    flat_record,
    flat_values,
    ids_matching,
)
from chargeflow.persistence.sql.tables import CUSTOMERS, FEATURES, INVOICE_LINES


class SqlCustomerRepository(SqlRepository):
    """`CustomerRepository` on the ``customers`` table."""

    def add(self, customer: Customer) -> None:
        """Insert `customer`; `ConflictError` if its id exists."""
        self._insert(CUSTOMERS, [flat_values(customer)])

    def get(self, customer_id: str) -> Customer:
        """The customer `customer_id`; `NotFoundError` if there is none."""
        rows = self._rows(select(CUSTOMERS).where(CUSTOMERS.c.id == customer_id))
        if not rows:
            raise NotFoundError("customer", customer_id)
        return flat_record(Customer, CUSTOMERS, rows[0])

    def save(self, customer: Customer) -> None:
        """One UPDATE of the customer's row; `NotFoundError`."""
        values = flat_values(customer)
        del values["id"]
        self._update(CUSTOMERS, customer.id, values, "customer")

    def lock_billing(self, customer_id: str) -> Customer:
        """``SELECT ... FOR NO KEY UPDATE`` of the customer's row (on SQLite the write transaction
        already excludes every other writer); `NotFoundError` if there is none."""
        statement = (
            select(CUSTOMERS).where(CUSTOMERS.c.id == customer_id).with_for_update(key_share=True)
        )
        rows = self._rows(statement)
        if not rows:
            raise NotFoundError("customer", customer_id)
        return flat_record(Customer, CUSTOMERS, rows[0])

    def claim_invoiceable(self, now: datetime, after: str | None, limit: int) -> list[str]:
        """Up to `limit` customer ids, ascending after `after`, with a live gathering line
        whose `invoice_at <= now`, locked with ``FOR NO KEY UPDATE SKIP LOCKED`` on
        PostgreSQL (the billing lock)."""
        lines = INVOICE_LINES.c
        waiting = (
            select(lines.id)
            .where(
                lines.customer_id == CUSTOMERS.c.id,
                lines.status == LineStatus.GATHERING.value,
                lines.deleted_at.is_(None),
                lines.invoice_at <= now,
            )
            .exists()
        )
        statement = select(CUSTOMERS.c.id).where(waiting)
        if after is not None:
            statement = statement.where(CUSTOMERS.c.id > after)
        rows = self._rows(claimed(statement.order_by(CUSTOMERS.c.id).limit(limit)))
        return [customer_id for (customer_id,) in rows]

    def ids_matching(self, exact: str, suffix: str | None, limit: int) -> builtins.list[str]:
        """One SELECT on ``customers`` (`ids_matching`)."""
        rows = self._rows(ids_matching(CUSTOMERS, exact, suffix, limit))
        return [customer_id for (customer_id,) in rows]

    def list(self) -> builtins.list[Customer]:
        """Every customer, by id (ULIDs: oldest first)."""
        rows = self._rows(select(CUSTOMERS).order_by(CUSTOMERS.c.id))
        return [flat_record(Customer, CUSTOMERS, row) for row in rows]


class SqlFeatureRepository(SqlRepository):
    """`FeatureRepository` on the ``features`` table."""

    def add(self, feature: Feature) -> None:
        """Insert `feature`; `ConflictError` if its key names a live feature already."""
        self._insert(FEATURES, [flat_values(feature)])

    def live_by_key(self, key: str) -> Feature | None:
        """The unarchived feature registered under `key`, if any."""
        rows = self._rows(
            select(FEATURES).where(FEATURES.c.key == key, FEATURES.c.archived_at.is_(None))
        )
        return flat_record(Feature, FEATURES, rows[0]) if rows else None

    def archive(self, feature_id: str, at: datetime) -> Feature:
        """Set `archived_at` of live feature `feature_id`; `NotFoundError` if it is not live."""
        archived = self._write(
            update(FEATURES)
            .where(FEATURES.c.id == feature_id, FEATURES.c.archived_at.is_(None))
            .values(archived_at=at)
        )
        if archived == 0:
            raise NotFoundError("feature", feature_id)
        [row] = self._rows(select(FEATURES).where(FEATURES.c.id == feature_id))
        return flat_record(Feature, FEATURES, row)

    def list(self, *, include_archived: bool) -> builtins.list[Feature]:
        """The live features (with `include_archived`, every feature) by key, then id."""
        statement = select(FEATURES).order_by(FEATURES.c.key, FEATURES.c.id)
        if not include_archived:
            statement = statement.where(FEATURES.c.archived_at.is_(None))
        return [flat_record(Feature, FEATURES, row) for row in self._rows(statement)]
