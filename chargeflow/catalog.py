"""The facade over customers and features: who is billed, and for what. It only forwards to
the catalog use cases (`engines.catalog`)."""

from __future__ import annotations

from chargeflow.domain.customer import Customer
from chargeflow.domain.feature import Feature
from chargeflow.domain.text import lookup_id
from chargeflow.engines import catalog
from chargeflow.engines.operation import Operations


class Customers:
    """Create and read customers."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    def create(
        self,
        *,
        name: str,
        currency: str,
        collection_interval: str = "PT0S",
        progressive_billing: bool = False,
        auto_approve: bool = False,
    ) -> Customer:
        """A new customer billed in `currency` (ISO 4217) with an ISO-8601 collection interval;
        `progressive_billing` lets usage be invoiced mid-period, `auto_approve` issues invoices
        as soon as their collection completes.

        Raises `InvalidInputError` for an empty name, unknown currency or bad duration.
        """
        return self._operations.run(
            catalog.create_customer,
            name=name,
            currency=currency,
            collection_interval=collection_interval,
            progressive_billing=progressive_billing,
            auto_approve=auto_approve,
        )

    def update(
        self,
        customer_id: str,
        *,
        progressive_billing: bool | None = None,
        auto_approve: bool | None = None,
    ) -> Customer:
        """Change the customer's billing profile (what is not given stays); the customer.
        Invoices already created keep the approval setting they were created with."""
        return self._operations.run(
            catalog.update_customer,
            lookup_id(customer_id, "customer"),
            progressive_billing=progressive_billing,
            auto_approve=auto_approve,
        )

    def get(self, customer_id: str) -> Customer:
        """The customer; `NotFoundError`."""
        return self._operations.run(catalog.get_customer, lookup_id(customer_id, "customer"))

    def list(self) -> list[Customer]:
        """Every customer, oldest first."""
        return self._operations.run(catalog.list_customers)


class Features:
    """Register, look up and archive features."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    def create(self, *, key: str, name: str | None = None) -> Feature:
        """Register a feature under `key`; `ConflictError` if a live feature already has it."""
        return self._operations.run(catalog.create_feature, key=key, name=name)

    def get(self, key: str) -> Feature:
        """The live feature registered under `key`; `NotFoundError`."""
        return self._operations.run(catalog.get_feature, lookup_id(key, "feature"))

    def archive(self, key: str) -> Feature:
        """Archive the live feature under `key`, freeing the key; `NotFoundError`."""
        return self._operations.run(catalog.archive_feature, lookup_id(key, "feature"))

    def list(self, *, include_archived: bool = False) -> list[Feature]:
        """The live features by key; with `include_archived` the archived ones too, each key's
        features oldest first."""
        return self._operations.run(catalog.list_features, include_archived=include_archived)
