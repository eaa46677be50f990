"""What a marked diagram says about itself: the title naming its subject, a header comment saying
where the marks were read from (never that the file is generated from the specs), and a legend
of the marks, labels and notes it shows, in Mermaid and in DOT. A plain machine diagram has none
of these, so the committed diagrams stay as the specs render them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from chargeflow import App, FrozenClock, open_app
from chargeflow.diagrams import charge_diagram, write_charge_diagram
from chargeflow.domain.errors import MachineDefinitionError
from chargeflow.domain.statuses import ChargeStatus as S
from chargeflow.domain.triggers import Trigger
from chargeflow.statemachines.credit_only import CREDIT_ONLY
from chargeflow.statemachines.diagrams import Highlight, render_dot, render_mermaid
from chargeflow.statemachines.registry import SPECS
from chargeflow.statemachines.spec import MachineSpec, Row
from tests.factories import CO, CTI, charge, customer

AnySpec = MachineSpec[Any, Any, Any, Any]
ACTIVATED = (S.CREATED, Trigger.NEXT, S.ACTIVE)
DELETED = (S.ACTIVE, Trigger.DELETE, S.DELETED)


def walk(
    current: S,
    *taken: tuple[S, Trigger, S],
    title: str = "a test path",
    provenance: str = "A test.",
) -> Highlight:
    return Highlight(current=current, taken=taken, title=title, provenance=provenance)


def mermaid_legend(mermaid: str) -> list[str]:
    """The lines of the legend's note, as written."""
    [note] = re.findall(r"^    note right of legend_\w+\n(.*?)^    end note$", mermaid, re.M | re.S)
    return [line.strip() for line in note.splitlines()]


def dot_legend(dot: str) -> list[tuple[str, str]]:
    """``(sample cell, meaning)`` of each row of the DOT legend table, HTML as written."""
    [table] = re.findall(r'^    "\[legend\]" \[.*?</table>>\];$', dot, re.M | re.S)
    return re.findall(r"<tr><td[^>]*>(.*?)</td><td[^>]*>(.*?)</td></tr>", table)


# A plain machine diagram


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_a_plain_diagram_says_it_is_generated_and_has_no_title_block_or_legend(
    spec: AnySpec,
) -> None:
    mermaid, dot = render_mermaid(spec), render_dot(spec)

    generated = f"The {spec.name} machine, generated from its spec by `make diagrams`: do not edit."
    assert mermaid.startswith(f"%% {generated}\nstateDiagram-v2\n")
    assert dot.startswith(f"// {generated}\n")
    assert f'graph [label="{spec.name}", ' in dot
    assert "legend" not in mermaid.lower() and "legend" not in dot.lower()


# Title and header


def test_a_marked_mermaid_diagram_opens_with_its_title_then_its_provenance() -> None:
    mermaid = render_mermaid(CREDIT_ONLY, walk(S.ACTIVE, ACTIVATED, provenance="Read from X."))

    assert mermaid.startswith('---\ntitle: "a test path"\n---\n%% Read from X.\nstateDiagram-v2\n')
    assert "generated from its spec" not in mermaid


def test_a_marked_dot_diagram_is_labelled_with_its_title_and_opens_with_its_provenance() -> None:
    dot = render_dot(CREDIT_ONLY, walk(S.ACTIVE, ACTIVATED, provenance="Read from X."))

    assert dot.startswith('// Read from X.\ndigraph "credit_only" {\n')
    assert "    graph [label=<a test path>, labelloc=t," in dot
    assert "generated from its spec" not in dot


def test_title_and_provenance_stay_on_their_line_and_are_escaped_for_each_format() -> None:
    marked = walk(
        S.ACTIVE,
        ACTIVATED,
        title='Acme "<b>" & co\n    class active visited',
        provenance="Read\nstateDiagram-v2",
    )

    mermaid, dot = render_mermaid(CREDIT_ONLY, marked), render_dot(CREDIT_ONLY, marked)

    assert 'title: "Acme \\"<b>\\" & co class active visited"\n' in mermaid
    assert "%% Read stateDiagram-v2\n" in mermaid
    assert mermaid.count("stateDiagram-v2\n") == 2  # the header's and the diagram's
    assert "\n    class active visited" not in mermaid
    assert "label=<Acme &quot;&lt;b&gt;&quot; &amp; co class active visited>" in dot
    assert dot.startswith("// Read stateDiagram-v2\n")


# The legend


def test_the_mermaid_legend_shows_a_sample_of_each_status_mark_in_that_mark() -> None:
    mermaid = render_mermaid(CREDIT_ONLY, walk(S.DELETED, ACTIVATED, DELETED))

    assert (
        '    state "legend - the status it stands in now: deleted" as legend_current\n'
        '    state "legend - a status it passed through" as legend_visited\n'
    ) in mermaid
    assert "    class legend_current current\n    class legend_visited visited\n" in mermaid


def test_the_mermaid_legend_note_explains_the_steps_untaken_rows_guards_and_actions() -> None:
    mermaid = render_mermaid(CREDIT_ONLY, walk(S.DELETED, ACTIVATED, DELETED))

    assert mermaid_legend(mermaid) == [
        "trigger (step n) - a transition it took, as move n of the 2 recorded",
        "trigger - a transition it has not taken",
        "trigger [guard] - fires only when its guards hold",
        "entry (trigger): actions - run as that trigger's transition enters the status",
        "activate: actions - run after every transition into the status",
        "internal (triggers): actions - run in the status, which it keeps",
    ]


