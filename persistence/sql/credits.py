"""Credit grants on ``credit_grants``, with their remaining amounts, and customers' overdrafts
on ``credit_overdrafts``: running totals kept in step with the allocations drawn on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, bindparam, func, select, update

from chargeflow.domain.credits import CreditGrant
from chargeflow.domain.errors import LockBusyError
from chargeflow.domain.money import ZERO, exact_arithmetic
from chargeflow.persistence.ports import GrantBalance
from chargeflow.persistence.sql.repository import (
    Savepoints,
    SqlRepository,
    flat_record,
    flat_values,
)
from chargeflow.persistence.sql.tables import CREDIT_GRANTS, CREDIT_OVERDRAFTS

_CREDIT_LOCK = "chargeflow.credit:"
"""The prefix of a customer's credit lock key."""


@dataclass(frozen=True)
class CreditMark:
    """What a credit repository held when a savepoint began."""

    grants: dict[str, tuple[CreditGrant, ...]]
    remaining: dict[str, Decimal]
    overdrafts: dict[str, Decimal | None]
    dirty: frozenset[str]
    dirty_overdrafts: frozenset[str]
    locked: frozenset[str]


class SqlCreditRepository(SqlRepository):
    """`CreditRepository`: grants, each with its remaining amount kept as a running total, and
    each customer's overdraft (credit allocated beyond the grants).

    A customer's grants, their remaining amounts and its overdraft are read once and kept for
    the rest of the unit of work, so a page of charges of one customer reads them once. Once the
    customer's credit lock is held (on SQLite: always, its write transaction excludes every
    other writer) no other transaction may move them; what was read before the lock is read
    again when it is taken (a balance read unlocked is as old as the read, as it would be if
    it were read again: only a draw needs the lock). Moving a balance changes the kept values
    (exact decimals: SQLite stores them as text) and writes them behind, at the next flush; a
    savepoint marks them and a rolled-back one restores them."""

    def __init__(self, connection: Connection, savepoints: Savepoints) -> None:
        super().__init__(connection, savepoints)
        self._sqlite = connection.dialect.name == "sqlite"
        self.wait = True
        """Whether `lock` waits for a lock another transaction holds (else `LockBusyError`)."""
        self._locked: set[str] = set()
        self._grants: dict[str, tuple[CreditGrant, ...]] = {}
        self._remaining: dict[str, Decimal] = {}
        self._overdrafts: dict[str, Decimal | None] = {}
        self._dirty: set[str] = set()
        self._dirty_overdrafts: set[str] = set()

    def add_grant(self, grant: CreditGrant) -> None:
        """Insert `grant`, nothing of it allocated yet."""
        self._insert(CREDIT_GRANTS, [{**flat_values(grant), "remaining": grant.amount}])
        self._grants.pop(grant.customer_id, None)

    def lock(self, customer_id: str) -> None:
        """A transaction-scoped PostgreSQL advisory lock keyed by the customer (not its row,
        which is the billing lock), taken once per unit of work (without `wait`, only if free,
        else `LockBusyError`); nothing on SQLite, whose write transaction already excludes
        every other writer."""
        if self._sqlite or customer_id in self._locked:
            return
        key = func.hashtextextended(_CREDIT_LOCK + customer_id, 0)
        if self.wait:
            self._rows(select(func.pg_advisory_xact_lock(key)))
        elif not self._rows(select(func.pg_try_advisory_xact_lock(key)))[0][0]:
            raise LockBusyError(f"the credit lock of customer {customer_id!r}")
        self._locked.add(customer_id)
        for grant in self._grants.pop(customer_id, ()):  # what was read before may be stale
            self._remaining.pop(grant.id, None)
        self._overdrafts.pop(customer_id, None)

    def balances(self, customer_id: str, granted_by: datetime) -> list[GrantBalance]:
        """The customer's grants made by `granted_by`, FIFO by (granted_at, id), each with its
        remaining amount: one indexed read, whatever the customer's history, and none again
        in this unit of work until the customer's credit lock is taken."""
        grants = self._grants.get(customer_id)
        if grants is None:
            rows = self._rows(_GRANTS_OF, {"customer_id": customer_id})
            grants = tuple(flat_record(CreditGrant, CREDIT_GRANTS, row) for row in rows)
            fresh = {row.id: row.remaining for row in rows}
            self._remaining.update(
                (grant_id, value)
                for grant_id, value in fresh.items()
                if grant_id not in self._dirty
            )
            self._grants[customer_id] = grants
        return [
            GrantBalance(grant=grant, remaining=self._remaining[grant.id])
            for grant in grants
            if grant.granted_at <= granted_by
        ]

    def unassigned_total(self, customer_id: str) -> Decimal:
        """The customer's overdraft: net amount of its allocations that draw on no grant."""
        return self._overdraft(customer_id) or ZERO

    def move_balances(self, customer_id: str, drawn: Mapping[str | None, Decimal]) -> None:
        """Each grant's remaining amount less what was drawn on it, the customer's overdraft
        plus what was drawn beyond the grants: kept, and written at the next flush."""
        grants = {grant_id: amount for grant_id, amount in drawn.items() if grant_id is not None}
        unknown = [grant_id for grant_id in grants if grant_id not in self._remaining]
        if unknown:
            c = CREDIT_GRANTS.c
            rows = self._rows(select(c.id, c.remaining).where(c.id.in_(unknown)))
            self._remaining.update((grant_id, remaining) for grant_id, remaining in rows)
        with exact_arithmetic():
            for grant_id, amount in grants.items():
                self._remaining[grant_id] -= amount
                self._dirty.add(grant_id)
            beyond = drawn.get(None)
            if beyond:
                self._overdrafts[customer_id] = (self._overdraft(customer_id) or ZERO) + beyond
                self._dirty_overdrafts.add(customer_id)

    def flush(self) -> None:
        """Write the moved balances: one executemany UPDATE of the grants, and each moved
        overdraft (inserted when the customer had none)."""
        dirty, self._dirty = self._dirty, set()
        if dirty:
            self._write(
                _MOVE_REMAINING,
                [
                    {"b_id": grant_id, "b_remaining": self._remaining[grant_id]}
                    for grant_id in dirty
                ],
            )
        moved, self._dirty_overdrafts = self._dirty_overdrafts, set()
        for customer_id in sorted(moved):
            amount = self._overdrafts[customer_id]
            o = CREDIT_OVERDRAFTS.c
            statement = update(CREDIT_OVERDRAFTS).where(o.customer_id == customer_id)
            if self._write(statement.values(amount=amount)) == 0:
                self._insert(CREDIT_OVERDRAFTS, [{"customer_id": customer_id, "amount": amount}])

    def mark(self) -> CreditMark:
        """What is held now (a savepoint begins: `restore` returns to it)."""
        return CreditMark(
            dict(self._grants),
            dict(self._remaining),
            dict(self._overdrafts),
            frozenset(self._dirty),
            frozenset(self._dirty_overdrafts),
            frozenset(self._locked),
        )

    def restore(self, mark: CreditMark) -> None:
        """Hold what was held at `mark` (the savepoint is rolled back). A credit lock taken
        since is counted as not taken: taking it again reads what was kept before it again."""
        self._grants = dict(mark.grants)
        self._remaining = dict(mark.remaining)
        self._overdrafts = dict(mark.overdrafts)
        self._dirty = set(mark.dirty)
        self._dirty_overdrafts = set(mark.dirty_overdrafts)
        self._locked = set(mark.locked)

    def _overdraft(self, customer_id: str) -> Decimal | None:
        """The customer's overdraft, None when it has none (read once, as `balances`)."""
        if customer_id not in self._overdrafts:
            rows = self._rows(_OVERDRAFT, {"customer_id": customer_id})
            self._overdrafts[customer_id] = rows[0][0] if rows else None
        return self._overdrafts[customer_id]


_GRANTS_OF = (
    select(CREDIT_GRANTS)
    .where(CREDIT_GRANTS.c.customer_id == bindparam("customer_id"))
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
