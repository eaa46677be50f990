"""The demo: both worked examples of docs/lifecycle.md section 15, step by step, on a fresh
database.

Given a console, after each step it prints the clock, the action, the charge's status and its
latest run (usage cutoff, metered quantity, credits, total); for the invoiced charge also the
invoice's status and the run's `line_id` against the invoice line. Either way `run` returns a
`DemoSummary` (what each example left behind and the files written), for ``--json``. Run it
with `make demo` or ``chargeflow demo``.

The demo replaces only what it wrote itself:

- the database file, only when SQLite's ``application_id`` says an earlier demo wrote it (any
  other existing file is refused, untouched);
- in the diagrams directory, only the files an earlier run listed in that directory's
  `OUTPUTS_LIST` (``.chargeflow-demo``), which each run rewrites as it writes a diagram. Before
  writing, a run deletes every listed file still there, so no diagram of an earlier run's
  charges is left behind; every other file, even one named like a charge diagram, is kept. A
  list the demo did not write (another first line, or a name that is not a plain file name)
  is refused, and nothing is deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table

from chargeflow.app import App, open_app
from chargeflow.diagrams import write_charge_diagram
from chargeflow.domain.charge import SettlementMode, UsageBasedCharge
from chargeflow.domain.clock import FrozenClock
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.invoices import InvoiceStatus
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import format_instant
from chargeflow.presenting import money

PERIOD = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")


class WorkedExample(BaseModel):
    """What one worked example left behind: its charge as it ended, the invoice that billed it
    and the line the charge's run kept (all `None` for an example without an invoice), and the
    diagram files written of the charge."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    charge_id: str
    settlement_mode: SettlementMode
    status: ChargeStatus
    invoice_id: str | None
    invoice_status: InvoiceStatus | None
    line_id: str | None
    line_kept: bool | None
    """Whether the run carried the invoice line's id after every step from invoicing on."""
    diagrams: tuple[Path, ...]


