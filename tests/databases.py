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
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from persistence.sql import SqlDatabase

POSTGRES_ADMIN_URL = os.environ.get(
    "CHARGEFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def postgres_required() -> bool:
    """Whether a missing PostgreSQL must fail the run rather than skip."""
    return bool(os.environ.get("CHARGEFLOW_REQUIRE_POSTGRES"))


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database's URL; dropped afterwards."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"chargeflow_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error.orig}"
        if postgres_required():
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_database(backend: str, directory: Path) -> Iterator[SqlDatabase]:
    """A database of `backend` with the schema at head."""
    if backend == "sqlite":
        database = SqlDatabase(f"sqlite:///{directory / 'chargeflow.db'}")
        database.upgrade()
        try:
            yield database
        finally:
            database.dispose()
        return
    with postgres_database() as url:
        database = SqlDatabase(url)
        database.upgrade()
        try:
            yield database
        finally:
            database.dispose()


def application_tables(engine: sa.Engine) -> list[sa.Table]:
    """Every table but Alembic's, parents before children."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    return [table for table in metadata.sorted_tables if table.name != "alembic_version"]


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
