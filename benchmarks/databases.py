"""Fresh, migrated databases for one measurement each, cheaply.

The schema is always made the way chargeflow makes it: `open_app(url)` migrates, then is
closed. To keep dozens of measurements fast, a database is migrated once and then reused:

- SQLite: one migrated template file; each fresh database is a copy of it in its own
  temporary directory (deleted afterwards);
- PostgreSQL: databases come from `tests.databases.postgres_database()` (uniquely named,
  dropped at the end of the run by `close_all`); a released one is emptied (``TRUNCATE`` of
  every table, identities restarted) and handed out again.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from chargeflow import open_app
from tests.databases import postgres_database, postgres_unreachable

BACKENDS = ("sqlite", "postgresql")


def unavailable(backend: str) -> str | None:
    """Why `backend` cannot be benchmarked (None when it can)."""
    if backend != "postgresql":
        return None
    reason = postgres_unreachable()
    return None if reason is None else f"PostgreSQL skipped: {reason}"


def dbapi_target(url: str) -> str:
    """What the DB-API driver connects to: a SQLite file path, or a libpq URL (the SQLAlchemy
    URL without its ``+psycopg``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def backend_of(url: str) -> str:
    """``sqlite`` or ``postgresql``."""
    return make_url(url).get_backend_name()


class _Databases:
    """The migrated SQLite template and the PostgreSQL databases of this run."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._template: Path | None = None
        self._free: list[str] = []

    def sqlite_template(self) -> Path:
        if self._template is None:
            directory = Path(self._stack.enter_context(tempfile.TemporaryDirectory()))
            template = directory / "template.db"
            open_app(f"sqlite:///{template}").close()
            self._template = template
        return self._template

    def acquire_postgres(self) -> str:
        while self._free:
            url = self._free.pop()
            if _emptied(url):
                return url
        url = self._stack.enter_context(postgres_database())
        open_app(url).close()
        return url

    def release_postgres(self, url: str) -> None:
        self._free.append(url)

    def close(self) -> None:
        self._free.clear()
        self._template = None
        self._stack.close()


def _emptied(url: str) -> bool:
    """Empty every table of the database at `url`; False if it could not (a lock held)."""
    try:
        with psycopg.connect(dbapi_target(url), autocommit=True) as connection:
            connection.execute("SET lock_timeout = '10s'")
            names = [
                f'"{name}"'
                for (name,) in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                    " AND tablename NOT LIKE '%alembic%'"
                ).fetchall()
            ]
            connection.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY")
    except psycopg.Error:
        return False
    return True


_databases = _Databases()


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """An empty database of `backend` with chargeflow's schema at head: its SQLAlchemy URL.
    Every connection to it must be closed when the block ends."""
    if backend == "sqlite":
        template = _databases.sqlite_template()
        with tempfile.TemporaryDirectory(prefix="chargeflow-bench-") as directory:
            copy = Path(directory) / "bench.db"
            shutil.copyfile(template, copy)
            yield f"sqlite:///{copy}"
        return
    url = _databases.acquire_postgres()
    try:
        yield url
    finally:
        _databases.release_postgres(url)


def close_all() -> None:
    """Drop the PostgreSQL databases and delete the SQLite template."""
    _databases.close()
