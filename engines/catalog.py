"""The catalog use cases: customers and the features they are metered on. Each takes an
`Operation` first."""

from __future__ import annotations

from chargeflow.domain.customer import Customer
from chargeflow.domain.errors import ConflictError, NotFoundError
from chargeflow.domain.feature import Feature
from chargeflow.domain.validation import build
from chargeflow.engines.operation import Operation


def create_customer(
    op: Operation,
    *,
    name: str,
    currency: str,
    collection_interval: str,
    progressive_billing: bool,
    auto_approve: bool,
) -> Customer:
    """A new customer with its billing profile.

    Raises `InvalidInputError` for an empty name, unknown currency, bad duration or a setting
    that is not a boolean.
    """
    customer = build(
        Customer,
        name=name,
        currency=currency,
        collection_interval=collection_interval,
        progressive_billing=progressive_billing,
        auto_approve=auto_approve,
        created_at=op.now,
    )
    op.uow.customers.add(customer)
    return customer


def update_customer(
    op: Operation,
    customer_id: str,
    *,
    progressive_billing: bool | None,
    auto_approve: bool | None,
) -> Customer:
    """The customer with the settings given changed (the others kept), stored.
    `NotFoundError`, `InvalidInputError` for a setting that is not a boolean."""
    customer = op.uow.customers.lock_billing(customer_id)
    changes = {
        name: value
        for name, value in (
            ("progressive_billing", progressive_billing),
            ("auto_approve", auto_approve),
        )
        if value is not None
    }
    updated = build(Customer, **{**customer.model_dump(), **changes})
    op.uow.customers.save(updated)
    return updated


def get_customer(op: Operation, customer_id: str) -> Customer:
    """The customer; `NotFoundError`."""
    return op.uow.customers.get(customer_id)


def list_customers(op: Operation) -> list[Customer]:
    """Every customer, oldest first."""
    return op.uow.customers.list()


def create_feature(op: Operation, *, key: str, name: str | None) -> Feature:
    """Register a feature under `key`; `ConflictError` if a live feature already has it."""
    feature = build(Feature, key=key, name=name or key, created_at=op.now)
    if op.uow.features.live_by_key(feature.key) is not None:
        raise ConflictError(f"feature key {feature.key!r} is already registered")
    op.uow.features.add(feature)
    return feature


def get_feature(op: Operation, key: str) -> Feature:
    """The live feature registered under `key`; `NotFoundError`."""
    feature = op.uow.features.live_by_key(key)
    if feature is None:
        raise NotFoundError("feature", key)
    return feature


def list_features(op: Operation, *, include_archived: bool) -> list[Feature]:
    """The live features by key; with `include_archived` the archived ones too, each key's
    features oldest first (the live one, the newest, last)."""
    return op.uow.features.list(include_archived=include_archived)


def archive_feature(op: Operation, key: str) -> Feature:
    """Archive the live feature under `key`, freeing the key; `NotFoundError`."""
    return op.uow.features.archive(get_feature(op, key).id, op.now)
