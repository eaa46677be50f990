"""Lifecycle scenarios: every file under tests/scenarios/ runs as written on both databases,
and the format itself refuses malformed files, reports wrong expectations as a diff, and reads
amounts exactly."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest

from chargeflow import App, FrozenClock, open_app
from chargeflow.scenarios import (
    ScenarioFailure,
    ScenarioFormatError,
    StepReport,
    load_scenario,
    run_scenario,
)
from chargeflow.scenarios.actions import Action, CreateCharge, GrantCredits
from chargeflow.scenarios.performing import Performer
from domain.errors import NotFoundError

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))

PREAMBLE = """\
name: {name}
clock: 2025-12-01T00:00:00Z
steps:
  - create_customer: {{as: acme, name: Acme, currency: USD, collection_interval: P2D}}
  - create_feature: {{key: api_requests}}
"""

CHARGE_STEP = """\
  - create_charge:
      as: usage
      customer: acme
      feature_key: api_requests
      service_period: [2026-01-01T00:00:00Z, 2026-02-01T00:00:00Z]
      settlement_mode: credit_only
      price: {type: unit, amount: 1.00}
"""


def scenario_file(directory: Path, name: str, *steps: str) -> Path:
    """A scenario file `name`.yaml: the customer and feature steps, then `steps` (each a
    piece of the step list, at any indentation)."""
    path = directory / f"{name}.yaml"
    text = "".join(textwrap.indent(textwrap.dedent(piece), "  ") for piece in steps)
    path.write_text(PREAMBLE.format(name=name) + text, encoding="utf-8")
    return path


def run(path: Path, app: App, clock: FrozenClock) -> list[StepReport]:
    reports: list[StepReport] = []
    run_scenario(load_scenario(path), app, clock, on_step=reports.append)
    return reports


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_every_scenario_file_runs_as_written(database_url: str, path: Path) -> None:
    scenario = load_scenario(path)
    clock = FrozenClock(scenario.clock)
    app = open_app(database_url, clock=clock, migrate=False)
    try:
        run_scenario(scenario, app, clock)
    finally:
        app.close()


def test_the_worked_examples_and_the_section_9_cases_are_all_there() -> None:
    stems = {path.stem for path in SCENARIOS}
    assert {
        "credit_only_worked_example",
        "credit_then_invoice_worked_example",
        "delete_with_correct_policy",
        "delete_with_ignore_policy",
        "delete_credit_then_invoice",
    } <= stems
    assert len([stem for stem in stems if stem.startswith("error_")]) >= 19


@pytest.mark.parametrize(
    ("step", "message"),
    [
        pytest.param(
            CHARGE_STEP.replace(", 2026-02-01T00:00:00Z]", "]"),
            "step 3 (create_charge): field 'service_period[1]': Field required",
            id="short-period",
        ),
        pytest.param(
            CHARGE_STEP.replace("2026-01-01T00:00:00Z,", "2026-01-01T00:00:00,"),
            "step 3 (create_charge): field 'service_period[0]': timestamp "
            "'2026-01-01T00:00:00' has no time zone",
            id="naive-timestamp",
        ),
        pytest.param(
            CHARGE_STEP.replace("      customer: acme\n", ""),
            "step 3 (create_charge): field 'customer': Field required",
            id="missing-field",
        ),
        pytest.param(
            CHARGE_STEP.replace("as: usage", "as: usage\n      colour: blue"),
            "step 3 (create_charge): field 'colour': Extra inputs are not permitted",
            id="unknown-field",
        ),
        pytest.param(
            "  - explode: {charge: usage}\n",
            "step 3: a step takes exactly one action key, one of create_customer,",
            id="unknown-action",
        ),
        pytest.param(
            "  - advance: {due: true}\n    invoice: {customer: acme}\n",
            "found advance, invoice",
            id="two-actions",
        ),
        pytest.param(
            "  - advance: {charge: usage, customer: acme}\n",
            "step 3 (advance): advance takes exactly one of `charge`, `customer` or `due: true`",
            id="advance-two-targets",
        ),
        pytest.param(
            CHARGE_STEP + "    expect:\n      charges:\n        usage: {status: sleeping}\n",
            "step 3 (create_charge): field 'expect.charges.usage.status': Input should be",
            id="unknown-status",
        ),
        pytest.param(
            CHARGE_STEP + "    expect:\n      charges:\n        usage: {history: [created]}\n",
            "field 'expect.charges.usage.history[0]': a transition is written 'from -> to'",
            id="bad-transition",
        ),
        pytest.param(
            CHARGE_STEP + "    expect_error: ExplodedError\n",
            "step 3 (create_charge): field 'expect_error.type': 'ExplodedError' is not an "
            "error class of domain.errors",
            id="unknown-error-class",
        ),
        pytest.param(
            "  - advance: {charge: usage}\n",
            "step 3 (advance): field 'charge': unknown charge alias 'usage' (bound so far: none)",
            id="unbound-alias",
        ),
        pytest.param(
            CHARGE_STEP + CHARGE_STEP,
            "step 4 (create_charge): field 'as': charge alias 'usage' is already bound by step 3",
            id="alias-bound-twice",
        ),
        pytest.param(
            CHARGE_STEP + "    expect_error: InvalidInputError\n  - advance: {charge: usage}\n",
            "step 4 (advance): field 'charge': unknown charge alias 'usage'",
            id="alias-of-a-failed-step",
        ),
        pytest.param(
            "  - advance: {due: true}\n    clock: 2026-01-01T00:00:00Z\n"
            "    clock: 2026-02-01T00:00:00Z\n",
            "not valid YAML: while constructing a mapping",
            id="duplicate-key",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_the_step_and_the_field(
    tmp_path: Path, step: str, message: str
) -> None:
    path = scenario_file(tmp_path, "malformed", step)
    with pytest.raises(ScenarioFormatError) as refused:
        load_scenario(path)
    assert message in str(refused.value)
    assert str(refused.value).startswith("scenario malformed.yaml")


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- advance: {due: true}\n", encoding="utf-8")
    with pytest.raises(ScenarioFormatError) as refused:
        load_scenario(path)
    assert str(refused.value) == "scenario list.yaml: the top level must be a mapping"


def test_yaml_floats_are_read_as_the_exact_decimal_they_spell(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        "floats",
        CHARGE_STEP.replace("amount: 1.00", "amount: 0.10")
        + "  - grant_credits: {customer: acme, amount: 5.10}\n"
        + "    expect:\n      customers:\n        acme: {balance: 0.30}\n",
    )
    scenario = load_scenario(path)
    charge, grant = (step.action for step in scenario.steps[2:4])
    assert isinstance(charge, CreateCharge)
    assert isinstance(grant, GrantCredits)
    assert charge.price == {"type": "unit", "amount": "0.10"}
    assert grant.amount == Decimal("5.10")
    assert str(grant.amount) == "5.10"
    expect = scenario.steps[3].expect
    assert expect is not None
    assert str(expect.customers["acme"].balance) == "0.30"


def test_a_wrong_expectation_fails_with_one_line_per_difference(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    expect = (
        "    expect:\n      charges:\n"
        "        usage: {status: active, advance_after: 2026-02-01T00:00:00Z}\n"
    )
    path = scenario_file(tmp_path, "wrong", CHARGE_STEP + expect)
    with pytest.raises(ScenarioFailure) as failed:
        run(path, app, clock)
    assert (failed.value.index, failed.value.action) == (3, "create_charge")
    assert failed.value.differences == [
        "charges.usage.status: expected active, got created",
        "charges.usage.advance_after: expected 2026-02-01T00:00:00Z, got 2026-01-01T00:00:00Z",
    ]
    assert str(failed.value) == (
        "scenario wrong, step 3 (create_charge):\n"
        "  charges.usage.status: expected active, got created\n"
        "  charges.usage.advance_after: expected 2026-02-01T00:00:00Z, got 2026-01-01T00:00:00Z"
    )


def test_runs_and_allocations_are_compared_exactly(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    path = scenario_file(
        tmp_path,
        "runs",
        CHARGE_STEP,
        """\
          - clock: 2026-01-01T00:00:00Z
            advance: {charge: usage}
          - record_usage:
              {customer: acme, feature_key: api_requests, value: 3, event_time: 2026-01-15T00:00Z}
          - clock: 2026-02-01T12:00:00Z
            advance: {charge: usage}
            expect:
              charges:
                usage:
                  runs: [{meter_value: 3.00, allocations: [3.01], line_linked: true}, {}]
        """,
    )
    with pytest.raises(ScenarioFailure) as failed:
        run(path, app, clock)
    assert failed.value.differences == [
        "charges.usage.runs: expected 2 items, got 1",
        "charges.usage.runs[0].allocations: expected [3.01], got [3.00]",
        "charges.usage.runs[0].line_linked: expected true, got false",
    ]


def test_an_expected_error_that_is_not_raised_fails(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    path = scenario_file(tmp_path, "no_error", CHARGE_STEP + "    expect_error: GuardFailedError\n")
    with pytest.raises(ScenarioFailure, match="error: expected GuardFailedError, got none"):
        run(path, app, clock)


def test_an_error_of_another_kind_or_with_other_fields_fails(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    path = scenario_file(
        tmp_path,
        "other_fields",
        CHARGE_STEP,
        """\
          - fire: {charge: usage, trigger: next}
            expect_error:
              type: GuardFailedError
              message: after service period
              status: active
              guard: after service period
        """,
    )
    with pytest.raises(ScenarioFailure) as failed:
        run(path, app, clock)
    [message, status, guard] = failed.value.differences
    assert message.startswith("error.message: expected to contain 'after service period', got")
    assert status == "error.status: expected active, got created"
    assert guard == "error.guard: expected after service period, got inside service period"


def test_an_unexpected_error_fails_with_the_error_as_its_cause(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    path = scenario_file(
        tmp_path, "unexpected", CHARGE_STEP.replace("api_requests", "unknown_feature")
    )
    with pytest.raises(ScenarioFailure) as failed:
        run(path, app, clock)
    assert failed.value.differences == [
        "error: expected none, got NotFoundError: feature 'unknown_feature' not found"
    ]
    assert isinstance(failed.value.__cause__, NotFoundError)


def test_a_step_expected_to_change_nothing_fails_listing_what_changed(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    path = scenario_file(
        tmp_path,
        "changed",
        CHARGE_STEP,
        """\
          - clock: 2026-01-01T00:00:00Z
            advance: {charge: usage}
            expect: {unchanged: true}
        """,
    )
    with pytest.raises(ScenarioFailure) as failed:
        run(path, app, clock)
    assert "acme.charges.usage.state.status: expected created (unchanged), got active" in (
        failed.value.differences
    )
    assert "acme.charges.usage.history: expected 0 items (unchanged), got 1" in (
        failed.value.differences
    )


def test_each_step_that_went_as_written_is_reported(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    path = scenario_file(
        tmp_path,
        "reported",
        CHARGE_STEP,
        """\
          - fire: {charge: usage, trigger: next}
            expect_error: {type: GuardFailedError, charge: usage, trigger: next}
        """,
    )
    reports = run(path, app, clock)
    assert [(r.index, r.action) for r in reports] == [
        (1, "create_customer"),
        (2, "create_feature"),
        (3, "create_charge"),
        (4, "fire"),
    ]
    assert reports[2].error is None
    assert reports[2].summary() == ["charge usage: created, advance_after 2026-01-01T00:00:00Z"]
    assert type(reports[3].error).__name__ == "GuardFailedError"
    assert reports[3].summary()[0].startswith("raised GuardFailedError: guard failed")
    assert reports[3].clock == clock.now()


def test_every_action_of_the_format_has_a_way_to_be_performed() -> None:
    performed = set(Performer.__dict__["perform"].dispatcher.registry)
    assert set(get_args(get_args(Action)[0])) <= performed
