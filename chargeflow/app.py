"""`open_app`: wiring a database, a clock and a credit source into the public facade.

This is the only place (with the tests) where the SQL adapter is chosen.
"""

from __future__ import annotations

import os

from chargeflow.billing import Billing
from chargeflow.catalog import Customers, Features
from chargeflow.charges import Charges
from chargeflow.ledger import Credits, Usage
from chargeflow.worker import Worker
from domain.clock import Clock, SystemClock
from engines.ledger import DatabaseLedger, LedgerFactory
from engines.operation import Operations
from persistence.sql import SqlDatabase

DEFAULT_DATABASE_URL = "sqlite:///chargeflow.db"
"""A SQLite file in the working directory."""


class App:
    """The facade a user scripts against: customers, features, usage, credits, charges and
    billing, all reading time from `clock`, and the `worker` that runs their sweeps in a loop.
    `close()` releases the database."""

    def __init__(self, database: SqlDatabase, clock: Clock, operations: Operations) -> None:
        self._database = database
        self.clock = clock
        self.customers = Customers(operations)
        self.features = Features(operations)
        self.usage = Usage(operations)
        self.credits = Credits(operations)
        self.charges = Charges(operations)
        self.billing = Billing(operations)
        self.worker = Worker(self.charges, self.billing)

    def close(self) -> None:
        """Release the database connections."""
        self._database.dispose()


def open_app(
    database_url: str | None = None,
    clock: Clock | None = None,
    *,
    ledger: LedgerFactory = DatabaseLedger,
    migrate: bool = True,
) -> App:
    """Open chargeflow on `database_url` (default: ``$DATABASE_URL``, else ``chargeflow.db`` in
    the working directory; ``sqlite://`` is in memory), reading time from `clock` (default: the
    system clock). With `migrate` (the default), the schema is brought to the latest revision
    first (say ``migrate=False`` to leave the schema alone). `ledger` builds the ledger used
    inside each unit of work (credits and money movements; default: `DatabaseLedger`).
    """
    url = database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    database = SqlDatabase(url)
    if migrate:
        database.upgrade()
    clock = clock or SystemClock()
    return App(database, clock, Operations(database.unit_of_work, clock, ledger))
