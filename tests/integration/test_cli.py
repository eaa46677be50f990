"""The `chargeflow` command line, driven as a user would, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chargeflow.cli import main
from chargeflow.cli.session import out
from tests.factories import Terminal

PERIOD = ["--from", "2026-01-01T00:00:00Z", "--to", "2026-02-01T00:00:00Z"]
UNIT = '{"type": "unit", "amount": "1"}'


class Cli(Terminal):
    """The command line with this module's catalogue: a customer, a feature, a charge."""

    def customer(self, *options: str) -> str:
        """A USD customer and the api_requests feature; the customer's id."""
        customer = self.json("customers", "create", "--name", "Acme", "--currency", "USD", *options)
        self.json("features", "create", "--key", "api_requests")
        return str(customer["id"])

    def charge(
        self, customer: str, mode: str, price: str, now: str = "2025-12-01T00:00:00Z"
    ) -> Any:
        """A charge over January 2026 for api_requests, as JSON."""
        return self.json("charges", "create", "--customer", customer, "--feature", "api_requests",
                         *PERIOD, "--mode", mode, "--price", price, now=now)  # fmt: skip


@pytest.fixture
def cli(database_url: str, capsys: pytest.CaptureFixture[str], wide_output: None) -> Cli:
    """The command line on a database migrated by `chargeflow db upgrade`."""
    assert main(["--database", database_url, "db", "upgrade"]) == 0
    return Cli(database_url, capsys)


@pytest.fixture
def wide_output() -> Any:
    """Standard output 200 columns wide (the tests of narrow output set 80 themselves)."""
    width = out.width
    out.width = 200
    yield
    out.width = width


def test_a_credit_then_invoice_charge_from_the_terminal(cli: Cli) -> None:
    customer = cli.customer("--collection-interval", "P2D")
    cli.json("credits", "grant", customer, "--amount", "5.00")
    charge = cli.charge(customer, "credit_then_invoice", '{"type": "unit", "amount": 0.10}')
    assert charge["state"]["status"] == "created"
    assert charge["intent"]["price"]["amount"] == "0.10"
    cli.json("usage", "record", customer, "api_requests", "--value", "100",
             "--event-time", "2026-01-15T00:00:00Z")  # fmt: skip
    [pending] = cli.json("invoices", "pending", customer, "--list")
    assert pending["status"] == "gathering"

    [invoice] = cli.json("invoices", "pending", customer, now="2026-02-01T00:00:00Z")
    [line] = invoice["lines"]
    assert line["totals"] == {"amount": "10.00", "credits_total": "5.00", "total": "5.00"}
    shown = cli.json("charges", "show", charge["id"])
    assert shown["runs"][0]["line_id"] == line["id"]
    assert shown["state"]["status"] == "active.realization.waiting_for_collection"

    swept = cli.json("invoices", "advance", "--due", now="2026-02-03T00:01:00Z")
    assert swept == {"advanced": [invoice["id"]], "failed": {}}
    assert cli.json("invoices", "show", invoice["id"])["status"] == "draft.manual_approval_needed"
    approved = cli.json("invoices", "approve", invoice["id"], now="2026-02-03T00:01:00Z")
    assert (approved["status"], approved["totals"]["total"]) == (
        "payment_processing.pending",
        "5.00",
    )
    paid_at = "2026-02-04T00:00:00Z"
    authorized = cli.json("invoices", "pay", invoice["id"], "--authorized", now=paid_at)
    assert authorized["status"] == "payment_processing.authorized"
    assert cli.json("invoices", "pay", invoice["id"], now=paid_at)["status"] == "paid"
    assert [r["to_status"] for r in cli.json("charges", "history", charge["id"])] == [
        "active",
        "active.realization.started",
        "active.realization.waiting_for_collection",
        "active.realization.processing",
        "active.realization.issuing",
        "active.realization.completed",
        "active.awaiting_payment_settlement",
        "final",
    ]
    code, stdout, _ = cli.run("invoices", "list")
    assert code == 0
    assert "…" + invoice["id"][-6:] in stdout  # shortened in list views


def test_a_customers_billing_profile_is_set_and_changed_from_the_terminal(cli: Cli) -> None:
    customer = cli.customer("--progressive-billing")
    shown = cli.json("customers", "update", customer, "--auto-approve")
    assert (shown["progressive_billing"], shown["auto_approve"]) == (True, True)
    code, stdout, _ = cli.run("customers", "update", customer, "--no-progressive-billing")
    assert code == 0
    assert "progressive billing False, auto approve True" in stdout


