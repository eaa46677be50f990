"""``chargeflow customers | features | usage | credits``: who is billed, for what, what they
used and the credit they hold."""

from __future__ import annotations

from typing import Annotated

import typer

from chargeflow.cli.session import session_of
from chargeflow.domain.customer import Customer
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.ids import IdKind
from chargeflow.presenting import (
    customers_table,
    features_table,
    money,
    show_customer,
    usage_table,
)

customers_cli = typer.Typer(help="Customers and their billing profile.", no_args_is_help=True)
features_cli = typer.Typer(help="Metered features.", no_args_is_help=True)
usage_cli = typer.Typer(help="Usage events.", no_args_is_help=True)
credits_cli = typer.Typer(help="Promotional credit.", no_args_is_help=True)

CustomerId = Annotated[str, typer.Argument(metavar="CUSTOMER", help="Customer id (or its suffix).")]


def _customer_summary(customer: Customer) -> str:
    """One line: the customer's id, name and billing profile."""
    return (
        f"customer {customer.id} {customer.name}: progressive billing "
        f"{customer.progressive_billing}, auto approve {customer.auto_approve}"
    )


@customers_cli.command("create")
def customers_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Customer name.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. USD.")],
    collection_interval: Annotated[str, typer.Option(help="ISO-8601 duration.")] = "PT0S",
    progressive_billing: Annotated[
        bool, typer.Option(help="Usage may be invoiced before its period ends.")
    ] = False,
    auto_approve: Annotated[
        bool, typer.Option(help="Invoices are issued as soon as collection completes.")
    ] = False,
) -> None:
    """Create a customer."""
    session = session_of(ctx)
    customer = session.app().customers.create(
        name=name,
        currency=currency,
        collection_interval=collection_interval,
        progressive_billing=progressive_billing,
        auto_approve=auto_approve,
    )
    session.emit(customer, _customer_summary(customer))


@customers_cli.command("update")
def customers_update(
    ctx: typer.Context,
    customer_id: CustomerId,
    progressive_billing: Annotated[
        bool | None, typer.Option(help="Usage may be invoiced before its period ends.")
    ] = None,
    auto_approve: Annotated[
        bool | None, typer.Option(help="Invoices are issued as soon as collection completes.")
    ] = None,
) -> None:
    """Change a customer's billing profile; what is not given stays."""
    session = session_of(ctx)
    customer = session.app().customers.update(
        session.resolve(IdKind.CUSTOMER, customer_id),
        progressive_billing=progressive_billing,
        auto_approve=auto_approve,
    )
    session.emit(customer, _customer_summary(customer))


@customers_cli.command("list")
def customers_list(ctx: typer.Context) -> None:
    """List customers, oldest first."""
    session = session_of(ctx)
    customers = session.app().customers.list()
    session.emit(customers, customers_table(customers, session.wide))


@customers_cli.command("show")
def customers_show(ctx: typer.Context, customer_id: CustomerId) -> None:
    """Show a customer with its credit balance."""
    session = session_of(ctx)
    app = session.app()
    customer = app.customers.get(session.resolve(IdKind.CUSTOMER, customer_id))
    balance = app.credits.balance(customer.id)
    shown = {**customer.model_dump(mode="json"), "balance": str(balance)}
    session.emit(shown, show_customer(customer, balance))


@features_cli.command("create")
def features_create(
    ctx: typer.Context,
    key: Annotated[str, typer.Option(help="The key usage is recorded under.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the key).")] = None,
) -> None:
    """Register a feature."""
    session = session_of(ctx)
    feature = session.app().features.create(key=key, name=name)
    session.emit(feature, f"feature {feature.id} ({feature.key})")


@features_cli.command("list")
def features_list(
    ctx: typer.Context,
    include_archived: Annotated[bool, typer.Option("--all", help="Archived features too.")] = False,
) -> None:
    """List live features by key (with --all, archived ones too)."""
    session = session_of(ctx)
    features = session.app().features.list(include_archived=include_archived)
    session.emit(features, features_table(features))


@features_cli.command("archive")
def features_archive(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="Feature key.")]
) -> None:
    """Archive the live feature under KEY (the key is free again)."""
    session = session_of(ctx)
    feature = session.app().features.archive(key)
    session.emit(feature, f"feature {feature.id} ({feature.key}) archived")


@usage_cli.command("record")
def usage_record(
    ctx: typer.Context,
    customer: CustomerId,
    feature: Annotated[str, typer.Argument(help="Feature key.")],
    value: Annotated[str, typer.Option(help="Decimal value.")],
    event_time: Annotated[str, typer.Option(help="ISO-8601 instant.")],
    stored_at: Annotated[str | None, typer.Option(help="Default: the event time.")] = None,
) -> None:
    """Record a usage event."""
    session = session_of(ctx)
    event = session.app().usage.record(
        session.resolve(IdKind.CUSTOMER, customer),
        feature,
        value=value,
        event_time=event_time,
        stored_at=stored_at,
    )
    session.emit(event, f"usage {event.id}: {event.value} of {event.feature_key}")


@usage_cli.command("list")
def usage_list(
    ctx: typer.Context,
    customer: CustomerId,
    feature: Annotated[str | None, typer.Option(help="Only this feature key.")] = None,
    period_from: Annotated[
        str | None, typer.Option("--from", help="Events at or after this instant.")
    ] = None,
    period_to: Annotated[
        str | None, typer.Option("--to", help="Events before this instant.")
    ] = None,
) -> None:
    """List a customer's usage events by event time (--from and --to go together)."""
    session = session_of(ctx)
    if (period_from is None) != (period_to is None):
        raise InvalidInputError("usage list takes both --from and --to, or neither")
    period = (period_from, period_to) if period_from and period_to else None
    events = session.app().usage.list(
        session.resolve(IdKind.CUSTOMER, customer), feature, period=period
    )
    session.emit(events, usage_table(events))


@credits_cli.command("grant")
def credits_grant(
    ctx: typer.Context,
    customer: CustomerId,
    amount: Annotated[str, typer.Option(help="Decimal amount.")],
    granted_at: Annotated[str | None, typer.Option(help="Default: now.")] = None,
) -> None:
    """Grant promotional credit."""
    session = session_of(ctx)
    app = session.app()
    who = app.customers.get(session.resolve(IdKind.CUSTOMER, customer))
    grant = app.credits.grant(who.id, amount=amount, granted_at=granted_at)
    session.emit(grant, f"grant {grant.id}: {money(grant.amount, who.currency)}", who.currency)


@credits_cli.command("balance")
def credits_balance(ctx: typer.Context, customer: CustomerId) -> None:
    """A customer's unallocated credit (negative when credit_only charges overdrew)."""
    session = session_of(ctx)
    app = session.app()
    who = app.customers.get(session.resolve(IdKind.CUSTOMER, customer))
    balance = app.credits.balance(who.id)
    shown = {"customer_id": who.id, "currency": who.currency, "balance": str(balance)}
    session.emit(shown, f"{money(balance, who.currency)} {who.currency}")
