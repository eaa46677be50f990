"""Fixtures shared by every test: the two databases, a frozen clock, and an app on each."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest
import sqlalchemy as sa

from chargeflow import App, FrozenClock, open_app
from chargeflow.persistence.sql import SqlDatabase
from tests.databases import (
    BACKENDS,
    SKIP_REASON,
    application_tables,
    empty_tables,
    migrated_database,
    postgres_required,
    postgres_unreachable,
    table_contents,
    unmigrated_database,
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


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[SqlDatabase]:
    """A new database of the same backend as `database`, without any schema (for migrations)."""
    with unmigrated_database(backend, tmp_path) as database:
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


def pytest_configure() -> None:
    """A run told to stop (SIGTERM, as a CI runner or ``timeout`` sends) stops like one
    interrupted with Ctrl-C: every ``finally`` and fixture teardown runs, so each test database
    is dropped. A process the tests forked dies of the signal as usual."""
    runner = os.getpid()

    def stop(signum: int, _: FrameType | None) -> None:
        if os.getpid() != runner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL, so ``-m 'not postgres'`` can leave them out;
    without a reachable server (and without ``$CHARGEFLOW_REQUIRE_POSTGRES``), skip them all
    with one message."""
    postgres = [item for item in items if _on_postgres(item)]
    for item in postgres:
        item.add_marker(pytest.mark.postgres)
    unreachable = postgres_unreachable() if postgres else None
    if unreachable is not None and not postgres_required():
        skip = pytest.mark.skip(reason=SKIP_REASON.format(unreachable))
        for item in postgres:
            item.add_marker(skip)


def _on_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    on_postgres = callspec is not None and callspec.params.get("database") == "postgresql"
    return on_postgres or item.get_closest_marker("postgres") is not None


def pytest_report_header() -> str | None:
    """Say once, at the top, why the PostgreSQL tests will be skipped."""
    unreachable = postgres_unreachable()
    if unreachable is None or postgres_required():
        return None
    return SKIP_REASON.format(unreachable)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say once, at the end, how many PostgreSQL tests were skipped and why (skips are not
    listed one by one: ``-r`` leaves them out)."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if "postgres" in getattr(report, "keywords", {})
    ]
    if skipped:
        reason = SKIP_REASON.format(postgres_unreachable())
        terminalreporter.write_line(f"{len(skipped)} PostgreSQL tests skipped: {reason}")
