"""Credit grants on ``credit_grants``, with their remaining amounts, and customers' overdrafts
on ``credit_overdrafts``: running totals kept in step with the allocations drawn on them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, bindparam, func, select, update

from domain.credits import CreditGrant
from domain.money import ZERO, exact_arithmetic
from persistence.ports import GrantBalance
from persistence.sql.repository import SqlRepository, flat_record, flat_values
from persistence.sql.tables import CREDIT_GRANTS, CREDIT_OVERDRAFTS

_CREDIT_LOCK = "chargeflow.credit:"
"""The prefix of a customer's credit lock key."""


class SqlCreditRepository(SqlRepository):
    """`CreditRepository`: grants, each with its remaining amount kept as a running total, and
    each customer's overdraft (credit allocated beyond the grants).

    Moving a balance is a read-modify-write in exact decimals (SQLite stores them as text),
    done under the customer's credit lock; the values read by `balances` and
    `unassigned_total` are remembered until the next savepoint edge (`forget`), so an
    allocation right after reading them writes without reading again."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._remaining: dict[str, Decimal] = {}
        self._overdrafts: dict[str, Decimal | None] = {}

    def add_grant(self, grant: CreditGrant) -> None:
        """Insert `grant`, nothing of it allocated yet."""
        self._insert(CREDIT_GRANTS, [{**flat_values(grant), "remaining": grant.amount}])

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
        """The customer's grants made by `granted_by`, FIFO by (granted_at, id), each with its
        remaining amount: one indexed read, whatever the customer's history."""
        rows = self._rows_of(_BALANCES, {"customer_id": customer_id, "granted_by": granted_by})
        balances = [
            GrantBalance(
                grant=flat_record(CreditGrant, CREDIT_GRANTS, row), remaining=row.remaining
            )
            for row in rows
        ]
        self._remaining.update((balance.grant.id, balance.remaining) for balance in balances)
        return balances

    def unassigned_total(self, customer_id: str) -> Decimal:
        """The customer's overdraft: net amount of its allocations that draw on no grant."""
        return self._overdraft(customer_id) or ZERO

    def move_balances(self, customer_id: str, drawn: Mapping[str | None, Decimal]) -> None:
        """Each grant's remaining amount less what was drawn on it, the customer's overdraft
        plus what was drawn beyond the grants; written in one executemany UPDATE (and one
        UPDATE or INSERT of the overdraft)."""
        grants = {grant_id: amount for grant_id, amount in drawn.items() if grant_id is not None}
        unknown = [grant_id for grant_id in grants if grant_id not in self._remaining]
        if unknown:
            c = CREDIT_GRANTS.c
            rows = self._rows(select(c.id, c.remaining).where(c.id.in_(unknown)))
            self._remaining.update((grant_id, remaining) for grant_id, remaining in rows)
        if grants:
            with exact_arithmetic():
                moved = {
                    grant_id: self._remaining[grant_id] - amount
                    for grant_id, amount in grants.items()
                }
            self._write(
                _MOVE_REMAINING,
                [{"b_id": grant_id, "b_remaining": value} for grant_id, value in moved.items()],
            )
            self._remaining.update(moved)
        beyond = drawn.get(None)
        if beyond:
            self._move_overdraft(customer_id, beyond)

    def forget(self) -> None:
        """Forget the balances read (a savepoint edge: the database may hold others now)."""
        self._remaining = {}
        self._overdrafts = {}

    def _overdraft(self, customer_id: str) -> Decimal | None:
        """The customer's overdraft row's amount, None when it has no row (read once)."""
        if customer_id not in self._overdrafts:
            rows = self._rows_of(_OVERDRAFT, {"customer_id": customer_id})
            self._overdrafts[customer_id] = rows[0][0] if rows else None
        return self._overdrafts[customer_id]

    def _move_overdraft(self, customer_id: str, amount: Decimal) -> None:
        current = self._overdraft(customer_id)
        o = CREDIT_OVERDRAFTS.c
        with exact_arithmetic():
            moved = (current or ZERO) + amount
        if current is None:
            self._insert(CREDIT_OVERDRAFTS, [{"customer_id": customer_id, "amount": moved}])
        else:
            self._write(
                update(CREDIT_OVERDRAFTS).where(o.customer_id == customer_id).values(amount=moved)
            )
        self._overdrafts[customer_id] = moved


_BALANCES = (
    select(CREDIT_GRANTS)
    .where(
        CREDIT_GRANTS.c.customer_id == bindparam("customer_id"),
        CREDIT_GRANTS.c.granted_at <= bindparam("granted_by"),
    )
    .order_by(CREDIT_GRANTS.c.granted_at, CREDIT_GRANTS.c.id)
)
_OVERDRAFT = select(CREDIT_OVERDRAFTS.c.amount).where(
    CREDIT_OVERDRAFTS.c.customer_id == bindparam("customer_id")
)
_MOVE_REMAINING = (
    update(CREDIT_GRANTS)
    .where(CREDIT_GRANTS.c.id == bindparam("b_id"))
    .values(remaining=bindparam("b_remaining"))
)
"""The hot statements of a draw, built once: a customer's grants FIFO, its overdraft, and the
executemany UPDATE of moved grant balances."""
