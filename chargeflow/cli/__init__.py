"""The `chargeflow` command line (typer + rich): drive charges and invoices from a terminal.

Global options come before the command: ``--database`` (``-d``; a URL or a SQLite file path,
default ``$DATABASE_URL`` else ``chargeflow.db``), ``--now`` to run at a given instant (a frozen
clock), ``--json`` for scripting, ``-v`` for logs. A refused operation prints one line,
``error: ...``, and exits 1; a usage error exits 2; ``--strict`` commands that found nothing
to do exit 3. No traceback is shown for any of them. docs/cli.md is the reference.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from typer._click.exceptions import NoArgsIsHelpError  # typer bundles its own click

from chargeflow import __version__
from chargeflow.cli.catalog import credits_cli, customers_cli, features_cli, usage_cli
from chargeflow.cli.charges import charges_cli
from chargeflow.cli.invoices import invoices_cli
from chargeflow.cli.session import Session, configure_logging, database_url, err, out
from chargeflow.cli.tools import db_cli, demo, diagram, scenario_cli, worker
from chargeflow.domain.errors import ChargeflowError

cli = typer.Typer(
    name="chargeflow",
    help="An explicit state-machine engine for usage-based billing charges.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
cli.command("diagram")(diagram)
cli.command("worker")(worker)
cli.command("demo")(demo)


def _version(shown: bool) -> None:
    if shown:
        out.print(f"chargeflow {__version__}", highlight=False)
        raise typer.Exit


@cli.callback()
def _options(
    ctx: typer.Context,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            "-d",
            envvar="DATABASE_URL",
            help="A database URL or a SQLite file path. Default: chargeflow.db here.",
        ),
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Run the command at this ISO-8601 instant.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log more (-vv: debug).")
    ] = 0,
    _shown: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    source = ctx.get_parameter_source("database")
    explicit = source is not None and source.name == "COMMANDLINE"
    url = database_url(database)
    session = Session(url, url if explicit else None, now, json_output, verbose)
    configure_logging(verbose)
    ctx.obj = session
    ctx.call_on_close(session.close)


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
    except NoArgsIsHelpError as shown:  # help was asked for by omission
        err.print(shown.format_message(), highlight=False, markup=False)
        return 0
    except typer.TyperException as error:  # a usage error (exit 2)
        err.print(
            f"[red]usage error:[/] {escape(error.format_message())} (see chargeflow --help)",
            highlight=False,
            soft_wrap=True,
        )
        return error.exit_code
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    return result if isinstance(result, int) else 0


def entry_point() -> None:
    """The console script: `chargeflow ...`."""
    sys.exit(main())
