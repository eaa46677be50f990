"""How the command line shows domain objects: rich tables for people, JSON for scripts.

Nothing here computes or decides; it only renders. Three rules hold everywhere:

- **Amounts** print in their currency's minor units (USD ``154.00``, ``0.00``; JPY ``154``),
  never in exponent form; digits beyond the minor units are shown, never rounded away. JSON
  carries them as the same decimal strings.
- **Ids** in list views are shortened to the shortest suffix that is unambiguous among the rows
  shown (at least `SHORT_ID_LENGTH` characters, after a ``…``); every command accepts such a
  suffix wherever it takes an id. `show` views and JSON keep whole ids.
- **Narrow terminals**: list views keep id, customer, feature, mode and status readable at 80
  columns; wider terminals (`WIDE` columns and more) get the extra columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.customer import Customer
from chargeflow.domain.feature import Feature
from chargeflow.domain.history import TransitionRecord
from chargeflow.domain.invoices import Invoice, InvoiceLine, InvoicePreview
from chargeflow.domain.money import currency_exponent
from chargeflow.domain.runs import RealizationRun
from chargeflow.domain.timestamps import format_instant
from chargeflow.domain.trigger_options import ChargeTriggers, TriggerVerdict
from chargeflow.domain.usage import UsageEvent

WIDE = 120
"""From this many columns on, list views add their secondary columns."""
SHORT_ID_LENGTH = 6
"""The fewest characters a shortened id keeps."""
MONEY_FIELDS = frozenset({"amount", "credits_total", "total", "balance", "remaining"})
"""JSON fields holding an amount of the enclosing record's currency."""


