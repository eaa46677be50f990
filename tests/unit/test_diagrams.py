"""The generated diagrams: Mermaid that Mermaid's own parser accepts, quoted DOT, highlighted
paths, and committed files equal to what the specs render (generated artefacts are checked:
docs/architecture.md).

The Mermaid rules below are the ones Mermaid 11's parser (``mermaid.parse``) was checked
against: a dotted name cannot be a state id, so each status is declared
``state "<name>" as <id>``; a ``;`` in a label ends the statement (the rest becomes stray
states), a ``#`` starts an entity code, and ``:`` and ``"`` are the label and name delimiters.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from chargeflow import App, FrozenClock, open_app
from chargeflow.diagrams import (
    DESCRIPTIONS,
    GraphvizError,
    charge_diagram,
    main,
    stale_diagrams,
    svg_from_dot,
    write_charge_diagram,
    write_diagrams,
)
from chargeflow.domain.errors import InvalidInputError, MachineDefinitionError
from chargeflow.domain.statuses import ChargeStatus as S
from chargeflow.domain.triggers import Trigger
from chargeflow.persistence.sql import SqlDatabase
from chargeflow.statemachines.charge_guards import AFTER_SERVICE_PERIOD
from chargeflow.statemachines.credit_only import CREDIT_ONLY
from chargeflow.statemachines.credit_then_invoice import CREDIT_THEN_INVOICE
from chargeflow.statemachines.diagrams import Highlight, mermaid_id, render_dot, render_mermaid
from chargeflow.statemachines.registry import SPECS
from chargeflow.statemachines.spec import Guard, MachineSpec, Row
from tests.factories import CO, CTI, charge_in

AnySpec = MachineSpec[Any, Any, Any, Any]
COMMITTED = Path(__file__).resolve().parents[2] / "diagrams"
TRANSITION = re.compile(r"^    (\S+) --> (\S+)(?: : (.*))?$")
EDGE = re.compile(r'^    ("(?:[^"\\]|\\.)*") -> ("(?:[^"\\]|\\.)*")(?: \[(.*)\])?;$')

each_spec = pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)


def walk(current: S, *taken: tuple[S, Trigger, S]) -> Highlight:
    """A highlight of `taken` ending in `current`, titled and sourced as a test's."""
    return Highlight(current=current, taken=taken, title="a test path", provenance="A test.")


DELETED_AFTER_ACTIVATION = walk(
    S.DELETED, (S.CREATED, Trigger.NEXT, S.ACTIVE), (S.ACTIVE, Trigger.DELETE, S.DELETED)
)


def transitions(mermaid: str) -> list[tuple[str, str, str | None]]:
    """``(source, dest, label)`` of every transition line."""
    return [
        (match[1], match[2], match[3])
        for match in map(TRANSITION.match, mermaid.splitlines())
        if match
    ]


def marks(mermaid: str) -> list[str]:
    """The ``class`` lines: which statuses (and legend samples) carry which mark."""
    return [line for line in mermaid.splitlines() if line.startswith("    class ")]


def edges(dot: str) -> list[tuple[str, str, str]]:
    """``(source, dest, attributes)`` of every edge line, ids still quoted."""
    return [
        (match[1], match[2], match[3] or "") for match in map(EDGE.match, dot.splitlines()) if match
    ]


def expected_label(row: Row[Any, Any, Any, Any]) -> str:
    guards = " and ".join(guard.name for guard in row.guards)
    return f"{row.trigger.value} [{guards}]" if guards else row.trigger.value


# Mermaid


@each_spec
def test_every_status_is_declared_by_its_dotted_name_as_a_plain_id(spec: AnySpec) -> None:
    declared = re.findall(r'^    state "([^"]+)" as (\S+)$', render_mermaid(spec), re.M)

    assert declared == [(status.value, mermaid_id(status)) for status in spec.statuses]
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", id_) for _, id_ in declared)


@each_spec
def test_every_transition_names_declared_ids_or_the_pseudo_state(spec: AnySpec) -> None:
    ids = {mermaid_id(status) for status in spec.statuses} | {"[*]"}

    for source, dest, _ in transitions(render_mermaid(spec)):
        assert {source, dest} <= ids


