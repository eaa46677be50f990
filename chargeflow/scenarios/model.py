"""The lifecycle scenario format: its pydantic models, and loading a YAML file into them.

A scenario is a named list of steps run against one app with a frozen clock::

    name: credit_only
    clock: 2025-12-01T00:00:00Z            # where the frozen clock starts
    steps:
      - create_customer: {as: acme, name: Acme, currency: USD, collection_interval: P2D}
      - create_feature: {key: api_requests}
      - create_charge:
          as: usage
          customer: acme
          feature_key: api_requests
          service_period: [2026-01-01T00:00:00Z, 2026-02-01T00:00:00Z]
          settlement_mode: credit_only
          price: {type: unit, amount: 1.00}
        expect:
          charges:
            usage: {status: created, runs: [], advance_after: null}
      - fire: {charge: usage, trigger: next}
        expect_error: {type: GuardFailedError, guard: inside service period}

Each step is a mapping with exactly one action key (`ACTION_NAMES`) whose value is the
action's arguments, plus optional `clock` (set before the action), `expect_error` (the action
must raise that error and change nothing) and `expect` (checked after the action). Customers,
charges and invoices are named by the aliases their creating step binds with `as`.

Expectations are partial: only the fields a scenario writes are checked, so `advance_after:
null` checks for no value while leaving `advance_after` out checks nothing.

The format checks structure and exact types: timestamps are ISO-8601 with a time zone, amounts
are exact decimals (YAML floats such as `0.10` are read as their text, never as binary floats),
statuses and error names exist, and every alias is bound by an earlier step. Domain values
(currencies, prices, policies, names, settlement modes, triggers) pass through untouched, so a
scenario can exercise the library's own refusals of them.

This module must not run anything: it neither opens an app nor touches a database.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from domain import errors
from domain.errors import ChargeflowError, InvalidInputError
from domain.invoices import InvoiceStatus, LineEngineType, LineStatus
from domain.money import Amount
from domain.statuses import ChargeStatus
from domain.timestamps import Instant

AliasKind = Literal["customer", "charge", "invoice"]

ERROR_TYPES: Mapping[str, type[ChargeflowError]] = {
    name: value
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, ChargeflowError)
}
"""The error classes an `expect_error` may name: every class of `domain.errors`."""


class ScenarioFormatError(InvalidInputError):
    """A scenario file that cannot be loaded: bad YAML, or a step or field that breaks the
    format. The message names the file, the step (1-based, with its action) and the field,
    one line per problem."""


@dataclass(frozen=True)
class AliasUse:
    """An alias of `kind` that the field `field` of a step binds or refers to."""

    field: str
    kind: AliasKind
    alias: str


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------- actions


class _Action(_Model):
    """An action: what a step does. `binds` and `uses` declare its aliases."""

    def binds(self) -> AliasUse | None:
        """The alias this action binds when it succeeds."""
        return None

    def uses(self) -> list[AliasUse]:
        """The aliases this action refers to; each must be bound by an earlier step."""
        return []


class CreateCustomer(_Action):
    """`app.customers.create`; binds the customer to `as`."""

    kind: Literal["create_customer"]
    ref: str = Field(alias="as", min_length=1)
    name: str
    currency: str
    collection_interval: str = "PT0S"

    def binds(self) -> AliasUse:
        return AliasUse("as", "customer", self.ref)


class CreateFeature(_Action):
    """`app.features.create`."""

    kind: Literal["create_feature"]
    key: str
    name: str | None = None


class ArchiveFeature(_Action):
    """`app.features.archive`."""

    kind: Literal["archive_feature"]
    key: str


class GrantCredits(_Action):
    """`app.credits.grant` to `customer`."""

    kind: Literal["grant_credits"]
    customer: str
    amount: Amount
    granted_at: Instant | None = None

    def uses(self) -> list[AliasUse]:
        return [AliasUse("customer", "customer", self.customer)]


class CreateCharge(_Action):
    """`app.charges.create` for `customer`; binds the charge to `as`. Leaving `price` out
    passes none, which the library refuses (a scenario of the missing-price refusal)."""

    kind: Literal["create_charge"]
    ref: str = Field(alias="as", min_length=1)
    customer: str
    feature_key: str
    service_period: tuple[Instant, Instant]
    settlement_mode: str
    price: dict[str, Any] | None = None
    name: str | None = None
    invoice_at: Instant | None = None

    def binds(self) -> AliasUse:
        return AliasUse("as", "charge", self.ref)

    def uses(self) -> list[AliasUse]:
        return [AliasUse("customer", "customer", self.customer)]


class UsageEventSpec(_Model):
    """One usage event; `stored_at` defaults to `event_time`."""

    value: Amount
    event_time: Instant
    stored_at: Instant | None = None


class RecordUsage(_Action):
    """`app.usage.record`, once per event in order. One event may be written inline
    (`value`, `event_time`, `stored_at`) instead of as `events: [...]`."""

    kind: Literal["record_usage"]
    customer: str
    feature_key: str
    events: list[UsageEventSpec] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _inline_event(cls, data: Any) -> Any:
        inline = {"value", "event_time", "stored_at"}
        if not isinstance(data, dict) or not inline & data.keys():
            return data
        if "events" in data:
            raise ValueError("give either one inline event or `events`, not both")
        event = {key: data[key] for key in inline & data.keys()}
        rest = {key: value for key, value in data.items() if key not in inline}
        return {**rest, "events": [event]}

    def uses(self) -> list[AliasUse]:
        return [AliasUse("customer", "customer", self.customer)]


class Advance(_Action):
    """`app.charges.advance(charge)`, `advance(customer_id=customer)` or, with `due: true`,
    `advance_due()` (a charge the sweep could not advance raises its error)."""

    kind: Literal["advance"]
    charge: str | None = None
    customer: str | None = None
    due: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Advance:
        if sum(target is not None for target in (self.charge, self.customer, self.due)) != 1:
            raise ValueError("advance takes exactly one of `charge`, `customer` or `due: true`")
        return self

    def uses(self) -> list[AliasUse]:
        if self.charge is not None:
            return [AliasUse("charge", "charge", self.charge)]
        if self.customer is not None:
            return [AliasUse("customer", "customer", self.customer)]
        return []


class InvoicePendingLines(_Action):
    """`app.billing.invoice_pending_lines(customer, as_of)`; binds the invoice to `as` (the
    call must then return exactly one invoice)."""

    kind: Literal["invoice"]
    customer: str
    ref: str | None = Field(default=None, alias="as", min_length=1)
    as_of: Instant | None = None

    def binds(self) -> AliasUse | None:
        return None if self.ref is None else AliasUse("as", "invoice", self.ref)

    def uses(self) -> list[AliasUse]:
        return [AliasUse("customer", "customer", self.customer)]


class AdvanceInvoice(_Action):
    """`app.billing.advance_invoice`: collection completes once its time has come."""

    kind: Literal["advance_invoice"]
    invoice: str

    def uses(self) -> list[AliasUse]:
        return [AliasUse("invoice", "invoice", self.invoice)]


class StandardLineOf(_Model):
    """An argument that is the id of the persisted standard line billing charge `line_of`."""

    line_of: str


class GatheringLineOf(_Model):
    """An argument that is the id of charge `gathering_line_of`'s pending gathering line."""

    gathering_line_of: str


