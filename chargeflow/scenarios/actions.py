"""What a scenario step does: the action models, told apart by their key (`ACTION_NAMES`).

Each action names the facade call it stands for and declares the aliases it binds and refers
to (`binds`, `uses`), so loading can check them before anything runs. Domain values (currencies,
prices, policies, settlement modes, triggers) pass through untouched, so a scenario can exercise
the library's own refusals of them. This module must not run anything: performing an action is
`chargeflow.scenarios.performing`'s job.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from chargeflow.scenarios.aliases import AliasUse
from chargeflow.scenarios.strict import StrictModel
from domain.money import Amount
from domain.timestamps import Instant


class _Action(StrictModel):
    """An action: what a step does. `binds` and `uses` declare its aliases."""

    def binds(self) -> AliasUse | None:
        """The alias this action binds when it succeeds."""
        return None

    def uses(self) -> list[AliasUse]:
        """The aliases this action refers to; each must be bound by an earlier step."""
        return []


class CreateCustomer(_Action):
    """`app.customers.create`; binds the customer to `as`."""

    kind: Literal["create_customer"]
    ref: str = Field(alias="as", min_length=1)
    name: str
    currency: str
    collection_interval: str = "PT0S"

    def binds(self) -> AliasUse:
        return AliasUse("as", "customer", self.ref)


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
    """`app.charges.advance(charge)`, `advance(customer_id=customer)` or, with `due: true`,
    `advance_due()` (a charge the sweep could not advance raises its error)."""

    kind: Literal["advance"]
    charge: str | None = None
    customer: str | None = None
    due: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Advance:
        if sum(target is not None for target in (self.charge, self.customer, self.due)) != 1:
            raise ValueError("advance takes exactly one of `charge`, `customer` or `due: true`")
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
    """`app.billing.advance_invoice`: collection completes once its time has come."""

    kind: Literal["advance_invoice"]
    invoice: str

    def uses(self) -> list[AliasUse]:
        return [AliasUse("invoice", "invoice", self.invoice)]


class StandardLineOf(StrictModel):
    """An argument that is the id of the persisted standard line billing charge `line_of`."""

    line_of: str


class GatheringLineOf(StrictModel):
    """An argument that is the id of charge `gathering_line_of`'s pending gathering line."""

    gathering_line_of: str


class Fire(_Action):
    """`app.charges.fire(charge, trigger, **arguments)`; an argument is a literal string or
    a line reference (`{line_of: alias}`, `{gathering_line_of: alias}`)."""

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
    | CreateFeature
    | ArchiveFeature
    | GrantCredits
    | CreateCharge
    | RecordUsage
    | Advance
    | InvoicePendingLines
    | AdvanceInvoice
    | Fire
    | Delete,
    Field(discriminator="kind"),
]
"""Every action, told apart by its key."""

ACTION_NAMES: tuple[str, ...] = tuple(
    get_args(model.model_fields["kind"].annotation)[0] for model in get_args(get_args(Action)[0])
)
"""The action keys a step may have."""
