"""Drawing a machine spec: Mermaid `stateDiagram-v2` and Graphviz DOT text, optionally marking
the path one subject took through it.

This module owns what a diagram says about a spec (node ids, edge labels, the action notes of
each status, which statuses and rows a path marks); it builds that once and lays it out in each
format. Output follows spec order, so committed diagrams compare byte for byte.

It must stay pure: it reads a spec and returns text. It writes no file and runs no program
(`chargeflow.diagrams` does both, and asks Graphviz for the SVG), and it never decides which
status follows which.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from domain.errors import InvalidInputError, MachineDefinitionError
from statemachines.spec import MachineSpec, Row

AnySpec = MachineSpec[Any, Any, Any, Any]
Transition = tuple[StrEnum, StrEnum, StrEnum]
"""``(source, trigger, dest)``, as the `charge_transitions` audit log records a transition."""

_UNDRAWABLE = frozenset(':;#"<>[]{}\n')
"""Characters a spec's names must not hold: Mermaid splits or decodes a label on them
(``;`` ends a statement, ``#`` starts an entity code, ``:`` starts a label, ``"`` ends a state's
name, ``<`` and ``>`` are read as HTML), and the labels themselves use the brackets."""

_START = "[*]"
_END = "[*] end"
"""DOT ids of the start and end pseudo-states (a status name cannot hold brackets)."""

_MERMAID_CLASSES = (
    "classDef visited fill:#e3f1e3,stroke:#3c8d40,color:#1e4620",
    "classDef current fill:#ffe08a,stroke:#b8860b,stroke-width:3px,font-weight:bold",
)
_DOT_MARKS = {
    "visited": 'fillcolor="#e3f1e3", color="#3c8d40"',
    "current": 'fillcolor="#ffe08a", color="#b8860b", penwidth=2.5',
}
_DOT_TAKEN = 'color="#1f6feb", fontcolor="#1f6feb", penwidth=2.2'
_DOT_FAN_IN = 'style=dashed, color="#999999", fontcolor="#777777"'

_FAN_IN = 3
"""When at least this many rows share a trigger and a destination (as `delete` from every status
does), DOT draws them light and lets them not pull on the layout, so the main path stays
straight."""


@dataclass(frozen=True)
class Highlight:
    """The path one subject took through a machine: the status it stands in (`current`) and the
    ``(source, trigger, dest)`` transitions it took, oldest first (`taken`)."""

    current: StrEnum
    taken: tuple[Transition, ...] = ()


@dataclass(frozen=True)
class _Node:
    """A status as drawn: the status, its action notes and its mark."""

    status: StrEnum
    notes: tuple[str, ...]
    mark: Literal["current", "visited", ""]  # "" is unmarked


@dataclass(frozen=True)
class _Edge:
    """A row as drawn: its ends, its label, whether it is one of a fan-in (see `_FAN_IN`) and
    whether the highlighted path took it."""

    source: StrEnum
    dest: StrEnum
    label: str
    fan_in: bool
    taken: bool


@dataclass(frozen=True)
class _Diagram:
    """What both formats draw of one spec, in spec order."""

    name: str
    nodes: tuple[_Node, ...]
    edges: tuple[_Edge, ...]
    initial: StrEnum
    terminal: tuple[StrEnum, ...]
    highlighted: bool


def render_mermaid(spec: AnySpec, highlight: Highlight | None = None) -> str:
    """The spec as a Mermaid ``stateDiagram-v2``, ending in a newline.

    Every status is declared as ``state "<name>" as <id>`` (ids hold ``[A-Za-z0-9_]`` only);
    ``[*]`` leads to the initial status and every terminal status leads to ``[*]``; each row is
    one line ``source --> dest : trigger [guards]``; a status's activation actions and the entry
    actions of the rows into it are a note on its right. With `highlight`, the statuses of the
    path get class ``visited``, the current one class ``current``, and each taken row's label
    ends with its step numbers (Mermaid cannot colour single edges).

    Raises `MachineDefinitionError` when a name cannot be drawn (see `_UNDRAWABLE`) or two
    statuses share an id, `InvalidInputError` when `highlight` is not a path of `spec`.
    """
    diagram = _diagram(spec, highlight)
    lines = [
        f"%% The {diagram.name} machine, generated from its spec by `make diagrams`: do not edit.",
        "stateDiagram-v2",
    ]
    lines += [
        f'    state "{node.status.value}" as {mermaid_id(node.status)}' for node in diagram.nodes
    ]
    lines += ["", f"    [*] --> {mermaid_id(diagram.initial)}"]
    lines += [
        f"    {mermaid_id(edge.source)} --> {mermaid_id(edge.dest)} : {edge.label}"
        for edge in diagram.edges
    ]
    lines += [f"    {mermaid_id(status)} --> [*]" for status in diagram.terminal]
    for node in diagram.nodes:
        if node.notes:
            lines += ["", f"    note right of {mermaid_id(node.status)}"]
            lines += [f"        {note}" for note in node.notes]
            lines += ["    end note"]
    if diagram.highlighted:
        lines += ["", *(f"    {definition}" for definition in _MERMAID_CLASSES)]
        for mark in ("visited", "current"):
            ids = [mermaid_id(node.status) for node in diagram.nodes if node.mark == mark]
            if ids:
                lines.append(f"    class {','.join(ids)} {mark}")
    return "\n".join(lines) + "\n"


def render_dot(spec: AnySpec, highlight: Highlight | None = None) -> str:
    """The spec as a Graphviz ``digraph``, ending in a newline.

    Nodes are the statuses, with their names as quoted ids; a node's label holds the name and
    its action notes. A point leads to the initial status and every terminal status leads to a
    final pseudo-state; each row is one edge labelled ``trigger [guards]`` (a fan-in such as
    `delete` from every status is dashed and light). With `highlight`, the statuses of the path
    are filled, the current one with a thick border, and the taken edges are coloured, thick
    and numbered by step.

    Raises as `render_mermaid` does.
    """
    diagram = _diagram(spec, highlight)
    lines = [
        f"// The {diagram.name} machine, generated from its spec by `make diagrams`: do not edit.",
        f"digraph {_quoted(diagram.name)} {{",
        f"    graph [label={_quoted(diagram.name)}, labelloc=t, fontname=Helvetica, fontsize=16,"
        " rankdir=TB, nodesep=0.5, ranksep=0.4];",
        '    node [shape=box, style="rounded,filled", fillcolor="#ffffff", color="#555555",'
        ' fontname=Helvetica, fontsize=11, margin="0.15,0.06"];',
        '    edge [fontname=Helvetica, fontsize=9, color="#555555", arrowsize=0.7];',
        "",
        f'    {_quoted(_START)} [shape=point, width=0.15, label="", fillcolor=black];',
    ]
    for node in diagram.nodes:
        attributes = [f"label={_dot_label(node)}", _DOT_MARKS.get(node.mark, "")]
        lines.append(f"    {_quoted(node.status.value)} [{', '.join(a for a in attributes if a)}];")
    if diagram.terminal:
        lines.append(
            f'    {_quoted(_END)} [shape=doublecircle, width=0.12, label="", fillcolor=black];'
        )
    lines += ["", f"    {_quoted(_START)} -> {_quoted(diagram.initial.value)};"]
    for edge in diagram.edges:
        attributes = [
            f"label={_quoted(' ' + edge.label + ' ')}",
            "weight=0" if edge.fan_in else "",
            _DOT_TAKEN if edge.taken else _DOT_FAN_IN if edge.fan_in else "",
        ]
        lines.append(
            f"    {_quoted(edge.source.value)} -> {_quoted(edge.dest.value)}"
            f" [{', '.join(a for a in attributes if a)}];"
        )
    lines += [f"    {_quoted(status.value)} -> {_quoted(_END)};" for status in diagram.terminal]
    lines.append("}")
    return "\n".join(lines) + "\n"


def mermaid_id(status: StrEnum) -> str:
    """The Mermaid id of `status`: its name with every character outside ``[A-Za-z0-9_]``
    replaced by ``_`` (``draft.created`` -> ``draft_created``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", status.value)


def _diagram(spec: AnySpec, highlight: Highlight | None) -> _Diagram:
    """Check that `spec` can be drawn and `highlight` is a path of it; what both formats draw."""
    _check_drawable(spec)
    if highlight is not None:
        _check_highlight(spec, highlight)
    steps = _steps(highlight)
    visited = {status for source, _, dest in steps for status in (source, dest)}
    current = highlight.current if highlight is not None else None
    drawn = [row for row in spec.rows if row.dest is not None]
    fan_in = Counter((row.trigger, row.dest) for row in drawn)
    nodes = tuple(
        _Node(
            status=status,
            notes=_notes(spec, status),
            mark="current" if status == current else "visited" if status in visited else "",
        )
        for status in spec.statuses
    )
    edges = tuple(
        _Edge(
            source=row.source,
            dest=row.dest,
            label=_edge_label(row, steps.get((row.source, row.trigger, row.dest), ())),
            fan_in=fan_in[row.trigger, row.dest] >= _FAN_IN,
            taken=(row.source, row.trigger, row.dest) in steps,
        )
        for row in drawn
        if row.dest is not None
    )
    rows = {(row.source, row.trigger, row.dest) for row in drawn}
    edges += tuple(
        _Edge(
            source=source,
            dest=dest,
            label=f"{trigger.value} (internal) {_steps_label(numbers)}",
            fan_in=False,
            taken=True,
        )
        for (source, trigger, dest), numbers in steps.items()
        if (source, trigger, dest) not in rows
    )
    return _Diagram(
        name=spec.name,
        nodes=nodes,
        edges=edges,
        initial=spec.initial,
        terminal=tuple(status for status in spec.statuses if status in spec.terminal),
        highlighted=highlight is not None,
    )


def _steps(highlight: Highlight | None) -> dict[Transition, tuple[int, ...]]:
    """The step numbers (from 1) at which the path took each transition."""
    steps: dict[Transition, tuple[int, ...]] = {}
    for number, transition in enumerate(highlight.taken if highlight else (), start=1):
        steps[transition] = (*steps.get(transition, ()), number)
    return steps


def _edge_label(row: Row[Any, Any, Any, Any], steps: tuple[int, ...]) -> str:
    """``trigger [guard and guard]``, then ``(step n)`` / ``(steps n, m)`` when a path took it."""
    label: str = row.trigger.value
    if row.guards:
        label += f" [{' and '.join(guard.name for guard in row.guards)}]"
    if steps:
        label += f" {_steps_label(steps)}"
    return label


def _steps_label(steps: tuple[int, ...]) -> str:
    """``(step n)`` or ``(steps n, m)``."""
    return f"(step{'s' if len(steps) > 1 else ''} {', '.join(map(str, steps))})"


def _notes(spec: AnySpec, status: StrEnum) -> tuple[str, ...]:
    """The action notes of `status`: the entry actions of the rows into it, one line per
    distinct (trigger, actions), then its activation actions (which run after them), then its
    internal rows, one line per distinct actions (``internal (extend, shrink): change period``,
    as UML lists internal transitions inside their state)."""
    entries = dict.fromkeys(
        f"entry ({row.trigger.value}): {', '.join(action.value for action in row.entry)}"
        for row in spec.rows
        if row.dest == status and row.entry
    )
    activation = spec.activation_of(status)
    activate = [f"activate: {', '.join(a.value for a in activation)}"] if activation else []
    internal: dict[str, list[str]] = {}
    for row in spec.rows:
        if row.internal and row.source == status:
            actions = ", ".join(action.value for action in row.entry)
            internal.setdefault(actions, []).append(row.trigger.value)
    inside = [f"internal ({', '.join(t)}): {actions}" for actions, t in internal.items()]
    return (*entries, *activate, *inside)


def _spec_text(spec: AnySpec) -> Iterator[str]:
    """Every name of `spec` a diagram shows."""
    yield spec.name
    yield from (status.value for status in spec.statuses)
    for row in spec.rows:
        yield row.trigger.value
        yield from (guard.name for guard in row.guards)
        yield from (action.value for action in row.entry)
    for actions in spec.activation.values():
        yield from (action.value for action in actions)


def _check_drawable(spec: AnySpec) -> None:
    """Raise `MachineDefinitionError` when a name holds a character the diagrams cannot show,
    or two statuses would share a Mermaid id."""
    problems = [
        f"{text!r} holds {''.join(sorted(_UNDRAWABLE & set(text)))!r}, which diagrams cannot show"
        for text in dict.fromkeys(_spec_text(spec))
        if _UNDRAWABLE & set(text)
    ]
    by_id: dict[str, list[str]] = {}
    for status in spec.statuses:
        by_id.setdefault(mermaid_id(status), []).append(status.value)
    problems += [
        f"statuses {' and '.join(map(repr, names))} share the diagram id {id_!r}"
        for id_, names in by_id.items()
        if len(names) > 1
    ]
    if problems:
        raise MachineDefinitionError(spec.name, problems)


def _check_highlight(spec: AnySpec, highlight: Highlight) -> None:
    """Raise `InvalidInputError` unless `highlight` stands in a status of `spec` and took only
    transitions that are rows of it (an internal row may have ended in any status)."""
    rows = {(row.source, row.trigger, row.dest) for row in spec.rows}
    internal = {(row.source, row.trigger) for row in spec.rows if row.internal}
    problems = [
        f"{source.value} -{trigger.value}-> {dest.value} is no row of {spec.name}"
        for source, trigger, dest in highlight.taken
        if (source, trigger, dest) not in rows and (source, trigger) not in internal
    ]
    if highlight.current not in spec.statuses:
        problems.append(f"{highlight.current.value!r} is no status of {spec.name}")
    if problems:
        raise InvalidInputError("cannot highlight that path: " + "; ".join(problems))


def _quoted(text: str) -> str:
    """`text` as a quoted DOT id."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(node: _Node) -> str:
    """An HTML-like DOT label: the status name in bold, its action notes below, left-aligned."""
    notes = "".join(f'{html.escape(note)}<br align="left"/>' for note in node.notes)
    name = f"<b>{html.escape(node.status.value)}</b>"
    if not notes:
        return f"<{name}>"
    return f'<{name}<br/><font point-size="9" color="#444444">{notes}</font>>'
