"""Billing: invoicing a customer's pending lines and collecting standard invoices.

`invoice_pending_lines` follows lifecycle.md section 7's seven steps in that exact order, in
one unit of work: the standard line rows exist (step 5) before any charge is told about them
(step 6), so a run's `line_id` only ever names a persisted standard line. Any failure rolls
the whole invoice creation back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

from domain.customer import Customer
from domain.errors import InvalidInputError, InvalidLineError, NoLinesToInvoiceError
from domain.invoices import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTrigger,
    LineEngineType,
    LineStatus,
)
from domain.money import ZERO
from domain.periods import Period
from domain.runs import Totals
from domain.timestamps import format_instant, to_instant
from domain.validation import build, validated
from engines.gathering import gathering_invoice
from engines.line_engines import LINE_ENGINES
from engines.operation import Operation, Operations
from statemachines.invoice import InvoiceAction
from statemachines.registry import INVOICE_MACHINE


class BillingEngine:
    """Invoicing and collection."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    def add_line(
        self,
        *,
        customer_id: str,
        engine: LineEngineType | str,
        name: str,
        price: Any,
        quantity: Decimal | int | str = 1,
        service_period: Any,
        invoice_at: datetime | str | None = None,
    ) -> InvoiceLine:
        """Add a pending line with a price of its own (plain, flat-fee or credit-purchase) to
        the customer's gathering invoice. Usage-based lines come from charges only."""
        with self._operations() as op:
            customer = op.uow.customers.get(customer_id)
            period = validated(Period, service_period)
            line = build(
                InvoiceLine,
                invoice_id=gathering_invoice(op, customer_id, customer.currency).id,
                customer_id=customer_id,
                currency=customer.currency,
                engine=engine,
                status=LineStatus.GATHERING,
                name=name,
                service_period=period,
                invoice_at=invoice_at or period.end,
                price=price,
                quantity=quantity,
                created_at=op.now,
            )
            if line.engine is LineEngineType.CHARGE_USAGEBASED:
                raise InvalidInputError("usage-based lines are created by their charges")
            op.uow.invoices.add_lines([line])
        return line

    def invoice_pending_lines(
        self, customer_id: str, as_of: datetime | str | None = None
    ) -> list[Invoice]:
        """Move the customer's lines billable at `as_of` (default now, never later) onto new
        standard invoices, one per currency. `NoLinesToInvoiceError` when none is billable."""
        with self._operations() as op:
            cutoff = op.now if as_of is None else to_instant(as_of)
            if cutoff > op.now:
                raise InvalidInputError(
                    f"cannot invoice as of {format_instant(cutoff)}: it is only "
                    f"{format_instant(op.now)} (charges are realized at now)"
                )
            customer = op.uow.customers.get(customer_id)
            billable = [
                line
                for line in op.uow.invoices.pending_lines(customer_id)
                if LINE_ENGINES[line.engine].is_line_billable_as_of(line, cutoff)
            ]
            if not billable:
                raise NoLinesToInvoiceError(customer_id, format_instant(cutoff))
            billable.sort(key=lambda line: line.currency)
            return [
                _create_standard_invoice(op, customer, currency, list(lines))
                for currency, lines in groupby(billable, key=lambda line: line.currency)
            ]

    def advance_invoice(self, invoice_id: str) -> Invoice:
        """Move a standard invoice through its lifecycle as far as it may go now; entering
        `draft.collecting` completes collection on every line engine."""
        with self._operations() as op:
            invoice = op.uow.invoices.get(invoice_id, lock=True)
            if invoice.kind is not InvoiceKind.STANDARD or invoice.status is None:
                raise InvalidInputError(f"invoice {invoice_id!r} is a gathering invoice")
            while INVOICE_MACHINE.permits(invoice, invoice.status, InvoiceTrigger.NEXT, op.now):
                invoice.status = INVOICE_MACHINE.fire(
                    invoice, invoice.status, InvoiceTrigger.NEXT, op.now, _no_entry_actions
                )
                for action in INVOICE_MACHINE.spec.activation_of(invoice.status):
                    if action is InvoiceAction.COMPLETE_COLLECTION:
                        _complete_collection(op, invoice)
                op.uow.invoices.save(invoice)
            return invoice

    def get_invoice(self, invoice_id: str) -> Invoice:
        """The invoice with its lines; `NotFoundError`."""
        with self._operations.uows() as uow:
            return uow.invoices.get(invoice_id)

    def pending_lines(self, customer_id: str) -> list[InvoiceLine]:
        """The customer's gathering lines."""
        with self._operations.uows() as uow:
            return uow.invoices.pending_lines(customer_id)

    def list_invoices(self, customer_id: str | None = None) -> list[Invoice]:
        """Standard invoices, oldest first."""
        with self._operations.uows() as uow:
            return uow.invoices.list(customer_id)


