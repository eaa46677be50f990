"""The `chargeflow` command line (typer + rich): drive charges and invoices from a terminal.

Global options: ``--database-url`` (or ``DATABASE_URL``), ``--now`` to run the command at a given
instant (a frozen clock; default: the system clock), ``--json`` for scripting. A refused
operation prints one line, ``error: ...``, and exits 1; a usage error exits 2. No traceback is
shown for either.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.text import Text

from chargeflow import demo as demo_module
from chargeflow.app import App, open_app
from chargeflow.diagrams import charge_diagram, svg_from_dot
from chargeflow.presenting import (
    as_json,
    charges_table,
    history_table,
    invoices_table,
    lines_table,
    preview_table,
    show_charge,
)
from chargeflow.scenarios import ScenarioFailure, StepReport, load_scenario, run_scenario
from chargeflow.worker import Round
from domain.charge import UsageBasedCharge
from domain.clock import Clock, FrozenClock, SystemClock
from domain.customer import Customer
from domain.errors import ChargeflowError, InvalidInputError
from domain.timestamps import format_instant
from engines.sweeps import AdvanceReport
from statemachines.diagrams import render_dot, render_mermaid
from statemachines.registry import SPECS

WIDTH_WHEN_PIPED = 200
"""Rich would fold tables to 80 columns when output is not a terminal; scripts get room."""
out = Console(width=None if sys.stdout.isatty() else WIDTH_WHEN_PIPED)
err = Console(stderr=True, width=None if sys.stderr.isatty() else WIDTH_WHEN_PIPED)

cli = typer.Typer(
    name="chargeflow",
    help="An explicit state-machine engine for usage-based billing charges.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_cli = typer.Typer(help="The database schema.", no_args_is_help=True)
customers_cli = typer.Typer(help="Customers and their billing profile.", no_args_is_help=True)
features_cli = typer.Typer(help="Metered features.", no_args_is_help=True)
usage_cli = typer.Typer(help="Usage events.", no_args_is_help=True)
credits_cli = typer.Typer(help="Promotional credit.", no_args_is_help=True)
charges_cli = typer.Typer(help="Usage-based charges.", no_args_is_help=True)
invoices_cli = typer.Typer(help="Gathering lines and standard invoices.", no_args_is_help=True)
scenario_cli = typer.Typer(help="Step-by-step lifecycle scenarios.", no_args_is_help=True)
for name, group in (
    ("db", db_cli),
    ("customers", customers_cli),
    ("features", features_cli),
    ("usage", usage_cli),
    ("credits", credits_cli),
    ("charges", charges_cli),
    ("invoices", invoices_cli),
    ("scenario", scenario_cli),
):
    cli.add_typer(group, name=name)


@dataclass
class Session:
    """What the global options chose; opens the app on first use, closes it at exit."""

    database_url: str | None
    now: str | None
    as_json: bool
    _app: App | None = field(default=None, init=False)

    def clock(self) -> Clock:
        """A frozen clock at ``--now``, else the system clock."""
        return FrozenClock(self.now) if self.now else SystemClock()

    def app(self) -> App:
        """The app on ``--database-url`` (migrated to the latest schema on open)."""
        if self._app is None:
            self._app = open_app(self.database_url, clock=self.clock())
        return self._app

    def close(self) -> None:
        """Release the database."""
        if self._app is not None:
            self._app.close()

    def emit(self, value: Any, render: Any = None) -> None:
        """Print `value` as JSON with ``--json``, else `render` (a rich renderable)."""
        if self.as_json:
            sys.stdout.write(as_json(value) + "\n")
        elif isinstance(render, str):
            out.print(Text(render))  # user text (names, keys) is never read as markup
        else:
            out.print(render if render is not None else value)


def _session(ctx: typer.Context) -> Session:
    session = ctx.find_root().obj
    assert isinstance(session, Session)
    return session


@cli.callback()
def _options(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", envvar="DATABASE_URL", help="Default: chargeflow.db here."),
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Run the command at this ISO-8601 instant.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    session = Session(database_url, now, json_output)
    ctx.obj = session
    ctx.call_on_close(session.close)


def _arguments(pairs: list[str]) -> dict[str, str]:
    arguments: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise InvalidInputError(f"--arg takes key=value, got {pair!r}")
        arguments[key] = value
    return arguments


def _json_object(text: str, option: str) -> Any:
    try:
        return json.loads(text, parse_float=str)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{option} is not valid JSON: {error.msg}") from error


# --- db ---------------------------------------------------------------------------------------


@db_cli.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the schema to the latest revision."""
    session = _session(ctx)
    session.app()
    session.emit({"upgraded": True}, "schema is at the latest revision")