@each_spec
def test_each_row_is_one_transition_labelled_with_its_trigger_and_guards(spec: AnySpec) -> None:
    drawn = [t for t in transitions(render_mermaid(spec)) if "[*]" not in t[:2]]

    assert drawn == [
        (mermaid_id(row.source), mermaid_id(row.dest), expected_label(row))
        for row in spec.rows
        if row.dest is not None
    ]


@each_spec
def test_labels_hold_nothing_mermaid_splits_or_decodes(spec: AnySpec) -> None:
    for _, _, label in transitions(render_mermaid(spec)):
        assert label is None or not set(label) & set(':;#"')


@each_spec
def test_the_pseudo_state_leads_to_the_initial_status_and_from_each_terminal(
    spec: AnySpec,
) -> None:
    pseudo = [t[:2] for t in transitions(render_mermaid(spec)) if "[*]" in t[:2]]

    assert pseudo == [
        ("[*]", mermaid_id(spec.initial)),
        *((mermaid_id(s), "[*]") for s in spec.statuses if s in spec.terminal),
    ]


def test_notes_list_the_entry_actions_of_rows_in_and_the_activation_actions() -> None:
    mermaid = render_mermaid(CREDIT_THEN_INVOICE)

    assert (
        "    note right of active\n"
        "        entry (next): sync feature id\n"
        "        activate: advance after period to\n"
        "        internal (extend, shrink): change period\n"
        "    end note\n"
    ) in mermaid
    assert (
        "    note right of active_realization_started\n"
        "        entry (invoice_created): start invoice run\n"
        "        internal (extend, shrink): change period\n"
        "    end note\n"
    ) in mermaid


def test_internal_rows_are_listed_inside_their_status_not_drawn_as_edges() -> None:
    mermaid = render_mermaid(CREDIT_THEN_INVOICE)
    assert " : extend" not in mermaid and " : shrink" not in mermaid
    assert mermaid.count("internal (extend, shrink): change period") == 7
    assert (
        "    note right of active_realization_issuing\n        internal"
    ) not in mermaid  # refused there: retry after billing advances


def test_a_highlight_draws_the_internal_transition_a_charge_took() -> None:
    taken = walk(S.ACTIVE, (S.FINAL, Trigger.EXTEND, S.ACTIVE))
    mermaid = render_mermaid(CREDIT_ONLY, taken)
    assert "    final --> active : extend (internal) (step 1)" in mermaid
    dot = render_dot(CREDIT_ONLY, taken)
    assert '"final" -> "active" [label=" extend (internal) (step 1) "' in dot


def test_the_entry_actions_shared_by_every_delete_row_are_noted_once() -> None:
    assert render_mermaid(CREDIT_ONLY).count("entry (delete): delete charge") == 1


@each_spec
def test_a_plain_diagram_marks_no_status(spec: AnySpec) -> None:
    assert "classDef" not in render_mermaid(spec)
    assert "class " not in render_mermaid(spec)


def test_a_highlight_marks_visited_statuses_the_current_one_and_numbers_the_steps() -> None:
    mermaid = render_mermaid(CREDIT_ONLY, DELETED_AFTER_ACTIVATION)

    assert re.search(r"^    classDef visited \S+$", mermaid, re.M)
    assert re.search(r"^    classDef current \S+$", mermaid, re.M)
    assert mermaid.endswith("    class created,active visited\n    class deleted current\n")
    assert "    created --> active : next [inside service period] (step 1)\n" in mermaid
    assert "    active --> deleted : delete (step 2)\n" in mermaid
    assert "    created --> deleted : delete\n" in mermaid


def test_a_transition_taken_twice_lists_both_steps() -> None:
    back_and_forth = walk(S.ACTIVE, *((S.CREATED, Trigger.NEXT, S.ACTIVE),) * 2)

    assert "(steps 1, 2)" in render_mermaid(CREDIT_ONLY, back_and_forth)


def test_a_subject_that_has_not_moved_is_current_at_the_initial_status() -> None:
    mermaid = render_mermaid(CREDIT_ONLY, walk(S.CREATED))

    assert mermaid.endswith("    class created current\n")
    assert " visited\n" not in mermaid


# DOT


@each_spec
def test_dot_quotes_every_node_id_and_labels_it_with_the_status_name(spec: AnySpec) -> None:
    dot = render_dot(spec)

    assert dot.startswith(f"// The {spec.name} machine")
    assert f'digraph "{spec.name}" {{' in dot
    for status in spec.statuses:
        assert re.search(
            rf'^    "{re.escape(status.value)}" \[label=<<b>{status.value}</b>', dot, re.M
        )


