"""The demo: both worked examples of docs/lifecycle.md section 15, step by step, on a fresh
database.

After each step it prints the clock, the action, the charge's status and its latest run (usage
cutoff, metered quantity, credits, total); for the invoiced charge also the invoice's status
and the run's `line_id` against the invoice line. Run it with `make demo`
or ``chargeflow demo``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from chargeflow.app import App, open_app
from chargeflow.diagrams import write_charge_diagram
from domain.charge import UsageBasedCharge
from domain.clock import FrozenClock
from domain.errors import InvalidInputError
from domain.timestamps import format_instant

PERIOD = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")


@dataclass
class Step:
    """One row of a walkthrough: set the clock, act, then show the charge."""

    clock: str
    action: str
    act: Callable[[], None]


class Walkthrough:
    """Runs steps against one charge and renders a table of what each step left behind: the
    charge's status and latest run, and for an invoiced charge the invoice's status and whether
    the run's `line_id` is the invoice line."""

    def __init__(
        self, app: App, clock: FrozenClock, title: str, console: Console, *, invoiced: bool
    ) -> None:
        self.app = app
        self.clock = clock
        self.console = console
        self.invoiced = invoiced
        self.table = Table(title=title, show_lines=True)
        columns = [
            "clock",
            "action",
            "charge status",
            "usage cutoff",
            "metered",
            "credits",
            "total",
        ]
        if invoiced:
            columns += ["invoice status", "run line_id"]
        for column in columns:
            self.table.add_column(column, overflow="fold")
        self.charge_id = ""
        self.line_id = ""
        self.invoice_id = ""
        self.line_links: list[bool] = []

    def run(self, steps: list[Step]) -> None:
        """Run every step in order, then print the table."""
        for step in steps:
            self.clock.set(step.clock)
            step.act()
            self._show(step, self.app.charges.get(self.charge_id))
        self.console.print(self.table)

    def _show(self, step: Step, charge: UsageBasedCharge) -> None:
        run = charge.runs[-1] if charge.runs else None
        row = [
            step.clock.replace("T", " ")[:16],
            step.action,
            charge.state.status.value,
            format_instant(run.stored_at_lt).replace("T", " ")[:16] if run else "-",
            str(run.metered_quantity) if run else "-",
            str(run.totals.credits_total) if run else "-",
            str(run.totals.total) if run else "-",
        ]
        if self.invoiced:
            invoice = self.app.billing.get_invoice(self.invoice_id) if self.invoice_id else None
            row.append(str(invoice.status) if invoice and invoice.status else "-")
            row.append(self._line_link(run.line_id if run else None))
        self.table.add_row(*row)

    def _line_link(self, run_line_id: str | None) -> str:
        """The run's `line_id` against the invoice line's id."""
        if run_line_id is None:
            return "-"
        self.line_links.append(run_line_id == self.line_id)
        return "= invoice line" if run_line_id == self.line_id else run_line_id


def credit_only_example(app: App, clock: FrozenClock, console: Console) -> str:
    """The credit_only worked example (unit price 1.00, no grants); the charge's id."""
    clock.set("2025-12-01T00:00:00Z")
    customer = app.customers.create(name="Acme", currency="USD", collection_interval="P2D")
    app.features.create(key="api_requests")
    walk = Walkthrough(app, clock, "credit_only, unit price 1.00", console, invoiced=False)

    def create() -> None:
        walk.charge_id = app.charges.create(
            customer_id=customer.id,
            feature_key="api_requests",
            service_period=PERIOD,
            settlement_mode="credit_only",
            price={"type": "unit", "amount": "1.00"},
        ).id

    def record(*events: tuple[int, str, str]) -> None:
        for value, event_time, stored_at in events:
            app.usage.record(
                customer.id, "api_requests", value=value, event_time=event_time, stored_at=stored_at
            )

    def advance_due() -> None:
        app.charges.advance_due()

    def usage_then_advance() -> None:
        record(
            (1, "2026-01-15T00:00:00Z", "2026-01-15T00:00:00Z"),
            (2, "2026-01-15T01:00:00Z", "2026-02-01T11:00:00Z"),
            (4, "2026-01-15T02:00:00Z", "2026-02-03T00:00:00Z"),
        )
        advance_due()

    def late_usage_then_advance() -> None:
        record(
            (5, "2026-01-15T03:00:00Z", "2026-02-01T23:59:00Z"),
            (7, "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"),
        )
        advance_due()

    walk.run(
        [
            Step("2025-12-01T00:00:00Z", "create charge", create),
            Step("2026-01-01T00:00:00Z", "advance due", advance_due),
            Step("2026-02-01T12:00:00Z", "record 1, 2, 4; advance due", usage_then_advance),
            Step("2026-02-03T00:00:00Z", "advance due", advance_due),
            Step("2026-02-03T00:01:00Z", "record 5, 7; advance due", late_usage_then_advance),
        ]
    )
    return walk.charge_id


