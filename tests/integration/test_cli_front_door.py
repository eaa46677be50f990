"""The command line as a new user meets it, on both databases: readable at 80 columns and at
200, JSON from every command, databases without the schema refused, the schema commands,
"why can't this fire?", the audit's actor and wall clock, and the exit codes."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chargeflow import open_app
from chargeflow.cli import main
from chargeflow.cli.session import EXIT_NOTHING_TO_DO, os_user, out
from tests.factories import Terminal

PERIOD = ["--from", "2026-01-01T00:00:00Z", "--to", "2026-02-01T00:00:00Z"]
UNIT = '{"type": "unit", "amount": "0.10"}'
INVOICED = "2026-02-01T00:00:00Z"


@pytest.fixture
def width() -> Iterator[None]:
    """Restores standard output's width after a test that sets it."""
    kept = out.width
    yield
    out.width = kept


@pytest.fixture
def terminal(database_url: str, capsys: pytest.CaptureFixture[str], width: None) -> Terminal:
    """The command line on a migrated database, 80 columns wide."""
    out.width = 80
    assert main(["--database", database_url, "db", "upgrade"]) == 0
    return Terminal(database_url, capsys)


class Month:
    """A month of billing made from the terminal: a customer with credit, a
    credit_then_invoice charge invoiced on February 1st and a credit_only charge."""

    def __init__(self, terminal: Terminal) -> None:
        customer = terminal.json("customers", "create", "--name", "Acme Corporation",
                                 "--currency", "USD", "--collection-interval", "P2D")  # fmt: skip
        self.customer = str(customer["id"])
        terminal.json("features", "create", "--key", "api_requests")
        terminal.json("credits", "grant", self.customer, "--amount", "5")
        self.invoiced = terminal.json("charges", "create", "--customer", self.customer,
                                      "--feature", "api_requests", *PERIOD,
                                      "--mode", "credit_then_invoice", "--price", UNIT)  # fmt: skip
        self.credited = terminal.json("charges", "create", "--customer", self.customer,
                                      "--feature", "api_requests", *PERIOD,
                                      "--mode", "credit_only", "--price", UNIT)  # fmt: skip
        terminal.json("usage", "record", self.customer, "api_requests", "--value", "100",
                      "--event-time", "2026-01-15T00:00:00Z")  # fmt: skip
        [self.invoice] = terminal.json("invoices", "pending", self.customer, now=INVOICED)


@pytest.mark.parametrize("columns", [80, 200])
def test_list_views_keep_the_key_columns_readable(terminal: Terminal, columns: int) -> None:
    month = Month(terminal)
    out.width = columns
    code, listed, _ = terminal.run("charges", "list", now=INVOICED)
    assert code == 0
    assert max(len(line) for line in listed.splitlines()) <= columns
    rows = [line for line in listed.splitlines() if "api_requests" in line]
    assert len(rows) == 2
    for charge, row in zip((month.invoiced, month.credited), rows, strict=True):
        assert charge["id"][-6:] in row  # shortened, never cut
        assert month.customer[-6:] in row
        assert charge["intent"]["settlement_mode"] in row
    for part in ("active.", "realization.", "waiting_for_collection"):  # whole, if broken at dots
        assert part in listed
    flat = listed.replace("\n", " ")
    assert "…" not in flat.replace("…" + month.customer[-6:], "").replace(
        "…" + month.invoiced["id"][-6:], ""
    ).replace("…" + month.credited["id"][-6:], "")  # no cell was cut with an ellipsis
    code, shown, _ = terminal.run("charges", "show", month.invoiced["id"])
    assert code == 0
    assert month.invoiced["id"] in shown  # show views keep whole ids
    assert "amount" in shown and "10.00" in shown  # amounts in minor units, stacked


