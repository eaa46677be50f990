"""Credit grants on ``credit_grants``, with balances derived from the allocations drawn on them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from domain.credits import CreditGrant
from domain.money import ZERO
from persistence.ports import GrantBalance
from persistence.sql.repository import SqlRepository, flat_record, flat_values
from persistence.sql.tables import ALLOCATIONS, CHARGES, CREDIT_GRANTS

_CREDIT_LOCK = "chargeflow.credit:"
"""The prefix of a customer's credit lock key."""


class SqlCreditRepository(SqlRepository):
    """`CreditRepository`: grants, and what of each is still unallocated."""

    def add_grant(self, grant: CreditGrant) -> None:
        """Insert `grant`."""
        self._insert(CREDIT_GRANTS, [flat_values(grant)])

    def lock(self, customer_id: str) -> None:
        """A transaction-scoped PostgreSQL advisory lock keyed by the customer (not its row,
        which is the billing lock); nothing on SQLite, whose write transaction already excludes
        every other writer."""
        if self._connection.dialect.name != "sqlite":
            self._rows(
                select(
                    func.pg_advisory_xact_lock(func.hashtextextended(_CREDIT_LOCK + customer_id, 0))
                )
            )

    def balances(self, customer_id: str, granted_by: datetime) -> list[GrantBalance]:
        """The customer's grants made by `granted_by`, FIFO by (granted_at, id), each with
        ``amount`` minus the net of the allocations and corrections carrying its id."""
        grants = CREDIT_GRANTS.c
        of_customer = (grants.customer_id == customer_id) & (grants.granted_at <= granted_by)
        rows = self._rows(
            select(CREDIT_GRANTS).where(of_customer).order_by(grants.granted_at, grants.id)
        )
        used = self._sum_by(
            ALLOCATIONS.c.grant_id,
            ALLOCATIONS.c.amount,
            ALLOCATIONS.c.grant_id.in_(select(grants.id).where(of_customer)),
        )
        return [
            GrantBalance(
                grant=flat_record(CreditGrant, CREDIT_GRANTS, row),
                remaining=row.amount - used.get(row.id, ZERO),
            )
            for row in rows
        ]

    def unassigned_total(self, customer_id: str) -> Decimal:
        """Net amount of the customer's allocations that draw on no grant."""
        sums = self._sum_by(
            CHARGES.c.customer_id,
            ALLOCATIONS.c.amount,
            ALLOCATIONS.c.charge_id == CHARGES.c.id,
            CHARGES.c.customer_id == customer_id,
            ALLOCATIONS.c.grant_id.is_(None),
        )
        return sums.get(customer_id, ZERO)
