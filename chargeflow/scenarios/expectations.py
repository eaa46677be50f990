"""What must hold after a scenario step: the expectation models, and the errors a step may
expect (`ERROR_TYPES`).

Expectations are partial (only the fields a scenario writes are checked; the format is
described in `chargeflow.scenarios.model`), and their statuses (of charges, invoices, lines,
runs and payments), transitions and error names are validated when the file is loaded. This
module must not read any state: comparing an expectation with the app is
`chargeflow.scenarios.checking`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from chargeflow.domain import errors
from chargeflow.domain.errors import ChargeflowError
from chargeflow.domain.invoices import InvoiceStatus, LineEngineType, LineStatus
from chargeflow.domain.money import Amount
from chargeflow.domain.runs import PaymentStatus, RunType
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import Instant
from chargeflow.scenarios.aliases import AliasUse
from chargeflow.scenarios.strict import StrictModel

ERROR_TYPES: Mapping[str, type[ChargeflowError]] = {
    name: value
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, ChargeflowError)
}
"""The error classes an `expect_error` may name: every class of `domain.errors`."""


def _parts(text: str) -> list[str]:
    parts = [part.strip() for part in text.split("->")]
    if len(parts) != 2:
        raise ValueError(f"a transition is written 'from -> to', not {text!r}")
    return parts


def _transition(text: str) -> str:
    """``"from -> to"`` with both charge statuses checked, in canonical spacing."""
    return " -> ".join(ChargeStatus(part).value for part in _parts(text))


def _invoice_transition(text: str) -> str:
    """``"from -> to"`` with both invoice statuses checked, in canonical spacing."""
    return " -> ".join(InvoiceStatus(part).value for part in _parts(text))


Transition = Annotated[str, AfterValidator(_transition)]
InvoiceStatusTransition = Annotated[str, AfterValidator(_invoice_transition)]


class TotalsExpectation(StrictModel):
    """Expected totals of a run, a line or an invoice."""

    amount: Amount | None = None
    credits_total: Amount | None = None
    total: Amount | None = None


class DetailedLineExpectation(StrictModel):
    """Expected fields of one detailed line (one price component of a rating)."""

    key: str | None = None
    quantity: Amount | None = None
    unit_amount: Amount | None = None
    amount: Amount | None = None


class InvoiceUsageExpectation(TotalsExpectation):
    """Expected invoice usage of a run (what its issued line billed): totals, `booked_at`, and
    `ledger_reference` `set` (the ledger accrued the fiat total) or `none` (nothing was owed)."""

    booked_at: Instant | None = None
    ledger_reference: Literal["set", "none"] | None = None


class PaymentExpectation(StrictModel):
    """Expected payment of a run's invoiced total."""

    status: PaymentStatus | None = None
    amount: Amount | None = None


class RunExpectation(TotalsExpectation):
    """Expected fields of one realization run (voided runs included, in creation order).
    `allocations` lists every allocation amount in order (corrections are negative) and
    `allocations_booked_at` their booking times; `detailed_lines` every detailed line (length
    checked); `invoice_usage: null` and `payment: null` mean the run has none; `voided` whether
    it was voided (`deleted_at` set). `line_linked: true` means the run's `line_id` is the id of
    a live standard line billing its charge, `false` that it has none; `invoice_linked: true`
    that its `invoice_id` is the id of that line's invoice, `false` that it has none."""

    type: RunType | None = None
    service_period_to: Instant | None = None
    stored_at_lt: Instant | None = None
    metered_quantity: Amount | None = None
    no_fiat_transaction_required: bool | None = None
    detailed_lines: list[DetailedLineExpectation] | None = None
    allocations: list[Amount] | None = None
    allocations_booked_at: list[Instant] | None = None
    invoice_usage: InvoiceUsageExpectation | None = None
    payment: PaymentExpectation | None = None
    voided: bool | None = None
    line_linked: bool | None = None
    invoice_linked: bool | None = None


