"""How the command line shows domain objects: rich tables for people, JSON for scripts.

JSON keeps amounts as exact decimal strings and instants as ISO-8601 text; nothing here
computes or decides, it only renders.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from domain.charge import UsageBasedCharge
from domain.history import ChargeTransition
from domain.invoices import Invoice, InvoiceLine, InvoicePreview
from domain.timestamps import format_instant


def as_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> str:
    """`value` as indented JSON (pydantic models dumped in JSON mode)."""
    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [item.model_dump(mode="json") for item in value]
    return json.dumps(data, indent=2, sort_keys=False)


ID_WIDTH = 26
"""Ids are ULIDs: never truncate or wrap one, a user copies it into the next command."""


def _table(title: str, columns: Sequence[str]) -> Table:
    """A table whose ``id`` and ``…id``-like columns always show whole ids."""
    table = Table(title=title)
    for column in columns:
        whole = column in {"id", "customer", "charge", "current run", "line_id"}
        table.add_column(column, no_wrap=whole, min_width=ID_WIDTH if whole else None)
    return table


def _add_row(table: Table, *cells: str) -> None:
    """A row of plain text: user data is never read as rich markup (``[bold]`` stays as is)."""
    table.add_row(*(Text(cell) for cell in cells))


def _instant(value: Any) -> str:
    return format_instant(value) if value is not None else "-"


def charges_table(charges: Sequence[UsageBasedCharge], title: str = "charges") -> Table:
    """One row per charge: id, customer, feature, mode, status, advance_after, runs."""
    table = _table(title, ("id", "customer", "feature", "mode", "status", "advance after", "runs"))
    for charge in charges:
        _add_row(
            table,
            charge.id,
            charge.intent.customer_id,
            charge.intent.feature_key,
            charge.intent.settlement_mode.value,
            charge.state.status.value,
            _instant(charge.state.advance_after),
            str(len(charge.runs)),
        )
    return table


def show_charge(console: Console, charge: UsageBasedCharge) -> None:
    """The charge's intent and state, then its runs with their allocations."""
    intent, state = charge.intent, charge.state
    facts = Table.grid(padding=(0, 2))
    for name, value in (
        ("id", charge.id),
        ("customer", intent.customer_id),
        ("feature", f"{intent.feature_key} ({state.feature_id or 'not synced'})"),
        ("mode", intent.settlement_mode.value),
        (
            "period",
            f"{_instant(intent.service_period.start)} .. {_instant(intent.service_period.end)}",
        ),
        ("price", json.dumps(intent.price.model_dump(mode="json"))),
        ("status", state.status.value),
        ("advance after", _instant(state.advance_after)),
        ("current run", state.current_run_id or "-"),
        ("deleted at", _instant(charge.deleted_at)),
    ):
        facts.add_row(Text(name, style="bold"), Text(value))
    console.print(facts)
    runs = _table(
        "runs",
        (
            "id",
            "type",
            "period to",
            "stored before",
            "metered",
            "amount",
            "credits",
            "total",
            "allocations",
            "line_id",
            "invoiced",
            "payment",
        ),
    )
    for run in charge.runs:
        _add_row(
            runs,
            run.id + (" (voided)" if run.voided else ""),
            run.type.value,
            _instant(run.service_period_to),
            _instant(run.stored_at_lt),
            str(run.metered_quantity),
            str(run.totals.amount),
            str(run.totals.credits_total),
            str(run.totals.total),
            ", ".join(str(a.amount) for a in run.allocations) or "-",
            run.line_id or "-",
            _instant(run.invoice_usage.booked_at) if run.invoice_usage else "-",
            run.payment.status.value if run.payment else "-",
        )
    console.print(runs)


def history_table(records: Sequence[ChargeTransition]) -> Table:
    """One row per transition of the audit log."""
    table = _table("transitions", ("at", "trigger", "from", "to", "arguments"))
    for record in records:
        _add_row(
            table,
            _instant(record.at),
            record.trigger.value,
            record.from_status.value,
            record.to_status.value,
            json.dumps(record.arguments) if record.arguments else "",
        )
    return table


def lines_table(lines: Sequence[InvoiceLine], title: str = "lines") -> Table:
    """One row per invoice line with its totals."""
    table = _table(
        title,
        (
            "id",
            "engine",
            "status",
            "charge",
            "name",
            "quantity",
            "amount",
            "credits",
            "total",
        ),
    )
    for line in lines:
        _add_row(
            table,
            line.id,
            line.engine.value,
            line.status.value,
            line.charge_id or "-",
            line.name,
            str(line.quantity),
            str(line.totals.amount),
            str(line.totals.credits_total),
            str(line.totals.total),
        )
    return table


def invoices_table(invoices: Sequence[Invoice]) -> Table:
    """One row per standard invoice."""
    table = _table(
        "invoices",
        (
            "id",
            "customer",
            "currency",
            "status",
            "collection at",
            "lines",
            "amount",
            "credits",
            "total",
        ),
    )
    for invoice in invoices:
        _add_row(
            table,
            invoice.id,
            invoice.customer_id,
            invoice.currency,
            invoice.status.value if invoice.status else "-",
            _instant(invoice.collection_at),
            str(len(invoice.lines)),
            str(invoice.totals.amount),
            str(invoice.totals.credits_total),
            str(invoice.totals.total),
        )
    return table


def preview_table(preview: InvoicePreview) -> Table:
    """One row per gathering line as invoicing would bill it now: the part billed, the metered,
    pre-line and billed quantities, the detailed lines and the amount."""
    table = _table(
        f"preview as of {format_instant(preview.as_of)}",
        ("id", "name", "period", "metered", "pre-line", "quantity", "detailed lines", "total"),
    )
    for line in preview.lines:
        period = line.service_period
        _add_row(
            table,
            line.id,
            line.name,
            f"{format_instant(period.start)} .. {format_instant(period.end)}",
            str(line.metered_quantity),
            str(line.pre_line_quantity),
            str(line.quantity),
            "\n".join(
                f"{detail.key}: {detail.quantity} x {detail.unit_amount} = {detail.amount}"
                for detail in line.detailed_lines
            ),
            str(line.totals.total),
        )
    return table