class DemoSummary(BaseModel):
    """What `run` did: the database it walked the examples on, the directory of the diagrams
    and each worked example, in the order walked. ``model_dump(mode="json")`` is plain JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: Path
    diagrams: Path
    examples: tuple[WorkedExample, ...]


@dataclass
class Step:
    """One row of a walkthrough: set the clock, act, then show the charge."""

    clock: str
    action: str
    act: Callable[[], None]


class Walkthrough:
    """Runs steps against one charge and renders a table of what each step left behind: the
    charge's status and latest run, and for an invoiced charge the invoice's status and whether
    the run's `line_id` is the invoice line. The table is printed only given a `console`."""

    def __init__(
        self, app: App, clock: FrozenClock, title: str, console: Console | None, *, invoiced: bool
    ) -> None:
        self.app = app
        self.clock = clock
        self.title = title
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
        """Run every step in order, then print the table (given a console)."""
        for step in steps:
            self.clock.set(step.clock)
            step.act()
            self._show(step, self.app.charges.get(self.charge_id))
        if self.console is not None:
            self.console.print(self.table)

    def outcome(self, diagrams: Sequence[Path]) -> WorkedExample:
        """What the walk left behind, with the `diagrams` written of its charge."""
        charge = self.app.charges.get(self.charge_id)
        invoice = self.app.billing.get_invoice(self.invoice_id) if self.invoice_id else None
        return WorkedExample(
            title=self.title,
            charge_id=charge.id,
            settlement_mode=charge.intent.settlement_mode,
            status=charge.state.status,
            invoice_id=invoice.id if invoice else None,
            invoice_status=invoice.status if invoice else None,
            line_id=self.line_id or None,
            line_kept=(bool(self.line_links) and all(self.line_links)) if invoice else None,
            diagrams=tuple(diagrams),
        )

    def _show(self, step: Step, charge: UsageBasedCharge) -> None:
        run = charge.runs[-1] if charge.runs else None
        row = [
            step.clock.replace("T", " ")[:16],
            step.action,
            charge.state.status.value,
            format_instant(run.stored_at_lt).replace("T", " ")[:16] if run else "-",
            str(run.metered_quantity) if run else "-",
            money(run.totals.credits_total, charge.intent.currency) if run else "-",
            money(run.totals.total, charge.intent.currency) if run else "-",
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


def credit_only_example(app: App, clock: FrozenClock, console: Console | None) -> Walkthrough:
    """The credit_only worked example (unit price 1.00, no grants), walked."""
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
    return walk


def credit_then_invoice_example(
    app: App, clock: FrozenClock, console: Console | None
) -> Walkthrough:
    """The credit_then_invoice worked example (unit price 0.10, 5.00 of credit, 3.00 more
    before collection), through approval and payment to `final`, walked; given a console, it
    then prints the invoice's totals and whether the run kept the invoice line's id."""
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
    if console is not None:
        invoice = app.billing.get_invoice(walk.invoice_id)
        kept = "kept" if walk.line_links and all(walk.line_links) else "did NOT keep"

        def amount(value: Decimal) -> str:
            return money(value, invoice.currency)

        console.print(
            f"invoice {invoice.id} ({invoice.status}): amount {amount(invoice.totals.amount)}, "
            f"credits {amount(invoice.totals.credits_total)}, total {amount(invoice.totals.total)}"
            f"; the run {kept} "
            f"line_id {walk.line_id} from invoicing to payment"
        )
    return walk


DEMO_APPLICATION_ID = 0x43464430
"""SQLite's ``application_id`` of a file the demo wrote ("CFD0"): the only files it replaces."""

OUTPUTS_LIST = ".chargeflow-demo"
"""The file, in the diagrams directory, listing the files the demo wrote there."""
_OUTPUTS_HEADER = (
    "# chargeflow demo wrote the files below; the next `chargeflow demo` deletes them (and no"
    " other file) before writing."
)


def run(database: Path, console: Console | None, diagrams: Path) -> DemoSummary:
    """Walk both worked examples on a fresh SQLite file at `database`, then write each
    charge's diagram, its path highlighted, into the directory `diagrams`; what was done.

    Given a `console`, print each walk's table and each diagram written; with `None`, print
    nothing. Before writing, an existing `database` is replaced only if an earlier demo wrote
    it, and the files an earlier demo listed in `diagrams` (see `OUTPUTS_LIST`) are deleted;
    any other database file, or an outputs list the demo did not write, is refused with
    `InvalidInputError` before anything is deleted.
    """
    earlier_outputs = _own_outputs(diagrams)
    _replace_own_file(database)
    for path in earlier_outputs:
        path.unlink(missing_ok=True)
    clock = FrozenClock("2025-12-01T00:00:00Z")
    app = open_app(f"sqlite:///{database}", clock=clock)
    with closing(sqlite3.connect(database)) as marker:
        marker.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
    try:
        walks = [
            credit_only_example(app, clock, console),
            credit_then_invoice_example(app, clock, console),
        ]
        examples: list[WorkedExample] = []
        written: list[Path] = []
        for walk in walks:
            paths = write_charge_diagram(app, walk.charge_id, diagrams)
            written += paths
            _list_outputs(diagrams, written)
            if console is not None:
                console.print(f"diagram of charge {walk.charge_id}: {', '.join(map(str, paths))}")
            examples.append(walk.outcome(paths))
    finally:
        app.close()
    return DemoSummary(database=database, diagrams=diagrams, examples=tuple(examples))


def _own_outputs(directory: Path) -> list[Path]:
    """The files in `directory` an earlier demo listed in its `OUTPUTS_LIST` and that are still
    there (none without a list). `InvalidInputError` when the list is not the demo's: its first
    line is another, or it names something other than a plain file name."""
    listing = directory / OUTPUTS_LIST
    if not listing.is_file():
        return []
    header, *names = listing.read_text(encoding="utf-8").splitlines() or [""]
    foreign = [name for name in names if name in {"", ".", ".."} or Path(name).name != name]
    if header != _OUTPUTS_HEADER or foreign:
        raise InvalidInputError(
            f"{listing} was not written by chargeflow demo: refusing to delete the files it "
            "lists (give --diagrams a new directory)"
        )
    return [directory / name for name in names if (directory / name).is_file()]


def _list_outputs(directory: Path, written: Sequence[Path]) -> None:
    """Record `written` (files in `directory`) as the demo's, in `OUTPUTS_LIST`."""
    lines = [_OUTPUTS_HEADER, *(path.name for path in written)]
    (directory / OUTPUTS_LIST).write_text("\n".join(lines) + "\n", encoding="utf-8")


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
