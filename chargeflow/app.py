"""`open_app`: wiring a database, a clock and a credit source into the public facade; and
`open_schema`, the database's schema on its own (what ``chargeflow db`` drives).

This is the only place (with the tests) where the SQL adapter is chosen.
"""

from __future__ import annotations

import logging
import os

from chargeflow.billing import Billing
from chargeflow.catalog import Customers, Features
from chargeflow.charges import Charges
from chargeflow.domain.clock import Clock, SystemClock
from chargeflow.domain.history import SYSTEM_ACTOR
from chargeflow.engines.ledger import DatabaseLedger, LedgerFactory
from chargeflow.engines.operation import Operations
from chargeflow.ids import Ids
from chargeflow.ledger import Credits, Usage
from chargeflow.persistence.sql import Revision, SqlDatabase, revisions
from chargeflow.worker import Worker

DEFAULT_DATABASE_URL = "sqlite:///chargeflow.db"
"""A SQLite file in the working directory."""

_log = logging.getLogger(__name__)


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
        self.ids = Ids(operations)
        self.worker = Worker(self.charges, self.billing)

    def close(self) -> None:
        """Release the database connections."""
        self._database.dispose()


class Schema:
    """chargeflow's schema in one database: where it stands, and migrating it (Alembic under
    the hood, with chargeflow's own version table). `close()` releases the database."""

    def __init__(self, database: SqlDatabase) -> None:
        self._database = database

    def current(self) -> str | None:
        """The revision the database is at (None: no chargeflow schema; nothing is created)."""
        return self._database.revision()

    def history(self) -> list[Revision]:
        """Every revision chargeflow has, oldest first (the last is the latest)."""
        return revisions()

    def upgrade(self, revision: str = "head") -> None:
        """Create or migrate the schema up to `revision` (default: the latest)."""
        self._database.upgrade(revision)

    def downgrade(self, revision: str) -> None:
        """Migrate down to `revision` (``base``: no tables); `DowngradeRefusedError` if that
        would lose facts, and then nothing changed."""
        self._database.downgrade(revision)

    def close(self) -> None:
        """Release the database connections."""
        self._database.dispose()


def _url(database_url: str | None) -> str:
    return database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def open_schema(database_url: str | None = None) -> Schema:
    """The schema of the database at `database_url` (the same default as `open_app`), opened
    without migrating or creating anything."""
    return Schema(SqlDatabase(_url(database_url)))


def open_app(
    database_url: str | None = None,
    clock: Clock | None = None,
    *,
    ledger: LedgerFactory = DatabaseLedger,
    migrate: bool = True,
    actor: str = SYSTEM_ACTOR,
    wall_clock: Clock | None = None,
) -> App:
    """Open chargeflow on `database_url` (default: ``$DATABASE_URL``, else ``chargeflow.db`` in
    the working directory; ``sqlite://`` is in memory), reading time from `clock` (default: the
    system clock).

    With `migrate` (the default), the schema is created or brought to the latest revision
    first. With ``migrate=False`` nothing is created or changed: the database must already be
    at the latest revision, else `SchemaNotReadyError` (the command line opens databases this
    way, so a mistyped path is refused instead of becoming an empty database). Every
    transition is recorded for `actor` (default ``system``) with the wall-clock time from
    `wall_clock` (default: the system clock) beside `clock`'s business instant. `ledger`
    builds the ledger used inside each unit of work (default: `DatabaseLedger`).
    """
    database = SqlDatabase(_url(database_url))
    try:
        if migrate:
            database.upgrade()
        else:
            database.require_schema()
    except BaseException:
        database.dispose()
        raise
    _log.debug("opened %s", database.engine.url.render_as_string(hide_password=True))
    clock = clock or SystemClock()
    operations = Operations(
        database.unit_of_work, clock, ledger, actor=actor, wall_clock=wall_clock or SystemClock()
    )
    return App(database, clock, operations)
