"""The facade over customers and features: who is billed, and for what. It only forwards to
the catalog use cases (`engines.catalog`)."""

from __future__ import annotations

from domain.customer import Customer
from domain.feature import Feature
from engines import catalog
from engines.operation import Operations


class Customers:
    """Create and read customers."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    def create(self, *, name: str, currency: str, collection_interval: str = "PT0S") -> Customer:
        """A new customer billed in `currency` (ISO 4217) with an ISO-8601 collection interval.

        Raises `InvalidInputError` for an empty name, unknown currency or bad duration.
        """
        return self._operations.run(
            catalog.create_customer,
            name=name,
            currency=currency,
            collection_interval=collection_interval,
        )

    def get(self, customer_id: str) -> Customer:
        """The customer; `NotFoundError`."""
        return self._operations.run(catalog.get_customer, customer_id)


class Features:
    """Register, look up and archive features."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    def create(self, *, key: str, name: str | None = None) -> Feature:
        """Register a feature under `key`; `ConflictError` if a live feature already has it."""
        return self._operations.run(catalog.create_feature, key=key, name=name)

    def get(self, key: str) -> Feature:
        """The live feature registered under `key`; `NotFoundError`."""
        return self._operations.run(catalog.get_feature, key)

    def archive(self, key: str) -> Feature:
        """Archive the live feature under `key`, freeing the key; `NotFoundError`."""
        return self._operations.run(catalog.archive_feature, key)
