"""Line engines (lifecycle.md section 7): what each kind of invoice line does at each step of
invoicing and collection. Engines are registered once per type in `LINE_ENGINES`.

`build_standard_invoice_lines` is structural only: it moves lines onto the standard invoice and
must keep their ids. `on_standard_invoice_created` runs once the invoice and its lines are
persisted; `on_collection_completed` once its collection window has closed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from domain.charge import UsageBasedCharge
from domain.errors import InvalidLineError
from domain.invoices import (
    AppliedCredit,
    Invoice,
    InvoiceLine,
    LineEngineType,
    LineStatus,
)
from domain.runs import Totals
from domain.triggers import Trigger
from engines import driver
from engines.operation import Operation
from engines.rating import rate


class LineEngine(Protocol):
    """The protocol every line engine implements."""

    def is_line_billable_as_of(self, line: InvoiceLine, as_of: datetime) -> bool:
        """Whether the gathering `line` may be invoiced at `as_of`."""
        ...

    def build_standard_invoice_lines(
        self, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """The lines as standard lines of `invoice`, with exactly the same ids."""
        ...

    def on_standard_invoice_created(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Called after `invoice` and `lines` are persisted; returns the lines, updated."""
        ...

    def on_collection_completed(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Called when the invoice's collection window has closed; returns the lines, updated."""
        ...

    def calculate_lines(self, lines: Sequence[InvoiceLine]) -> list[InvoiceLine]:
        """The lines with their totals computed from quantity, price and credits applied."""
        ...


class PassThroughLineEngine:
    """Lines with a price of their own (plain, flat-fee and credit-purchase lines): billable at
    `invoice_at`, passed through both hooks unchanged, priced by their own price."""

    def is_line_billable_as_of(self, line: InvoiceLine, as_of: datetime) -> bool:
        """Billable once its `invoice_at` has come."""
        return line.invoice_at <= as_of

    def build_standard_invoice_lines(
        self, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Each line, same id, moved onto `invoice` as a standard line."""
        return [
            line.model_copy(update={"invoice_id": invoice.id, "status": LineStatus.STANDARD})
            for line in lines
        ]

    def on_standard_invoice_created(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Nothing to realize: the lines as they are."""
        return list(lines)

    def on_collection_completed(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Nothing to collect: the lines as they are."""
        return list(lines)

    def calculate_lines(self, lines: Sequence[InvoiceLine]) -> list[InvoiceLine]:
        """``amount = rate(price, quantity)``, less the credits applied."""
        calculated = []
        for line in lines:
            amount = rate(line.price, line.quantity, line.currency)
            calculated.append(
                line.model_copy(update={"totals": Totals.of(amount, line.credits_total())})
            )
        return calculated


class UsageBasedLineEngine(PassThroughLineEngine):
    """Lines of credit_then_invoice charges: realized by firing triggers at their charges."""

    def is_line_billable_as_of(self, line: InvoiceLine, as_of: datetime) -> bool:
        """Billable once its service period has ended and its `invoice_at` has come."""
        return as_of >= line.service_period.end and line.invoice_at <= as_of

    def on_standard_invoice_created(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Per line: rebuild the charge's machine from its persisted status, advance, fire
        `invoice_created(line_id)`, advance (to waiting for collection), copy the run."""
        updated = []
        for line, charge in self._with_charges(op, lines):
            driver.advance(op, charge)
            driver.fire(op, charge, Trigger.INVOICE_CREATED, {"line_id": line.id})
            driver.advance(op, charge)
            updated.append(_copy_current_run(line, charge))
        return updated

    def on_collection_completed(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Per line whose charge may still complete collection: fire `collection_completed`,
        advance, copy the run (its `line_id` is kept). Other lines are left as they are, so
        collecting twice changes nothing."""
        updated = []
        for line, charge in self._with_charges(op, lines):
            if not driver.can_fire(op, charge, Trigger.COLLECTION_COMPLETED):
                updated.append(line)
                continue
            driver.fire(op, charge, Trigger.COLLECTION_COMPLETED)
            driver.advance(op, charge)
            updated.append(_copy_current_run(line, charge))
        return updated

    @staticmethod
    def _with_charges(
        op: Operation, lines: Sequence[InvoiceLine]
    ) -> list[tuple[InvoiceLine, UsageBasedCharge]]:
        """Each line with its charge, locked; all charges loaded in one batch."""
        for line in lines:
            if not line.charge_id:
                raise InvalidLineError(line.id, "a usage-based line must carry a charge_id")
        charges = op.uow.charges.get_many([line.charge_id or "" for line in lines], lock=True)
        return list(zip(lines, charges, strict=True))


def _copy_current_run(line: InvoiceLine, charge: UsageBasedCharge) -> InvoiceLine:
    """`line` with the quantity and remaining credits of the charge's current run."""
    run = charge.current_run()
    if run is None:
        return line
    credits = tuple(
        AppliedCredit(allocation_id=allocation_id, amount=amount)
        for allocation_id, amount in run.remaining_allocations().items()
        if amount > 0
    )
    return line.model_copy(update={"quantity": run.meter_value, "credits_applied": credits})


LINE_ENGINES: Mapping[LineEngineType, LineEngine] = {
    LineEngineType.INVOICING: PassThroughLineEngine(),
    LineEngineType.CHARGE_FLATFEE: PassThroughLineEngine(),
    LineEngineType.CHARGE_CREDITPURCHASE: PassThroughLineEngine(),
    LineEngineType.CHARGE_USAGEBASED: UsageBasedLineEngine(),
}
"""The engine of each line type, registered once."""