class Fire(_Action):
    """`app.charges.fire(charge, trigger, **arguments)`; an argument is a literal string or
    a line reference (`{line_of: alias}`, `{gathering_line_of: alias}`)."""

    kind: Literal["fire"]
    charge: str
    trigger: str
    arguments: dict[str, str | StandardLineOf | GatheringLineOf] = Field(default_factory=dict)

    def uses(self) -> list[AliasUse]:
        used = [AliasUse("charge", "charge", self.charge)]
        for name, argument in self.arguments.items():
            if isinstance(argument, StandardLineOf):
                used.append(AliasUse(f"arguments.{name}.line_of", "charge", argument.line_of))
            elif isinstance(argument, GatheringLineOf):
                field = f"arguments.{name}.gathering_line_of"
                used.append(AliasUse(field, "charge", argument.gathering_line_of))
        return used


class Delete(_Action):
    """`app.charges.delete(charge, policy=policy)`."""

    kind: Literal["delete"]
    charge: str
    policy: str

    def uses(self) -> list[AliasUse]:
        return [AliasUse("charge", "charge", self.charge)]


Action = Annotated[
    CreateCustomer
    | CreateFeature
    | ArchiveFeature
    | GrantCredits
    | CreateCharge
    | RecordUsage
    | Advance
    | InvoicePendingLines
    | AdvanceInvoice
    | Fire
    | Delete,
    Field(discriminator="kind"),
]
"""Every action, told apart by its key."""