# --- customers, features, usage, credits ----------------------------------------------------


def _customer_summary(customer: Customer) -> str:
    """One line: the customer's id, name and billing profile."""
    return (
        f"customer {customer.id} {customer.name}: progressive billing "
        f"{customer.progressive_billing}, auto approve {customer.auto_approve}"
    )


@customers_cli.command("create")
def customers_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Customer name.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. USD.")],
    collection_interval: Annotated[str, typer.Option(help="ISO-8601 duration.")] = "PT0S",
    progressive_billing: Annotated[
        bool, typer.Option(help="Usage may be invoiced before its period ends.")
    ] = False,
    auto_approve: Annotated[
        bool, typer.Option(help="Invoices are issued as soon as collection completes.")
    ] = False,
) -> None:
    """Create a customer."""
    session = _session(ctx)
    customer = session.app().customers.create(
        name=name,
        currency=currency,
        collection_interval=collection_interval,
        progressive_billing=progressive_billing,
        auto_approve=auto_approve,
    )
    session.emit(customer, _customer_summary(customer))


@customers_cli.command("update")
def customers_update(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(metavar="CUSTOMER")],
    progressive_billing: Annotated[
        bool | None, typer.Option(help="Usage may be invoiced before its period ends.")
    ] = None,
    auto_approve: Annotated[
        bool | None, typer.Option(help="Invoices are issued as soon as collection completes.")
    ] = None,
) -> None:
    """Change a customer's billing profile; what is not given stays."""
    session = _session(ctx)
    customer = session.app().customers.update(
        customer_id, progressive_billing=progressive_billing, auto_approve=auto_approve
    )
    session.emit(customer, _customer_summary(customer))


@features_cli.command("create")
def features_create(
    ctx: typer.Context,
    key: Annotated[str, typer.Option(help="The key usage is recorded under.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the key).")] = None,
) -> None:
    """Register a feature."""
    session = _session(ctx)
    feature = session.app().features.create(key=key, name=name)
    session.emit(feature, f"feature {feature.id} ({feature.key})")


@usage_cli.command("record")
def usage_record(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    feature: Annotated[str, typer.Argument(help="Feature key.")],
    value: Annotated[str, typer.Option(help="Decimal value.")],
    event_time: Annotated[str, typer.Option(help="ISO-8601 instant.")],
    stored_at: Annotated[str | None, typer.Option(help="Default: the event time.")] = None,
) -> None:
    """Record a usage event."""
    session = _session(ctx)
    event = session.app().usage.record(
        customer, feature, value=value, event_time=event_time, stored_at=stored_at
    )
    session.emit(event, f"usage {event.id}: {event.value} of {event.feature_key}")


@credits_cli.command("grant")
def credits_grant(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    amount: Annotated[str, typer.Option(help="Decimal amount.")],
    granted_at: Annotated[str | None, typer.Option(help="Default: now.")] = None,
) -> None:
    """Grant promotional credit."""
    session = _session(ctx)
    grant = session.app().credits.grant(customer, amount=amount, granted_at=granted_at)
    session.emit(grant, f"grant {grant.id}: {grant.amount}")


# --- charges ----------------------------------------------------------------------------------


@charges_cli.command("create")
def charges_create(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option(help="Customer id.")],
    feature: Annotated[str, typer.Option(help="Feature key.")],
    period_from: Annotated[str, typer.Option("--from", help="Service period start.")],
    period_to: Annotated[str, typer.Option("--to", help="Service period end (exclusive).")],
    mode: Annotated[str, typer.Option(help="credit_only or credit_then_invoice.")],
    price: Annotated[str, typer.Option(help='JSON, e.g. {"type": "unit", "amount": "0.10"}.')],
    name: Annotated[str | None, typer.Option(help="Default: the feature key.")] = None,
    invoice_at: Annotated[str | None, typer.Option(help="Default: the period end.")] = None,
) -> None:
    """Create a usage-based charge."""
    session = _session(ctx)
    charge = session.app().charges.create(
        customer_id=customer,
        feature_key=feature,
        service_period=(period_from, period_to),
        settlement_mode=mode,
        price=_json_object(price, "--price"),
        name=name,
        invoice_at=invoice_at,
    )
    session.emit(charge, f"charge {charge.id}: {charge.state.status.value}")