@pytest.mark.parametrize("columns", [80, 200])
def test_every_view_fits_the_terminal(terminal: Terminal, columns: int) -> None:
    month = Month(terminal)
    out.width = columns
    invoice = month.invoice["id"]
    for command in (
        ("customers", "list"),
        ("customers", "show", month.customer),
        ("features", "list", "--all"),
        ("usage", "list", month.customer),
        ("credits", "balance", month.customer),
        ("charges", "list"),
        ("charges", "show", month.invoiced["id"]),
        ("charges", "history", month.invoiced["id"]),
        ("charges", "explain", month.credited["id"]),
        ("invoices", "list"),
        ("invoices", "show", invoice),
        ("invoices", "history", invoice),
        ("invoices", "preview", month.customer),
        ("invoices", "pending", month.customer, "--list"),
        ("db", "current"),
        ("db", "history"),
    ):
        code, shown, errors = terminal.run(*command, now=INVOICED)
        assert code == 0, (command, errors)
        assert shown.strip(), command
        assert max(len(line) for line in shown.splitlines()) <= columns, command


def test_every_command_prints_json_that_parses(terminal: Terminal, tmp_path: Path) -> None:
    month = Month(terminal)
    charge, invoice = month.credited["id"], month.invoice["id"]
    commands: list[tuple[str, ...]] = [
        ("customers", "list"),
        ("customers", "show", month.customer),
        ("customers", "update", month.customer, "--auto-approve"),
        ("features", "list"),
        ("usage", "list", month.customer, "--feature", "api_requests"),
        ("credits", "balance", month.customer),
        ("charges", "list"),
        ("charges", "show", charge),
        ("charges", "history", charge),
        ("charges", "explain", charge),
        ("charges", "advance", "--due"),
        ("invoices", "list"),
        ("invoices", "show", invoice),
        ("invoices", "history", invoice),
        ("invoices", "preview", month.customer),
        ("invoices", "pending", month.customer),
        ("invoices", "advance", "--due"),
        ("diagram", "--machine", "invoice"),
        ("diagram", "--charge", charge, "--format", "dot"),
        ("db", "current"),
        ("db", "history"),
        ("db", "upgrade"),
        ("worker", "--once"),
        ("features", "archive", "api_requests"),
    ]
    for command in commands:
        assert terminal.json(*command, now=INVOICED) is not None, command
    scenario = Path(__file__).parents[1] / "scenarios" / "credit_only_worked_example.yaml"
    code = main(["--json", "scenario", "run", str(scenario)])
    ran = json.loads(terminal.capsys.readouterr().out)
    assert (code, ran["passed"], ran["steps"][0]["index"]) == (0, True, 1)
    demo_file = tmp_path / "demo.db"
    assert main(["--json", "-d", str(demo_file), "demo", "--diagrams", str(tmp_path / "d")]) == 0
    summary = json.loads(terminal.capsys.readouterr().out)
    assert {example["status"] for example in summary["examples"]} == {"final"}


def test_amounts_print_in_minor_units_everywhere(terminal: Terminal) -> None:
    month = Month(terminal)
    [run] = terminal.json("charges", "show", month.invoiced["id"], now=INVOICED)["runs"]
    assert run["totals"] == {"amount": "10.00", "credits_total": "5.00", "total": "5.00"}
    [credited] = [terminal.json("charges", "show", month.credited["id"], now=INVOICED)]
    assert credited["runs"] == []
    balance = terminal.json("credits", "balance", month.customer, now=INVOICED)
    assert balance == {"customer_id": month.customer, "currency": "USD", "balance": "0.00"}
    code, shown, _ = terminal.run("credits", "balance", month.customer, now=INVOICED)
    assert (code, shown.strip()) == (0, "0.00 USD")
    at = "2026-01-16T00:00:00Z"
    recorded = terminal.json(
        "usage", "record", month.customer, "api_requests", "--value", "1.5E+3", "--event-time", at
    )
    assert recorded["value"] == "1500"  # plain notation, never 1.5E+3
    code, shown, _ = terminal.run("usage", "list", month.customer)
    assert code == 0 and "1500" in shown and "E+" not in shown


