"""What a scenario step does: the action models, told apart by their key (`ACTION_NAMES`).

Each action names the facade call it stands for and declares the aliases it binds and refers
to (`binds`, `uses`), so loading can check them before anything runs. Domain values (currencies,
prices, policies, settlement modes, triggers, payment events) pass through untouched, so a
scenario can exercise the library's own refusals of them. This module must not run anything:
performing an action is `chargeflow.scenarios.performing`'s job.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from chargeflow.domain.money import Amount
from chargeflow.domain.timestamps import Instant
from chargeflow.scenarios.aliases import AliasUse
from chargeflow.scenarios.strict import StrictModel


class _Action(StrictModel):
    """An action: what a step does. `binds` and `uses` declare its aliases."""

    def binds(self) -> AliasUse | None:
        """The alias this action binds when it succeeds."""
        return None

    def uses(self) -> list[AliasUse]:
        """The aliases this action refers to; each must be bound by an earlier step."""
        return []


class CreateCustomer(_Action):
    """`app.customers.create`; binds the customer to `as`. `progressive_billing` lets usage be
    invoiced mid-period, `auto_approve` issues an invoice as soon as its collection completes
    (both off unless given)."""

    kind: Literal["create_customer"]
    ref: str = Field(alias="as", min_length=1)
    name: str
    currency: str
    collection_interval: str = "PT0S"
    progressive_billing: bool = False
    auto_approve: bool = False

    def binds(self) -> AliasUse:
        return AliasUse("as", "customer", self.ref)


class UpdateCustomer(_Action):
    """`app.customers.update`: change the customer's billing profile (what is left out stays;
    invoices already created keep the approval setting they were created with)."""

    kind: Literal["update_customer"]
    customer: str
    progressive_billing: bool | None = None
    auto_approve: bool | None = None

    def uses(self) -> list[AliasUse]:
        return [AliasUse("customer", "customer", self.customer)]


class CreateFeature(_Action):
    """`app.features.create`."""

    kind: Literal["create_feature"]
    key: str
    name: str | None = None


class ArchiveFeature(_Action):
    """`app.features.archive`."""

    kind: Literal["archive_feature"]
    key: str


class GrantCredits(_Action):
    """`app.credits.grant` to `customer`."""

    kind: Literal["grant_credits"]
    customer: str
    amount: Amount
    granted_at: Instant | None = None

    def uses(self) -> list[AliasUse]:
        return [AliasUse("customer", "customer", self.customer)]


class CreateCharge(_Action):
    """`app.charges.create` for `customer`; binds the charge to `as`. Leaving `price` out
    passes none, which the library refuses (a scenario of the missing-price refusal)."""

    kind: Literal["create_charge"]
    ref: str = Field(alias="as", min_length=1)
    customer: str
    feature_key: str
    service_period: tuple[Instant, Instant]
    settlement_mode: str
    price: dict[str, Any] | None = None
    name: str | None = None
    invoice_at: Instant | None = None

    def binds(self) -> AliasUse:
        return AliasUse("as", "charge", self.ref)

    def uses(self) -> list[AliasUse]:
        return [AliasUse("customer", "customer", self.customer)]


class UsageEventSpec(StrictModel):
    """One usage event; `stored_at` defaults to `event_time`."""

    value: Amount
    event_time: Instant
    stored_at: Instant | None = None


class RecordUsage(_Action):
    """`app.usage.record`, once per event in order. One event may be written inline
    (`value`, `event_time`, `stored_at`) instead of as `events: [...]`."""

    kind: Literal["record_usage"]
    customer: str
    feature_key: str
    events: list[UsageEventSpec] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _inline_event(cls, data: Any) -> Any:
        inline = {"value", "event_time", "stored_at"}
        if not isinstance(data, dict) or not inline & data.keys():
            return data
        if "events" in data:
            raise ValueError("give either one inline event or `events`, not both")
        event = {key: data[key] for key in inline & data.keys()}
        rest = {key: value for key, value in data.items() if key not in inline}
        return {**rest, "events": [event]}

    def uses(self) -> list[AliasUse]:
        return [AliasUse("customer", "customer", self.customer)]


class Advance(_Action):
    """`app.charges.advance(charge)`, `advance(customer_id=customer)`, with `due: true`
    `app.charges.advance_due()`, or with `invoices_due: true` `app.billing.advance_due()` (every
    invoice whose collection time has come). A charge or invoice a sweep could not advance
    raises its error (the first one reported)."""

    kind: Literal["advance"]
    charge: str | None = None
    customer: str | None = None
    due: Literal[True] | None = None
    invoices_due: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Advance:
        targets = (self.charge, self.customer, self.due, self.invoices_due)
        if sum(target is not None for target in targets) != 1:
            raise ValueError(
                "advance takes exactly one of `charge`, `customer`, `due: true` or "
                "`invoices_due: true`"
            )
        return self

    def uses(self) -> list[AliasUse]:
        if self.charge is not None:
            return [AliasUse("charge", "charge", self.charge)]
        if self.customer is not None:
            return [AliasUse("customer", "customer", self.customer)]
        return []


class InvoicePendingLines(_Action):
    """`app.billing.invoice_pending_lines(customer, as_of)`; binds the invoice to `as` (the
    call must then return exactly one invoice)."""

    kind: Literal["invoice"]
    customer: str
    ref: str | None = Field(default=None, alias="as", min_length=1)
    as_of: Instant | None = None

    def binds(self) -> AliasUse | None:
        return None if self.ref is None else AliasUse("as", "invoice", self.ref)

    def uses(self) -> list[AliasUse]:
        return [AliasUse("customer", "customer", self.customer)]


class AdvanceInvoice(_Action):
    """`app.billing.advance_invoice`: collection completes once its time has come (and an
    auto-approved invoice is issued)."""

    kind: Literal["advance_invoice"]
    invoice: str

    def uses(self) -> list[AliasUse]:
        return [AliasUse("invoice", "invoice", self.invoice)]


class ApproveInvoice(_Action):
    """`app.billing.approve_invoice`: an invoice waiting for manual approval is issued."""

    kind: Literal["approve_invoice"]
    invoice: str

    def uses(self) -> list[AliasUse]:
        return [AliasUse("invoice", "invoice", self.invoice)]


class RecordPayment(_Action):
    """`app.billing.record_payment(invoice, status)`: the invoice's payment was `authorized`
    or `paid` (any other text is passed on, for the library to refuse)."""

    kind: Literal["record_payment"]
    invoice: str
    status: str

    def uses(self) -> list[AliasUse]:
        return [AliasUse("invoice", "invoice", self.invoice)]


class StandardLineOf(StrictModel):
    """An argument that is the id of the latest live standard line billing charge `line_of`."""

    line_of: str


class GatheringLineOf(StrictModel):
    """An argument that is the id of charge `gathering_line_of`'s pending gathering line."""

    gathering_line_of: str