@charges_cli.command("list")
def charges_list(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
) -> None:
    """List charges."""
    session = _session(ctx)
    charges = session.app().charges.list(customer)
    session.emit(charges, charges_table(charges))


@charges_cli.command("show")
def charges_show(ctx: typer.Context, charge_id: Annotated[str, typer.Argument()]) -> None:
    """Show a charge with its runs."""
    session = _session(ctx)
    charge = session.app().charges.get(charge_id)
    if session.as_json:
        session.emit(charge)
    else:
        show_charge(out, charge)


@charges_cli.command("history")
def charges_history(ctx: typer.Context, charge_id: Annotated[str, typer.Argument()]) -> None:
    """Show a charge's transitions (the audit log)."""
    session = _session(ctx)
    records = session.app().charges.history(charge_id)
    session.emit(records, history_table(records))


@charges_cli.command("advance")
def charges_advance(
    ctx: typer.Context,
    charge_id: Annotated[str | None, typer.Argument(help="One charge.")] = None,
    customer: Annotated[str | None, typer.Option(help="Every charge of a customer.")] = None,
    due: Annotated[bool, typer.Option("--due", help="Every due charge.")] = False,
) -> None:
    """Advance one charge, a customer's charges, or every due charge, until stable."""
    session = _session(ctx)
    app = session.app()
    if sum((charge_id is not None, customer is not None, due)) != 1:
        raise InvalidInputError("advance takes exactly one of CHARGE_ID, --customer or --due")
    if not due:
        moved = app.charges.advance(charge_id, customer_id=customer)
        session.emit(moved, charges_table(moved, title=f"{len(moved)} charge(s) moved"))
        return
    _sweep(session, "charge", app.charges.advance_due)