ACTION_NAMES: tuple[str, ...] = tuple(
    get_args(model.model_fields["kind"].annotation)[0] for model in get_args(get_args(Action)[0])
)
"""The action keys a step may have."""


# ------------------------------------------------------------------------ expectations


def _transition(text: str) -> str:
    """``"from -> to"`` with both statuses checked, in canonical spacing."""
    parts = [part.strip() for part in text.split("->")]
    if len(parts) != 2:
        raise ValueError(f"a transition is written 'from -> to', not {text!r}")
    return " -> ".join(ChargeStatus(part).value for part in parts)


Transition = Annotated[str, AfterValidator(_transition)]


class TotalsExpectation(_Model):
    """Expected totals of a run, a line or an invoice."""

    amount: Amount | None = None
    credits_total: Amount | None = None
    total: Amount | None = None


class RunExpectation(TotalsExpectation):
    """Expected fields of one realization run. `allocations` lists every allocation amount in
    order (corrections are negative); `line_linked: true` means the run's `line_id` is the id
    of the persisted standard line billing its charge, `false` that it has none."""

    as_of: Instant | None = None
    collection_end: Instant | None = None
    meter_value: Amount | None = None
    allocations: list[Amount] | None = None
    line_linked: bool | None = None


class GatheringLineExpectation(_Model):
    """A pending gathering line of the charge exists (with these fields, where given)."""

    engine: LineEngineType | None = None
    invoice_at: Instant | None = None


class ChargeExpectation(_Model):
    """Expected state of a charge. `current_run` is `set` or `none` (`state.current_run_id`);
    `runs` lists every run (its length is checked); `gathering_line: null` means the charge has
    no pending line; `feature_synced` whether `state.feature_id` is the live feature's id under
    the charge's key; `history` every transition, as ``"from -> to"``."""

    status: ChargeStatus | None = None
    advance_after: Instant | None = None
    current_run: Literal["set", "none"] | None = None
    feature_synced: bool | None = None
    deleted_at: Instant | None = None
    runs: list[RunExpectation] | None = None
    gathering_line: GatheringLineExpectation | None = None
    history: list[Transition] | None = None


class LineExpectation(TotalsExpectation):
    """Expected fields of one invoice line. `charge` is the alias of the charge it bills;
    `kept_gathering_id` whether its id is the one its charge's gathering line had;
    `credits_applied` the amounts applied, in order."""

    charge: str | None = None
    status: LineStatus | None = None
    kept_gathering_id: bool | None = None
    quantity: Amount | None = None
    credits_applied: list[Amount] | None = None


class InvoiceExpectation(TotalsExpectation):
    """Expected state of a standard invoice; `lines` lists every line (length checked)."""

    status: InvoiceStatus | None = None
    collection_at: Instant | None = None
    lines: list[LineExpectation] | None = None


class CustomerExpectation(_Model):
    """Expected credit `balance`, number of `pending_lines` and of standard `invoices`."""

    balance: Amount | None = None
    pending_lines: int | None = None
    invoices: int | None = None