@each_spec
def test_dot_draws_each_row_as_one_quoted_edge_labelled_trigger_and_guards(spec: AnySpec) -> None:
    drawn = [e for e in edges(render_dot(spec)) if "[*]" not in e[0] + e[1]]

    between = [row for row in spec.rows if row.dest is not None]
    assert [(source, dest) for source, dest, _ in drawn] == [
        (f'"{row.source.value}"', f'"{row.dest.value}"') for row in between if row.dest
    ]
    for (_, _, attributes), row in zip(drawn, between, strict=True):
        assert f'label=" {expected_label(row)} "' in attributes


def test_dot_notes_actions_inside_the_node_label() -> None:
    dot = render_dot(CREDIT_THEN_INVOICE)

    assert "entry (invoice_created): start invoice run" in dot
    assert "entry (next): sync feature id" in dot
    assert "activate: advance after period to" in dot


def test_dot_draws_a_fan_in_light_and_without_pull_on_the_layout() -> None:
    for source, dest, attributes in edges(render_dot(CREDIT_ONLY)):
        fan_in = dest == '"deleted"' and source != '"[*]"'
        assert ("style=dashed" in attributes) is fan_in
        assert ("weight=0" in attributes) is fan_in


def test_a_highlight_in_dot_colours_the_taken_edges_and_fills_the_path() -> None:
    dot = render_dot(CREDIT_ONLY, DELETED_AFTER_ACTIVATION)
    taken = {(s, d) for s, d, attributes in edges(dot) if "penwidth" in attributes}

    assert taken == {('"created"', '"active"'), ('"active"', '"deleted"')}
    assert 'label=" delete (step 2) ", weight=0, color="#1f6feb"' in dot
    assert re.search(r'^    "deleted" \[.*fillcolor="#ffe08a".*penwidth', dot, re.M)
    assert re.search(r'^    "active" \[.*fillcolor="#e3f1e3"', dot, re.M)
    assert not re.search(r'^    "final" \[.*fillcolor="#', dot, re.M)


# What cannot be drawn


@pytest.mark.parametrize("render", [render_mermaid, render_dot])
def test_a_highlight_off_the_machine_is_refused(render: Any) -> None:
    never = walk(
        S.AWAITING_PAYMENT_SETTLEMENT, (S.ACTIVE, Trigger.INVOICE_CREATED, S.REALIZATION_STARTED)
    )

    with pytest.raises(InvalidInputError, match=r"invoice_created.* is no row of credit_only"):
        render(CREDIT_ONLY, never)
    with pytest.raises(
        InvalidInputError,
        match=r"'active\.awaiting_payment_settlement' is no status of credit_only",
    ):
        render(CREDIT_ONLY, walk(S.AWAITING_PAYMENT_SETTLEMENT))


@pytest.mark.parametrize("name", ["late; really", "a: b", "#59", 'say "when"'])
def test_a_guard_name_mermaid_would_split_or_decode_is_refused(name: str) -> None:
    rows = (
        *CREDIT_ONLY.rows[:1],
        replace(CREDIT_ONLY.rows[1], guards=(Guard(name, AFTER_SERVICE_PERIOD.check),)),
        *CREDIT_ONLY.rows[2:],
    )

    with pytest.raises(MachineDefinitionError, match="which diagrams cannot show"):
        render_mermaid(replace(CREDIT_ONLY, rows=rows))


class Clashing(StrEnum):
    DOTTED = "a.b"
    UNDERSCORED = "a_b"


def test_statuses_that_would_share_a_mermaid_id_are_refused() -> None:
    spec = MachineSpec[Clashing, Trigger, Any, Any](
        name="clash",
        statuses=tuple(Clashing),
        initial=Clashing.DOTTED,
        terminal=frozenset({Clashing.UNDERSCORED}),
        rows=(Row(Trigger.NEXT, Clashing.DOTTED, Clashing.UNDERSCORED),),
        continuation=Trigger.NEXT,
        meta=lambda status: status,
    )

    with pytest.raises(
        MachineDefinitionError, match=re.escape("'a.b' and 'a_b' share the diagram id")
    ):
        render_dot(spec)


# The files


