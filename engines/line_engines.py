"""The line engines (docs/lifecycle.md section 8): one per line type, registered once.

Plain, flat-fee and credit-purchase lines carry their own price and pass through invoicing
unchanged. Usage-based lines belong to credit_then_invoice charges: they are realized by firing
triggers at their charge, and carry what the charge's run rated (the amount is rated once, by
the run, and copied onto the line).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.customer import Customer
from chargeflow.domain.errors import (
    ChargeflowError,
    InvalidLineError,
    NotFoundError,
    TransitionRefusedError,
)
from chargeflow.domain.invoices import (
    AppliedCredit,
    Invoice,
    InvoiceLine,
    LineEngineType,
    LineStatus,
)
from chargeflow.domain.money import ZERO
from chargeflow.domain.periods import Period
from chargeflow.domain.runs import RealizationRun, Totals
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import format_instant
from chargeflow.domain.triggers import InvoiceCreated, InvoiceIssued, Trigger
from chargeflow.engines import charge_lifecycle, driver, payments
from chargeflow.engines.billable import billable_end, preview_end
from chargeflow.engines.charge_lifecycle import CHARGES
from chargeflow.engines.operation import Operation
from chargeflow.engines.rating import rate
from chargeflow.engines.runs import earlier_runs, rate_run
from chargeflow.statemachines.charge_guards import INTERNAL_COLLECTION_PERIOD

_log = logging.getLogger("chargeflow.engines")


@dataclass(frozen=True)
class Realized:
    """What an engine made of the standard lines it was told about: the lines it realized,
    updated (same ids), and the ones it could not, with the error (their charges' changes
    were rolled back; billing puts those lines back on the gathering invoice)."""

    lines: list[InvoiceLine]
    failed: dict[str, Exception] = field(default_factory=dict)


@dataclass(frozen=True)
class Previewed:
    """The lines an engine rated for a preview (same ids, over their billed part), and why it
    could not rate the others, by line id."""

    lines: list[InvoiceLine]
    unrated: dict[str, str] = field(default_factory=dict)


class LineEngine(Protocol):
    """The protocol every line engine implements."""

    def unbillable(
        self, op: Operation, customer: Customer, lines: Sequence[InvoiceLine], as_of: datetime
    ) -> dict[str, str]:
        """Why each of the customer's gathering lines that may not be invoiced at `as_of` may
        not, by line id (billable lines are absent)."""
        ...

    def billed_until(self, customer: Customer, line: InvoiceLine, as_of: datetime) -> datetime:
        """Where the part of billable `line` invoiced at `as_of` ends: its period's end, or
        earlier when only the part before that instant is billed (the line is then split)."""
        ...

    def preview(
        self, op: Operation, customer: Customer, lines: Sequence[InvoiceLine], as_of: datetime
    ) -> Previewed:
        """The gathering lines rated live as of `as_of` over the part invoicing would bill,
        billable now or not, writing nothing; a line that cannot be rated is reported."""
        ...

    def build_standard_invoice_lines(
        self, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """The lines as standard lines of `invoice`, with exactly the same ids."""
        ...

    def on_standard_invoice_created(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> Realized:
        """Called after `invoice` and `lines` are persisted: realize each line; one line's
        failure is isolated (rolled back to before it) and reported, never raised."""
        ...

    def on_collection_completed(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Called when the invoice's collection window has closed; returns the lines, updated."""
        ...

    def on_invoice_issued(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> None:
        """Called while the invoice is issuing."""
        ...

    def on_payment_authorized(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> None:
        """Called when the invoice's payment is authorized."""
        ...

    def on_payment_settled(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> None:
        """Called when the invoice's payment is settled."""
        ...

    def calculate_lines(self, lines: Sequence[InvoiceLine]) -> list[InvoiceLine]:
        """The lines with their totals computed."""
        ...


class PassThroughLineEngine:
    """Lines with a price of their own (plain, flat-fee and credit-purchase lines): billable at
    `invoice_at`, passed through every hook unchanged, priced by their own price."""

    def unbillable(
        self, op: Operation, customer: Customer, lines: Sequence[InvoiceLine], as_of: datetime
    ) -> dict[str, str]:
        """A line is billable once its `invoice_at` has come."""
        return {
            line.id: f"not billable before {format_instant(line.invoice_at)}"
            for line in lines
            if line.invoice_at > as_of
        }

    def billed_until(self, customer: Customer, line: InvoiceLine, as_of: datetime) -> datetime:
        """A line with a price of its own is billed whole."""
        return line.service_period.end

    def preview(
        self, op: Operation, customer: Customer, lines: Sequence[InvoiceLine], as_of: datetime
    ) -> Previewed:
        """The lines priced as invoicing would price them."""
        return Previewed(self.calculate_lines(lines))

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
    ) -> Realized:
        """Nothing to realize: the lines as they are."""
        return Realized(list(lines))

    def on_collection_completed(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Nothing to collect: the lines as they are."""
        return list(lines)

    def on_invoice_issued(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> None:
        """Nothing to do."""

    def on_payment_authorized(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> None:
        """Nothing to do."""

    def on_payment_settled(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> None:
        """Nothing to do."""

    def calculate_lines(self, lines: Sequence[InvoiceLine]) -> list[InvoiceLine]:
        """``amount = rate(price, quantity)``, less the credits applied."""
        return [
            line.model_copy(
                update={
                    "totals": Totals.of(
                        rate(line.price, line.quantity, line.currency), line.credits_total()
                    )
                }
            )
            for line in lines
        ]


class UsageBasedLineEngine(PassThroughLineEngine):
    """Lines of credit_then_invoice charges: realized by firing triggers at their charges."""

    def unbillable(
        self, op: Operation, customer: Customer, lines: Sequence[InvoiceLine], as_of: datetime
    ) -> dict[str, str]:
        """A line is billable when it names a charge that exists, is not deleted and has no
        current run (the charges' states read in one batch), and a part of it is billable at
        `as_of` (`engines.billable`: the whole line once its period has ended and its
        `invoice_at` has come, or with progressive billing the part before `as_of`)."""
        states = op.uow.charges.states([line.charge_id for line in lines if line.charge_id])
        reasons: dict[str, str] = {}
        for line in lines:
            state = states.get(line.charge_id or "")
            billable = billable_end(customer, line, as_of)
            if state is None:
                reasons[line.id] = "the line names no existing charge"
            elif state.status is ChargeStatus.DELETED:
                reasons[line.id] = f"charge {line.charge_id} is deleted"
            elif state.current_run_id is not None:
                reasons[line.id] = "an active realization run already exists"
            elif isinstance(billable, str):
                reasons[line.id] = billable
        return reasons

    def billed_until(self, customer: Customer, line: InvoiceLine, as_of: datetime) -> datetime:
        """The end of the line's billable part (`engines.billable.billable_end`)."""
        end = billable_end(customer, line, as_of)
        if isinstance(end, str):
            raise InvalidLineError(line.id, end)
        return end

    def preview(
        self, op: Operation, customer: Customer, lines: Sequence[InvoiceLine], as_of: datetime
    ) -> Previewed:
        """Each line rated over the part a preview at `as_of` covers, with the cutoffs its run
        would get (a final run's when the part ends with the charge's period, else a partial
        run's), minus what the charge's earlier runs billed (its current run included); no
        credit applied, nothing written."""
        charges = _charges_of(op, lines)
        previewed = Previewed([])
        for line in lines:
            charge = charges.get(line.charge_id or "")
            if charge is None or charge.state.status is ChargeStatus.DELETED:
                previewed.unrated[line.id] = "the line names no live charge"
                continue
            try:
                previewed.lines.append(_rated_live(op, customer, charge, line, as_of))
            except ChargeflowError as error:
                previewed.unrated[line.id] = f"{type(error).__name__}: {error}"
        return previewed

    def on_standard_invoice_created(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> Realized:
        """Per line, inside a savepoint: rebuild the charge's machine from its persisted
        status, advance, fire `invoice_created(line_id, invoice_id, line period)`, advance (to
        waiting for collection), copy the run. A line whose charge refuses (or fails) is rolled
        back and reported."""
        realized = Realized([])
        for line, charge in _with_charges(op, lines):
            created = InvoiceCreated(
                line_id=line.id, invoice_id=invoice.id, service_period=line.service_period
            )
            try:
                with op.uow.savepoint():
                    charge_lifecycle.advance(op, charge)
                    charge_lifecycle.fire(op, charge, Trigger.INVOICE_CREATED, created)
                    charge_lifecycle.advance(op, charge)
                    copied = _copy_current_run(line, charge)
            except Exception as error:  # one line never blocks the others
                op.effects.clear()
                if not isinstance(error, ChargeflowError):
                    _log.exception("realizing line %s of charge %s failed", line.id, charge.id)
                realized.failed[line.id] = error
                continue
            realized.lines.append(copied)
        return realized

    def on_collection_completed(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> list[InvoiceLine]:
        """Per line whose charge may still complete collection: fire `collection_completed`,
        advance (to processing), copy the re-rated run (its `line_id` is kept). Other lines are
        left as they are, so collecting twice changes nothing."""
        updated = []
        for line, charge in _with_charges(op, lines):
            if not driver.permits(op, CHARGES, charge, Trigger.COLLECTION_COMPLETED):
                updated.append(line)
                continue
            charge_lifecycle.fire(op, charge, Trigger.COLLECTION_COMPLETED, None)
            charge_lifecycle.advance(op, charge)
            updated.append(_copy_current_run(line, charge))
        return updated

    def on_invoice_issued(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> None:
        """Per line: fire `invoice_issued(line_id, invoice_id)` at its charge and advance until
        stable (to awaiting payment, back to `active` after a partial run, or `final` when
        nothing is owed). A charge that cannot take it is `InvalidLineError` naming the
        charge, its status and the line."""
        issued = {line.id: InvoiceIssued(line_id=line.id, invoice_id=invoice.id) for line in lines}
        for line, charge in _with_charges(op, lines):
            try:
                charge_lifecycle.fire(op, charge, Trigger.INVOICE_ISSUED, issued[line.id])
            except TransitionRefusedError as error:
                raise InvalidLineError(
                    line.id,
                    f"charge {charge.id!r} in status {charge.state.status.value!r} cannot take "
                    f"invoice_issued: {error}",
                ) from error
            charge_lifecycle.advance(op, charge)

    def on_payment_authorized(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> None:
        """Per line: the payment of its run is authorized (nothing for a run that needs no
        fiat payment or a zero line)."""
        for line, charge in _with_charges(op, lines):
            payments.authorize(op, invoice, line, charge)

    def on_payment_settled(
        self, op: Operation, invoice: Invoice, lines: Sequence[InvoiceLine]
    ) -> None:
        """Per line: the payment of its run is settled (authorized first if it was not), then
        the charge advances until stable (`final` once every invoiced run is settled)."""
        for line, charge in _with_charges(op, lines):
            payments.settle(op, invoice, line, charge)
            charge_lifecycle.advance(op, charge)

    def calculate_lines(self, lines: Sequence[InvoiceLine]) -> list[InvoiceLine]:
        """The lines as they are: their totals are their runs', copied when realized."""
        return list(lines)


def _charges_of(op: Operation, lines: Sequence[InvoiceLine]) -> dict[str, UsageBasedCharge]:
    """The charges the lines name, by id, read in one batch (unlocked)."""
    found = op.uow.charges.find_many([line.charge_id for line in lines if line.charge_id])
    return {charge.id: charge for charge in found}


def _rated_live(
    op: Operation, customer: Customer, charge: UsageBasedCharge, line: InvoiceLine, as_of: datetime
) -> InvoiceLine:
    """`line` over the part a preview at `as_of` covers, rated as its run would be."""
    end = preview_end(customer, line, as_of)
    charge_end = charge.intent.service_period.end
    stored_at_lt = customer.collection_period_end(end) if end == charge_end else end
    rating = rate_run(op, charge, None, service_period_to=end, stored_at_lt=stored_at_lt)
    earlier = charge.latest_run()
    pre_line = earlier.metered_quantity if earlier else ZERO
    return line.model_copy(
        update={
            "service_period": Period(start=line.service_period.start, end=end),
            "metered_quantity": rating.metered_quantity,
            "pre_line_quantity": pre_line,
            "quantity": rating.metered_quantity - pre_line,
            "detailed_lines": rating.detailed_lines,
            "totals": Totals.of(rating.amount, ZERO),
        }
    )


def _with_charges(
    op: Operation, lines: Sequence[InvoiceLine]
) -> Iterator[tuple[InvoiceLine, UsageBasedCharge]]:
    """Each line with its charge, locked: every charge read (and locked) in one batch before
    the first line, each built when its line's turn comes, so a long invoice never holds all
    its charges built at once. `InvalidLineError` for a line without a charge or a charge two
    lines name (invoicing never puts two lines of a charge on one invoice), `NotFoundError`
    for a charge that does not exist, all before any line is handled."""
    named: dict[str, str] = {}
    for line in lines:
        if not line.charge_id:
            raise InvalidLineError(line.id, "a usage-based line must carry a charge_id")
        if named.setdefault(line.charge_id, line.id) != line.id:
            raise InvalidLineError(line.id, f"charge {line.charge_id} has 2 lines on the invoice")
    read = {stored.id: stored for stored in op.uow.charges.read_many(list(named), lock=True)}
    missing = next((charge_id for charge_id in named if charge_id not in read), None)
    if missing is not None:
        raise NotFoundError("charge", missing)
    for line in lines:
        yield line, read[line.charge_id or ""].build()


def _copy_current_run(line: InvoiceLine, charge: UsageBasedCharge) -> InvoiceLine:
    """`line` with what the charge's current run rated: metered, pre-line and billed
    quantities, detailed lines, remaining credits, totals and collection period end.
    `InvalidLineError` for a negative billed quantity."""
    run = charge.current_run()
    if run is None:
        return line
    earlier = earlier_runs(charge, run.id)
    pre_line = earlier[-1].metered_quantity if earlier else ZERO
    quantity = run.metered_quantity - pre_line
    if quantity < 0:
        raise InvalidLineError(line.id, f"usage went down by {-quantity} since the last invoice")
    return line.model_copy(
        update={
            "metered_quantity": run.metered_quantity,
            "pre_line_quantity": pre_line,
            "quantity": quantity,
            "detailed_lines": run.detailed_lines,
            "credits_applied": _applied_credits(run),
            "totals": run.totals,
            "collection_period_end": run.stored_at_lt + INTERNAL_COLLECTION_PERIOD,
        }
    )


def _applied_credits(run: RealizationRun) -> tuple[AppliedCredit, ...]:
    return tuple(
        AppliedCredit(allocation_id=allocation_id, amount=amount)
        for allocation_id, amount in run.remaining_allocations().items()
        if amount > 0
    )


def same_ids(given: Sequence[InvoiceLine], returned: Sequence[InvoiceLine], step: str) -> None:
    """Raise `InvalidLineError` unless `returned` holds exactly the ids of `given`."""
    given_ids = sorted(line.id for line in given)
    returned_ids = sorted(line.id for line in returned)
    if given_ids != returned_ids:
        odd = sorted(set(given_ids) ^ set(returned_ids)) or given_ids
        raise InvalidLineError(odd[0], f"{step} must return lines with exactly the input ids")


LINE_ENGINES: Mapping[LineEngineType, LineEngine] = {
    LineEngineType.INVOICING: PassThroughLineEngine(),
    LineEngineType.CHARGE_FLATFEE: PassThroughLineEngine(),
    LineEngineType.CHARGE_CREDITPURCHASE: PassThroughLineEngine(),
    LineEngineType.CHARGE_USAGEBASED: UsageBasedLineEngine(),
}
"""The engine of each line type, registered once."""