def test_a_database_without_the_schema_is_refused_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "typo.db"
    assert main(["--database", str(typo), "charges", "list"]) == 1
    assert "has no chargeflow schema: run `chargeflow db upgrade` first" in capsys.readouterr().err
    assert not typo.exists()  # nothing was created
    unrelated = tmp_path / "unrelated.db"
    with sqlite3.connect(unrelated) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    assert main(["-d", str(unrelated), "customers", "list"]) == 1
    with sqlite3.connect(unrelated) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        assert [name for (name,) in tables] == ["notes"]


def test_the_schema_commands_report_and_migrate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "fresh.db")

    def json_of(*args: str) -> Any:
        capsys.readouterr()
        assert main(["--json", "-d", path, *args]) == 0
        return json.loads(capsys.readouterr().out)

    history = json_of("db", "history")
    head = history[-1]["revision"]
    assert history[0] == {"revision": "0001_core", "down_revision": None,
                          "summary": history[0]["summary"]}  # fmt: skip
    assert json_of("db", "current") == {"revision": None, "head": head}
    assert json_of("db", "upgrade", "0005_charge_reference") == {
        "revision": "0005_charge_reference"
    }
    assert main(["-d", path, "charges", "list"]) == 1
    assert "is at revision 0005_charge_reference, not " + head in capsys.readouterr().err
    assert json_of("db", "upgrade") == {"revision": head}
    assert json_of("db", "downgrade", "0009_credit_balances") == {
        "revision": "0009_credit_balances"
    }
    assert json_of("db", "downgrade", "base") == {"revision": None}


def test_explain_names_the_failing_guard_with_the_values_it_compared(terminal: Terminal) -> None:
    month = Month(terminal)
    charge = month.credited["id"]
    terminal.json("charges", "advance", charge, now="2026-01-10T00:00:00Z")
    explained = terminal.json("charges", "explain", charge, now="2026-01-20T00:00:00Z")
    verdicts = {option["trigger"]: option for option in explained["triggers"]}
    assert verdicts["next"]["verdict"] == "guard failing"
    assert verdicts["next"]["failing"] == [
        {
            "guard": "after service period",
            "compared": "now 2026-01-20T00:00:00Z < service period end 2026-02-01T00:00:00Z",
        }
    ]
    assert set(verdicts) == {"next", "delete", "extend", "shrink"}  # credit_only's triggers
    assert (verdicts["delete"]["verdict"], verdicts["delete"]["to_status"]) == (
        "permitted",
        "deleted",
    )
    assert explained["advance_path"] == []
    invoiced = terminal.json("charges", "explain", month.invoiced["id"], now=INVOICED)
    [created] = [item for item in invoiced["triggers"] if item["trigger"] == "invoice_created"]
    assert (created["verdict"], created["fired_by_billing"]) == (
        "not permitted from this status",
        True,
    )
    later = terminal.json("charges", "explain", charge, now="2026-02-01T00:00:00Z")
    assert later["advance_path"][:2] == ["active.realization.started",
                                         "active.realization.waiting_for_collection"]  # fmt: skip
    code, shown, _ = terminal.run("charges", "explain", charge, now="2026-02-01T00:00:00Z")
    assert code == 0
    assert "advancing now would pass through: active.realization.started" in shown.replace(
        "\n", " "
    )
    # nothing was written: the charge still stands where it stood
    shown_after = terminal.json("charges", "show", charge, now="2026-02-01T00:00:00Z")
    assert (shown_after["state"]["status"], shown_after["runs"]) == ("active", [])