def test_the_committed_diagrams_are_what_the_specs_render() -> None:
    assert stale_diagrams(COMMITTED) == [], "run `make diagrams` and commit diagrams/"


def test_every_registered_machine_has_a_readme_description() -> None:
    assert set(DESCRIPTIONS) == {spec.name for spec in SPECS}


def test_the_readme_embeds_each_mermaid_source_and_links_its_svg() -> None:
    readme = (COMMITTED / "README.md").read_text(encoding="utf-8")

    for spec in SPECS:
        assert f"```mermaid\n{render_mermaid(spec)}```\n" in readme
        assert f"[SVG]({spec.name}.svg)" in readme


def test_changed_missing_and_orphaned_files_are_stale_but_svgs_are_not_compared(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "diagrams"
    shutil.copytree(COMMITTED, directory)
    (directory / "invoice.dot").write_text("digraph {}\n", encoding="utf-8")
    (directory / "credit_only.mmd").unlink()
    (directory / "retired.mmd").write_text("stateDiagram-v2\n", encoding="utf-8")
    (directory / "invoice.svg").write_text("<svg/>", encoding="utf-8")

    assert stale_diagrams(directory) == ["credit_only.mmd", "invoice.dot", "retired.mmd"]


def test_the_check_command_reports_stale_files_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert f"  {tmp_path / 'credit_only.mmd'}\n" in capsys.readouterr().out


def test_the_check_command_passes_on_fresh_diagrams(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--out", str(COMMITTED)]) == 0
    assert capsys.readouterr().out == "diagrams are up to date\n"


def test_writing_creates_every_file_and_leaves_nothing_stale(tmp_path: Path) -> None:
    directory = tmp_path / "out"

    written = write_diagrams(directory)

    assert [path.name for path in written] == [
        *(f"{spec.name}.{suffix}" for spec in SPECS for suffix in ("mmd", "dot", "svg")),
        "README.md",
    ]
    assert "<svg" in (directory / "invoice.svg").read_text(encoding="utf-8")
    assert stale_diagrams(directory) == []


def test_without_graphviz_the_error_says_to_run_make_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(GraphvizError, match="run `make install`"):
        svg_from_dot("digraph {}")
    with pytest.raises(GraphvizError):
        write_diagrams(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_dot_rejecting_its_input_is_a_graphviz_error() -> None:
    with pytest.raises(GraphvizError, match="dot -Tsvg` failed"):
        svg_from_dot("this is not dot")


# One charge's path


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock("2025-12-01T00:00:00Z")


@pytest.fixture
def app(clock: FrozenClock) -> Iterator[App]:
    """An app on an in-memory SQLite database."""
    application = open_app("sqlite://", clock=clock)
    yield application
    application.close()


def test_a_charge_diagram_marks_the_path_its_audit_log_records(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)
    app.charges.delete(charge_id, policy="ignore")

    mermaid, dot = charge_diagram(app, charge_id)

    expected_mermaid = render_mermaid(CREDIT_ONLY, DELETED_AFTER_ACTIVATION)
    expected_dot = render_dot(CREDIT_ONLY, DELETED_AFTER_ACTIVATION)
    assert transitions(mermaid) == transitions(expected_mermaid)
    assert marks(mermaid) == marks(expected_mermaid)
    assert edges(dot) == edges(expected_dot)


def test_a_charge_diagram_draws_the_machine_of_the_charge_settlement_mode(
    database: SqlDatabase, app: App, clock: FrozenClock
) -> None:
    charge_id = charge_in(app, database, clock, CTI, S.ACTIVE)

    mermaid, _ = charge_diagram(app, charge_id)

    assert f"%% Charge {charge_id} on the credit_then_invoice machine as of " in mermaid
    assert mermaid.endswith("    class created visited\n    class active current\n")


def test_a_charge_diagram_is_written_as_mermaid_dot_and_svg(
    database: SqlDatabase, app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    charge_id = charge_in(app, database, clock, CO, S.ACTIVE)

    written = write_charge_diagram(app, charge_id, tmp_path / "demo")

    assert [path.name for path in written] == [
        f"charge-{charge_id}.{suffix}" for suffix in ("mmd", "dot", "svg")
    ]
    assert written[0].read_text(encoding="utf-8") == charge_diagram(app, charge_id)[0]
    assert "<svg" in written[2].read_text(encoding="utf-8")
