"""Fixtures shared by every test: the two databases, a frozen clock, and an app on each."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from chargeflow import App, FrozenClock, open_app
from persistence.sql import SqlDatabase
from tests.databases import (
    BACKENDS,
    application_tables,
    empty_tables,
    migrated_database,
    table_contents,
)

START = "2025-12-01T00:00:00Z"

Snapshot = Callable[[], dict[str, list[tuple[object, ...]]]]


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlDatabase]:
    """One migrated database per backend for the whole session (emptied before each test)."""
    backend: str = request.param
    with migrated_database(backend, tmp_path_factory.mktemp(backend)) as database:
        yield database


@pytest.fixture(scope="session")
def tables(database: SqlDatabase) -> list[sa.Table]:
    """The application tables of `database`, parents first."""
    return application_tables(database.engine)


@pytest.fixture
def database_url(database: SqlDatabase, tables: list[sa.Table]) -> str:
    """The URL of `database`, emptied for this test."""
    empty_tables(database.engine, tables)
    return database.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at the worked examples' start (2025-12-01)."""
    return FrozenClock(START)


@pytest.fixture
def app(database_url: str, clock: FrozenClock) -> Iterator[App]:
    """An app on an emptied database, reading time from `clock`."""
    application = open_app(database_url, clock=clock, migrate=False)
    yield application
    application.close()


@pytest.fixture
def snapshot(database: SqlDatabase, tables: list[sa.Table]) -> Snapshot:
    """Takes the contents of every table, to prove an operation changed nothing."""
    return lambda: table_contents(database.engine, tables)


@pytest.fixture
def backend(database: SqlDatabase) -> str:
    """``sqlite`` or ``postgresql``."""
    return database.engine.dialect.name


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL, so ``-m 'not postgres'`` can leave them out."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database") == "postgresql":
            item.add_marker(pytest.mark.postgres)
