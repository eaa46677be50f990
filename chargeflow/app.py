"""`open_app`: wiring a database, a clock and a credit source into the public facade.

This is the only place (with the tests) where the SQL adapter is chosen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from chargeflow.billing import Billing
from chargeflow.catalog import Customers, Features
from chargeflow.charges import Charges
from chargeflow.ledger import Credits, Usage
from domain.clock import Clock, SystemClock
from engines.billing import BillingEngine
from engines.charges import ChargeEngine
from engines.credit_source import GrantCreditSource
from engines.operation import CreditSourceFactory, Operations
from persistence.sql import SqlDatabase

DEFAULT_DATABASE_URL = "sqlite:///chargeflow.db"
"""A SQLite file in the working directory."""


@dataclass(frozen=True)
class App:
    """The facade a user scripts against."""

    clock: Clock
    database: SqlDatabase
    customers: Customers
    features: Features
    usage: Usage
    credits: Credits
    charges: Charges
    billing: Billing

    def close(self) -> None:
        """Release the database connections."""
        self.database.dispose()


def open_app(
    database_url: str | None = None,
    clock: Clock | None = None,
    *,
    credit_sources: CreditSourceFactory = GrantCreditSource,
    migrate: bool = True,
) -> App:
    """Open chargeflow on `database_url` (default: ``$DATABASE_URL``, else ``chargeflow.db`` in
    the working directory; ``sqlite://`` is in memory), reading time from `clock` (default: the
    system clock). With `migrate`, the schema is brought to the latest Alembic revision first.
    `credit_sources` builds the credit source used inside each unit of work.
    """
    url = database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    database = SqlDatabase(url)
    if migrate:
        database.upgrade()
    clock = clock or SystemClock()
    operations = Operations(database.unit_of_work, clock, credit_sources)
    return App(
        clock=clock,
        database=database,
        customers=Customers(database.unit_of_work, clock),
        features=Features(database.unit_of_work, clock),
        usage=Usage(database.unit_of_work, clock),
        credits=Credits(database.unit_of_work, clock),
        charges=Charges(ChargeEngine(operations)),
        billing=Billing(BillingEngine(operations)),
    )
