"""``chargeflow db | diagram | scenario | worker | demo``: the schema, drawings, scenarios, the
sweeping worker and the demo."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from chargeflow import demo as demo_module
from chargeflow.app import Schema, open_app, open_schema
from chargeflow.cli.session import configure_logging, err, out, session_of
from chargeflow.diagrams import charge_diagram, svg_from_dot
from chargeflow.domain.clock import FrozenClock
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.ids import IdKind
from chargeflow.domain.timestamps import format_instant
from chargeflow.scenarios import ScenarioFailure, StepReport, load_scenario, run_scenario
from chargeflow.statemachines.diagrams import render_dot, render_mermaid
from chargeflow.statemachines.registry import SPECS
from chargeflow.worker import Round

db_cli = typer.Typer(
    help="chargeflow's schema (Alembic, with its own version table).", no_args_is_help=True
)
scenario_cli = typer.Typer(help="Step-by-step lifecycle scenarios.", no_args_is_help=True)


# --- db ---------------------------------------------------------------------------------------


@db_cli.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create the schema, or migrate it up to REVISION (default: the latest)."""
    _migrate(ctx, Schema.upgrade, revision)


@db_cli.command("downgrade")
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision (base: no tables).")],
) -> None:
    """Migrate the schema down to REVISION; refused, changing nothing, if facts would be lost."""
    _migrate(ctx, Schema.downgrade, revision)


def _migrate(ctx: typer.Context, step: Callable[[Schema, str], None], revision: str) -> None:
    """Run `step` to `revision` on the session's database; print where the schema now is."""
    session = session_of(ctx)
    schema = open_schema(session.database)
    try:
        step(schema, revision)
        current = schema.current()
    finally:
        schema.close()
    session.emit({"revision": current}, f"schema is at revision {current or 'base'}")


@db_cli.command("current")
def db_current(ctx: typer.Context) -> None:
    """The revision the database is at (none: no chargeflow schema). Creates nothing."""
    session = session_of(ctx)
    schema = open_schema(session.database)
    try:
        current, head = schema.current(), schema.history()[-1].revision
    finally:
        schema.close()
    state = "latest" if current == head else f"behind {head}" if current else "no schema"
    session.emit({"revision": current, "head": head}, f"{current or 'none'} ({state})")


@db_cli.command("history")
def db_history(ctx: typer.Context) -> None:
    """Every revision chargeflow has, oldest first."""
    session = session_of(ctx)
    schema = open_schema(session.database)
    try:
        revisions = schema.history()
    finally:
        schema.close()
    table = Table("revision", "summary", title="revisions", title_justify="left")
    for revision in revisions:
        table.add_row(Text(revision.revision), Text(revision.summary))
    shown = [
        {"revision": item.revision, "down_revision": item.down_revision, "summary": item.summary}
        for item in revisions
    ]
    session.emit(shown, table)


# --- diagrams ---------------------------------------------------------------------------------


class DiagramFormat(StrEnum):
    """What ``chargeflow diagram`` draws."""

    MERMAID = "mermaid"
    DOT = "dot"
    SVG = "svg"


class MachineName(StrEnum):
    """The registered machines (`statemachines.registry.SPECS`), by name."""

    CREDIT_ONLY = "credit_only"
    CREDIT_THEN_INVOICE = "credit_then_invoice"
    INVOICE = "invoice"


def diagram(
    ctx: typer.Context,
    charge: Annotated[
        str | None, typer.Option(help="Draw this charge's machine, its status and path marked.")
    ] = None,
    machine: Annotated[MachineName | None, typer.Option(help="Draw a registered machine.")] = None,
    output_format: Annotated[
        DiagramFormat, typer.Option("--format", help="What to draw.")
    ] = DiagramFormat.MERMAID,
    output: Annotated[Path | None, typer.Option("--out", help="Write to a file.")] = None,
) -> None:
    """Render a machine, or one charge's machine with where it stands and how it got there."""
    session = session_of(ctx)
    if (charge is None) == (machine is None):
        raise InvalidInputError("diagram takes exactly one of --charge or --machine")
    if charge is not None:
        mermaid, dot = charge_diagram(session.app(), session.resolve(IdKind.CHARGE, charge))
    else:
        spec = next(spec for spec in SPECS if spec.name == machine)
        mermaid, dot = render_mermaid(spec), render_dot(spec)
    texts = {DiagramFormat.MERMAID: mermaid, DiagramFormat.DOT: dot}
    text = texts.get(output_format) or svg_from_dot(dot)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        session.emit({"format": output_format.value, "written": str(output)}, f"wrote {output}")
    elif session.as_json:
        session.emit({"format": output_format.value, "diagram": text})
    else:
        sys.stdout.write(text)