def test_the_preview_shows_what_invoicing_would_bill_and_writes_nothing(cli: Cli) -> None:
    customer = cli.customer("--progressive-billing")
    cli.charge(customer, "credit_then_invoice", UNIT)
    cli.json("usage", "record", customer, "api_requests", "--value", "40",
             "--event-time", "2026-01-10T00:00:00Z")  # fmt: skip
    mid = "2026-01-16T00:00:00Z"
    preview = cli.json("invoices", "preview", customer, now=mid)
    [line] = preview["lines"]
    assert (line["service_period"]["start"], line["service_period"]["end"]) == (
        "2026-01-01T00:00:00Z",
        mid,
    )
    assert (line["quantity"], preview["totals"]["total"]) == ("40", "40.00")
    code, shown, _ = cli.run("invoices", "preview", customer, now=mid)
    assert code == 0
    assert "unit: 40 x 1 = 40.00" in shown
    assert "total 40.00" in shown
    assert cli.json("invoices", "list") == []


def test_a_period_is_extended_and_shrunk_from_the_terminal(cli: Cli) -> None:
    customer = cli.customer()
    charge = cli.charge(customer, "credit_only", UNIT)
    code, shown, _ = cli.run("charges", "extend", charge["id"], "--to", "2026-03-01T00:00:00Z")
    assert code == 0
    assert shown.strip().endswith("created (period to 2026-03-01T00:00:00Z)")
    shrunk = cli.json("charges", "shrink", charge["id"], "--to", "2026-02-15T00:00:00Z")
    assert shrunk["intent"]["service_period"]["end"] == "2026-02-15T00:00:00Z"
    code, _, error = cli.run("charges", "shrink", charge["id"], "--to", "2027-01-01T00:00:00Z")
    assert code == 1
    assert error.startswith("error: invalid period change:")
    history = cli.json("charges", "history", charge["id"])
    assert [(r["trigger"], r["arguments"]) for r in history[-2:]] == [
        ("extend", {"to": "2026-03-01T00:00:00Z", "previous_to": "2026-02-01T00:00:00Z"}),
        ("shrink", {"to": "2026-02-15T00:00:00Z", "previous_to": "2026-03-01T00:00:00Z"}),
    ]


def test_bulk_advance_shows_progress_and_a_summary(cli: Cli) -> None:
    customer = cli.customer()
    for _ in range(3):
        cli.charge(customer, "credit_only", UNIT, now="2026-01-10T00:00:00Z")
    code, stdout, stderr = cli.run("charges", "advance", "--due", now="2026-02-01T00:01:00Z")
    assert code == 0, stderr
    assert "advanced 3 charge(s), 0 failed" in stdout
    listed = cli.json("charges", "list", "--customer", customer)
    # no collection interval: one sweep realizes and finalizes them
    assert {c["state"]["status"] for c in listed} == {"final"}
    code, stdout, _ = cli.run("charges", "show", listed[0]["id"])
    assert code == 0
    assert "final" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["charges", "show", "nope"], "charge 'nope' not found"),
        (["customers", "create", "--name", "Acme", "--currency", "XYZ"], "unknown currency"),
        (["charges", "advance"], "exactly one of CHARGE, --customer or --due"),
        (["charges", "fire", "x", "next", "--arg", "oops"], "--arg takes key=value"),
    ],
)
def test_a_user_error_prints_one_line_and_exits_1(cli: Cli, args: list[str], message: str) -> None:
    code, stdout, stderr = cli.run(*args)
    assert code == 1
    assert stdout == ""
    assert message in stderr
    assert stderr.startswith("error:")
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_a_refused_trigger_names_charge_status_and_trigger(cli: Cli) -> None:
    charge = cli.charge(cli.customer(), "credit_only", UNIT)["id"]
    code, _, stderr = cli.run("charges", "fire", charge, "next", "--arg", "foo=bar")
    assert code == 1
    assert f"invalid trigger argument: charge '{charge}' in status 'created'" in stderr
    code, _, stderr = cli.run("charges", "fire", charge, "invoice_created", "--arg", "line_id=l")
    assert code == 1
    assert f"trigger not permitted: charge '{charge}' in status 'created'" in stderr
    code, _, stderr = cli.run("charges", "fire", charge, "delete", "--arg", "policy=ignore")
    assert code == 0, stderr


def test_a_usage_error_exits_2_without_a_traceback(cli: Cli) -> None:
    code, _, stderr = cli.run("charges", "create", "--customer", "x")
    assert code == 2
    assert "Missing option" in stderr
    assert "Traceback" not in stderr


