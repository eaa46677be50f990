"""The demo walks both worked examples to their end and shows the run keeping its line."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from chargeflow import demo, open_app
from domain.statuses import ChargeStatus


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
