"""Definition checks every registered spec must pass (machines are declarative data:
docs/architecture.md).

One initial status; declared terminal statuses have no exits; every status is reachable from the
initial one; every non-terminal status has an exit; every status maps to a meta status; rows only
name declared statuses.
"""

from __future__ import annotations

from typing import Any

from chargeflow.domain.errors import MachineDefinitionError
from chargeflow.statemachines.spec import MachineSpec


def definition_problems(spec: MachineSpec[Any, Any, Any, Any]) -> list[str]:
    """Every rule `spec` breaks, as readable sentences (empty when it is well-defined)."""
    return [*_declaration_problems(spec), *_status_problems(spec), *_reachability_problems(spec)]


def _declaration_problems(spec: MachineSpec[Any, Any, Any, Any]) -> list[str]:
    """Rows, the initial, terminal and activated statuses name declared statuses only."""
    problems: list[str] = []
    declared = set(spec.statuses)
    if len(declared) != len(spec.statuses):
        problems.append("a status is declared twice")
    if spec.initial not in declared:
        problems.append(f"initial status '{spec.initial.value}' is not declared")
    problems.extend(
        f"terminal status '{status.value}' is not declared" for status in spec.terminal - declared
    )
    problems.extend(
        f"row {row.trigger.value}: {row.source.value} -> "
        f"{row.dest.value if row.dest else '(internal)'} names undeclared '{end.value}'"
        for row in spec.rows
        for end in (row.source, row.dest)
        if end is not None and end not in declared
    )
    problems.extend(
        f"activation actions for undeclared status '{status.value}'"
        for status in set(spec.activation) - declared
    )
    return problems


def _status_problems(spec: MachineSpec[Any, Any, Any, Any]) -> list[str]:
    """Terminal statuses have no exit, the others have one, each maps to a meta status."""
    problems: list[str] = []
    exits = {row.source for row in spec.rows}
    for status in spec.statuses:
        if status in spec.terminal and status in exits:
            problems.append(f"terminal status {status.value!r} has an exit")
        if status not in spec.terminal and status not in exits:
            problems.append(f"non-terminal status {status.value!r} has no exit")
        try:
            spec.meta(status)
        except ValueError:
            problems.append(f"status {status.value!r} has no meta status")
    return problems


def _reachability_problems(spec: MachineSpec[Any, Any, Any, Any]) -> list[str]:
    """Every status is reachable from the initial one."""
    reached = {spec.initial}
    frontier = [spec.initial]
    while frontier:
        source = frontier.pop()
        for row in spec.rows:
            if row.source == source and row.dest is not None and row.dest not in reached:
                reached.add(row.dest)
                frontier.append(row.dest)
    return [
        f"status {status.value!r} is unreachable from {spec.initial.value!r}"
        for status in spec.statuses
        if status not in reached
    ]


def check_definition(spec: MachineSpec[Any, Any, Any, Any]) -> None:
    """Raise `MachineDefinitionError` listing every rule `spec` breaks."""
    problems = definition_problems(spec)
    if problems:
        raise MachineDefinitionError(spec.name, problems)