# --- scenarios --------------------------------------------------------------------------------


@scenario_cli.command("run")
def scenario_run(
    ctx: typer.Context,
    scenario_file: Annotated[Path, typer.Argument(help="A scenario YAML file.")],
) -> None:
    """Run a scenario step by step; a failing step shows what differed.

    It runs on a fresh in-memory database unless --database names one (which must hold the
    schema)."""
    session = session_of(ctx)
    scenario = load_scenario(scenario_file)
    clock = FrozenClock(scenario.clock)
    fresh = session.explicit_database is None
    app = open_app(session.explicit_database or "sqlite://", clock=clock, migrate=fresh)
    steps: list[dict[str, Any]] = []

    def report(step: StepReport) -> None:
        steps.append(
            {
                "index": step.index,
                "action": step.action,
                "clock": format_instant(step.clock),
                "summary": step.summary(),
            }
        )
        if not session.as_json:
            out.print(f"[bold]step {step.index}[/] {step.action} at {format_instant(step.clock)}")
            for line in step.summary():
                out.print(Text(f"    {line}"), highlight=False)

    if not session.as_json:
        out.print(f"[bold]scenario {escape(scenario.name)}[/]")
    try:
        run_scenario(scenario, app, clock, on_step=report)
    except ScenarioFailure as failure:
        if session.as_json:
            session.emit({"scenario": scenario.name, "passed": False, "steps": steps,
                          "failure": str(failure)})  # fmt: skip
        err.print(f"[red]FAILED[/] {escape(str(failure))}", highlight=False)
        raise typer.Exit(1) from failure
    finally:
        app.close()
    summary = {"scenario": scenario.name, "passed": True, "steps": steps}
    session.emit(summary, Text(f"passed {len(scenario.steps)} steps", style="green"))


# --- worker and demo --------------------------------------------------------------------------


def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option(help="Run one round and exit (for cron).")] = False,
    batch_size: Annotated[int, typer.Option(help="Items claimed per transaction.")] = 500,
    idle_sleep: Annotated[
        float, typer.Option(help="Seconds to sleep after a round that found nothing due.")
    ] = 5.0,
) -> None:
    """Run the sweeps in a loop: due charges, due invoices, customers to invoice.

    Stops after the batch in flight on SIGTERM or Ctrl-C. Several workers may share one
    PostgreSQL database. Logs a line per batch and per round (-v for more); with --json, prints each
    round as one JSON line."""
    session = session_of(ctx)
    app = session.app()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: app.worker.stop())
    configure_logging(session.verbosity, quiet_level=logging.INFO)

    def show(done: Round) -> None:
        if session.as_json:
            session.emit(done.counts())
            sys.stdout.flush()
        else:
            out.print(Text(done.summary()), soft_wrap=True)

    app.worker.run(once=once, batch_size=batch_size, idle_sleep=idle_sleep, on_round=show)


def demo(
    ctx: typer.Context,
    diagrams: Annotated[Path, typer.Option(help="Where to write the charges' diagrams.")] = Path(
        "demo-diagrams"
    ),
) -> None:
    """Walk both worked examples step by step on a fresh SQLite file; draw each charge.

    The file is --database (default chargeflow-demo.db), replaced only if an earlier demo
    wrote it."""
    session = session_of(ctx)
    url = session.explicit_database or "sqlite:///chargeflow-demo.db"
    if not url.startswith("sqlite:///") or url == "sqlite:///":
        raise InvalidInputError("the demo runs on a SQLite file: --database PATH")
    database = Path(url.removeprefix("sqlite:///"))
    summary = demo_module.run(database, None if session.as_json else out, diagrams)
    if session.as_json:
        session.emit(summary)
