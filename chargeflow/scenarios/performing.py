"""Performing a scenario's actions through the public facade, and binding the aliases they
name to the ids the facade returns.

Each action is the facade call its model names, made as a user's script would make it. This
module must not check anything (comparing state with a step's expectations is
`chargeflow.scenarios.checking`'s job), nor open a unit of work of its own, nor read or write
the database behind the facade's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import singledispatchmethod

from chargeflow.app import App
from chargeflow.scenarios.actions import (
    Action,
    Advance,
    AdvanceInvoice,
    ApproveInvoice,
    ArchiveFeature,
    CreateCharge,
    CreateCustomer,
    CreateFeature,
    Delete,
    Fire,
    GatheringLineOf,
    GrantCredits,
    InvoicePendingLines,
    RecordPayment,
    RecordUsage,
    StandardLineOf,
    UpdateCustomer,
)
from chargeflow.scenarios.aliases import Bindings
from chargeflow.scenarios.checking import gathering_line, standard_line


class UnperformableStepError(Exception):
    """A step could not be performed as written (an alias without the line it needs...):
    `differences` says why, one line each, in the form of a failed check."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__("; ".join(differences))
        self.differences = differences


class Performer:
    """Performs actions against `app`, binding the aliases they name in `bindings`."""

    def __init__(self, app: App, bindings: Bindings) -> None:
        self.app = app
        self.bindings = bindings

    @singledispatchmethod
    def perform(self, action: Action) -> None:
        """Perform `action` through the facade, binding the alias it names. The app's error,
        if it raises one, propagates as it is; `UnperformableStepError` when the step cannot be
        performed as written."""
        # Each action class registers its own method below: only an action added to the
        # format without one gets here.
        raise TypeError(f"no way to perform a {type(action).__name__}")

    @perform.register
    def _create_customer(self, action: CreateCustomer) -> None:
        customer = self.app.customers.create(
            name=action.name,
            currency=action.currency,
            collection_interval=action.collection_interval,
            progressive_billing=action.progressive_billing,
            auto_approve=action.auto_approve,
        )
        self.bindings.customers[action.ref] = customer.id

    @perform.register
    def _update_customer(self, action: UpdateCustomer) -> None:
        self.app.customers.update(
            self.bindings.customers[action.customer],
            progressive_billing=action.progressive_billing,
            auto_approve=action.auto_approve,
        )

    @perform.register
    def _create_feature(self, action: CreateFeature) -> None:
        self.app.features.create(key=action.key, name=action.name)

    @perform.register
    def _archive_feature(self, action: ArchiveFeature) -> None:
        self.app.features.archive(action.key)

    @perform.register
    def _grant_credits(self, action: GrantCredits) -> None:
        self.app.credits.grant(
            self.bindings.customers[action.customer],
            amount=action.amount,
            granted_at=action.granted_at,
        )

    @perform.register
    def _create_charge(self, action: CreateCharge) -> None:
        charge = self.app.charges.create(
            customer_id=self.bindings.customers[action.customer],
            feature_key=action.feature_key,
            service_period=action.service_period,
            settlement_mode=action.settlement_mode,
            price=action.price,
            name=action.name,
            invoice_at=action.invoice_at,
        )
        self.bindings.charges[action.ref] = charge.id
        # Kept so a later check can tell whether an invoice line took over this line's id.
        gathering = gathering_line(self.app, charge)
        if gathering is not None:
            self.bindings.gathering_lines[action.ref] = gathering.id

    @perform.register
    def _record_usage(self, action: RecordUsage) -> None:
        for event in action.events:
            self.app.usage.record(
                self.bindings.customers[action.customer],
                action.feature_key,
                value=event.value,
                event_time=event.event_time,
                stored_at=event.stored_at,
            )

    @perform.register
    def _advance(self, action: Advance) -> None:
        if action.charge is not None:
            self.app.charges.advance(self.bindings.charges[action.charge])
        elif action.customer is not None:
            self.app.charges.advance(customer_id=self.bindings.customers[action.customer])
        elif action.due:
            _raise_first_failure(self.app.charges.advance_due().failed)
        else:
            _raise_first_failure(self.app.billing.advance_due().failed)

    @perform.register
    def _invoice(self, action: InvoicePendingLines) -> None:
        invoices = self.app.billing.invoice_pending_lines(
            self.bindings.customers[action.customer], action.as_of
        )
        if action.ref is None:
            return
        if len(invoices) != 1:
            raise UnperformableStepError([f"as: expected 1 invoice to bind, got {len(invoices)}"])
        self.bindings.invoices[action.ref] = invoices[0].id

    @perform.register
    def _advance_invoice(self, action: AdvanceInvoice) -> None:
        self.app.billing.advance_invoice(self.bindings.invoices[action.invoice])

    @perform.register
    def _approve_invoice(self, action: ApproveInvoice) -> None:
        self.app.billing.approve_invoice(self.bindings.invoices[action.invoice])

    @perform.register
    def _record_payment(self, action: RecordPayment) -> None:
        self.app.billing.record_payment(self.bindings.invoices[action.invoice], action.status)

    @perform.register
    def _fire(self, action: Fire) -> None:
        arguments = {name: self._argument(name, value) for name, value in action.arguments.items()}
        self.app.charges.fire(self.bindings.charges[action.charge], action.trigger, **arguments)

    @perform.register
    def _delete(self, action: Delete) -> None:
        self.app.charges.delete(self.bindings.charges[action.charge], policy=action.policy)

    def _argument(self, name: str, value: str | StandardLineOf | GatheringLineOf) -> str:
        """A literal argument, or the id of the line a reference names."""
        if isinstance(value, str):
            return value
        if isinstance(value, StandardLineOf):
            alias, kind = value.line_of, "standard"
            line = standard_line(self.app, self.app.charges.get(self.bindings.charges[alias]))
        else:
            alias, kind = value.gathering_line_of, "gathering"
            line = gathering_line(self.app, self.app.charges.get(self.bindings.charges[alias]))
        if line is None:
            raise UnperformableStepError(
                [f"arguments.{name}: expected a {kind} line of charge {alias}, got none"]
            )
        return line.id


def _raise_first_failure(failed: Mapping[str, Exception]) -> None:
    """Raise the error of the first charge or invoice a sweep could not advance, if any (the
    sweep went on past it: what it did advance stays advanced)."""
    if failed:
        raise next(iter(failed.values()))