def test_the_dot_legend_draws_each_sample_as_the_diagram_draws_that_mark() -> None:
    dot = render_dot(CREDIT_ONLY, walk(S.DELETED, ACTIVATED, DELETED))

    assert dot_legend(dot) == [
        ("status", "the status it stands in now: deleted"),
        ("status", "a status it passed through"),
        (
            '<font color="#1f6feb">trigger (step n)</font>',
            "a transition it took, as move n of the 2 recorded",
        ),
        ("trigger", "a transition it has not taken"),
        (
            '<font color="#777777">dashed, light</font>',
            "one trigger from many statuses (such as delete), not taken",
        ),
        ("trigger [guard]", "fires only when its guards hold"),
        ("entry (trigger): actions", "run as that trigger&#x27;s transition enters the status"),
        ("activate: actions", "run after every transition into the status"),
        ("internal (triggers): actions", "run in the status, which it keeps"),
    ]
    assert '<tr><td bgcolor="#ffe08a" color="#b8860b" border="2">status</td>' in dot
    assert '<tr><td bgcolor="#e3f1e3" color="#3c8d40" border="1">status</td>' in dot


def test_the_legend_keys_only_the_marks_the_diagram_shows() -> None:
    unmoved = render_mermaid(CREDIT_ONLY, walk(S.CREATED))
    assert "legend_visited" not in unmoved
    assert not any("(step" in line for line in mermaid_legend(unmoved))

    twice = render_mermaid(CREDIT_ONLY, walk(S.ACTIVE, ACTIVATED, ACTIVATED))
    assert "trigger (steps n, m) - a transition it took more than once" in mermaid_legend(twice)

    extended = render_dot(CREDIT_ONLY, walk(S.ACTIVE, (S.FINAL, Trigger.EXTEND, S.ACTIVE)))
    assert (
        '<font color="#1f6feb">trigger (internal)</font>',
        "an internal row it fired, drawn from where it was to where it ended",
    ) in dot_legend(extended)


class Legendary(StrEnum):
    START = "start"
    TAKEN = "legend.current"


def test_a_status_that_would_take_a_legend_id_is_refused() -> None:
    spec = MachineSpec[Legendary, Trigger, Any, Any](
        name="legendary",
        statuses=tuple(Legendary),
        initial=Legendary.START,
        terminal=frozenset({Legendary.TAKEN}),
        rows=(Row(Trigger.NEXT, Legendary.START, Legendary.TAKEN),),
        continuation=Trigger.NEXT,
        meta=lambda status: status,
    )

    with pytest.raises(MachineDefinitionError, match="'legend_current', which the legend uses"):
        render_mermaid(spec)


# One charge's diagram


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock("2025-12-01T00:00:00Z")


@pytest.fixture
def app(clock: FrozenClock) -> Iterator[App]:
    """An app on an in-memory SQLite database."""
    application = open_app("sqlite://", clock=clock)
    yield application
    application.close()


def test_a_charge_diagram_is_titled_with_the_charge_customer_feature_mode_and_status(
    app: App, clock: FrozenClock
) -> None:
    who = customer(app)
    charge_id = charge(app, who.id, CTI).id
    clock.set("2026-01-10T00:00:00Z")
    app.charges.advance(charge_id)

    mermaid, dot = charge_diagram(app, charge_id)

    title = (
        f"charge {charge_id} | customer Acme ({who.id}) | feature api_requests | "
        "credit_then_invoice | status active"
    )
    assert f'\ntitle: "{title}"\n' in mermaid
    assert f"    graph [label=<{title}>," in dot


def test_a_charge_diagram_header_says_it_is_read_from_the_charge_as_of_the_clock(
    app: App, clock: FrozenClock
) -> None:
    charge_id = charge(app, customer(app).id, CO).id
    clock.set("2026-01-10T00:00:00Z")
    app.charges.advance(charge_id)

    mermaid, dot = charge_diagram(app, charge_id)

    header = (
        f"Charge {charge_id} on the credit_only machine as of 2026-01-10T00:00:00Z (the app's "
        "clock): its status (active) and path (1 transition) are read from the charge's "
        "persisted status and audit log, not generated from the specs. Redraw it with "
        f"`chargeflow diagram --charge {charge_id}`; do not edit."
    )
    assert mermaid.splitlines()[3] == f"%% {header}"
    assert dot.splitlines()[0] == f"// {header}"
    assert "make diagrams" not in mermaid + dot


def test_a_written_charge_diagram_carries_title_header_and_legend_into_every_file(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    charge_id = charge(app, customer(app).id, CO).id
    clock.set("2026-01-10T00:00:00Z")
    app.charges.advance(charge_id)

    mmd, dot, svg = (
        path.read_text(encoding="utf-8") for path in write_charge_diagram(app, charge_id, tmp_path)
    )

    assert mmd.startswith(f'---\ntitle: "charge {charge_id} | customer Acme')
    assert f"%% Charge {charge_id} on the credit_only machine as of 2026-01-10T00:00:00Z" in mmd
    assert "legend_current" in mmd
    assert dot.startswith(f"// Charge {charge_id} on the credit_only machine")
    assert ">Legend<" in svg and "a transition it has not taken" in svg
    assert f"charge {charge_id} | customer Acme" in svg
