"""Running a loaded scenario against an app, step by step, and reporting what differs.

The runner drives the app only through its public facade, as a user's script would: it binds
the aliases of the scenario to the ids the facade returns, performs each action, and compares
what the facade then reads back with what the step expects. It never opens a unit of work of
its own and never reads or writes the database behind the facade's back, and it does not
decide anything about charges: a wrong expectation is reported, never worked around.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, assert_never

from pydantic import BaseModel

from chargeflow.app import App
from chargeflow.scenarios.model import (
    Action,
    Advance,
    AdvanceInvoice,
    ArchiveFeature,
    ChargeExpectation,
    CreateCharge,
    CreateCustomer,
    CreateFeature,
    CustomerExpectation,
    Delete,
    ErrorExpectation,
    Expectation,
    Fire,
    GatheringLineOf,
    GrantCredits,
    InvoiceExpectation,
    InvoicePendingLines,
    RecordUsage,
    Scenario,
    StandardLineOf,
)
from domain.charge import UsageBasedCharge
from domain.clock import FrozenClock
from domain.errors import ChargeflowError, NotFoundError
from domain.invoices import Invoice, InvoiceLine
from domain.runs import Totals
from domain.timestamps import format_instant


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
                f"advance_after {_show(charge.state.advance_after)}"
            )
            if charge.runs:
                run = charge.runs[-1]
                line += (
                    f"; run as_of {_show(run.as_of)}, meter {run.meter_value}, "
                    f"credits {run.totals.credits_total}, total {run.totals.total}, "
                    f"line {_show(run.line_id)}"
                )
            lines.append(line)
        lines.extend(
            f"invoice {alias}: {_show(invoice.status)}, amount {invoice.totals.amount}, "
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
    run = _ScenarioRun(app)
    for index, step in enumerate(scenario.steps, start=1):
        if step.clock is not None:
            clock.set(step.clock)
        must_not_change = step.expect is not None and step.expect.unchanged
        watch = step.expect_error is not None or must_not_change
        before = run.snapshot() if watch else None
        raised: ChargeflowError | None = None
        differences: list[str] = []
        try:
            run.perform(step.action)
        except ChargeflowError as error:
            raised = error
        except _UnperformableStepError as unperformable:
            differences.extend(unperformable.differences)
        if raised is not None and step.expect_error is None:
            differences.append(f"error: expected none, got {type(raised).__name__}: {raised}")
        else:
            differences.extend(run.error_differences(step.expect_error, raised))
            if before is not None and (raised is not None or must_not_change):
                differences.extend(_changes("", before, run.snapshot()))
            if step.expect is not None:
                differences.extend(run.differences(step.expect))
        if differences:
            raise ScenarioFailure(scenario.name, index, step.action.kind, differences) from raised
        if on_step is not None:
            on_step(run.report(index, step.action.kind, clock.now(), raised))


class _UnperformableStepError(Exception):
    """A step could not be performed as written (an alias without the line it needs...)."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__("; ".join(differences))
        self.differences = differences


