"""The SQL database: the engine for a URL, and units of work on it.

This module owns connection set-up (validating the URL, SQLite pragmas and write transactions,
the psycopg driver for PostgreSQL) and the transaction boundary of a unit of work. It must not
hold queries (each aggregate's repository module does) nor create tables (`schema` runs the
Alembic migrations, the only way the schema is made).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from chargeflow.domain.errors import InvalidInputError, PersistenceError, SchemaNotReadyError
from chargeflow.persistence.ports import (
    ChargeRepository,
    CreditRepository,
    CustomerRepository,
    FeatureRepository,
    InvoiceRepository,
    TransitionLog,
    UsageRepository,
)
from chargeflow.persistence.sql import schema
from chargeflow.persistence.sql.charges import SqlChargeRepository
from chargeflow.persistence.sql.credits import SqlCreditRepository
from chargeflow.persistence.sql.customers import SqlCustomerRepository, SqlFeatureRepository
from chargeflow.persistence.sql.errors import database_errors, domain_error
from chargeflow.persistence.sql.history import SqlTransitionLog
from chargeflow.persistence.sql.invoices import SqlInvoiceRepository
from chargeflow.persistence.sql.repository import Savepoints
from chargeflow.persistence.sql.usage import SqlUsageRepository

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_WAL_RETRY_SECONDS = 0.01


class SqlUnitOfWork:
    """One database transaction and the repositories working inside it (`UnitOfWork`).

    Entering opens a connection and begins the transaction at once (``BEGIN IMMEDIATE`` on SQLite,
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
        self._connection: Connection | None = None
        self._committed = False

    def __enter__(self) -> Self:
        """Open a connection and begin the transaction."""
        if self._connection is not None:
            raise PersistenceError("a unit of work cannot be entered twice")
        with database_errors():
            connection = self._engine.connect()
            try:
                connection.begin()
            except BaseException:
                connection.close()
                raise
        self._connection, self._committed = connection, False
        self._savepoints = savepoints = Savepoints(connection)
        self.customers = SqlCustomerRepository(connection, savepoints)
        self.features = SqlFeatureRepository(connection, savepoints)
        self._usage = SqlUsageRepository(connection, savepoints)
        self._credits = SqlCreditRepository(connection, savepoints)
        self._charges = SqlChargeRepository(connection, savepoints)
        self._history = SqlTransitionLog(connection, savepoints)
        self.usage, self.credits = self._usage, self._credits
        self.charges, self.history = self._charges, self._history
        self.invoices = self._invoices = SqlInvoiceRepository(connection, savepoints)
        return self

    def commit(self) -> None:
        """Commit the transaction."""
        if self._connection is None:
            raise PersistenceError("commit outside an entered unit of work")
        self.flush()
        with database_errors():
            self._connection.commit()
        self._committed = True

    def flush(self) -> None:
        """Write what the repositories keep to write behind (charge runs and states, invoice
        headers, audit records)."""
        self._charges.flush()
        self._invoices.flush()
        self._history.flush()
        self._credits.flush()

    def never_wait(self) -> None:
        """Meet a credit lock another transaction holds with `LockBusyError` (row locks a sweep
        claims are skipped, not waited for, by `claimed` statements already)."""
        self._credits.wait = False

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A SAVEPOINT: rolled back to, and the error re-raised, if the block raises; what the
        block kept to write behind is dropped with it, what it kept and did not write yet stays
        kept (written at the next flush, so a page of charges is written in a few statements).

        The SAVEPOINT itself is sent only before the block's first statement (`Savepoints`):
        a block that runs none, such as a charge advanced from the page already loaded whose
        writes are all kept behind, sends neither SAVEPOINT nor RELEASE, and is undone, if it
        raises, by dropping what it kept."""
        if self._connection is None:
            raise PersistenceError("savepoint outside an entered unit of work")
        marks = (
            self._charges.mark(),
            self._history.mark(),
            self._credits.mark(),
            self._invoices.mark(),
        )
        self._savepoints.begin()
        try:
            yield
        except Exception:  # anything harsher (a crash) abandons the whole unit of work
            self._charges.restore(marks[0])
            self._history.restore(marks[1])
            self._credits.restore(marks[2])
            self._invoices.restore(marks[3])
            self._usage.forget()
            with database_errors():
                self._savepoints.end(keep=False)
            raise
        with database_errors():
            self._savepoints.end(keep=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back unless committed, close the connection, translate a database error."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with database_errors():
                try:
                    if not self._committed:
                        connection.rollback()
                finally:
                    connection.close()
        if isinstance(exc, SQLAlchemyError):
            raise domain_error(exc) from exc


class SqlDatabase:
    """A SQLite or PostgreSQL database reached through one SQLAlchemy engine.

    `url` is ``sqlite:///path.db``, ``sqlite://`` (in memory, shared by every unit of work), or
    ``postgresql+psycopg://user@host:port/db`` (every PostgreSQL URL is driven by psycopg 3, so
    ``postgresql://`` works too); anything else raises `InvalidInputError`. The schema is
    created and evolved by `upgrade` and `downgrade` only.
    """

    def __init__(self, url: str) -> None:
        with database_errors():
            self.engine: Engine = _create_engine(_parse_url(url))

    def unit_of_work(self) -> SqlUnitOfWork:
        """A fresh unit of work, to be entered with ``with``."""
        return SqlUnitOfWork(self.engine)

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema up to `revision`, in one transaction under the migration lock."""
        schema.migrate(self.engine, schema.upgrade, revision)

    def downgrade(self, revision: str) -> None:
        """Migrate the schema down to `revision` (``"base"``: no tables), in one transaction
        under the migration lock; `DowngradeRefusedError` if that would lose facts."""
        schema.migrate(self.engine, schema.downgrade, revision)

    def revision(self) -> str | None:
        """The revision chargeflow's schema is at; None when the database holds none. Reads
        only: a SQLite file that does not exist is not created."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and not _sqlite_file_exists(url):
            return None
        with database_errors(), self.engine.connect() as connection:
            return schema.current(connection)

    def require_schema(self) -> None:
        """`SchemaNotReadyError` unless the schema is at the latest revision."""
        revision, head = self.revision(), schema.head()
        if revision != head:
            where = self.engine.url.render_as_string(hide_password=True)
            raise SchemaNotReadyError(f"database {where}", revision, head)

    def dispose(self) -> None:
        """Close every pooled connection (an in-memory SQLite database is lost)."""
        self.engine.dispose()


def _parse_url(text: str) -> URL:
    """`text` as a database URL; `InvalidInputError` naming what is wrong with it."""
    try:
        url = make_url(text)
        port = url.port
    except (ArgumentError, ValueError) as error:
        raise InvalidInputError(f"not a database URL: {text!r} ({error})") from error
    if port is not None and not 0 < port < 65536:
        raise InvalidInputError(f"database URL {text!r} has port {port}, not one of 1-65535")
    return url


def _sqlite_file_exists(url: URL) -> bool:
    """Whether a SQLite URL names an existing file (in memory: it exists while it is open)."""
    if url.database in (None, "", ":memory:"):
        return True
    return Path(url.database or "").exists()


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        return create_engine(url.set(drivername="postgresql+psycopg"))
    if url.get_backend_name() != "sqlite":
        raise InvalidInputError(
            f"unsupported database URL {url.render_as_string()!r}: "
            "chargeflow runs on sqlite:/// or postgresql:// URLs"
        )
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url)
    _configure_sqlite(engine, in_memory=in_memory)
    return engine


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """``PRAGMA journal_mode=WAL``, retried while the file is locked, up to the busy timeout.

    SQLite does not always call its busy handler for this pragma: while another process is
    creating the same fresh file or switching it to WAL, the pragma fails at once with "database
    is locked" (four processes opening one new file met it about one time in two)."""
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(_WAL_RETRY_SECONDS)


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
            if not in_memory:  # the timeout first: switching to WAL waits for other writers
                cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
                _switch_to_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
