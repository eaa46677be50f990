"""The README stays true: its Python examples run, and its scenario example passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chargeflow import FrozenClock, open_app
from chargeflow.scenarios import load_scenario, run_scenario

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize(
    "source", blocks("python")[:3], ids=["credit_only", "credit_then_invoice", "progressive"]
)
def test_the_python_examples_run_and_print_what_their_comments_say(
    source: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exec(compile(source, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    for expected in re.findall(r"print\(.*\)\s+# (.+)", source):
        if "the same id" not in expected:
            assert expected.strip() in printed


def test_the_scenario_example_passes(tmp_path: Path) -> None:
    [example] = blocks("yaml")
    path = tmp_path / "readme.yaml"
    path.write_text(example, encoding="utf-8")
    scenario = load_scenario(path)
    clock = FrozenClock(scenario.clock)
    app = open_app("sqlite://", clock=clock)
    try:
        run_scenario(scenario, app, clock)
    finally:
        app.close()


def test_the_embedded_diagram_is_the_generated_one() -> None:
    generated = (Path(__file__).parents[2] / "diagrams" / "credit_then_invoice.mmd").read_text()
    assert [block.rstrip() for block in blocks("mermaid")] == [generated.rstrip()]
