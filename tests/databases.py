"""Test databases: a migrated SQLite file and a migrated, uniquely named PostgreSQL database.

PostgreSQL is found at ``$CHARGEFLOW_TEST_POSTGRES_URL`` (default: the local server, database
``test``). Where it cannot be reached the PostgreSQL tests skip with a message, unless
``$CHARGEFLOW_REQUIRE_POSTGRES`` is set (CI sets it), in which case they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from chargeflow.persistence.sql import SqlDatabase

POSTGRES_ADMIN_URL = os.environ.get(
    "CHARGEFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def postgres_required() -> bool:
    """Whether a missing PostgreSQL must fail the run rather than skip."""
    return bool(os.environ.get("CHARGEFLOW_REQUIRE_POSTGRES"))


@cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used for tests (None when it can), asked once per run."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            return None
    except sa.exc.OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0]
        return f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({reason})"
    finally:
        admin.dispose()


SKIP_REASON = (
    "{}: the PostgreSQL tests are skipped (set CHARGEFLOW_REQUIRE_POSTGRES=1 to fail instead)"
)


TEST_DATABASE_PREFIX = "chargeflow_test_"
"""Test databases are named ``chargeflow_test_<pid>_<random>``: the process that made one."""
_LOCAL_HOSTS = frozenset({None, "", "localhost", "127.0.0.1", "::1"})


def drop_orphans(connection: sa.Connection) -> list[str]:
    """Drop the test databases that a run on this machine left behind, and name them: those
    whose creating process is gone (a process killed outright runs no ``finally``). Only for a
    server on this machine, where a process id means something; a database another process
    still uses is never touched."""
    if make_url(POSTGRES_ADMIN_URL).host not in _LOCAL_HOSTS:
        return []
    names = connection.execute(
        sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
        {"prefix": TEST_DATABASE_PREFIX},
    ).scalars()
    orphans = [name for name in names if _creator_gone(name)]
    for name in orphans:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return orphans


def _creator_gone(name: str) -> bool:
    """Whether the process named in test database `name` has ended (False when the name
    carries no process id)."""
    pid = name.removeprefix(TEST_DATABASE_PREFIX).split("_", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database's URL; dropped afterwards. Skips the test
    (fails it with ``$CHARGEFLOW_REQUIRE_POSTGRES``) when PostgreSQL cannot be reached."""
    unreachable = postgres_unreachable()
    if unreachable is not None:
        if postgres_required():
            pytest.fail(unreachable)
        pytest.skip(SKIP_REASON.format(unreachable))
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{TEST_DATABASE_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        drop_orphans(connection)
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def unmigrated_database(backend: str, directory: Path) -> Iterator[SqlDatabase]:
    """A new database of `backend` without any schema: a SQLite file in `directory`, or a
    uniquely named PostgreSQL database (dropped afterwards)."""
    if backend == "sqlite":
        database = SqlDatabase(f"sqlite:///{directory / 'chargeflow.db'}")
        try:
            yield database
        finally:
            database.dispose()
        return
    with postgres_database() as url:
        database = SqlDatabase(url)
        try:
            yield database
        finally:
            database.dispose()


@contextmanager
def migrated_database(backend: str, directory: Path) -> Iterator[SqlDatabase]:
    """A new database of `backend` with the schema at head."""
    with unmigrated_database(backend, directory) as database:
        database.upgrade()
        yield database


def application_tables(engine: sa.Engine) -> list[sa.Table]:
    """Every table but Alembic's, parents before children."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    return [table for table in metadata.sorted_tables if table.name != "chargeflow_alembic_version"]


def empty_tables(engine: sa.Engine, tables: list[sa.Table]) -> None:
    """Delete every row of `tables`, children first."""
    with engine.begin() as connection:
        for table in reversed(tables):
            connection.execute(table.delete())


def table_contents(
    engine: sa.Engine, tables: list[sa.Table]
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted, for before/after comparisons."""
    with engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(table.select())), key=repr)
            for table in tables
        }
