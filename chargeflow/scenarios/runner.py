"""Running a loaded scenario against an app, step by step, and reporting what differs.

The runner sets the frozen clock, has each step's action performed
(`chargeflow.scenarios.performing`) and its expectations checked
(`chargeflow.scenarios.checking`), and turns what differed into a `ScenarioFailure`. It drives
the app only through its public facade, as a user's script would: it never opens a unit of work
of its own and never reads or writes the database behind the facade's back, and it does not
decide anything about charges: a wrong expectation is reported, never worked around.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chargeflow.app import App
from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.clock import FrozenClock
from chargeflow.domain.errors import ChargeflowError
from chargeflow.domain.invoices import Invoice
from chargeflow.scenarios.actions import Action
from chargeflow.scenarios.aliases import Bindings
from chargeflow.scenarios.checking import Checker, show
from chargeflow.scenarios.model import Scenario, Step
from chargeflow.scenarios.performing import Performer, UnperformableStepError


class ScenarioFailure(AssertionError):  # noqa: N818 -- a failed check, not an error
    """A step of a scenario did not go as written: `differences` holds one line per
    difference (``field: expected X, got Y``); `index` is the step's 1-based number."""

    def __init__(self, scenario: str, index: int, action: str, differences: list[str]) -> None:
        lines = "\n".join(f"  {difference}" for difference in differences)
        super().__init__(f"scenario {scenario}, step {index} ({action}):\n{lines}")
        self.scenario = scenario
        self.index = index
        self.action = action
        self.differences = differences


@dataclass(frozen=True)
class StepReport:
    """What a step that went as written left behind: its 1-based `index`, `action`, the
    `clock` it ran at, the expected `error` it raised (if any), and every charge and invoice
    the scenario has bound so far, by alias, as the facade reads them after the step."""

    index: int
    action: str
    clock: datetime
    error: ChargeflowError | None
    charges: Mapping[str, UsageBasedCharge]
    invoices: Mapping[str, Invoice]

    def summary(self) -> list[str]:
        """One short line per bound charge (status, advance after, its newest run) and
        invoice (status, totals), after a line for the expected error if one was raised."""
        lines = [f"raised {type(self.error).__name__}: {self.error}"] if self.error else []
        for alias, charge in self.charges.items():
            line = (
                f"charge {alias}: {charge.state.status.value}, "
                f"advance_after {show(charge.state.advance_after)}"
            )
            if charge.runs:
                run = charge.runs[-1]
                line += (
                    f"; run {run.type.value} to {show(run.service_period_to)}, "
                    f"metered {run.metered_quantity}, "
                    f"credits {run.totals.credits_total}, total {run.totals.total}, "
                    f"line {show(run.line_id)}"
                )
            lines.append(line)
        lines.extend(
            f"invoice {alias}: {show(invoice.status)}, amount {invoice.totals.amount}, "
            f"credits {invoice.totals.credits_total}, total {invoice.totals.total}"
            for alias, invoice in self.invoices.items()
        )
        return lines


def run_scenario(
    scenario: Scenario,
    app: App,
    clock: FrozenClock,
    on_step: Callable[[StepReport], None] | None = None,
) -> None:
    """Run every step of `scenario` against `app`, whose clock is `clock`: set the clock to
    the scenario's start, then per step set the clock (if the step says), perform the action
    and check its expectations. `on_step` is called with a `StepReport` after each step that
    went as written.

    Raises `ScenarioFailure` at the first step that did not: an error other than the one
    expected (or none where one was), an expected error that changed something, or an
    expectation the app's state does not meet. The app's error, if any, is its cause.
    """
    clock.set(scenario.clock)
    bindings = Bindings()
    performer, checker = Performer(app, bindings), Checker(app, bindings)
    for index, step in enumerate(scenario.steps, start=1):
        if step.clock is not None:
            clock.set(step.clock)
        raised, differences = _run_step(step, performer, checker)
        if differences:
            raise ScenarioFailure(scenario.name, index, step.action.kind, differences) from raised
        if on_step is not None:
            report = StepReport(
                index=index,
                action=step.action.kind,
                clock=clock.now(),
                error=raised,
                charges=checker.charges(),
                invoices=checker.invoices(),
            )
            on_step(report)


def _run_step(
    step: Step, performer: Performer, checker: Checker
) -> tuple[ChargeflowError | None, list[str]]:
    """Perform `step`'s action and check what must hold after it: the app's error the action
    raised, if any, and one line per way the step did not go as written."""
    unchanged = step.expect is not None and step.expect.unchanged
    # Taken before the action: an expected error, like `unchanged`, must leave the state as it was.
    before = checker.snapshot() if step.expect_error is not None or unchanged else None
    raised, differences = _perform(performer, step.action)
    if raised is not None and step.expect_error is None:
        return raised, [f"error: expected none, got {type(raised).__name__}: {raised}"]
    differences.extend(checker.error_differences(step.expect_error, raised))
    if before is not None and (raised is not None or unchanged):
        differences.extend(checker.changes_since(before))
    if step.expect is not None:
        differences.extend(checker.differences(step.expect))
    return raised, differences


def _perform(performer: Performer, action: Action) -> tuple[ChargeflowError | None, list[str]]:
    """Perform `action`: the app's error it raised, if any, and why it could not be performed
    as written, if it could not."""
    try:
        performer.perform(action)
    except ChargeflowError as error:
        return error, []
    except UnperformableStepError as unperformable:
        return None, list(unperformable.differences)
    return None, []
