"""``chargeflow invoices``: gathering lines, invoicing, collection, approval and payment."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Group
from rich.text import Text

from chargeflow.cli.charges import sweep
from chargeflow.cli.session import EXIT_NOTHING_TO_DO, session_of
from chargeflow.domain.errors import InvalidInputError, NoLinesToInvoiceError
from chargeflow.domain.ids import IdKind
from chargeflow.presenting import (
    history_table,
    invoices_table,
    lines_table,
    money,
    preview_table,
    show_invoice,
)

invoices_cli = typer.Typer(help="Gathering lines and standard invoices.", no_args_is_help=True)

InvoiceId = Annotated[str, typer.Argument(metavar="INVOICE", help="Invoice id (or its suffix).")]
CustomerId = Annotated[str, typer.Argument(metavar="CUSTOMER", help="Customer id (or its suffix).")]


@invoices_cli.command("pending")
def invoices_pending(
    ctx: typer.Context,
    customer: CustomerId,
    as_of: Annotated[str | None, typer.Option(help="Default: now.")] = None,
    list_only: Annotated[bool, typer.Option("--list", help="Only list the pending lines.")] = False,
    strict: Annotated[
        bool, typer.Option(help=f"Exit {EXIT_NOTHING_TO_DO} when there is nothing to invoice.")
    ] = False,
) -> None:
    """Invoice the customer's pending lines that are billable now (or list them).

    Nothing to invoice is not an error: it says so and exits 0 (--strict: exit 3)."""
    session = session_of(ctx)
    app = session.app()
    who = session.resolve(IdKind.CUSTOMER, customer)
    if list_only:
        lines = app.billing.pending_lines(who)
        session.emit(lines, lines_table(lines, session.wide, title="pending lines"))
        return
    try:
        invoices = app.billing.invoice_pending_lines(who, as_of)
    except NoLinesToInvoiceError as nothing:
        session.emit([], Text(f"nothing to invoice: {nothing}"))
        if strict:
            raise typer.Exit(EXIT_NOTHING_TO_DO) from nothing
        return
    session.emit(invoices, invoices_table(invoices, session.wide))


@invoices_cli.command("preview")
def invoices_preview(
    ctx: typer.Context,
    customer: CustomerId,
    as_of: Annotated[str | None, typer.Option(help="Default: now.")] = None,
) -> None:
    """What invoicing the customer's gathering lines would bill now, rated live; writes nothing."""
    session = session_of(ctx)
    app = session.app()
    who = app.customers.get(session.resolve(IdKind.CUSTOMER, customer))
    preview = app.billing.preview(who.id, as_of)
    notes = [Text(f"total {money(preview.totals.total, who.currency)} {who.currency}")]
    notes += [Text(f"not rated: {line.describe()}") for line in preview.unrated]
    session.emit(preview, Group(preview_table(preview, session.wide), *notes), who.currency)


@invoices_cli.command("list")
def invoices_list(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
) -> None:
    """List standard invoices."""
    session = session_of(ctx)
    who = session.resolve(IdKind.CUSTOMER, customer) if customer is not None else None
    invoices = session.app().billing.list_invoices(who)
    session.emit(invoices, invoices_table(invoices, session.wide))


@invoices_cli.command("show")
def invoices_show(ctx: typer.Context, invoice_id: InvoiceId) -> None:
    """Show an invoice, fields stacked, with its lines."""
    session = session_of(ctx)
    invoice = session.app().billing.get_invoice(session.resolve(IdKind.INVOICE, invoice_id))
    session.emit(invoice, show_invoice(invoice, session.wide))


@invoices_cli.command("history")
def invoices_history(ctx: typer.Context, invoice_id: InvoiceId) -> None:
    """Show an invoice's transitions (the audit log)."""
    session = session_of(ctx)
    records = session.app().billing.history(session.resolve(IdKind.INVOICE, invoice_id))
    session.emit(records, history_table(records, session.wide))


@invoices_cli.command("advance")
def invoices_advance(
    ctx: typer.Context,
    invoice_id: Annotated[
        str | None, typer.Argument(metavar="[INVOICE]", help="One invoice.")
    ] = None,
    due: Annotated[bool, typer.Option("--due", help="Every invoice due for collection.")] = False,
) -> None:
    """Advance an invoice, or every invoice whose collection time has come.

    Collection completes, and an auto-approved invoice is issued."""
    session = session_of(ctx)
    if (invoice_id is None) == (not due):
        raise InvalidInputError("advance takes exactly one of INVOICE or --due")
    if due:
        sweep(session, "invoice", session.app().billing.advance_due)
        return
    invoice = session.app().billing.advance_invoice(
        session.writable(IdKind.INVOICE, invoice_id or "")
    )
    session.emit(invoice, invoices_table([invoice], session.wide))


@invoices_cli.command("approve")
def invoices_approve(ctx: typer.Context, invoice_id: InvoiceId) -> None:
    """Approve an invoice waiting for manual approval: it is issued."""
    session = session_of(ctx)
    invoice = session.app().billing.approve_invoice(session.writable(IdKind.INVOICE, invoice_id))
    session.emit(invoice, invoices_table([invoice], session.wide))


@invoices_cli.command("pay")
def invoices_pay(
    ctx: typer.Context,
    invoice_id: InvoiceId,
    authorized_only: Annotated[
        bool, typer.Option("--authorized", help="Record only the authorization.")
    ] = False,
) -> None:
    """Record the invoice's payment: paid (settled), or with --authorized only authorized."""
    session = session_of(ctx)
    event = "authorized" if authorized_only else "paid"
    invoice = session.app().billing.record_payment(
        session.writable(IdKind.INVOICE, invoice_id), event
    )
    session.emit(invoice, invoices_table([invoice], session.wide))
