"""Set-ups too big to make through the API in a benchmark's time: not-due charges written raw.

- ``history``: credit_only charges as chargeflow leaves them once final (the charge, its run,
  detailed line, allocation against the customer's grant, and six audit rows), for a
  customer's past months;
- ``future``: charges in `created` whose service period starts a year later (due then).

Both go over the given customers in turn, through `benchmarks.rows` (the floors' row builders),
in one transaction: ``executemany`` on SQLite, ``COPY`` on PostgreSQL; the grants' running
``remaining`` amounts (where the schema keeps them) are drawn down by the allocations added.
On PostgreSQL the planner statistics are then refreshed (``ANALYZE``), as autovacuum would in a
live database; on SQLite the write-ahead log is checkpointed, so that no setting's sweeps pay
for a checkpoint the set-up made due.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from benchmarks import rows
from benchmarks.floors import ALLOCATIONS, CHARGES, Balances, Writes
from benchmarks.raw import PostgresRaw, Raw
from benchmarks.rows import Facts, Rating, Record
from benchmarks.settings import (
    CREDIT_ONLY_PRICE,
    FUTURE_PERIOD,
    PERIOD,
    SETUP_AT,
    USAGE_VALUE,
    instant,
)

KINDS = ("future", "history")


def seed(raw: Raw, facts: Facts, kind: str, count: int) -> None:
    """Add `count` (may be 0) not-due charges of `kind` over `facts.customers`."""
    tables: dict[str, list[Record]] = {}
    customers = facts.customers
    rating = Rating(Decimal(USAGE_VALUE), Decimal(CREDIT_ONLY_PRICE))
    for index in range(count):
        customer_id = customers[index % len(customers)].id
        if kind == "history":
            # a month of history per charge, going back from the measured period
            month = index // len(customers) + 1
            start = instant(PERIOD[0]) - timedelta(days=31 * month)
            period = (start, start + timedelta(days=31))
            for table, records in rows.final_history(facts, customer_id, period, rating).items():
                tables.setdefault(table, []).extend(records)
        elif kind == "future":
            period = (instant(FUTURE_PERIOD[0]), instant(FUTURE_PERIOD[1]))
            record = rows.charge(
                facts,
                customer_id,
                period,
                mode="credit_only",
                price=CREDIT_ONLY_PRICE,
                now=instant(SETUP_AT),
            )
            tables.setdefault(CHARGES, []).append(record)
        else:
            raise ValueError(f"unknown kind of not-due charges: {kind!r}")
    _load(raw, tables)


def _load(raw: Raw, tables: dict[str, list[Record]]) -> None:
    raw.begin()
    balances = Balances(raw)
    for allocation in tables.get(ALLOCATIONS, []):
        balances.draw(str(allocation["grant_id"]), Decimal(str(allocation["amount"])))
    writes = Writes(raw)
    for table, records in tables.items():
        if isinstance(raw, PostgresRaw):
            columns: Sequence[str] = tuple(records[0])
            raw.copy(table, columns, (tuple(record.values()) for record in records))
        else:
            for record in records:
                writes.insert(table, record)
    balances.write(writes)  # the grants' running remaining amounts, where the schema has them
    writes.flush(batched=True)
    raw.commit()
    if isinstance(raw, PostgresRaw):  # autovacuum would have; chargeflow never runs it on SQLite
        raw.begin()
        raw.execute("ANALYZE")
        raw.commit()
    else:  # every setting starts with an empty write-ahead log, none with a checkpoint due
        raw.query("PRAGMA wal_checkpoint(TRUNCATE)")
