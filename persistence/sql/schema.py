"""Migrating the schema: Alembic, under chargeflow's own version table and a database lock.

Every migration runs on one connection in one transaction. On PostgreSQL that transaction first
takes an advisory lock, so several processes opening one database at once migrate it one after
the other (the later ones find it at head); on SQLite the write transaction (``BEGIN
IMMEDIATE``) serializes them. chargeflow keeps its revision in `VERSION_TABLE`, so it can share
a database with another Alembic user; a database migrated before that table existed has its
revision moved over from ``alembic_version`` on the next migration.

This module owns running the migrations; the migrations themselves live in ``migrations/``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from chargeflow.domain.errors import PersistenceError
from chargeflow.persistence.sql.errors import database_errors

MIGRATIONS = Path(__file__).with_name("migrations")
"""The Alembic script directory (``env.py``, ``versions/``)."""

VERSION_TABLE = "chargeflow_alembic_version"
"""Where chargeflow's revision is kept (``env.py`` configures Alembic with it)."""

_LEGACY_VERSION_TABLE = "alembic_version"
_MIGRATION_LOCK = 0x63686172_67656D69  # "chargemi": any fixed key no one else uses
"""The PostgreSQL advisory lock key every migration transaction takes first."""

Step = Callable[[Config, str], None]

_log = logging.getLogger("chargeflow.persistence")


def migrate(engine: Engine, step: Step, revision: str) -> None:
    """Run the Alembic command `step` (upgrade or downgrade) to `revision` on one connection of
    `engine`, in one transaction, under the migration lock.

    On SQLite, foreign keys are switched off for the migration (a batch migration copies and
    drops tables that other tables reference) and checked before the commit. Alembic's own
    refusals (an unknown revision...) become `PersistenceError`.
    """
    config = _config()
    sqlite = engine.dialect.name == "sqlite"
    with (
        database_errors(),
        engine.connect() as connection,
        _foreign_keys_off(connection) if sqlite else nullcontext(),
        connection.begin(),
    ):
        if not sqlite:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        _adopt_legacy_version(connection, config)
        _log.info("migrating %s: %s to %s", engine.url.render_as_string(), step.__name__, revision)
        config.attributes["connection"] = connection
        try:
            step(config, revision)
        except CommandError as error:
            raise PersistenceError(f"migration to {revision!r} failed: {error}") from error
        if sqlite:
            _check_foreign_keys(connection)


@dataclass(frozen=True)
class Revision:
    """One migration: its id, the one it follows, and the first line of its docstring."""

    revision: str
    down_revision: str | None
    summary: str


def revisions() -> list[Revision]:
    """Every migration chargeflow has, oldest first."""
    scripts = reversed(list(ScriptDirectory.from_config(_config()).walk_revisions()))
    return [
        Revision(
            script.revision,
            script.down_revision if isinstance(script.down_revision, str) else None,
            (script.doc or "").strip().splitlines()[0] if script.doc else "",
        )
        for script in scripts
    ]


def head() -> str:
    """The latest revision."""
    return revisions()[-1].revision


def current(connection: Connection) -> str | None:
    """The revision the database is at (None: no chargeflow schema). Reads only."""
    tables = set(inspect(connection).get_table_names())
    table = VERSION_TABLE if VERSION_TABLE in tables else _LEGACY_VERSION_TABLE
    if table not in tables:
        return None
    ours = {revision.revision for revision in revisions()}
    found = connection.execute(text(f"SELECT version_num FROM {table}"))
    return next((revision for (revision,) in found if revision in ours), None)


def upgrade(config: Config, revision: str) -> None:
    """Alembic's upgrade."""
    command.upgrade(config, revision)


def downgrade(config: Config, revision: str) -> None:
    """Alembic's downgrade."""
    command.downgrade(config, revision)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


def _adopt_legacy_version(connection: Connection, config: Config) -> None:
    """Move chargeflow's revision from ``alembic_version`` into `VERSION_TABLE` when only the
    former holds it (a database migrated before chargeflow kept a table of its own); the legacy
    table is dropped once nothing else is left in it."""
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables or _LEGACY_VERSION_TABLE not in tables:
        return
    ours = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    found = connection.execute(text(f"SELECT version_num FROM {_LEGACY_VERSION_TABLE}"))
    revisions = [revision for (revision,) in found if revision in ours]
    if not revisions:
        return
    connection.execute(
        text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    )
    for revision in revisions:
        connection.execute(
            text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:revision)"),
            {"revision": revision},
        )
        connection.execute(
            text(f"DELETE FROM {_LEGACY_VERSION_TABLE} WHERE version_num = :revision"),
            {"revision": revision},
        )
    if connection.execute(text(f"SELECT COUNT(*) FROM {_LEGACY_VERSION_TABLE}")).scalar() == 0:
        connection.execute(text(f"DROP TABLE {_LEGACY_VERSION_TABLE}"))


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