class Fire(_Action):
    """`app.charges.fire(charge, trigger, **arguments)`; an argument is a literal string or
    a line reference (`{line_of: alias}`, `{gathering_line_of: alias}`). The billing triggers
    (`invoice_created`, `collection_completed`, `invoice_issued`) are refused by the library:
    a scenario may only show that refusal, and reaches them through `invoice`,
    `advance_invoice` and `approve_invoice`."""

    kind: Literal["fire"]
    charge: str
    trigger: str
    arguments: dict[str, str | StandardLineOf | GatheringLineOf] = Field(default_factory=dict)

    def uses(self) -> list[AliasUse]:
        used = [AliasUse("charge", "charge", self.charge)]
        for name, argument in self.arguments.items():
            if isinstance(argument, StandardLineOf):
                used.append(AliasUse(f"arguments.{name}.line_of", "charge", argument.line_of))
            elif isinstance(argument, GatheringLineOf):
                field = f"arguments.{name}.gathering_line_of"
                used.append(AliasUse(field, "charge", argument.gathering_line_of))
        return used


class Delete(_Action):
    """`app.charges.delete(charge, policy=policy)`."""

    kind: Literal["delete"]
    charge: str
    policy: str

    def uses(self) -> list[AliasUse]:
        return [AliasUse("charge", "charge", self.charge)]


Action = Annotated[
    CreateCustomer
    | UpdateCustomer
    | CreateFeature
    | ArchiveFeature
    | GrantCredits
    | CreateCharge
    | RecordUsage
    | Advance
    | InvoicePendingLines
    | AdvanceInvoice
    | ApproveInvoice
    | RecordPayment
    | Fire
    | Delete,
    Field(discriminator="kind"),
]
"""Every action, told apart by its key."""

ACTION_NAMES: tuple[str, ...] = tuple(
    get_args(model.model_fields["kind"].annotation)[0] for model in get_args(get_args(Action)[0])
)
"""The action keys a step may have."""