def test_the_audit_records_the_os_user_and_the_wall_clock(terminal: Terminal) -> None:
    month = Month(terminal)
    charge = month.credited["id"]
    terminal.json("charges", "advance", charge, now="2026-01-10T00:00:00Z")
    [record] = terminal.json("charges", "history", charge, now="2026-01-10T00:00:00Z")
    assert record["actor"] == os_user()
    assert record["at"] == "2026-01-10T00:00:00Z"
    assert record["recorded_at"] > "2026-11-01"  # the wall clock, not --now
    code, _, errors = terminal.run("charges", "delete", charge, "--policy", "correct",
                                   now="2026-01-05T00:00:00Z")  # fmt: skip
    assert code == 1
    assert "earlier than charge" in errors and "last transition at 2026-01-10T00:00:00Z" in errors
    deleted = terminal.json("charges", "delete", charge[-8:], "--policy", "correct",
                            now="2026-01-11T00:00:00Z")  # fmt: skip
    assert deleted["state"]["status"] == "deleted"


def test_nothing_to_invoice_is_not_a_failure_unless_strict(terminal: Terminal) -> None:
    month = Month(terminal)
    code, shown, _ = terminal.run("invoices", "pending", month.customer, now=INVOICED)
    assert (code, shown.startswith("nothing to invoice")) == (0, True)
    code, _, _ = terminal.run("invoices", "pending", month.customer, "--strict", now=INVOICED)
    assert code == EXIT_NOTHING_TO_DO
    assert terminal.json("invoices", "pending", month.customer, now=INVOICED) == []


def test_choices_are_validated_by_the_command_line(terminal: Terminal) -> None:
    customer = Month(terminal).customer
    code, _, errors = terminal.run("charges", "create", "--customer", customer,
                                   "--feature", "api_requests", *PERIOD, "--mode", "credit",
                                   "--price", UNIT)  # fmt: skip
    assert code == 2
    assert "'credit' is not one of 'credit_only', 'credit_then_invoice'" in errors
    code, _, errors = terminal.run("diagram", "--machine", "invoice", "--format", "png")
    assert code == 2


def test_version_help_and_completion(capsys: pytest.CaptureFixture[str]) -> None:
    import chargeflow

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"chargeflow {chargeflow.__version__}"
    assert main(["-h"]) == 0
    helped = capsys.readouterr().out
    assert "--install-completion" in helped and "--database" in helped
    assert main([]) == 0  # help, not an empty usage error
    captured = capsys.readouterr()
    assert "usage error" not in captured.err and "Commands" in captured.err + captured.out
    assert main(["charges", "-h"]) == 0
    assert "explain" in capsys.readouterr().out


def test_verbose_logs_what_the_library_does(
    terminal: Terminal, caplog: pytest.LogCaptureFixture
) -> None:
    month = Month(terminal)
    with caplog.at_level(logging.DEBUG, logger="chargeflow"):
        code, _, _ = terminal.run("-vv", "charges", "advance", month.credited["id"],
                                  now="2026-01-10T00:00:00Z")  # fmt: skip
    assert code == 0
    assert any(record.name.startswith("chargeflow.") for record in caplog.records)


def test_the_library_still_migrates_on_open(tmp_path: Path) -> None:
    app = open_app(f"sqlite:///{tmp_path / 'library.db'}")
    try:
        assert app.customers.list() == []
    finally:
        app.close()


@pytest.mark.parametrize("columns", [80, 200])
def test_the_demo_is_readable_at_any_width(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], width: None, columns: int
) -> None:
    out.width = columns
    demo_file = str(tmp_path / "demo.db")
    assert main(["-d", demo_file, "demo", "--diagrams", str(tmp_path / "d")]) == 0
    shown = capsys.readouterr().out
    assert max(len(line) for line in shown.splitlines()) <= columns
    assert "active.realization.waiting_for_collection" in shown  # never folded mid-word
    assert "= invoice line" in shown
    kept = re.search(r"kept line_id (\S+)", " ".join(shown.split()))
    assert kept is not None and len(kept.group(1)) == 26  # the line id whole, never cut