def test_bad_now_is_a_user_error(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--database", cli.database_url, "--now", "yesterday", "charges", "list"])
    assert code == 1
    assert "not an ISO-8601 timestamp: 'yesterday'" in capsys.readouterr().err


def test_a_charge_diagram_marks_its_status_and_path(cli: Cli, tmp_path: Any) -> None:
    charge = cli.charge(cli.customer(), "credit_only", UNIT, now="2026-01-10T00:00:00Z")["id"]
    code, mermaid, stderr = cli.run("diagram", "--charge", charge)
    assert code == 0, stderr
    assert "created --> active : next [inside service period] (step 1)" in mermaid
    assert "class active current" in mermaid
    svg = tmp_path / "charge.svg"
    code, _, stderr = cli.run("diagram", "--charge", charge, "--format", "svg", "--out", str(svg))
    assert code == 0, stderr
    assert svg.read_text().lstrip().startswith("<?xml")
    code, dot, _ = cli.run("diagram", "--machine", "invoice", "--format", "dot")
    assert code == 0
    assert 'digraph "invoice" {' in dot
    code, _, stderr = cli.run("diagram", "--machine", "nope")
    assert code == 2
    assert "'nope' is not one of 'credit_only', 'credit_then_invoice', 'invoice'" in stderr


SCENARIOS = Path(__file__).parents[1] / "scenarios"


def test_scenario_run_prints_each_step_and_passes(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    path = SCENARIOS / "credit_then_invoice_worked_example.yaml"
    assert main(["--database", cli.database_url, "scenario", "run", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "step 1 create_customer" in printed
    assert "final" in printed
    assert "passed" in printed


def test_scenario_run_fails_with_a_readable_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (SCENARIOS / "credit_only_worked_example.yaml").read_text()
    assert "metered_quantity: 8" in text
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace("metered_quantity: 8", "metered_quantity: 9"))
    assert main(["scenario", "run", str(wrong)]) == 1
    failure = capsys.readouterr().err
    assert "FAILED" in failure
    assert "metered_quantity: expected 9, got 8" in failure


def test_a_malformed_scenario_names_the_step_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: broken\nclock: 2025-12-01T00:00:00Z\nsteps:\n"
        "  - create_customer: {as: acme, name: Acme, currency: USD}\n"
        "  - create_charge: {as: c, customer: acme, feature_key: f,"
        " service_period: [2026-01-01T00:00:00Z], settlement_mode: credit_only,"
        " price: {type: unit, amount: 1}}\n"
    )
    assert main(["scenario", "run", str(broken)]) == 1
    error = capsys.readouterr().err
    assert "step 2 (create_charge)" in error
    assert "service_period" in error
    assert "Traceback" not in error


def test_user_text_is_printed_as_written_never_read_as_markup(cli: Cli) -> None:
    code, created, _ = cli.run("customers", "create", "--name", "[bold]abc", "--currency", "USD")
    assert code == 0
    assert " [bold]abc: " in created
    customer = created.split()[1]
    assert cli.run("features", "create", "--key", "k[/]", "--name", "[red]x[/]")[0] == 0
    cli.json("charges", "create", "--customer", customer, "--feature", "k[/]", *PERIOD,
             "--mode", "credit_then_invoice", "--price", UNIT)  # fmt: skip
    code, listed, errors = cli.run("charges", "list")
    assert (code, errors) == (0, "")
    assert "k[/]" in listed.replace("\n", "")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: path / "missing.yaml", "cannot be read: No such file or directory"),
        (lambda path: path, "cannot be read: Is a directory"),
        (lambda path: path / "latin1.yaml", "not UTF-8 text"),
    ],
    ids=["missing", "directory", "not-utf-8"],
)
def test_a_file_the_cli_cannot_read_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: Any, message: str
) -> None:
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    code = main(["scenario", "run", str(make(tmp_path))])
    errors = capsys.readouterr().err
    assert code == 1
    assert message in errors and "Traceback" not in errors
    assert len(errors.strip().splitlines()) == 1


def test_demo_refuses_to_replace_a_file_it_did_not_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    precious = tmp_path / "precious.db"
    precious.write_text("my data", encoding="utf-8")
    code = main(["--database", str(precious), "demo", "--diagrams", str(tmp_path / "d")])
    assert code == 1
    assert "was not written by chargeflow demo" in capsys.readouterr().err
    assert precious.read_text(encoding="utf-8") == "my data"
    demo_file = tmp_path / "demo.db"
    for _ in range(2):  # a file the demo wrote is replaced
        assert main(["-d", str(demo_file), "demo", "--diagrams", str(tmp_path / "d")]) == 0


def test_a_malformed_database_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--database", "postgresql://user@host:abc/db", "charges", "list"])
    errors = capsys.readouterr().err
    assert code == 1
    assert "not a database URL" in errors and "Traceback" not in errors
