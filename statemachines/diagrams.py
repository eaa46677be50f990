"""Drawing a machine spec: Mermaid `stateDiagram-v2` and Graphviz DOT text, optionally marking
the path one subject took through it.

This module owns what a diagram says about a spec (node ids, edge labels, the action notes of
each status, which statuses and rows a path marks, and for a marked path its title, header and
legend); it builds that once and lays it out in each format. Output follows spec order, so
committed diagrams compare byte for byte.

It must stay pure: it reads a spec and returns text. It writes no file and runs no program
(`chargeflow.diagrams` does both, and asks Graphviz for the SVG), and it never decides which
status follows which.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from chargeflow.domain.errors import InvalidInputError, MachineDefinitionError
from chargeflow.statemachines.spec import MachineSpec, Row

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
_DOT_SAMPLES = {
    "current": ' bgcolor="#ffe08a" color="#b8860b" border="2"',
    "visited": ' bgcolor="#e3f1e3" color="#3c8d40" border="1"',
}
"""The legend cell of a status sample, drawn as the status marks above."""
_DOT_SAMPLE_COLOURS = {"taken": "#1f6feb", "fan_in": "#777777"}
"""The text colour of an edge sample in the legend, as the edges above."""

_LEGEND = '"[legend]"'
"""The DOT id of the legend node (a status name cannot hold brackets)."""
_MERMAID_LEGEND = {"current": "legend_current", "visited": "legend_visited"}
"""The Mermaid ids of the legend's sample statuses; no status may take them."""

_NOTE_KEYS = (
    ("entry (", "entry (trigger): actions", "run as that trigger's transition enters the status"),
    ("activate: ", "activate: actions", "run after every transition into the status"),
    ("internal (", "internal (triggers): actions", "run in the status, which it keeps"),
)
"""``(prefix, sample, meaning)`` of each kind of action note (see `_notes`), for the legend."""

_FAN_IN = 3
"""When at least this many rows share a trigger and a destination (as `delete` from every status
does), DOT draws them light and lets them not pull on the layout, so the main path stays
straight."""


@dataclass(frozen=True, kw_only=True)
class Highlight:
    """The path one subject took through a machine, and what the drawing of it says about itself.

    `current` is the status the subject stands in and `taken` the ``(source, trigger, dest)``
    transitions it took, oldest first. `title` names the subject; it is drawn above the
    diagram. `provenance` says what the marks were read from and as of when; it is the header
    comment of the text (a marked diagram is not generated from the spec alone, so it must not
    claim to be). Each is drawn as one line: runs of whitespace become one space.
    """

    current: StrEnum
    taken: tuple[Transition, ...] = ()
    title: str
    provenance: str


@dataclass(frozen=True)
class _Node:
    """A status as drawn: the status, its action notes and its mark."""

    status: StrEnum
    notes: tuple[str, ...]
    mark: Literal["current", "visited", ""]  # "" is unmarked


@dataclass(frozen=True)
class _Edge:
    """A row as drawn: its ends, its label, whether it is one of a fan-in (see `_FAN_IN`),
    whether the highlighted path took it, and whether it is an internal row the path took (drawn
    from where the subject was to where it ended)."""

    source: StrEnum
    dest: StrEnum
    label: str
    fan_in: bool
    taken: bool
    internal: bool = False


_KeyKind = Literal["current", "visited", "taken", "fan_in", ""]


@dataclass(frozen=True)
class _Key:
    """One line of a legend: a `sample` of a mark and its `meaning`. `kind` says how the sample
    is drawn: as a status in the ``current`` or ``visited`` mark, as a ``taken`` edge label, as
    a ``fan_in`` edge label (DOT alone draws a fan-in apart), or as plain text (``""``)."""

    kind: _KeyKind
    sample: str
    meaning: str