class Expectation(_Model):
    """What must hold after a step, by alias. `unchanged: true` means the step changed
    nothing the scenario can see (its customers' charges, transitions, lines, invoices and
    balances)."""

    unchanged: bool = False
    charges: dict[str, ChargeExpectation] = Field(default_factory=dict)
    invoices: dict[str, InvoiceExpectation] = Field(default_factory=dict)
    customers: dict[str, CustomerExpectation] = Field(default_factory=dict)

    def uses(self) -> list[AliasUse]:
        """The aliases the expectation names."""
        used = [AliasUse(f"expect.charges.{a}", "charge", a) for a in self.charges]
        used += [AliasUse(f"expect.customers.{a}", "customer", a) for a in self.customers]
        for alias, invoice in self.invoices.items():
            used.append(AliasUse(f"expect.invoices.{alias}", "invoice", alias))
            for number, line in enumerate(invoice.lines or []):
                if line.charge is not None:
                    field = f"expect.invoices.{alias}.lines[{number}].charge"
                    used.append(AliasUse(field, "charge", line.charge))
        return used


class ErrorExpectation(_Model):
    """The action must raise `type` (a class of `domain.errors`, or a subclass of it) and
    change nothing. `message` is a substring of the error's message; `charge` (an alias),
    `status`, `trigger` and `guard` are checked against the error's fields. A bare class name
    stands for ``{type: name}``."""

    class_name: str = Field(alias="type")
    message: str | None = None
    charge: str | None = None
    status: str | None = None
    trigger: str | None = None
    guard: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        return {"type": data} if isinstance(data, str) else data

    @field_validator("class_name")
    @classmethod
    def _known_error(cls, name: str) -> str:
        if name not in ERROR_TYPES:
            raise ValueError(f"{name!r} is not an error class of domain.errors")
        return name

    def error_type(self) -> type[ChargeflowError]:
        """The error class named by `type`."""
        return ERROR_TYPES[self.class_name]

    def uses(self) -> list[AliasUse]:
        """The charge alias the error must name, if any."""
        if self.charge is None:
            return []
        return [AliasUse("expect_error.charge", "charge", self.charge)]


# ------------------------------------------------------------------------ steps, scenario

_STEP_KEYS = ("clock", "expect", "expect_error")


class Step(_Model):
    """One step: set the clock (if given), perform the action, check what must hold."""

    action: Action
    clock: Instant | None = None
    expect: Expectation | None = None
    expect_error: ErrorExpectation | None = None

    @model_validator(mode="before")
    @classmethod
    def _action_by_key(cls, data: Any) -> Any:
        """``{create_charge: {...}, clock: ...}`` becomes ``{action: {kind: create_charge,
        ...}, clock: ...}``, refusing a step without exactly one known action key."""
        if not isinstance(data, dict):
            return data
        keys = [key for key in data if key not in _STEP_KEYS]
        if len(keys) != 1 or keys[0] not in ACTION_NAMES:
            raise ValueError(
                f"a step takes exactly one action key, one of {', '.join(ACTION_NAMES)} "
                f"(besides {', '.join(_STEP_KEYS)}); found {', '.join(map(str, keys)) or 'none'}"
            )
        [key] = keys
        arguments = data[key]
        if not isinstance(arguments, dict):
            raise ValueError(f"the arguments of {key!r} must be a mapping, not {arguments!r}")
        steps = {name: value for name, value in data.items() if name != key}
        return {**steps, "action": {**arguments, "kind": key}}

    def uses(self) -> list[AliasUse]:
        """The aliases the step refers to before its action binds anything."""
        return self.action.uses() + (self.expect_error.uses() if self.expect_error else [])


class Scenario(_Model):
    """A named lifecycle scenario: a start instant for the frozen clock and its steps."""

    name: str = Field(min_length=1)
    description: str = ""
    clock: Instant
    steps: list[Step] = Field(min_length=1)


# ------------------------------------------------------------------------ loading


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
    index and action) and the field, when the file is not valid YAML, breaks the format, or
    refers to an alias no earlier step binds (or binds one twice).
    """
    source = path.name
    try:
        with path.open(encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=_ScenarioLoader)
    except yaml.YAMLError as error:
        raise ScenarioFormatError(f"scenario {source}: not valid YAML: {error}") from error
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
    """A pydantic location as a field path: ``expect.charges.usage.runs[0].as_of``."""
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
