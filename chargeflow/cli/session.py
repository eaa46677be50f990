"""What every command shares: the global options (`Session`), the consoles, and the few ways a
command prints (a JSON value for scripts, a rich renderable for people).

The database option takes a URL (``sqlite:///file.db``, ``postgresql://…``) or a plain path,
read as a SQLite file. Commands open the database without migrating it: one that lacks
chargeflow's schema (or is behind) is refused with a hint to run ``chargeflow db upgrade``,
so a mistyped path never becomes an empty database.
"""

from __future__ import annotations

import getpass
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console, RenderableType
from rich.text import Text

from chargeflow.app import App, open_app
from chargeflow.domain.clock import Clock, FrozenClock, SystemClock
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.ids import IdKind
from chargeflow.domain.timestamps import format_instant
from chargeflow.presenting import as_json, is_wide

out = Console()
"""Standard output (rich sizes it to the terminal; 80 columns when piped)."""
err = Console(stderr=True)
"""Standard error: progress, warnings, errors."""

EXIT_NOTHING_TO_DO = 3
"""The exit code of ``--strict`` commands that found nothing to do."""


def database_url(text: str | None) -> str | None:
    """`text` as a database URL: a URL stays, a plain path becomes ``sqlite:///path``."""
    if text is None or "://" in text:
        return text
    return f"sqlite:///{text}"


def os_user() -> str:
    """Who runs the command (the audit log's actor); ``unknown`` if the OS cannot say."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def configure_logging(verbosity: int, quiet_level: int = logging.WARNING) -> None:
    """Send chargeflow's logs to standard error: `quiet_level` and up by default, INFO with
    ``-v``, DEBUG with ``-vv``. A handler the caller installed is left alone."""
    level = {0: quiet_level, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger("chargeflow")
    logger.setLevel(level)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


@dataclass
class Session:
    """What the global options chose; opens the app on first use, closes it at exit."""

    database: str | None
    """The database URL (from the option or ``DATABASE_URL``; None: the default file)."""
    explicit_database: str | None
    """The database URL the command line named (not the environment's)."""
    now: str | None
    as_json: bool
    verbosity: int = 0
    _app: App | None = field(default=None, init=False)

    def clock(self) -> Clock:
        """A frozen clock at ``--now``, else the system clock."""
        return FrozenClock(self.now) if self.now else SystemClock()

    def app(self) -> App:
        """The app on the chosen database, which must hold chargeflow's schema at the latest
        revision (`SchemaNotReadyError` otherwise: nothing is created)."""
        if self._app is None:
            self._app = open_app(self.database, clock=self.clock(), migrate=False, actor=os_user())
        return self._app

    def close(self) -> None:
        """Release the database."""
        if self._app is not None:
            self._app.close()

    @property
    def wide(self) -> bool:
        """Whether standard output has room for secondary columns."""
        return is_wide(out)

    def emit(
        self, value: Any, render: RenderableType | str | None = None, currency: str | None = None
    ) -> None:
        """Print `value` as JSON with ``--json`` (amounts in `currency` when the value does not
        carry its own), else `render` (a rich renderable; a string is printed as plain text,
        never read as markup)."""
        if self.as_json:
            sys.stdout.write(as_json(value, currency) + "\n")
        elif isinstance(render, str):
            out.print(Text(render), highlight=False, soft_wrap=True)
        else:
            out.print(render if render is not None else value)

    def resolve(self, kind: IdKind, text: str) -> str:
        """The whole id of the `kind` record `text` names: its id, or an unambiguous suffix of
        it (as list views show ids)."""
        return self.app().ids.resolve(kind, text)

    def writable(self, kind: IdKind, text: str) -> str:
        """The whole id of the charge or invoice (`kind`) a write aims at, once ``--now`` is
        known not to go back before its last transition (`InvalidInputError` if it does: the
        audit log would read as if the subject went back in time)."""
        resolved = self.resolve(kind, text)
        app = self.app()
        history = app.charges.history if kind is IdKind.CHARGE else app.billing.history
        records = history(resolved)
        if self.now is not None and records:
            now, last = self.clock().now(), records[-1].at
            if now < last:
                raise InvalidInputError(
                    f"--now {format_instant(now)} is earlier than {kind.value} {resolved}'s last "
                    f"transition at {format_instant(last)}: a write must not go back in time"
                )
        return resolved


def session_of(ctx: typer.Context) -> Session:
    """The session the root command's options made."""
    session = ctx.find_root().obj
    if not isinstance(session, Session):
        raise InvalidInputError("no session: run commands through `chargeflow`")
    return session
