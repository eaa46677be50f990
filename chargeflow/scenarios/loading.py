"""Loading a scenario file: YAML read exactly, validated into a `Scenario`, aliases checked.

Every problem is described with the file, the step (1-based, with its action) and the field it
is in, one line per problem, in a `ScenarioFormatError`. This module must not run anything: it
reads the file and nothing else, neither opening an app nor touching a database.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from chargeflow.domain.errors import InvalidInputError
from chargeflow.scenarios.actions import ACTION_NAMES
from chargeflow.scenarios.aliases import AliasKind, AliasUse
from chargeflow.scenarios.model import Scenario


class ScenarioFormatError(InvalidInputError):
    """A scenario file that cannot be loaded: bad YAML, or a step or field that breaks the
    format. The message names the file, the step (1-based, with its action) and the field,
    one line per problem."""


class _ScenarioLoader(yaml.SafeLoader):
    """YAML's safe loader, but floats and timestamps stay the text they were written as
    (exact decimals, time zones kept), and a mapping may not repeat a key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _scalar_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


_ScenarioLoader.add_constructor("tag:yaml.org,2002:float", _scalar_text)
_ScenarioLoader.add_constructor("tag:yaml.org,2002:timestamp", _scalar_text)


def load_scenario(path: Path) -> Scenario:
    """The scenario in the YAML file at `path`.

    Raises `ScenarioFormatError` naming the file, and for each problem the step (1-based
    index and action) and the field, when the file cannot be read (missing, a directory, not
    UTF-8), is not valid YAML, breaks the format, or refers to an alias no earlier step binds
    (or binds one twice).
    """
    source = path.name
    try:
        with path.open(encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=_ScenarioLoader)
    except yaml.YAMLError as error:
        raise ScenarioFormatError(f"scenario {source}: not valid YAML: {error}") from error
    except UnicodeDecodeError as error:
        raise ScenarioFormatError(f"scenario {source}: not UTF-8 text ({error.reason})") from error
    except OSError as error:
        raise ScenarioFormatError(
            f"scenario file {path} cannot be read: {error.strerror or error}"
        ) from error
    if not isinstance(data, dict):
        raise ScenarioFormatError(f"scenario {source}: the top level must be a mapping")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        problems = [_describe(source, data, issue) for issue in error.errors()]
        raise ScenarioFormatError("\n".join(problems)) from error
    problems = list(_alias_problems(source, scenario))
    if problems:
        raise ScenarioFormatError("\n".join(problems))
    return scenario


def _where(source: str, number: int | None, action: str | None, field: str) -> str:
    where = f"scenario {source}"
    if number is not None:
        where += f", step {number}" + (f" ({action})" if action else "")
    return where + (f": field {field!r}" if field else "")


def _field(loc: tuple[str | int, ...]) -> str:
    """A pydantic location as a field path: ``expect.charges.usage.runs[0].stored_at_lt``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
    return path


def _describe(source: str, data: Mapping[str, Any], issue: Mapping[str, Any]) -> str:
    """One line for a pydantic issue: where it is (file, step, action, field) and what."""
    loc: tuple[str | int, ...] = tuple(issue["loc"])
    error = issue.get("ctx", {}).get("error")
    message = str(error) if issue["type"] == "value_error" and error else issue["msg"]
    if len(loc) < 2 or loc[0] != "steps" or not isinstance(loc[1], int):
        return f"{_where(source, None, None, _field(loc))}: {message}"
    index = loc[1]
    raw = data["steps"][index]
    actions = [key for key in raw if key in ACTION_NAMES] if isinstance(raw, dict) else []
    action = actions[0] if len(actions) == 1 else None
    rest = loc[2:]
    if rest[:1] == ("action",):
        rest = rest[2:]  # the action and its tag: the fields are the action's own
    return f"{_where(source, index + 1, action, _field(rest))}: {message}"


def _alias_problems(source: str, scenario: Scenario) -> Iterator[str]:
    """Every alias used before a step binds it, or bound twice. A step expected to fail
    binds nothing."""
    bound: dict[AliasKind, dict[str, int]] = {"customer": {}, "charge": {}, "invoice": {}}

    def unbound(number: int, action: str, uses: list[AliasUse]) -> Iterator[str]:
        for use in uses:
            if use.alias not in bound[use.kind]:
                known = ", ".join(bound[use.kind]) or "none"
                yield (
                    f"{_where(source, number, action, use.field)}: unknown {use.kind} alias "
                    f"{use.alias!r} (bound so far: {known})"
                )

    for number, step in enumerate(scenario.steps, start=1):
        action = step.action.kind
        yield from unbound(number, action, step.uses())
        binding = step.action.binds()
        if binding is not None and step.expect_error is None:
            first = bound[binding.kind].get(binding.alias)
            if first is not None:
                yield (
                    f"{_where(source, number, action, binding.field)}: {binding.kind} alias "
                    f"{binding.alias!r} is already bound by step {first}"
                )
            bound[binding.kind][binding.alias] = number
        if step.expect is not None:
            yield from unbound(number, action, step.expect.uses())
