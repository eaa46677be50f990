"""The lifecycle scenario format: a scenario and its steps, and the format's description.

A scenario is a named list of steps run against one app with a frozen clock::

    name: credit_then_invoice
    clock: 2025-12-01T00:00:00Z            # where the frozen clock starts
    steps:
      - create_customer: {as: acme, name: Acme, currency: USD, collection_interval: P2D}
      - create_feature: {key: api_requests}
      - create_charge:
          as: usage
          customer: acme
          feature_key: api_requests
          service_period: [2026-01-01T00:00:00Z, 2026-02-01T00:00:00Z]
          settlement_mode: credit_then_invoice
          price: {type: unit, amount: 0.10}
        expect:
          charges:
            usage: {status: created, runs: [], advance_after: 2026-01-01T00:00:00Z}
      - fire: {charge: usage, trigger: next}
        expect_error: {type: GuardFailedError, guard: inside service period}
      - record_usage: {customer: acme, feature_key: api_requests, value: 100,
                       event_time: 2026-01-15T00:00:00Z}
      - clock: 2026-02-01T00:00:00Z
        invoice: {customer: acme, as: january}
      - clock: 2026-02-03T00:01:00Z
        advance_invoice: {invoice: january}
        expect:
          invoices:
            january: {status: draft.manual_approval_needed}
      - approve_invoice: {invoice: january}
      - record_payment: {invoice: january, status: paid}
        expect:
          charges:
            usage: {status: final, runs: [{payment: {status: settled}}]}

Each step is a mapping with exactly one action key (`ACTION_NAMES`) whose value is the
action's arguments, plus optional `clock` (set before the action), `expect_error` (the action
must raise that error and change nothing) and `expect` (checked after the action). Customers,
charges and invoices are named by the aliases their creating step binds with `as`.

Charges move through version 2 of the lifecycle: billing alone fires `invoice_created`,
`collection_completed` and `invoice_issued` (a scenario reaches them through `invoice`,
`advance_invoice` or `advance: {invoices_due: true}`, and `approve_invoice`), and payments are
recorded on the invoice (`record_payment`).

A customer's expectation may also check its `gathering_lines` (each with its
`service_period`: progressive billing splits them) and its `preview`, what invoicing would bill
at the step's clock (computed when the step is checked; it writes nothing).

Expectations are partial: only the fields a scenario writes are checked, so `advance_after:
null` checks for no value while leaving `advance_after` out checks nothing. Lists (runs, lines,
detailed lines, allocations, histories) are checked whole: their length, then item by item,
each item partially.

The format checks structure and exact types: timestamps are ISO-8601 with a time zone, amounts
are exact decimals (YAML floats such as `0.10` are read as their text, never as binary floats),
statuses (of charges, invoices, runs and payments) and error names exist, and every alias is
bound by an earlier step. Domain values (currencies, prices, policies, names, settlement modes,
triggers, payment events) pass through untouched, so a scenario can exercise the library's own
refusals of them.

The actions are in `chargeflow.scenarios.actions`, the expectations in
`chargeflow.scenarios.expectations`, and reading a file into a `Scenario` (with the alias
checks) in `chargeflow.scenarios.loading`.

This module must not run anything or read any file: it neither opens an app nor touches a
database.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from chargeflow.domain.timestamps import Instant
from chargeflow.scenarios.actions import ACTION_NAMES, Action
from chargeflow.scenarios.aliases import AliasUse
from chargeflow.scenarios.expectations import ErrorExpectation, Expectation
from chargeflow.scenarios.strict import StrictModel

_STEP_KEYS = ("clock", "expect", "expect_error")


class Step(StrictModel):
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


class Scenario(StrictModel):
    """A named lifecycle scenario: a start instant for the frozen clock and its steps."""

    name: str = Field(min_length=1)
    description: str = ""
    clock: Instant
    steps: list[Step] = Field(min_length=1)
