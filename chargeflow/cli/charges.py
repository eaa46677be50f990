"""``chargeflow charges``: create charges, drive them with triggers, read them back, and ask
what may fire ("why can't this fire?")."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from chargeflow.cli.session import Session, err, session_of
from chargeflow.domain.charge import SettlementMode, UsageBasedCharge
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.ids import IdKind
from chargeflow.domain.timestamps import format_instant
from chargeflow.domain.triggers import DeletePolicy
from chargeflow.engines.sweeps import AdvanceReport
from chargeflow.presenting import charges_table, explain_view, history_table, show_charge

charges_cli = typer.Typer(help="Usage-based charges.", no_args_is_help=True)

ChargeId = Annotated[str, typer.Argument(metavar="CHARGE", help="Charge id (or its suffix).")]


def _json_object(text: str, option: str) -> Any:
    try:
        return json.loads(text, parse_float=str)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{option} is not valid JSON: {error.msg}") from error


def _arguments(pairs: list[str]) -> dict[str, str]:
    arguments: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise InvalidInputError(f"--arg takes key=value, got {pair!r}")
        arguments[key] = value
    return arguments


def _one_line(charge: UsageBasedCharge) -> str:
    """Where the charge stands, and when its period ends."""
    end = format_instant(charge.intent.service_period.end)
    return f"charge {charge.id}: {charge.state.status.value} (period to {end})"


@charges_cli.command("create")
def charges_create(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option(help="Customer id (or its suffix).")],
    feature: Annotated[str, typer.Option(help="Feature key.")],
    period_from: Annotated[str, typer.Option("--from", help="Service period start.")],
    period_to: Annotated[str, typer.Option("--to", help="Service period end (exclusive).")],
    mode: Annotated[SettlementMode, typer.Option(help="How usage is settled.")],
    price: Annotated[str, typer.Option(help='JSON, e.g. {"type": "unit", "amount": "0.10"}.')],
    name: Annotated[str | None, typer.Option(help="Default: the feature key.")] = None,
    invoice_at: Annotated[str | None, typer.Option(help="Default: the period end.")] = None,
) -> None:
    """Create a usage-based charge."""
    session = session_of(ctx)
    charge = session.app().charges.create(
        customer_id=session.resolve(IdKind.CUSTOMER, customer),
        feature_key=feature,
        service_period=(period_from, period_to),
        settlement_mode=mode,
        price=_json_object(price, "--price"),
        name=name,
        invoice_at=invoice_at,
    )
    session.emit(charge, _one_line(charge))


@charges_cli.command("list")
def charges_list(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
) -> None:
    """List charges, oldest first."""
    session = session_of(ctx)
    who = session.resolve(IdKind.CUSTOMER, customer) if customer is not None else None
    charges = session.app().charges.list(who)
    session.emit(charges, charges_table(charges, session.wide))


@charges_cli.command("show")
def charges_show(ctx: typer.Context, charge_id: ChargeId) -> None:
    """Show a charge and its runs, fields stacked."""
    session = session_of(ctx)
    charge = session.app().charges.get(session.resolve(IdKind.CHARGE, charge_id))
    session.emit(charge, show_charge(charge))


@charges_cli.command("history")
def charges_history(ctx: typer.Context, charge_id: ChargeId) -> None:
    """Show a charge's transitions (the audit log): when, who, which trigger."""
    session = session_of(ctx)
    records = session.app().charges.history(session.resolve(IdKind.CHARGE, charge_id))
    session.emit(records, history_table(records, session.wide))


@charges_cli.command("explain")
def charges_explain(ctx: typer.Context, charge_id: ChargeId) -> None:
    """Which triggers may fire now, why not the others, and what advancing would do.

    A refused trigger names the status, or the guard failing with the values it compared.
    Writes nothing."""
    session = session_of(ctx)
    explained = session.app().charges.triggers(session.resolve(IdKind.CHARGE, charge_id))
    session.emit(explained, explain_view(explained))


@charges_cli.command("advance")
def charges_advance(
    ctx: typer.Context,
    charge_id: Annotated[str | None, typer.Argument(metavar="[CHARGE]", help="One charge.")] = None,
    customer: Annotated[str | None, typer.Option(help="Every charge of a customer.")] = None,
    due: Annotated[bool, typer.Option("--due", help="Every due charge.")] = False,
) -> None:
    """Advance one charge, a customer's charges, or every due charge, until stable."""
    session = session_of(ctx)
    app = session.app()
    if sum((charge_id is not None, customer is not None, due)) != 1:
        raise InvalidInputError("advance takes exactly one of CHARGE, --customer or --due")
    if due:
        sweep(session, "charge", app.charges.advance_due)
        return
    if charge_id is not None:
        moved = app.charges.advance(session.writable(IdKind.CHARGE, charge_id))
    else:
        moved = app.charges.advance(customer_id=session.resolve(IdKind.CUSTOMER, customer or ""))
    session.emit(moved, charges_table(moved, session.wide, title=f"{len(moved)} charge(s) moved"))


def sweep(session: Session, kind: str, advance_due: Callable[..., AdvanceReport]) -> None:
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
    session.emit(summary, f"advanced {len(report.advanced)} {kind}(s), {len(failed)} failed")
    for failed_id, error in failed.items():
        err.print(f"[red]failed[/] {escape(failed_id)}: {escape(error)}")


@charges_cli.command("fire")
def charges_fire(
    ctx: typer.Context,
    charge_id: ChargeId,
    trigger: Annotated[str, typer.Argument(help="next, delete, extend, shrink.")],
    argument: Annotated[
        list[str] | None, typer.Option("--arg", help="key=value, e.g. policy=correct or to=...")
    ] = None,
) -> None:
    """Fire one trigger at a charge (no advance afterwards)."""
    session = session_of(ctx)
    arguments = _arguments(argument or [])
    charge = session.app().charges.fire(
        session.writable(IdKind.CHARGE, charge_id), trigger, **arguments
    )
    session.emit(charge, _one_line(charge))


@charges_cli.command("delete")
def charges_delete(
    ctx: typer.Context,
    charge_id: ChargeId,
    policy: Annotated[
        DeletePolicy, typer.Option(help="correct: give its credits back; ignore: keep them used.")
    ],
) -> None:
    """Delete a charge."""
    session = session_of(ctx)
    charge = session.app().charges.delete(session.writable(IdKind.CHARGE, charge_id), policy=policy)
    session.emit(charge, _one_line(charge))


@charges_cli.command("extend")
def charges_extend(
    ctx: typer.Context,
    charge_id: ChargeId,
    to: Annotated[str, typer.Option(help="The new, later end of the service period.")],
) -> None:
    """Extend a charge's service period (no advance afterwards)."""
    session = session_of(ctx)
    charge = session.app().charges.extend(session.writable(IdKind.CHARGE, charge_id), to=to)
    session.emit(charge, _one_line(charge))


@charges_cli.command("shrink")
def charges_shrink(
    ctx: typer.Context,
    charge_id: ChargeId,
    to: Annotated[str, typer.Option(help="The new, earlier end of the service period.")],
) -> None:
    """Shrink a charge's service period (no advance afterwards)."""
    session = session_of(ctx)
    charge = session.app().charges.shrink(session.writable(IdKind.CHARGE, charge_id), to=to)
    session.emit(charge, _one_line(charge))