class GatheringLineExpectation(StrictModel):
    """A pending gathering line of the charge exists (with these fields, where given)."""

    engine: LineEngineType | None = None
    invoice_at: Instant | None = None


class ChargeExpectation(StrictModel):
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
    `service_period` its ``[from, to]`` (a line split by progressive billing covers a part of
    its charge's period); `kept_gathering_id` whether its id is the one its charge's gathering
    line had; `metered_quantity` the cumulative usage its run rated, `pre_line_quantity` what
    earlier runs rated, `quantity` the difference billed; `detailed_lines` every detailed line
    (length checked); `credits_applied` the amounts applied, in order; `collection_period_end`
    when late usage stops counting for it."""

    charge: str | None = None
    status: LineStatus | None = None
    service_period: tuple[Instant, Instant] | None = None
    kept_gathering_id: bool | None = None
    metered_quantity: Amount | None = None
    pre_line_quantity: Amount | None = None
    quantity: Amount | None = None
    detailed_lines: list[DetailedLineExpectation] | None = None
    credits_applied: list[Amount] | None = None
    collection_period_end: Instant | None = None


class InvoiceExpectation(TotalsExpectation):
    """Expected state of a standard invoice; `lines` lists every live line (length checked);
    `deleted` whether it was deleted for having no line left (it is then no longer listed);
    `history` every transition, as ``"from -> to"``."""

    status: InvoiceStatus | None = None
    collection_at: Instant | None = None
    deleted: bool | None = None
    lines: list[LineExpectation] | None = None
    history: list[InvoiceStatusTransition] | None = None


class PreviewExpectation(TotalsExpectation):
    """Expected preview of the customer's gathering lines at the step's clock
    (`billing.preview`): totals, every previewed line (length checked) and how many lines
    could not be rated."""

    lines: list[LineExpectation] | None = None
    unrated: int | None = None


class CustomerExpectation(StrictModel):
    """Expected credit `balance`, number of `pending_lines` and of listed (live) standard
    `invoices`; `gathering_lines`, every pending line (length checked); `preview`, what
    invoicing would bill now."""

    balance: Amount | None = None
    pending_lines: int | None = None
    invoices: int | None = None
    gathering_lines: list[LineExpectation] | None = None
    preview: PreviewExpectation | None = None

    def lines(self) -> list[tuple[str, LineExpectation]]:
        """The expected lines, each with its path below the customer."""
        named = [
            (f"gathering_lines[{n}]", line) for n, line in enumerate(self.gathering_lines or [])
        ]
        previewed = self.preview.lines or [] if self.preview else []
        return named + [(f"preview.lines[{n}]", line) for n, line in enumerate(previewed)]


class Expectation(StrictModel):
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
        for alias, customer in self.customers.items():
            for where, line in customer.lines():
                if line.charge is not None:
                    field = f"expect.customers.{alias}.{where}.charge"
                    used.append(AliasUse(field, "charge", line.charge))
        for alias, invoice in self.invoices.items():
            used.append(AliasUse(f"expect.invoices.{alias}", "invoice", alias))
            for number, line in enumerate(invoice.lines or []):
                if line.charge is not None:
                    field = f"expect.invoices.{alias}.lines[{number}].charge"
                    used.append(AliasUse(field, "charge", line.charge))
        return used


class ErrorExpectation(StrictModel):
    """The action must raise `type` (a class of `domain.errors`, or a subclass of it) and
    change nothing. `message` is a substring of the error's message; `charge` and `invoice`
    (aliases), `status`, `trigger` and `guard` are checked against the error's fields (the
    invoice is a billing error's `invoice_id`, or the subject of a refused invoice transition).
    A bare class name stands for ``{type: name}``."""

    class_name: str = Field(alias="type")
    message: str | None = None
    charge: str | None = None
    invoice: str | None = None
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
        """The charge and invoice aliases the error must name, if any."""
        used = []
        if self.charge is not None:
            used.append(AliasUse("expect_error.charge", "charge", self.charge))
        if self.invoice is not None:
            used.append(AliasUse("expect_error.invoice", "invoice", self.invoice))
        return used