class _ScenarioRun:
    """The aliases bound so far, the actions, and the reading of state for checks."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.customers: dict[str, str] = {}
        self.charges: dict[str, str] = {}
        self.invoices: dict[str, str] = {}
        # by charge alias, the id its gathering line had when the charge was created
        self.gathering_lines: dict[str, str] = {}

    # ----------------------------------------------------------------- actions

    def perform(self, action: Action) -> None:  # noqa: PLR0912 -- one case per action
        """Perform `action` through the facade, binding the alias it names."""
        app = self.app
        match action:
            case CreateCustomer():
                customer = app.customers.create(
                    name=action.name,
                    currency=action.currency,
                    collection_interval=action.collection_interval,
                )
                self.customers[action.ref] = customer.id
            case CreateFeature():
                app.features.create(key=action.key, name=action.name)
            case ArchiveFeature():
                app.features.archive(action.key)
            case GrantCredits():
                app.credits.grant(
                    self.customers[action.customer],
                    amount=action.amount,
                    granted_at=action.granted_at,
                )
            case CreateCharge():
                self._create_charge(action)
            case RecordUsage():
                for event in action.events:
                    app.usage.record(
                        self.customers[action.customer],
                        action.feature_key,
                        value=event.value,
                        event_time=event.event_time,
                        stored_at=event.stored_at,
                    )
            case Advance():
                self._advance(action)
            case InvoicePendingLines():
                self._invoice(action)
            case AdvanceInvoice():
                app.billing.advance_invoice(self.invoices[action.invoice])
            case Fire():
                arguments = {
                    name: self._argument(name, value) for name, value in action.arguments.items()
                }
                app.charges.fire(self.charges[action.charge], action.trigger, **arguments)
            case Delete():
                app.charges.delete(self.charges[action.charge], policy=action.policy)
            case _:
                assert_never(action)

    def _create_charge(self, action: CreateCharge) -> None:
        customer_id = self.customers[action.customer]
        charge = self.app.charges.create(
            customer_id=customer_id,
            feature_key=action.feature_key,
            service_period=action.service_period,
            settlement_mode=action.settlement_mode,
            price=action.price,
            name=action.name,
            invoice_at=action.invoice_at,
        )
        self.charges[action.ref] = charge.id
        gathering = self._gathering_line(charge)
        if gathering is not None:
            self.gathering_lines[action.ref] = gathering.id

    def _advance(self, action: Advance) -> None:
        if action.charge is not None:
            self.app.charges.advance(self.charges[action.charge])
        elif action.customer is not None:
            self.app.charges.advance(customer_id=self.customers[action.customer])
        else:
            failed = self.app.charges.advance_due().failed
            if failed:
                raise next(iter(failed.values()))

    def _invoice(self, action: InvoicePendingLines) -> None:
        invoices = self.app.billing.invoice_pending_lines(
            self.customers[action.customer], action.as_of
        )
        if action.ref is None:
            return
        if len(invoices) != 1:
            raise _UnperformableStepError([f"as: expected 1 invoice to bind, got {len(invoices)}"])
        self.invoices[action.ref] = invoices[0].id

    def _argument(self, name: str, value: str | StandardLineOf | GatheringLineOf) -> str:
        """A literal argument, or the id of the line a reference names."""
        if isinstance(value, str):
            return value
        if isinstance(value, StandardLineOf):
            alias, kind = value.line_of, "standard"
            line = self._standard_line(self.app.charges.get(self.charges[alias]))
        else:
            alias, kind = value.gathering_line_of, "gathering"
            line = self._gathering_line(self.app.charges.get(self.charges[alias]))
        if line is None:
            raise _UnperformableStepError(
                [f"arguments.{name}: expected a {kind} line of charge {alias}, got none"]
            )
        return line.id

    # ----------------------------------------------------------------- reading state

    def _standard_line(self, charge: UsageBasedCharge) -> InvoiceLine | None:
        """The persisted standard line billing `charge`, if any."""
        invoices = self.app.billing.list_invoices(charge.intent.customer_id)
        lines = (line for invoice in invoices for line in invoice.lines)
        return next((line for line in lines if line.charge_id == charge.id), None)

    def _gathering_line(self, charge: UsageBasedCharge) -> InvoiceLine | None:
        """The pending gathering line of `charge`, if any."""
        pending = self.app.billing.pending_lines(charge.intent.customer_id)
        return next((line for line in pending if line.charge_id == charge.id), None)

    def _feature_synced(self, charge: UsageBasedCharge) -> bool:
        try:
            live = self.app.features.get(charge.intent.feature_key).id
        except NotFoundError:
            return False
        return charge.state.feature_id == live

    def snapshot(self) -> dict[str, Any]:
        """Everything the scenario can see through the facade, per bound customer: charges
        (with their transitions), pending lines, invoices and credit balance; charges and
        invoices under their aliases where bound."""
        app = self.app
        world: dict[str, Any] = {}
        for alias, customer_id in self.customers.items():
            charges = {
                _alias_of(self.charges, charge.id): {
                    **charge.model_dump(mode="json"),
                    "history": [r.model_dump(mode="json") for r in app.charges.history(charge.id)],
                }
                for charge in app.charges.list(customer_id)
            }
            world[alias] = {
                "charges": charges,
                "pending_lines": {
                    line.id: line.model_dump(mode="json")
                    for line in app.billing.pending_lines(customer_id)
                },
                "invoices": {
                    _alias_of(self.invoices, invoice.id): invoice.model_dump(mode="json")
                    for invoice in app.billing.list_invoices(customer_id)
                },
                "balance": str(app.credits.balance(customer_id)),
            }
        return world

    def report(
        self, index: int, action: str, clock: datetime, error: ChargeflowError | None
    ) -> StepReport:
        """The `StepReport` of a step that went as written."""
        return StepReport(
            index=index,
            action=action,
            clock=clock,
            error=error,
            charges={alias: self.app.charges.get(id_) for alias, id_ in self.charges.items()},
            invoices={
                alias: self.app.billing.get_invoice(id_) for alias, id_ in self.invoices.items()
            },
        )

    # ----------------------------------------------------------------- checks

    def error_differences(
        self, expected: ErrorExpectation | None, raised: ChargeflowError | None
    ) -> Iterator[str]:
        """How the error raised differs from the one expected."""
        if expected is None:
            return
        if raised is None:
            yield f"error: expected {expected.class_name}, got none"
            return
        if not isinstance(raised, expected.error_type()):
            yield f"error: expected {expected.class_name}, got {type(raised).__name__}: {raised}"
            return
        if expected.message is not None and expected.message not in str(raised):
            yield f"error.message: expected to contain {expected.message!r}, got {str(raised)!r}"
        charge_id = getattr(raised, "charge_id", None)
        yield from _differences(
            "error",
            expected,
            {
                "charge": None if charge_id is None else _alias_of(self.charges, charge_id),
                "status": getattr(raised, "status", None),
                "trigger": getattr(raised, "trigger", None),
                "guard": getattr(raised, "guard", None),
            },
        )

    def differences(self, expect: Expectation) -> Iterator[str]:
        """How the app's state differs from `expect`."""
        for alias, charge in expect.charges.items():
            yield from self._charge_differences(alias, charge)
        for alias, invoice in expect.invoices.items():
            yield from self._invoice_differences(alias, invoice)
        for alias, customer in expect.customers.items():
            yield from self._customer_differences(alias, customer)

    def _charge_differences(self, alias: str, expected: ChargeExpectation) -> Iterator[str]:
        app = self.app
        charge = app.charges.get(self.charges[alias])
        path = f"charges.{alias}"
        history = app.charges.history(charge.id)
        yield from _differences(
            path,
            expected,
            {
                "status": charge.state.status,
                "advance_after": charge.state.advance_after,
                "current_run": "none" if charge.state.current_run_id is None else "set",
                "feature_synced": self._feature_synced(charge),
                "deleted_at": charge.deleted_at,
                "history": [f"{r.from_status.value} -> {r.to_status.value}" for r in history],
            },
        )
        given = expected.model_fields_set
        if "runs" in given and expected.runs is not None:
            line = self._standard_line(charge)
            yield from _count(f"{path}.runs", len(expected.runs), len(charge.runs))
            for number, (want, run) in enumerate(zip(expected.runs, charge.runs, strict=False)):
                if run.line_id is None:
                    linked: object = False
                elif line is not None and run.line_id == line.id:
                    linked = True
                else:
                    linked = f"line {run.line_id}, not the standard line billing the charge"
                yield from _differences(
                    f"{path}.runs[{number}]",
                    want,
                    {
                        **_totals(run.totals),
                        "as_of": run.as_of,
                        "collection_end": run.collection_end,
                        "meter_value": run.meter_value,
                        "allocations": [allocation.amount for allocation in run.allocations],
                        "line_linked": linked,
                    },
                )
        if "gathering_line" in given:
            gathering = self._gathering_line(charge)
            if expected.gathering_line is None:
                if gathering is not None:
                    yield f"{path}.gathering_line: expected null, got line {gathering.id}"
            elif gathering is None:
                yield f"{path}.gathering_line: expected a gathering line, got null"
            else:
                yield from _differences(
                    f"{path}.gathering_line",
                    expected.gathering_line,
                    {"engine": gathering.engine, "invoice_at": gathering.invoice_at},
                )

    def _invoice_differences(self, alias: str, expected: InvoiceExpectation) -> Iterator[str]:
        invoice = self.app.billing.get_invoice(self.invoices[alias])
        path = f"invoices.{alias}"
        yield from _differences(
            path,
            expected,
            {
                **_totals(invoice.totals),
                "status": invoice.status,
                "collection_at": invoice.collection_at,
            },
        )
        if expected.lines is None:
            return
        yield from _count(f"{path}.lines", len(expected.lines), len(invoice.lines))
        for number, (want, line) in enumerate(zip(expected.lines, invoice.lines, strict=False)):
            charge = None if line.charge_id is None else _alias_of(self.charges, line.charge_id)
            kept = charge is not None and line.id == self.gathering_lines.get(charge)
            yield from _differences(
                f"{path}.lines[{number}]",
                want,
                {
                    **_totals(line.totals),
                    "charge": charge,
                    "status": line.status,
                    "kept_gathering_id": kept,
                    "quantity": line.quantity,
                    "credits_applied": [credit.amount for credit in line.credits_applied],
                },
            )

    def _customer_differences(self, alias: str, expected: CustomerExpectation) -> Iterator[str]:
        customer_id = self.customers[alias]
        billing = self.app.billing
        yield from _differences(
            f"customers.{alias}",
            expected,
            {
                "balance": self.app.credits.balance(customer_id),
                "pending_lines": len(billing.pending_lines(customer_id)),
                "invoices": len(billing.list_invoices(customer_id)),
            },
        )