def credit_then_invoice_example(app: App, clock: FrozenClock, console: Console) -> str:
    """The credit_then_invoice worked example (unit price 0.10, 5.00 of credit, 3.00 more
    before collection), through approval and payment to `final`; the charge's id."""
    clock.set("2025-12-01T00:00:00Z")
    customer = app.customers.create(name="Globex", currency="USD", collection_interval="P2D")
    title = "credit_then_invoice, unit price 0.10, 5.00 credit"
    walk = Walkthrough(app, clock, title, console, invoiced=True)

    def grant_and_create() -> None:
        app.credits.grant(customer.id, amount="5.00")
        walk.charge_id = app.charges.create(
            customer_id=customer.id,
            feature_key="api_requests",
            service_period=PERIOD,
            settlement_mode="credit_then_invoice",
            price={"type": "unit", "amount": "0.10"},
        ).id

    def record_then_invoice() -> None:
        app.usage.record(customer.id, "api_requests", value=100, event_time="2026-01-15T00:00:00Z")
        [invoice] = app.billing.invoice_pending_lines(customer.id)
        walk.invoice_id = invoice.id
        walk.line_id = invoice.lines[0].id

    def grant_late_usage_then_collect() -> None:
        app.credits.grant(customer.id, amount="3.00")
        app.usage.record(
            customer.id,
            "api_requests",
            value=25,
            event_time="2026-01-20T00:00:00Z",
            stored_at="2026-02-02T12:00:00Z",
        )
        app.billing.advance_invoice(walk.invoice_id)

    def approve() -> None:
        app.billing.approve_invoice(walk.invoice_id)

    def authorized() -> None:
        app.billing.record_payment(walk.invoice_id, "authorized")

    def paid() -> None:
        app.billing.record_payment(walk.invoice_id, "paid")

    collected = "2026-02-03T00:01:00Z"
    walk.run(
        [
            Step("2025-12-01T00:00:00Z", "grant 5.00; create charge", grant_and_create),
            Step("2026-02-01T00:00:00Z", "record 100; invoice pending lines", record_then_invoice),
            Step(
                collected,
                "grant 3.00; record 25 (late); advance invoice",
                grant_late_usage_then_collect,
            ),
            Step(collected, "approve invoice", approve),
            Step(collected, "payment authorized", authorized),
            Step(collected, "payment paid", paid),
        ]
    )
    invoice = app.billing.get_invoice(walk.invoice_id)
    kept = "kept" if walk.line_links and all(walk.line_links) else "did NOT keep"
    console.print(
        f"invoice {invoice.id} ({invoice.status}): amount {invoice.totals.amount}, credits "
        f"{invoice.totals.credits_total}, total {invoice.totals.total}; the run {kept} "
        f"line_id {walk.line_id} from invoicing to payment"
    )
    return walk.charge_id


DEMO_APPLICATION_ID = 0x43464430
"""SQLite's ``application_id`` of a file the demo wrote ("CFD0"): the only files it replaces."""


def run(database: Path, console: Console, diagrams: Path) -> None:
    """Walk both worked examples on a fresh SQLite file at `database`, then write each
    charge's diagram, its path highlighted, into `diagrams`.

    An existing `database` is replaced only if an earlier demo wrote it; any other file is
    refused with `InvalidInputError`, untouched.
    """
    _replace_own_file(database)
    clock = FrozenClock("2025-12-01T00:00:00Z")
    app = open_app(f"sqlite:///{database}", clock=clock)
    with closing(sqlite3.connect(database)) as marker:
        marker.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
    try:
        charge_ids = [
            credit_only_example(app, clock, console),
            credit_then_invoice_example(app, clock, console),
        ]
        for charge_id in charge_ids:
            written = write_charge_diagram(app, charge_id, diagrams)
            console.print(f"diagram of charge {charge_id}: {', '.join(map(str, written))}")
    finally:
        app.close()


def _replace_own_file(database: Path) -> None:
    """Delete `database` if the demo wrote it; refuse any other existing path."""
    if not database.exists():
        return
    written_by_demo = False
    if database.is_file():
        try:
            with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
                [(application_id,)] = connection.execute("PRAGMA application_id").fetchall()
            written_by_demo = application_id == DEMO_APPLICATION_ID
        except sqlite3.DatabaseError:
            written_by_demo = False
    if not written_by_demo:
        raise InvalidInputError(
            f"{database} exists and was not written by chargeflow demo: "
            "refusing to replace it (give --database a new path)"
        )
    database.unlink()