def _no_entry_actions(action: InvoiceAction, arguments: Any) -> None:
    raise AssertionError(f"the invoice machine has no entry action {action}")


def _collection_at(customer: Customer, lines: Sequence[InvoiceLine]) -> datetime:
    """The latest `invoice_at` of the usage lines plus the collection interval (with no usage
    line, the latest `invoice_at`: there is nothing to collect)."""
    usage = [line for line in lines if line.engine is LineEngineType.CHARGE_USAGEBASED]
    if not usage:
        return max(line.invoice_at for line in lines)
    return customer.collection_period_end(max(line.invoice_at for line in usage))


def _by_engine(lines: Sequence[InvoiceLine]) -> dict[LineEngineType, list[InvoiceLine]]:
    groups: dict[LineEngineType, list[InvoiceLine]] = {}
    for line in lines:
        groups.setdefault(line.engine, []).append(line)
    return groups


def _same_ids(given: Sequence[InvoiceLine], returned: Sequence[InvoiceLine], step: str) -> None:
    given_ids = sorted(line.id for line in given)
    returned_ids = sorted(line.id for line in returned)
    if given_ids != returned_ids:
        odd = sorted(set(given_ids) ^ set(returned_ids)) or given_ids
        raise InvalidLineError(odd[0], f"{step} must return lines with exactly the input ids")


def _create_standard_invoice(
    op: Operation, customer: Customer, currency: str, lines: list[InvoiceLine]
) -> Invoice:
    # 1. reject duplicate charge ids among the lines
    charged: set[str] = set()
    for line in lines:
        if line.charge_id is not None and line.charge_id in charged:
            raise InvalidLineError(line.id, f"charge {line.charge_id!r} has two lines")
        if line.charge_id is not None:
            charged.add(line.charge_id)
    # 2. persist the invoice header
    invoice = Invoice(
        customer_id=customer.id,
        currency=currency,
        kind=InvoiceKind.STANDARD,
        status=InvoiceStatus.DRAFT_CREATED,
        collection_at=_collection_at(customer, lines),
        created_at=op.now,
    )
    op.uow.invoices.add(invoice)
    # 3. per engine, build the standard lines (structural only, same ids)
    standard: list[InvoiceLine] = []
    for engine, group in _by_engine(lines).items():
        built = LINE_ENGINES[engine].build_standard_invoice_lines(invoice, group)
        _same_ids(group, built, "build_standard_invoice_lines")
        standard.extend(built)
    # 4. remove them from the gathering invoice
    op.uow.invoices.remove_lines([line.id for line in lines])
    # 5. persist the standard lines: from here on their rows exist
    op.uow.invoices.add_lines(standard)
    # 6. per engine, tell the engine the invoice exists; replace the lines by id
    realized: dict[str, InvoiceLine] = {}
    for engine, group in _by_engine(standard).items():
        returned = LINE_ENGINES[engine].on_standard_invoice_created(op, invoice, group)
        _same_ids(group, returned, "on_standard_invoice_created")
        realized.update((line.id, line) for line in returned)
    invoice.lines = [realized[line.id] for line in standard]
    # 7. recalculate and persist again
    _recalculate(op, invoice)
    return invoice


def _complete_collection(op: Operation, invoice: Invoice) -> None:
    collected: dict[str, InvoiceLine] = {}
    for engine, group in _by_engine(invoice.lines).items():
        returned = LINE_ENGINES[engine].on_collection_completed(op, invoice, group)
        _same_ids(group, returned, "on_collection_completed")
        collected.update((line.id, line) for line in returned)
    invoice.lines = [collected[line.id] for line in invoice.lines]
    _recalculate(op, invoice)


def _recalculate(op: Operation, invoice: Invoice) -> None:
    """Each engine's `calculate_lines`, then the invoice totals as sums; persist both."""
    calculated: dict[str, InvoiceLine] = {}
    for engine, group in _by_engine(invoice.lines).items():
        calculated.update((line.id, line) for line in LINE_ENGINES[engine].calculate_lines(group))
    invoice.lines = [calculated[line.id] for line in invoice.lines]
    invoice.totals = Totals.of(
        sum((line.totals.amount for line in invoice.lines), ZERO),
        sum((line.totals.credits_total for line in invoice.lines), ZERO),
    )
    op.uow.invoices.save_lines(invoice.lines)
    op.uow.invoices.save(invoice)