def _alias_of(bound: Mapping[str, str], id_: str) -> str:
    """The alias bound to `id_`, else the id itself."""
    return next((alias for alias, bound_id in bound.items() if bound_id == id_), id_)


def _totals(totals: Totals) -> dict[str, object]:
    return {
        "amount": totals.amount,
        "credits_total": totals.credits_total,
        "total": totals.total,
    }


def _differences(path: str, expected: BaseModel, actual: Mapping[str, object]) -> Iterator[str]:
    """``path.field: expected X, got Y`` for each field the scenario wrote (in declaration
    order) whose actual value differs. Decimals compare by value, exactly."""
    for name in type(expected).model_fields:
        if name in expected.model_fields_set and name in actual:
            want, got = getattr(expected, name), actual[name]
            if want != got:
                yield f"{path}.{name}: expected {_show(want)}, got {_show(got)}"


def _count(path: str, expected: int, actual: int) -> Iterator[str]:
    if expected != actual:
        yield f"{path}: expected {expected} items, got {actual}"


def _changes(path: str, before: object, after: object) -> Iterator[str]:
    """How `after` differs from `before`, leaf by leaf, for a step that must change nothing."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(key for key in after if key not in before)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                yield f"{where}: expected unchanged, got removed"
            elif key not in before:
                yield f"{where}: expected absent (unchanged), got added"
            else:
                yield from _changes(where, before[key], after[key])
    elif isinstance(before, list) and isinstance(after, list) and len(before) != len(after):
        yield f"{path}: expected {len(before)} items (unchanged), got {len(after)}"
    elif isinstance(before, list) and isinstance(after, list):
        for number, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from _changes(f"{path}[{number}]", old, new)
    elif before != after:
        yield f"{path}: expected {_show(before)} (unchanged), got {_show(after)}"


def _show(value: object) -> str:
    """A value as a scenario writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return str(value)
