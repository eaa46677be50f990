"""The SQL database: the engine for a URL, units of work on it, and Alembic migrations.

This module owns connection set-up (SQLite pragmas and write transactions, the psycopg driver
for PostgreSQL), the transaction boundary of a unit of work, and running the migrations. It
must not hold queries (`repositories` does) nor create tables any other way than through
Alembic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from domain.errors import PersistenceError
from persistence.ports import (
    ChargeRepository,
    CreditRepository,
    CustomerRepository,
    FeatureRepository,
    InvoiceRepository,
    TransitionLog,
    UsageRepository,
)
from persistence.sql.mapping import database_errors, domain_error
from persistence.sql.repositories import (
    SqlChargeRepository,
    SqlCreditRepository,
    SqlCustomerRepository,
    SqlFeatureRepository,
    SqlInvoiceRepository,
    SqlTransitionLog,
    SqlUsageRepository,
)

MIGRATIONS = Path(__file__).with_name("migrations")
"""The Alembic script directory (``env.py``, ``versions/``)."""

_SQLITE_BUSY_TIMEOUT_MS = 30_000


class SqlUnitOfWork:
    """One database transaction and the repositories working inside it (`UnitOfWork`).

    Entering opens a session and begins the transaction at once (``BEGIN IMMEDIATE`` on SQLite,
    so it is a write transaction from the start); `commit` makes its writes durable; leaving
    without a commit rolls back. A database error escaping the block, or raised by `commit`,
    becomes `ConflictError` (a broken constraint) or `PersistenceError`, chained with ``from``;
    chargeflow's own errors pass through untouched.
    """

    customers: CustomerRepository
    features: FeatureRepository
    usage: UsageRepository
    credits: CreditRepository
    charges: ChargeRepository
    history: TransitionLog
    invoices: InvoiceRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session: Session | None = None
        self._committed = False

    def __enter__(self) -> Self:
        """Open the session and begin the transaction."""
        if self._session is not None:
            raise PersistenceError("a unit of work cannot be entered twice")
        session = Session(self._engine, expire_on_commit=False)
        with database_errors():
            session.connection()  # begins now rather than at the first query
        self._session, self._committed = session, False
        self.customers = SqlCustomerRepository(session)
        self.features = SqlFeatureRepository(session)
        self.usage = SqlUsageRepository(session)
        self.credits = SqlCreditRepository(session)
        self.charges = SqlChargeRepository(session)
        self.history = SqlTransitionLog(session)
        self.invoices = SqlInvoiceRepository(session)
        return self

    def commit(self) -> None:
        """Commit the transaction."""
        if self._session is None:
            raise PersistenceError("commit outside an entered unit of work")
        with database_errors():
            self._session.commit()
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back unless committed, close the session, translate a database error."""
        session, self._session = self._session, None
        if session is not None:
            with database_errors():
                try:
                    if not self._committed:
                        session.rollback()
                finally:
                    session.close()
        if isinstance(exc, SQLAlchemyError):
            raise domain_error(exc) from exc


class SqlDatabase:
    """A SQLite or PostgreSQL database reached through one SQLAlchemy engine.

    `url` is ``sqlite:///path.db``, ``sqlite://`` (in memory, shared by every unit of work), or
    ``postgresql+psycopg://user@host:port/db`` (every PostgreSQL URL is driven by psycopg 3, so
    ``postgresql://`` works too); anything else raises `PersistenceError`. The schema is
    created and evolved by `upgrade` and `downgrade` only.
    """

    def __init__(self, url: str) -> None:
        with database_errors():
            self.engine: Engine = _create_engine(make_url(url))

    def unit_of_work(self) -> SqlUnitOfWork:
        """A fresh unit of work, to be entered with ``with``."""
        return SqlUnitOfWork(self.engine)

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema up to `revision`, in one transaction."""
        self._migrate(command.upgrade, revision)

    def downgrade(self, revision: str) -> None:
        """Migrate the schema down to `revision` (``"base"``: no tables), in one transaction."""
        self._migrate(command.downgrade, revision)

    def dispose(self) -> None:
        """Close every pooled connection (an in-memory SQLite database is lost)."""
        self.engine.dispose()

    def _migrate(self, step: Callable[[Config, str], None], revision: str) -> None:
        """Run an Alembic command on one connection of this engine, in one transaction.

        On SQLite, foreign keys are switched off for the migration (a batch migration copies
        and drops tables that other tables reference) and checked before the commit. Alembic's
        own refusals (an unknown revision...) become `PersistenceError`.
        """
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        sqlite = self.engine.dialect.name == "sqlite"
        with (
            database_errors(),
            self.engine.connect() as connection,
            _foreign_keys_off(connection) if sqlite else nullcontext(),
            connection.begin(),
        ):
            config.attributes["connection"] = connection
            try:
                step(config, revision)
            except CommandError as error:
                raise PersistenceError(f"migration to {revision!r} failed: {error}") from error
            if sqlite:
                _check_foreign_keys(connection)


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        return create_engine(url.set(drivername="postgresql+psycopg"))
    if url.get_backend_name() != "sqlite":
        raise PersistenceError(f"unsupported database URL {url.render_as_string()!r}")
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url)
    _configure_sqlite(engine, in_memory=in_memory)
    return engine


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    """Foreign keys on, and every transaction a write transaction (``BEGIN IMMEDIATE``).

    pysqlite's own transaction handling is switched off so that SQLAlchemy's ``begin`` event
    decides how a transaction starts (the recipe in SQLAlchemy's SQLite dialect documentation).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Foreign keys off on this SQLite connection, and on again afterwards.

    The pragma is a no-op inside a transaction, so it goes to the driver connection directly,
    before SQLAlchemy begins one.
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise PersistenceError(f"migration left broken foreign keys: {broken[:5]}")