def _sweep(
    session: Session,
    kind: str,
    advance_due: Callable[..., AdvanceReport],
) -> None:
    """Run a due sweep with a progress bar on stderr; print its summary and each failure."""
    with Progress(
        SpinnerColumn(),
        TextColumn(f"advancing due {kind}s"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=session.as_json,
    ) as progress:
        task = progress.add_task("advance", total=None)
        report = advance_due(visited=lambda _: progress.advance(task))
    failed = {item_id: str(error) for item_id, error in report.failed.items()}
    summary = {"advanced": report.advanced, "failed": failed}
    text = f"advanced {len(report.advanced)} {kind}(s), {len(failed)} failed"
    session.emit(summary, text)
    for failed_id, error in failed.items():
        err.print(f"[red]failed[/] {escape(failed_id)}: {escape(error)}")


@charges_cli.command("fire")
def charges_fire(
    ctx: typer.Context,
    charge_id: Annotated[str, typer.Argument()],
    trigger: Annotated[str, typer.Argument(help="next, invoice_created, ... or delete.")],
    argument: Annotated[
        list[str] | None, typer.Option("--arg", help="key=value, e.g. line_id=... or policy=...")
    ] = None,
) -> None:
    """Fire one trigger at a charge (no advance afterwards)."""
    session = _session(ctx)
    charge = session.app().charges.fire(charge_id, trigger, **_arguments(argument or []))
    session.emit(charge, f"charge {charge.id}: {charge.state.status.value}")


@charges_cli.command("extend")
def charges_extend(
    ctx: typer.Context,
    charge_id: Annotated[str, typer.Argument()],
    to: Annotated[str, typer.Option(help="The new, later end of the service period.")],
) -> None:
    """Extend a charge's service period (no advance afterwards)."""
    _period_changed(ctx, _session(ctx).app().charges.extend(charge_id, to=to))


@charges_cli.command("shrink")
def charges_shrink(
    ctx: typer.Context,
    charge_id: Annotated[str, typer.Argument()],
    to: Annotated[str, typer.Option(help="The new, earlier end of the service period.")],
) -> None:
    """Shrink a charge's service period (no advance afterwards)."""
    _period_changed(ctx, _session(ctx).app().charges.shrink(charge_id, to=to))


def _period_changed(ctx: typer.Context, charge: UsageBasedCharge) -> None:
    """One line: where the charge stands and when its period now ends."""
    end = format_instant(charge.intent.service_period.end)
    _session(ctx).emit(charge, f"charge {charge.id}: {charge.state.status.value}, period to {end}")


# --- invoices ---------------------------------------------------------------------------------


@invoices_cli.command("pending")
def invoices_pending(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    as_of: Annotated[str | None, typer.Option(help="Default: now.")] = None,
    list_only: Annotated[bool, typer.Option("--list", help="Only list the pending lines.")] = False,
) -> None:
    """Invoice the customer's pending lines that are billable now (or list them with --list)."""
    session = _session(ctx)
    app = session.app()
    if list_only:
        lines = app.billing.pending_lines(customer)
        session.emit(lines, lines_table(lines, title="pending lines"))
        return
    invoices = app.billing.invoice_pending_lines(customer, as_of)
    session.emit(invoices, invoices_table(invoices))


@invoices_cli.command("preview")
def invoices_preview(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    as_of: Annotated[str | None, typer.Option(help="Default: now.")] = None,
) -> None:
    """What invoicing the customer's gathering lines would bill now, rated live; writes nothing."""
    session = _session(ctx)
    preview = session.app().billing.preview(customer, as_of)
    if session.as_json:
        session.emit(preview)
        return
    out.print(preview_table(preview))
    out.print(Text(f"total {preview.totals.total}"))
    for line in preview.unrated:
        out.print(Text(f"not rated: {line.describe()}"))


@invoices_cli.command("list")
def invoices_list(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
) -> None:
    """List standard invoices."""
    session = _session(ctx)
    invoices = session.app().billing.list_invoices(customer)
    session.emit(invoices, invoices_table(invoices))


@invoices_cli.command("show")
def invoices_show(ctx: typer.Context, invoice_id: Annotated[str, typer.Argument()]) -> None:
    """Show an invoice with its lines."""
    session = _session(ctx)
    invoice = session.app().billing.get_invoice(invoice_id)
    if session.as_json:
        session.emit(invoice)
    else:
        out.print(invoices_table([invoice]))
        out.print(lines_table(invoice.lines))


@invoices_cli.command("advance")
def invoices_advance(
    ctx: typer.Context,
    invoice_id: Annotated[str | None, typer.Argument(help="One invoice.")] = None,
    due: Annotated[bool, typer.Option("--due", help="Every invoice due for collection.")] = False,
) -> None:
    """Advance an invoice, or every invoice whose collection time has come: collection
    completes (and an auto-approved invoice is issued)."""
    session = _session(ctx)
    if (invoice_id is None) == (not due):
        raise InvalidInputError("advance takes exactly one of INVOICE_ID or --due")
    if due:
        _sweep(session, "invoice", session.app().billing.advance_due)
        return
    invoice = session.app().billing.advance_invoice(invoice_id or "")
    session.emit(invoice, invoices_table([invoice]))


@invoices_cli.command("approve")
def invoices_approve(ctx: typer.Context, invoice_id: Annotated[str, typer.Argument()]) -> None:
    """Approve an invoice waiting for manual approval: it is issued."""
    session = _session(ctx)
    invoice = session.app().billing.approve_invoice(invoice_id)
    session.emit(invoice, invoices_table([invoice]))


@invoices_cli.command("pay")
def invoices_pay(
    ctx: typer.Context,
    invoice_id: Annotated[str, typer.Argument()],
    authorized_only: Annotated[
        bool, typer.Option("--authorized", help="Record only the authorization.")
    ] = False,
) -> None:
    """Record the invoice's payment: paid (settled), or with --authorized only authorized."""
    session = _session(ctx)
    event = "authorized" if authorized_only else "paid"
    invoice = session.app().billing.record_payment(invoice_id, event)
    session.emit(invoice, invoices_table([invoice]))


# --- diagrams ---------------------------------------------------------------------------------

DIAGRAM_FORMATS = ("mermaid", "dot", "svg")


@cli.command("diagram")
def diagram(
    ctx: typer.Context,
    charge: Annotated[
        str | None, typer.Option(help="Draw this charge's machine, its status and path marked.")
    ] = None,
    machine: Annotated[
        str | None, typer.Option(help="Draw a machine: credit_only, credit_then_invoice, invoice.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="mermaid, dot or svg.")
    ] = "mermaid",
    output: Annotated[Path | None, typer.Option("--out", help="Write to a file.")] = None,
) -> None:
    """Render a machine, or one charge's machine with where it stands and how it got there."""
    session = _session(ctx)
    if (charge is None) == (machine is None):
        raise InvalidInputError("diagram takes exactly one of --charge or --machine")
    if output_format not in DIAGRAM_FORMATS:
        raise InvalidInputError(f"--format must be one of {', '.join(DIAGRAM_FORMATS)}")
    if charge is not None:
        mermaid, dot = charge_diagram(session.app(), charge)
    else:
        specs = {spec.name: spec for spec in SPECS}
        if machine not in specs:
            raise InvalidInputError(f"unknown machine {machine!r}: one of {', '.join(specs)}")
        mermaid, dot = render_mermaid(specs[machine]), render_dot(specs[machine])
    text = {"mermaid": mermaid, "dot": dot}.get(output_format) or svg_from_dot(dot)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


# --- scenarios --------------------------------------------------------------------------------


@scenario_cli.command("run")
def scenario_run(
    scenario_file: Annotated[Path, typer.Argument(help="A scenario YAML file.")],
    database: Annotated[
        str, typer.Option(help="Where to run it (default: a fresh in-memory database).")
    ] = "sqlite://",
) -> None:
    """Run a scenario step by step, printing each step; a failing step shows what differed."""
    scenario = load_scenario(scenario_file)
    clock = FrozenClock(scenario.clock)
    app = open_app(database, clock=clock)

    def report(step: StepReport) -> None:
        out.print(f"[bold]step {step.index}[/] {step.action} at {format_instant(step.clock)}")
        for line in step.summary():
            out.print(Text(f"    {line}"), highlight=False)

    out.print(f"[bold]scenario {escape(scenario.name)}[/]")
    try:
        run_scenario(scenario, app, clock, on_step=report)
    except ScenarioFailure as failure:
        err.print(f"[red]FAILED[/] {escape(str(failure))}", highlight=False)
        raise typer.Exit(1) from failure
    finally:
        app.close()
    out.print(f"[green]passed[/] {len(scenario.steps)} steps")


# --- demo -------------------------------------------------------------------------------------


@cli.command("worker")
def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option(help="Run one round and exit (for cron).")] = False,
    batch_size: Annotated[int, typer.Option(help="Items claimed per transaction.")] = 500,
    idle_sleep: Annotated[
        float, typer.Option(help="Seconds to sleep after a round that found nothing due.")
    ] = 5.0,
) -> None:
    """Run the sweeps in a loop: due charges, due invoices, customers to invoice. Stops after
    the batch in flight on SIGTERM or Ctrl-C. Several workers may share one PostgreSQL
    database."""
    app = _session(ctx).app()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: app.worker.stop())
    if not logging.getLogger().handlers:  # a line per batch and per round, nothing chattier
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("chargeflow").setLevel(logging.INFO)

    def show(done: Round) -> None:
        out.print(Text(done.summary()))

    app.worker.run(once=once, batch_size=batch_size, idle_sleep=idle_sleep, on_round=show)


