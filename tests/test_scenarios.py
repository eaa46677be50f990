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
from chargeflow.domain.errors import NotFoundError
from chargeflow.scenarios import (
    ScenarioFailure,
    ScenarioFormatError,
    StepReport,
    load_scenario,
    model,
    run_scenario,
)
from chargeflow.scenarios.actions import Action, CreateCharge, GrantCredits
from chargeflow.scenarios.performing import Performer

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
        "credit_then_invoice_fully_credited",
        "credit_then_invoice_unpaid",
        "credit_then_invoice_auto_approve",
        "delete_with_correct_policy",
        "delete_with_ignore_policy",
        "delete_credit_then_invoice",
        "delete_credit_then_invoice_on_draft_invoice",
        "error_record_payment_twice",
        "error_rating_refused_credit_only",
        "error_rating_refused_on_invoicing",
    } <= stems
    assert len([stem for stem in stems if stem.startswith("error_")]) >= 21


def test_the_example_of_the_format_description_runs_as_written(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    """The example in `chargeflow.scenarios.model`'s docstring is a scenario that passes."""
    assert model.__doc__ is not None
    example = model.__doc__.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(textwrap.dedent(example), encoding="utf-8")
    reports = run(path, app, clock)
    assert reports[-1].action == "record_payment"
    assert reports[-1].summary()[0].startswith("charge usage: final")


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
            "step 3 (advance): advance takes exactly one of `charge`, `customer`, `due: true` "
            "or `invoices_due: true`",
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
            "  - record_payment: {invoice: january, status: paid}\n",
            "step 3 (record_payment): field 'invoice': unknown invoice alias 'january' "
            "(bound so far: none)",
            id="unbound-invoice-alias",
        ),
        pytest.param(
            CHARGE_STEP + "  - delete: {charge: usage, policy: correct}\n"
            "    expect_error: {type: PaymentAlreadySettledError, invoice: january}\n",
            "step 4 (delete): field 'expect_error.invoice': unknown invoice alias 'january'",
            id="unbound-invoice-alias-of-an-error",
        ),
        pytest.param(
            CHARGE_STEP + "    expect:\n      charges:\n"
            "        usage: {runs: [{payment: {status: refunded}}]}\n",
            "step 3 (create_charge): field 'expect.charges.usage.runs[0].payment.status': "
            "Input should be 'authorized' or 'settled'",
            id="unknown-payment-status",
        ),
        pytest.param(
            CHARGE_STEP + "    expect:\n      charges:\n"
            "        usage: {runs: [{invoice_usage: {ledger_reference: maybe}}]}\n",
            "field 'expect.charges.usage.runs[0].invoice_usage.ledger_reference': "
            "Input should be 'set' or 'none'",
            id="bad-ledger-reference",
        ),
        pytest.param(
            CHARGE_STEP + "    expect:\n      charges:\n"
            "        usage: {runs: [{as_of: 2026-02-01T00:00:00Z}]}\n",
            "field 'expect.charges.usage.runs[0].as_of': Extra inputs are not permitted",
            id="version-1-run-field",
        ),
        pytest.param(
            CHARGE_STEP + "    expect:\n      charges:\n"
            "        usage: {history: [active -> active.final_realization.started]}\n",
            "field 'expect.charges.usage.history[0]': 'active.final_realization.started' is not "
            "a valid ChargeStatus",
            id="version-1-status",
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
                  runs:
                    - type: partial_invoice
                      stored_at_lt: 2026-02-03T00:00:00Z
                      metered_quantity: 3.00
                      allocations: [3.01]
                      allocations_booked_at: [2026-02-01T12:00:00Z]
                      detailed_lines: [{key: unit, quantity: 3, amount: 3.01}, {key: flat}]
                      invoice_usage: {total: 0}
                      payment: null
                      voided: false
                      line_linked: true
                      invoice_linked: false
                    - {}
        """,
    )
    with pytest.raises(ScenarioFailure) as failed:
        run(path, app, clock)
    assert failed.value.differences == [
        "charges.usage.runs: expected 2 items, got 1",
        "charges.usage.runs[0].type: expected partial_invoice, got final_realization",
        "charges.usage.runs[0].allocations: expected [3.01], got [3.00]",
        "charges.usage.runs[0].allocations_booked_at: expected [2026-02-01T12:00:00Z], "
        "got [2026-02-01T00:00:00Z]",
        "charges.usage.runs[0].line_linked: expected true, got false",
        "charges.usage.runs[0].detailed_lines: expected 2 items, got 1",
        "charges.usage.runs[0].detailed_lines[0].amount: expected 3.01, got 3.00",
        "charges.usage.runs[0].invoice_usage: expected a value, got null",
    ]


def test_invoices_their_lines_and_their_history_are_compared(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    path = scenario_file(
        tmp_path,
        "invoices",
        CHARGE_STEP.replace("credit_only", "credit_then_invoice"),
        """\
          - record_usage:
              {customer: acme, feature_key: api_requests, value: 3, event_time: 2026-01-15T00:00Z}
          - clock: 2026-02-01T00:00:00Z
            invoice: {customer: acme, as: january}
            expect:
              invoices:
                january:
                  status: draft.manual_approval_needed
                  collection_at: 2026-02-03T00:00:00Z
                  deleted: false
                  history: [draft.created -> draft.waiting_for_collection]
                  lines:
                    - charge: usage
                      metered_quantity: 3
                      pre_line_quantity: 1
                      quantity: 3
                      detailed_lines: [{key: unit, quantity: 3, unit_amount: 1.00, amount: 3.00}]
                      collection_period_end: 2026-02-03T00:00:00Z
              charges:
                usage:
                  runs: [{line_linked: true, invoice_linked: true, invoice_usage: null}]
        """,
    )
    with pytest.raises(ScenarioFailure) as failed:
        run(path, app, clock)
    assert failed.value.differences == [
        "invoices.january.status: expected draft.manual_approval_needed, got draft.created",
        "invoices.january.collection_at: expected 2026-02-03T00:00:00Z, got 2026-02-03T00:01:00Z",
        "invoices.january.history: expected [draft.created -> draft.waiting_for_collection], "
        "got []",
        "invoices.january.lines[0].pre_line_quantity: expected 1, got 0",
        "invoices.january.lines[0].collection_period_end: expected 2026-02-03T00:00:00Z, "
        "got 2026-02-03T00:01:00Z",
    ]


def test_a_payment_recorded_twice_is_an_expected_error_that_names_the_invoice(
    app: App, clock: FrozenClock, tmp_path: Path
) -> None:
    path = scenario_file(
        tmp_path,
        "paid_twice",
        CHARGE_STEP.replace("credit_only", "credit_then_invoice"),
        """\
          - record_usage:
              {customer: acme, feature_key: api_requests, value: 3, event_time: 2026-01-15T00:00Z}
          - clock: 2026-02-01T00:00:00Z
            invoice: {customer: acme, as: january}
          - clock: 2026-02-03T00:01:00Z
            advance: {invoices_due: true}
          - approve_invoice: {invoice: january}
          - record_payment: {invoice: january, status: paid}
          - record_payment: {invoice: january, status: paid}
            expect_error: {type: PaymentAlreadySettledError, invoice: january}
          - record_payment: {invoice: january, status: paid}
            expect_error: {type: PaymentAlreadyAuthorizedError, invoice: january}
        """,
    )
    with pytest.raises(ScenarioFailure) as failed:
        run(path, app, clock)
    assert (failed.value.index, failed.value.action) == (10, "record_payment")
    [difference] = failed.value.differences
    assert difference.startswith(
        "error: expected PaymentAlreadyAuthorizedError, got PaymentAlreadySettledError: "
        "payment already settled: invoice"
    )


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
