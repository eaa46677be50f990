"""The test databases clean up after themselves: a run stopped with SIGTERM drops its database,
and a database whose creating process is gone is dropped by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.databases import (
    POSTGRES_ADMIN_URL,
    TEST_DATABASE_PREFIX,
    drop_orphans,
    postgres_required,
    postgres_unreachable,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin() -> Iterator[sa.Connection]:
    """An autocommit connection to the PostgreSQL test server (skips without one)."""
    unreachable = postgres_unreachable()
    if unreachable is not None:
        if postgres_required():
            pytest.fail(unreachable)
        pytest.skip(unreachable)
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def databases_now(admin: sa.Connection) -> set[str]:
    return set(
        admin.execute(
            sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
            {"prefix": TEST_DATABASE_PREFIX},
        ).scalars()
    )


def test_a_database_whose_process_is_gone_is_dropped_and_a_live_ones_is_kept(
    admin: sa.Connection,
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its process id is no one's now
    orphan = f"{TEST_DATABASE_PREFIX}{gone.pid}_orphan00"
    mine = f"{TEST_DATABASE_PREFIX}{os.getpid()}_keepme00"
    legacy = f"{TEST_DATABASE_PREFIX}nopid0000000"
    for name in (orphan, mine, legacy):
        admin.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        assert orphan in drop_orphans(admin)
        assert {mine, legacy} <= databases_now(admin)
        assert orphan not in databases_now(admin)
    finally:
        for name in (orphan, mine, legacy):
            admin.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_run_stopped_with_sigterm_drops_its_database(
    admin: sa.Connection, tmp_path: Path
) -> None:
    (tmp_path / "test_stopped.py").write_text(
        textwrap.dedent(
            """
            import time
            from tests.databases import postgres_database

            def test_waits() -> None:
                with postgres_database() as url:
                    print("READY", url.rsplit("/", 1)[1], flush=True)
                    time.sleep(60)
            """
        )
    )
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert run.stdout is not None
    name = ""
    deadline = time.monotonic() + 60
    while not name and time.monotonic() < deadline:
        line = run.stdout.readline()
        if line.startswith("READY") or " READY " in f" {line}":
            name = line.split("READY", 1)[1].split()[0]
        elif not line and run.poll() is not None:
            break
    assert name, "the stopped run never created its database"
    assert name in databases_now(admin)
    run.terminate()
    run.wait(timeout=60)
    assert name not in databases_now(admin)