@cli.command("demo")
def demo(
    database: Annotated[
        Path, typer.Option(help="The fresh SQLite file to walk them on (replaced).")
    ] = Path("chargeflow-demo.db"),
    diagrams: Annotated[Path, typer.Option(help="Where to write the charges' diagrams.")] = Path(
        "demo-diagrams"
    ),
) -> None:
    """Walk both worked examples step by step on a fresh SQLite file; draw each charge."""
    demo_module.run(database, out, diagrams)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the process exit code."""
    command = typer.main.get_command(cli)
    try:
        result = command.main(args=argv, prog_name="chargeflow", standalone_mode=False)
    except ChargeflowError as error:
        err.print(f"[red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 1
    except OSError as error:  # a file the command was pointed at: one line, no traceback
        where = f"{error.filename}: " if error.filename else ""
        err.print(f"[red]error:[/] {escape(where + (error.strerror or str(error)))}")
        return 1
    except typer.TyperException as error:  # a usage error (exit 2)
        err.print(
            f"[red]usage error:[/] {escape(error.format_message())} (see chargeflow --help)",
            highlight=False,
            soft_wrap=True,
        )
        return error.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    return result if isinstance(result, int) else 0


def entry_point() -> None:
    """The console script: `chargeflow ...`."""
    sys.exit(main())
