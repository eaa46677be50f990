"""Reading a running scenario's state back through the public facade, and comparing it with
what a step expects.

Every difference is one line, ``path.field: expected X, got Y``, with values shown as a scenario
writes them (`show`). This module only reads: it never performs an action, never opens a unit of
work of its own and never reads the database behind the facade's back, and it does not decide
anything about charges: a wrong expectation is reported, never worked around.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

from chargeflow.app import App
from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.errors import ChargeflowError, NotFoundError
from chargeflow.domain.invoices import Invoice, InvoiceLine
from chargeflow.domain.runs import DetailedLine, InvoiceUsage, Payment, RealizationRun, Totals
from chargeflow.domain.timestamps import format_instant
from chargeflow.scenarios.aliases import Bindings
from chargeflow.scenarios.expectations import (
    ChargeExpectation,
    CustomerExpectation,
    DetailedLineExpectation,
    ErrorExpectation,
    Expectation,
    GatheringLineExpectation,
    InvoiceExpectation,
    LineExpectation,
    RunExpectation,
)

_Item = TypeVar("_Item")


def standard_lines(app: App, charge: UsageBasedCharge) -> list[InvoiceLine]:
    """The live standard lines billing `charge` (one per invoiced run not voided), oldest
    invoice first."""
    invoices = app.billing.list_invoices(charge.intent.customer_id)
    return [line for invoice in invoices for line in invoice.lines if line.charge_id == charge.id]


def standard_line(app: App, charge: UsageBasedCharge) -> InvoiceLine | None:
    """The latest live standard line billing `charge`, if any."""
    lines = standard_lines(app, charge)
    return lines[-1] if lines else None


def gathering_line(app: App, charge: UsageBasedCharge) -> InvoiceLine | None:
    """The pending gathering line of `charge`, if any."""
    pending = app.billing.pending_lines(charge.intent.customer_id)
    return next((line for line in pending if line.charge_id == charge.id), None)


class Checker:
    """Reads the state of the customers, charges and invoices bound in `bindings` from `app`,
    and says how it differs from what a step expects."""

    def __init__(self, app: App, bindings: Bindings) -> None:
        self.app = app
        self.bindings = bindings

    # ----------------------------------------------------------------- reading state

    def charges(self) -> dict[str, UsageBasedCharge]:
        """Every bound charge, by alias, as the facade reads it now."""
        return {alias: self.app.charges.get(id_) for alias, id_ in self.bindings.charges.items()}

    def invoices(self) -> dict[str, Invoice]:
        """Every bound invoice, by alias, as the facade reads it now."""
        billing = self.app.billing
        return {alias: billing.get_invoice(id_) for alias, id_ in self.bindings.invoices.items()}

    def snapshot(self) -> dict[str, Any]:
        """Everything the scenario can see through the facade, per bound customer: charges
        (with their runs and transitions), pending lines, listed invoices (with their lines and
        transitions) and credit balance; charges and invoices under their aliases where
        bound."""
        app = self.app
        world: dict[str, Any] = {}
        for alias, customer_id in self.bindings.customers.items():
            charges = {
                _alias_of(self.bindings.charges, charge.id): {
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
                    _alias_of(self.bindings.invoices, invoice.id): {
                        **invoice.model_dump(mode="json"),
                        "history": [
                            r.model_dump(mode="json") for r in app.billing.history(invoice.id)
                        ],
                    }
                    for invoice in app.billing.list_invoices(customer_id)
                },
                "balance": str(app.credits.balance(customer_id)),
            }
        return world

    def _charge_alias(self, charge_id: str | None) -> str | None:
        """The alias bound to the charge `charge_id` (else the id itself), if there is one."""
        return None if charge_id is None else _alias_of(self.bindings.charges, charge_id)

    def _feature_synced(self, charge: UsageBasedCharge) -> bool:
        try:
            live = self.app.features.get(charge.intent.feature_key).id
        except NotFoundError:
            return False
        return charge.state.feature_id == live

    # ----------------------------------------------------------------- checks

    def changes_since(self, before: dict[str, Any]) -> Iterator[str]:
        """How the state differs from the `snapshot` `before`, leaf by leaf, for a step that
        must change nothing."""
        return _changes("", before, self.snapshot())

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
        yield from _differences("error", expected, self._error_fields(raised))

    def _error_fields(self, raised: ChargeflowError) -> dict[str, object]:
        """The fields of `raised` an `expect_error` may check, with ids shown as aliases. A
        refused invoice transition names its invoice where a charge's names its charge."""
        subject_id = getattr(raised, "charge_id", None)
        of_invoice = getattr(raised, "subject", "charge") == "invoice"
        invoice_id = getattr(raised, "invoice_id", subject_id if of_invoice else None)
        invoices = self.bindings.invoices
        return {
            "charge": None if of_invoice else self._charge_alias(subject_id),
            "invoice": None if invoice_id is None else _alias_of(invoices, invoice_id),
            "status": getattr(raised, "status", None),
            "trigger": getattr(raised, "trigger", None),
            "guard": getattr(raised, "guard", None),
        }

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
        charge = app.charges.get(self.bindings.charges[alias])
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
            yield from self._run_differences(path, expected.runs, charge)
        if "gathering_line" in given:
            yield from self._gathering_line_differences(path, expected.gathering_line, charge)

    def _run_differences(
        self, path: str, expected: list[RunExpectation], charge: UsageBasedCharge
    ) -> Iterator[str]:
        lines = {line.id: line for line in standard_lines(self.app, charge)}
        yield from _count(f"{path}.runs", len(expected), len(charge.runs))
        for number, (want, run) in enumerate(zip(expected, charge.runs, strict=False)):
            where = f"{path}.runs[{number}]"
            yield from _differences(where, want, _run_fields(run, lines.get(run.line_id or "")))
            yield from _detailed_differences(where, want.detailed_lines, run.detailed_lines)
            given = want.model_fields_set
            if "invoice_usage" in given:
                usage = None if run.invoice_usage is None else _usage_fields(run.invoice_usage)
                yield from _optional(f"{where}.invoice_usage", want.invoice_usage, usage)
            if "payment" in given:
                payment = None if run.payment is None else _payment_fields(run.payment)
                yield from _optional(f"{where}.payment", want.payment, payment)

    def _gathering_line_differences(
        self, path: str, expected: GatheringLineExpectation | None, charge: UsageBasedCharge
    ) -> Iterator[str]:
        gathering = gathering_line(self.app, charge)
        if expected is None:
            if gathering is not None:
                yield f"{path}.gathering_line: expected null, got line {gathering.id}"
        elif gathering is None:
            yield f"{path}.gathering_line: expected a gathering line, got null"
        else:
            yield from _differences(
                f"{path}.gathering_line",
                expected,
                {"engine": gathering.engine, "invoice_at": gathering.invoice_at},
            )

    def _invoice_differences(self, alias: str, expected: InvoiceExpectation) -> Iterator[str]:
        billing = self.app.billing
        invoice = billing.get_invoice(self.bindings.invoices[alias])
        path = f"invoices.{alias}"
        history = billing.history(invoice.id)
        yield from _differences(
            path,
            expected,
            {
                **_totals(invoice.totals),
                "status": invoice.status,
                "collection_at": invoice.collection_at,
                "deleted": invoice.deleted_at is not None,
                "history": [f"{r.from_status.value} -> {r.to_status.value}" for r in history],
            },
        )
        yield from self._lines_differences(f"{path}.lines", expected.lines, invoice.lines)

    def _lines_differences(
        self, path: str, expected: Sequence[LineExpectation] | None, lines: Sequence[InvoiceLine]
    ) -> Iterator[str]:
        """How `lines` differ from `expected` (length, then line by line, partially)."""
        if expected is None:
            return
        yield from _count(path, len(expected), len(lines))
        for number, (want, line) in enumerate(zip(expected, lines, strict=False)):
            where = f"{path}[{number}]"
            yield from _differences(where, want, self._line_fields(line))
            yield from _detailed_differences(where, want.detailed_lines, line.detailed_lines)

    def _line_fields(self, line: InvoiceLine) -> dict[str, object]:
        """The fields of `line` a `LineExpectation` may check."""
        charge = self._charge_alias(line.charge_id)
        kept = charge is not None and line.id == self.bindings.gathering_lines.get(charge)
        return {
            **_totals(line.totals),
            "charge": charge,
            "status": line.status,
            "service_period": (line.service_period.start, line.service_period.end),
            "kept_gathering_id": kept,
            "metered_quantity": line.metered_quantity,
            "pre_line_quantity": line.pre_line_quantity,
            "quantity": line.quantity,
            "credits_applied": [credit.amount for credit in line.credits_applied],
            "collection_period_end": line.collection_period_end,
        }

    def _customer_differences(self, alias: str, expected: CustomerExpectation) -> Iterator[str]:
        customer_id = self.bindings.customers[alias]
        billing = self.app.billing
        path = f"customers.{alias}"
        pending = billing.pending_lines(customer_id)
        yield from _differences(
            path,
            expected,
            {
                "balance": self.app.credits.balance(customer_id),
                "pending_lines": len(pending),
                "invoices": len(billing.list_invoices(customer_id)),
            },
        )
        yield from self._lines_differences(
            f"{path}.gathering_lines", expected.gathering_lines, pending
        )
        if expected.preview is not None:
            preview = billing.preview(customer_id)
            yield from _differences(
                f"{path}.preview",
                expected.preview,
                {**_totals(preview.totals), "unrated": len(preview.unrated)},
            )
            yield from self._lines_differences(
                f"{path}.preview.lines", expected.preview.lines, preview.lines
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


def _run_fields(run: RealizationRun, line: InvoiceLine | None) -> dict[str, object]:
    """The flat fields of `run` a `RunExpectation` may check; `line` is the live standard line
    its `line_id` names, if there is one billing its charge."""
    return {
        **_totals(run.totals),
        "type": run.type,
        "service_period_to": run.service_period_to,
        "stored_at_lt": run.stored_at_lt,
        "metered_quantity": run.metered_quantity,
        "no_fiat_transaction_required": run.no_fiat_transaction_required,
        "allocations": [allocation.amount for allocation in run.allocations],
        "allocations_booked_at": [allocation.booked_at for allocation in run.allocations],
        "voided": run.voided,
        "line_linked": _link(
            "line", run.line_id, line is not None, "a live standard line billing the charge"
        ),
        "invoice_linked": _link(
            "invoice",
            run.invoice_id,
            line is not None and line.invoice_id == run.invoice_id,
            "the invoice of its standard line",
        ),
    }


def _link(kind: str, id_: str | None, linked: bool, what: str) -> object:
    """`false` without an id, `true` when it is the one expected, else what it is instead."""
    if id_ is None:
        return False
    return True if linked else f"{kind} {id_}, not {what}"


def _detailed_differences(
    path: str, expected: Sequence[DetailedLineExpectation] | None, actual: Sequence[DetailedLine]
) -> Iterator[str]:
    """How the detailed lines of the run or line at `path` differ from `expected`."""
    yield from _items(f"{path}.detailed_lines", expected, actual, _detailed_fields)


def _detailed_fields(line: DetailedLine) -> dict[str, object]:
    return {
        "key": line.key,
        "quantity": line.quantity,
        "unit_amount": line.unit_amount,
        "amount": line.amount,
    }


def _usage_fields(usage: InvoiceUsage) -> dict[str, object]:
    return {
        **_totals(usage.totals),
        "booked_at": usage.booked_at,
        "ledger_reference": "none" if usage.ledger_reference is None else "set",
    }


def _payment_fields(payment: Payment) -> dict[str, object]:
    return {"status": payment.status, "amount": payment.amount}


def _optional(
    path: str, expected: BaseModel | None, actual: Mapping[str, object] | None
) -> Iterator[str]:
    """How a value that may be absent differs: `expected` None means it must be absent."""
    if expected is None:
        if actual is not None:
            fields = ", ".join(f"{name}: {show(value)}" for name, value in actual.items())
            yield f"{path}: expected null, got {{{fields}}}"
    elif actual is None:
        yield f"{path}: expected a value, got null"
    else:
        yield from _differences(path, expected, actual)


def _items(
    path: str,
    expected: Sequence[BaseModel] | None,
    actual: Sequence[_Item],
    fields: Callable[[_Item], Mapping[str, object]],
) -> Iterator[str]:
    """How a list of items differs from `expected` (its length, then item by item, partially);
    nothing when the list is not expected."""
    if expected is None:
        return
    yield from _count(path, len(expected), len(actual))
    for number, (want, item) in enumerate(zip(expected, actual, strict=False)):
        yield from _differences(f"{path}[{number}]", want, fields(item))


def _differences(path: str, expected: BaseModel, actual: Mapping[str, object]) -> Iterator[str]:
    """``path.field: expected X, got Y`` for each field the scenario wrote (in declaration
    order) whose actual value differs. Decimals compare by value, exactly."""
    for name in type(expected).model_fields:
        if name in expected.model_fields_set and name in actual:
            want, got = getattr(expected, name), actual[name]
            if want != got:
                yield f"{path}.{name}: expected {show(want)}, got {show(got)}"


def _count(path: str, expected: int, actual: int) -> Iterator[str]:
    if expected != actual:
        yield f"{path}: expected {expected} items, got {actual}"


def _changes(path: str, before: object, after: object) -> Iterator[str]:
    """How `after` differs from `before`, leaf by leaf, for a step that must change nothing."""
    if isinstance(before, dict) and isinstance(after, dict):
        yield from _mapping_changes(path, before, after)
    elif isinstance(before, list) and isinstance(after, list):
        yield from _list_changes(path, before, after)
    elif before != after:
        yield f"{path}: expected {show(before)} (unchanged), got {show(after)}"


def _mapping_changes(
    path: str, before: dict[object, object], after: dict[object, object]
) -> Iterator[str]:
    for key in [*before, *(key for key in after if key not in before)]:
        where = f"{path}.{key}" if path else str(key)
        if key not in after:
            yield f"{where}: expected unchanged, got removed"
        elif key not in before:
            yield f"{where}: expected absent (unchanged), got added"
        else:
            yield from _changes(where, before[key], after[key])


def _list_changes(path: str, before: list[object], after: list[object]) -> Iterator[str]:
    if len(before) != len(after):
        yield f"{path}: expected {len(before)} items (unchanged), got {len(after)}"
        return
    for number, (old, new) in enumerate(zip(before, after, strict=True)):
        yield from _changes(f"{path}[{number}]", old, new)


def show(value: object) -> str:
    """`value` as a scenario writes it: ``null``, ``true``/``false``, ISO-8601 instants,
    an enum's value, lists (and pairs) in brackets, anything else as its text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(item) for item in value) + "]"
    return str(value)