def money(value: Decimal, currency: str) -> str:
    """`value` with at least the currency's minor-unit digits, in plain notation (``1500.00``,
    not ``1.5E+3``); digits beyond them are kept, never rounded."""
    places = currency_exponent(currency)
    digits = max(places, -value.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"{value:.{digits}f}"


def as_json(
    value: BaseModel | Sequence[BaseModel] | dict[str, Any], currency: str | None = None
) -> str:
    """`value` as indented JSON: pydantic models dumped in JSON mode, amounts (`MONEY_FIELDS`)
    as decimal strings in their currency's minor units (the record's own ``currency``, its
    intent's, or `currency` when the record carries none)."""
    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [
            item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in value
        ]
    return json.dumps(_amounts(data, currency), indent=2)


def _amounts(data: Any, currency: str | None) -> Any:
    if isinstance(data, list):
        return [_amounts(item, currency) for item in data]
    if not isinstance(data, dict):
        return data
    intent = data.get("intent")
    own = data.get("currency") or (intent.get("currency") if isinstance(intent, dict) else None)
    currency = own if isinstance(own, str) else currency
    return {
        key: money(Decimal(item), currency)
        if key in MONEY_FIELDS and isinstance(item, str) and currency
        else _amounts(item, currency)
        for key, item in data.items()
    }


class ShortIds:
    """Shortens ids to the shortest suffix unambiguous among `ids` (at least
    `SHORT_ID_LENGTH` characters), shown after a ``…``; an id no longer than that stays whole."""

    def __init__(self, ids: Iterable[str]) -> None:
        unique = set(ids)
        self._length = SHORT_ID_LENGTH
        while len({item[-self._length :] for item in unique}) < len(unique):
            self._length += 1

    def __call__(self, item: str | None) -> str:
        """`item` shortened (``-`` for None)."""
        if item is None:
            return "-"
        return item if len(item) <= self._length + 1 else "…" + item[-self._length :]


def _table(title: str, columns: Sequence[str]) -> Table:
    """A compact table (no vertical rules) whose cells fold rather than be cut."""
    table = Table(
        title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title_justify="left"
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _add_row(table: Table, *cells: str) -> None:
    """A row of plain text: user data is never read as rich markup (``[bold]`` stays as is)."""
    table.add_row(*(Text(cell) for cell in cells))


def _instant(value: Any) -> str:
    return format_instant(value) if value is not None else "-"


def _status(value: str, wide: bool) -> str:
    """A dotted status; in a narrow table, broken after its dots so it wraps whole words."""
    return value if wide else value.replace(".", ".\n")


def facts(pairs: Iterable[tuple[str, str]]) -> Table:
    """Fields stacked vertically: a bold name, then its value (plain text, folded)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in pairs:
        grid.add_row(Text(name, style="bold"), Text(value))
    return grid


# --- customers, features, usage ---------------------------------------------------------------


def customers_table(customers: Sequence[Customer], wide: bool) -> Table:
    """One row per customer: id, name, currency, and (wide) the billing profile."""
    short = ShortIds(customer.id for customer in customers)
    columns = ["id", "name", "currency"]
    columns += ["collection", "progressive", "auto approve", "created"] if wide else []
    table = _table("customers", columns)
    for customer in customers:
        cells = [short(customer.id), customer.name, customer.currency]
        if wide:
            cells += [
                customer.collection_interval,
                "yes" if customer.progressive_billing else "no",
                "yes" if customer.auto_approve else "no",
                _instant(customer.created_at),
            ]
        _add_row(table, *cells)
    return table


def show_customer(customer: Customer, balance: Decimal) -> Table:
    """The customer's fields and credit balance, stacked."""
    return facts(
        (
            ("id", customer.id),
            ("name", customer.name),
            ("currency", customer.currency),
            ("collection interval", customer.collection_interval),
            ("progressive billing", "yes" if customer.progressive_billing else "no"),
            ("auto approve", "yes" if customer.auto_approve else "no"),
            ("created", _instant(customer.created_at)),
            ("credit balance", money(balance, customer.currency)),
        )
    )


def features_table(features: Sequence[Feature]) -> Table:
    """One row per feature: key, name, and when it was archived."""
    table = _table("features", ("key", "name", "created", "archived"))
    for feature in features:
        _add_row(
            table,
            feature.key,
            feature.name,
            _instant(feature.created_at),
            _instant(feature.archived_at),
        )
    return table


def usage_table(events: Sequence[UsageEvent]) -> Table:
    """One row per usage event: feature, value, event time and stored time."""
    table = _table("usage", ("feature", "value", "event time", "stored at"))
    for event in events:
        _add_row(
            table,
            event.feature_key,
            f"{event.value.normalize():f}",
            _instant(event.event_time),
            _instant(event.stored_at),
        )
    return table


# --- charges ----------------------------------------------------------------------------------


def charges_table(charges: Sequence[UsageBasedCharge], wide: bool, title: str = "charges") -> Table:
    """One row per charge: id, customer, feature, mode, status; wide: advance after, runs."""
    ids = ShortIds([charge.id for charge in charges])
    customers = ShortIds(charge.intent.customer_id for charge in charges)
    columns = ["id", "customer", "feature", "mode", "status"]
    table = _table(title, columns + (["advance after", "runs"] if wide else []))
    for charge in charges:
        cells = [
            ids(charge.id),
            customers(charge.intent.customer_id),
            charge.intent.feature_key,
            charge.intent.settlement_mode.value,
            _status(charge.state.status.value, wide),
        ]
        if wide:
            cells += [_instant(charge.state.advance_after), str(len(charge.runs))]
        _add_row(table, *cells)
    return table


def show_charge(charge: UsageBasedCharge) -> RenderableType:
    """The charge's intent and state stacked, then each run stacked under its own heading."""
    intent, state = charge.intent, charge.state
    period = intent.service_period
    parts: list[RenderableType] = [
        facts(
            (
                ("id", charge.id),
                ("customer", intent.customer_id),
                ("feature", f"{intent.feature_key} ({state.feature_id or 'not synced'})"),
                ("mode", intent.settlement_mode.value),
                ("currency", intent.currency),
                ("period", f"{_instant(period.start)} .. {_instant(period.end)}"),
                ("price", json.dumps(intent.price.model_dump(mode="json"))),
                ("status", state.status.value),
                ("advance after", _instant(state.advance_after)),
                ("current run", state.current_run_id or "-"),
                ("deleted at", _instant(charge.deleted_at)),
            )
        )
    ]
    for number, run in enumerate(charge.runs, start=1):
        parts += [Text(f"\nrun {number}", style="bold underline"), _run_facts(run, intent.currency)]
    return Group(*parts)


def _run_facts(run: RealizationRun, currency: str) -> Table:
    allocations = ", ".join(money(item.amount, currency) for item in run.allocations)
    return facts(
        (
            ("id", run.id + (" (voided)" if run.voided else "")),
            ("type", run.type.value),
            ("period to", _instant(run.service_period_to)),
            ("usage stored before", _instant(run.stored_at_lt)),
            ("metered", f"{run.metered_quantity.normalize():f}"),
            ("amount", money(run.totals.amount, currency)),
            ("credits", money(run.totals.credits_total, currency)),
            ("total", money(run.totals.total, currency)),
            ("allocations", allocations or "-"),
            ("line", run.line_id or "-"),
            ("invoice", run.invoice_id or "-"),
            ("invoiced", _instant(run.invoice_usage.booked_at) if run.invoice_usage else "-"),
            ("payment", run.payment.status.value if run.payment else "-"),
        )
    )


def history_table(records: Sequence[TransitionRecord[Any, Any]], wide: bool) -> Table:
    """One row per transition of the audit log: the business instant, the trigger, the
    statuses; wide: the actor, the wall-clock time and the arguments."""
    columns = ["at", "trigger", "from", "to"]
    table = _table("transitions", columns + (["actor", "recorded at", "arguments"] if wide else []))
    for record in records:
        cells = [
            _instant(record.at),
            record.trigger.value,
            _status(record.from_status.value, wide),
            _status(record.to_status.value, wide),
        ]
        if wide:
            arguments = json.dumps(record.arguments) if record.arguments else ""
            cells += [record.actor, _instant(record.recorded_at), arguments]
        _add_row(table, *cells)
    return table


def explain_view(explained: ChargeTriggers) -> RenderableType:
    """Every trigger with its verdict (and the guards failing, with what they compared), then
    what advancing now would do."""
    table = _table(
        f"triggers of {explained.charge_id} in {explained.status.value} "
        f"at {format_instant(explained.as_of)}",
        ("trigger", "verdict", "why / where to"),
    )
    for option in explained.triggers:
        if option.verdict is TriggerVerdict.GUARD_FAILING:
            why = "\n".join(f"{guard.guard}: {guard.compared}" for guard in option.failing)
        elif option.verdict is TriggerVerdict.PERMITTED:
            why = (
                f"-> {option.to_status.value}" if option.to_status else "-> decided by its actions"
            )
        else:
            why = ""
        if option.fired_by_billing:
            why = (why + "\n" if why else "") + "(fired by billing)"
        _add_row(table, option.trigger.value, option.verdict.value, why)
    if explained.advance_error is not None:
        advancing = f"advancing now would fail: {explained.advance_error}"
    elif explained.advance_path:
        advancing = "advancing now would pass through: " + " -> ".join(
            status.value for status in explained.advance_path
        )
    else:
        advancing = "advancing now would not move it"
    return Group(table, Text(advancing))


# --- invoices ---------------------------------------------------------------------------------


def lines_table(lines: Sequence[InvoiceLine], wide: bool, title: str = "lines") -> Table:
    """One row per invoice line: id, charge, name, quantity, total; wide: engine, status,
    amount and credits."""
    ids = ShortIds(line.id for line in lines)
    charges = ShortIds(line.charge_id for line in lines if line.charge_id)
    columns = ["id", "charge", "name", "quantity", "total"]
    table = _table(title, columns + (["engine", "status", "amount", "credits"] if wide else []))
    for line in lines:
        cells = [
            ids(line.id),
            charges(line.charge_id),
            line.name,
            f"{line.quantity.normalize():f}",
            money(line.totals.total, line.currency),
        ]
        if wide:
            cells += [
                line.engine.value,
                line.status.value,
                money(line.totals.amount, line.currency),
                money(line.totals.credits_total, line.currency),
            ]
        _add_row(table, *cells)
    return table


def invoices_table(invoices: Sequence[Invoice], wide: bool) -> Table:
    """One row per standard invoice: id, customer, status, total; wide: currency, collection
    time, lines, amount and credits."""
    ids = ShortIds(invoice.id for invoice in invoices)
    customers = ShortIds(invoice.customer_id for invoice in invoices)
    columns = ["id", "customer", "status", "total"]
    extra = ["currency", "collection at", "lines", "amount", "credits"]
    table = _table("invoices", columns + (extra if wide else []))
    for invoice in invoices:
        totals = invoice.totals
        cells = [
            ids(invoice.id),
            customers(invoice.customer_id),
            _status(invoice.status.value if invoice.status else "-", wide),
            f"{money(totals.total, invoice.currency)} {invoice.currency}",
        ]
        if wide:
            cells += [
                invoice.currency,
                _instant(invoice.collection_at),
                str(len(invoice.lines)),
                money(totals.amount, invoice.currency),
                money(totals.credits_total, invoice.currency),
            ]
        _add_row(table, *cells)
    return table


def show_invoice(invoice: Invoice, wide: bool) -> RenderableType:
    """The invoice's fields stacked, then its lines."""
    currency = invoice.currency
    header = facts(
        (
            ("id", invoice.id),
            ("customer", invoice.customer_id),
            ("kind", invoice.kind.value),
            ("status", invoice.status.value if invoice.status else "-"),
            ("currency", currency),
            ("collection at", _instant(invoice.collection_at)),
            ("issued at", _instant(invoice.issued_at)),
            ("amount", money(invoice.totals.amount, currency)),
            ("credits", money(invoice.totals.credits_total, currency)),
            ("total", money(invoice.totals.total, currency)),
        )
    )
    return Group(header, lines_table(invoice.lines, wide))


def preview_table(preview: InvoicePreview, wide: bool) -> Table:
    """One row per gathering line as invoicing would bill it now: the part billed, the
    quantity and the total; wide: the metered and pre-line quantities and the detailed lines."""
    ids = ShortIds(line.id for line in preview.lines)
    columns = ["id", "name", "period", "quantity", "total"]
    extra = ["metered", "pre-line", "detailed lines"]
    table = _table(
        f"preview as of {format_instant(preview.as_of)}", columns + (extra if wide else [])
    )
    for line in preview.lines:
        period = line.service_period
        cells = [
            ids(line.id),
            line.name,
            f"{format_instant(period.start)} ..\n{format_instant(period.end)}",
            f"{line.quantity.normalize():f}",
            money(line.totals.total, line.currency),
        ]
        if wide:
            cells += [
                f"{line.metered_quantity.normalize():f}",
                f"{line.pre_line_quantity.normalize():f}",
                "\n".join(
                    f"{detail.key}: {detail.quantity} x {detail.unit_amount} = "
                    f"{money(detail.amount, line.currency)}"
                    for detail in line.detailed_lines
                ),
            ]
        _add_row(table, *cells)
    return table


def is_wide(console: Console) -> bool:
    """Whether `console` has room for the secondary columns."""
    return console.width >= WIDE