@dataclass(frozen=True)
class _Diagram:
    """What both formats draw of one spec, in spec order. A plain diagram has no `legend` and
    is titled with the spec's name; a highlighted one has both from its `Highlight`."""

    name: str
    nodes: tuple[_Node, ...]
    edges: tuple[_Edge, ...]
    initial: StrEnum
    terminal: tuple[StrEnum, ...]
    header: str
    title: str
    legend: tuple[_Key, ...]


def render_mermaid(spec: AnySpec, highlight: Highlight | None = None) -> str:
    """The spec as a Mermaid ``stateDiagram-v2``, ending in a newline.

    Every status is declared as ``state "<name>" as <id>`` (ids hold ``[A-Za-z0-9_]`` only);
    ``[*]`` leads to the initial status and every terminal status leads to ``[*]``; each row is
    one line ``source --> dest : trigger [guards]``; a status's activation actions and the entry
    actions of the rows into it are a note on its right.

    Without `highlight` the first line is a comment saying the file is generated from the spec.
    With it, the text opens with a front matter ``title`` (the highlight's title), then a comment
    holding its provenance; the statuses of the path get class ``visited``, the current one
    class ``current``, and each taken row's label ends with its step numbers (Mermaid cannot
    colour single edges). A legend follows the diagram: a sample status in each mark used, and
    a note saying what the labels and notes mean.

    Raises `MachineDefinitionError` when a name cannot be drawn (see `_UNDRAWABLE`) or two
    statuses, or a status and the legend, share an id; `InvalidInputError` when `highlight` is
    not a path of `spec`.
    """
    diagram = _diagram(spec, highlight)
    lines = ["---", f"title: {json.dumps(diagram.title)}", "---"] if diagram.legend else []
    lines += [f"%% {diagram.header}", "stateDiagram-v2"]
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
    if diagram.legend:
        lines += ["", *_mermaid_legend(diagram.legend)]
        lines += ["", *(f"    {definition}" for definition in _MERMAID_CLASSES)]
        lines += [
            f"    class {_MERMAID_LEGEND[key.kind]} {key.kind}"
            for key in diagram.legend
            if key.kind in _MERMAID_LEGEND
        ]
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
    `delete` from every status is dashed and light).

    Without `highlight` the first line is a comment saying the file is generated from the spec,
    and the graph is labelled with the spec's name. With it, the comment holds the highlight's
    provenance and the graph is labelled with its title; the statuses of the path are filled,
    the current one with a thick border, the taken edges are coloured, thick and numbered by
    step, and a legend node shows a sample of each mark used and what the labels and notes
    mean.

    Raises as `render_mermaid` does.
    """
    diagram = _diagram(spec, highlight)
    lines = [
        f"// {diagram.header}",
        f"digraph {_quoted(diagram.name)} {{",
        f"    graph [label={_dot_title(diagram)}, labelloc=t, fontname=Helvetica, fontsize=16,"
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
    if diagram.legend:
        lines += _dot_legend(diagram.legend)
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
            internal=True,
        )
        for (source, trigger, dest), numbers in steps.items()
        if (source, trigger, dest) not in rows
    )
    header = f"The {spec.name} machine, generated from its spec by `make diagrams`: do not edit."
    return _Diagram(
        name=spec.name,
        nodes=nodes,
        edges=edges,
        initial=spec.initial,
        terminal=tuple(status for status in spec.statuses if status in spec.terminal),
        header=_one_line(highlight.provenance) if highlight else header,
        title=_one_line(highlight.title) if highlight else spec.name,
        legend=_legend(nodes, edges, highlight.current, steps) if highlight else (),
    )


def _legend(
    nodes: tuple[_Node, ...],
    edges: tuple[_Edge, ...],
    current: StrEnum,
    steps: dict[Transition, tuple[int, ...]],
) -> tuple[_Key, ...]:
    """The legend of a highlighted diagram standing in `current` after `steps` (see `_steps`):
    a key for each mark, label form and note form the diagram shows (and only those), in the
    order a reader meets them: statuses, edges, notes."""
    moves = sum(len(numbers) for numbers in steps.values())
    keys = [_Key("current", "status", f"the status it stands in now: {current.value}")]
    if any(node.mark == "visited" for node in nodes):
        keys.append(_Key("visited", "status", "a status it passed through"))
    if moves:
        meaning = f"a transition it took, as move n of the {moves} recorded"
        keys.append(_Key("taken", "trigger (step n)", meaning))
    if any(len(numbers) > 1 for numbers in steps.values()):
        keys.append(_Key("taken", "trigger (steps n, m)", "a transition it took more than once"))
    if any(edge.internal for edge in edges):
        meaning = "an internal row it fired, drawn from where it was to where it ended"
        keys.append(_Key("taken", "trigger (internal)", meaning))
    if any(not edge.taken for edge in edges):
        keys.append(_Key("", "trigger", "a transition it has not taken"))
    if any(edge.fan_in and not edge.taken for edge in edges):
        meaning = "one trigger from many statuses (such as delete), not taken"
        keys.append(_Key("fan_in", "dashed, light", meaning))
    if any(" [" in edge.label for edge in edges):  # only guards: no name holds a bracket
        keys.append(_Key("", "trigger [guard]", "fires only when its guards hold"))
    notes = [note for node in nodes for note in node.notes]
    keys += [
        _Key("", sample, meaning)
        for prefix, sample, meaning in _NOTE_KEYS
        if any(note.startswith(prefix) for note in notes)
    ]
    return tuple(keys)


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
    or two statuses would share a Mermaid id, or a status would take a legend's id."""
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
    problems += [
        f"status {names[0]!r} takes the diagram id {id_!r}, which the legend uses"
        for id_, names in by_id.items()
        if id_ in _MERMAID_LEGEND.values()
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


def _one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) as one space, so that a title or
    a header comment cannot end its line early."""
    return " ".join(text.split())


def _mermaid_legend(legend: tuple[_Key, ...]) -> list[str]:
    """The Mermaid lines of a legend: a sample status per status key (its class is given with
    the others), then a note beside the last holding ``sample - meaning`` per edge and note key.
    DOT alone draws a fan-in apart, so its key is left out."""
    lines = [
        f'    state "legend - {key.meaning}" as {_MERMAID_LEGEND[key.kind]}'
        for key in legend
        if key.kind in _MERMAID_LEGEND
    ]
    last = [key.kind for key in legend if key.kind in _MERMAID_LEGEND][-1]
    lines += [f"    note right of {_MERMAID_LEGEND[last]}"]
    lines += [
        f"        {key.sample} - {key.meaning}"
        for key in legend
        if key.kind not in _MERMAID_LEGEND and key.kind != "fan_in"
    ]
    return [*lines, "    end note"]


def _dot_legend(legend: tuple[_Key, ...]) -> list[str]:
    """The DOT lines of a legend: one plain node holding a table, a row per key: its sample
    drawn as the diagram draws that mark, then its meaning."""
    rows = []
    for key in legend:
        sample = html.escape(key.sample)
        if key.kind in _DOT_SAMPLE_COLOURS:
            sample = f'<font color="{_DOT_SAMPLE_COLOURS[key.kind]}">{sample}</font>'
        rows.append(
            f"        <tr><td{_DOT_SAMPLES.get(key.kind, '')}>{sample}</td>"
            f'<td align="left">{html.escape(key.meaning)}</td></tr>'
        )
    return [
        f'    {_LEGEND} [shape=plain, style="", fontsize=9, label=<',
        '        <table border="1" color="#999999" cellborder="0" cellspacing="2" cellpadding="3">',
        '        <tr><td colspan="2" align="left"><b>Legend</b></td></tr>',
        *rows,
        "        </table>>];",
    ]


def _dot_title(diagram: _Diagram) -> str:
    """The DOT graph label: the spec's name quoted for a plain diagram (as committed), the
    highlight's title as an HTML-like label otherwise."""
    if not diagram.legend:
        return _quoted(diagram.title)
    return f"<{html.escape(diagram.title)}>"
