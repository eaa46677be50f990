"""The demo walks both worked examples to their end, shows the run keeping its line, returns
what it did as JSON-ready data, and replaces only the files it wrote itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from chargeflow import demo, open_app
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.statuses import ChargeStatus


def test_the_demo_walks_both_worked_examples_to_final(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    demo.run(tmp_path / "demo.db", console, tmp_path / "diagrams")
    printed = console.export_text()
    app = open_app(f"sqlite:///{tmp_path / 'demo.db'}", migrate=False)
    try:
        charges = app.charges.list()
        assert [c.state.status for c in charges] == [ChargeStatus.FINAL, ChargeStatus.FINAL]
        [invoice] = app.billing.list_invoices()
        [line] = invoice.lines
        assert [r.line_id for r in charges[1].runs] == [line.id]
    finally:
        app.close()
    assert "| 8 " in printed.replace("│", "|")
    assert f"(paid): amount 12.50, credits 8.00, total 4.50; the run kept line_id {line.id}" in (
        printed
    )
    assert printed.count("= invoice line") == 5
    assert len(list((tmp_path / "diagrams").glob("*.svg"))) == 2


def test_without_a_console_the_demo_prints_nothing_and_returns_a_json_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = demo.run(tmp_path / "demo.db", None, tmp_path / "diagrams")

    assert capsys.readouterr() == ("", "")
    data = json.loads(json.dumps(summary.model_dump(mode="json")))
    app = open_app(f"sqlite:///{tmp_path / 'demo.db'}", migrate=False)
    try:
        credit_only, invoiced = app.charges.list()
        [invoice] = app.billing.list_invoices()
    finally:
        app.close()
    assert data["database"] == str(tmp_path / "demo.db")
    assert data["diagrams"] == str(tmp_path / "diagrams")
    assert [
        {key: example[key] for key in ("charge_id", "settlement_mode", "status")}
        for example in data["examples"]
    ] == [
        {"charge_id": credit_only.id, "settlement_mode": "credit_only", "status": "final"},
        {"charge_id": invoiced.id, "settlement_mode": "credit_then_invoice", "status": "final"},
    ]
    first, second = data["examples"]
    assert (first["invoice_id"], first["line_id"], first["line_kept"]) == (None, None, None)
    assert second["invoice_id"] == invoice.id
    assert second["invoice_status"] == "paid"
    assert second["line_id"] == invoice.lines[0].id
    assert second["line_kept"] is True
    for example in data["examples"]:
        assert [Path(name).name for name in example["diagrams"]] == [
            f"charge-{example['charge_id']}.{suffix}" for suffix in ("mmd", "dot", "svg")
        ]
        assert all(Path(name).is_file() for name in example["diagrams"])


def test_a_second_run_deletes_the_diagrams_of_the_first_and_keeps_every_other_file(
    tmp_path: Path,
) -> None:
    diagrams = tmp_path / "diagrams"
    first = demo.run(tmp_path / "demo.db", None, diagrams)
    (diagrams / "notes.txt").write_text("mine", encoding="utf-8")
    (diagrams / "charge-mine.svg").write_text("<svg/>", encoding="utf-8")

    second = demo.run(tmp_path / "demo.db", None, diagrams)

    stale = [path for example in first.examples for path in example.diagrams]
    fresh = [path for example in second.examples for path in example.diagrams]
    assert len(stale) == len(fresh) == 6
    assert not any(path.exists() for path in stale)
    assert sorted(path.name for path in diagrams.iterdir()) == sorted(
        [*(path.name for path in fresh), "notes.txt", "charge-mine.svg", demo.OUTPUTS_LIST]
    )
    assert (diagrams / "notes.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize(
    "listing",
    ["my notes\nnotes.txt\n", "{header}\n../outside.txt\n"],
    ids=["another-first-line", "a-path-outside"],
)
def test_an_outputs_list_the_demo_did_not_write_is_refused_and_nothing_is_deleted(
    tmp_path: Path, listing: str
) -> None:
    diagrams = tmp_path / "diagrams"
    demo.run(tmp_path / "demo.db", None, diagrams)
    header = (diagrams / demo.OUTPUTS_LIST).read_text(encoding="utf-8").splitlines()[0]
    (diagrams / "notes.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("mine", encoding="utf-8")
    (diagrams / demo.OUTPUTS_LIST).write_text(listing.format(header=header), encoding="utf-8")
    before = sorted(tmp_path.rglob("*"))

    with pytest.raises(InvalidInputError, match="was not written by chargeflow demo"):
        demo.run(tmp_path / "demo.db", None, diagrams)

    assert sorted(tmp_path.rglob("*")) == before
    assert (diagrams / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "outside.txt").read_text(encoding="utf-8") == "mine"
