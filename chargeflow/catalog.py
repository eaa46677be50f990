"""The facade over customers and features: who is billed, and for what."""

from __future__ import annotations

from domain.clock import Clock
from domain.customer import Customer
from domain.errors import ConflictError, NotFoundError
from domain.feature import Feature
from domain.validation import build
from persistence.ports import UnitOfWorkFactory


class Customers:
    """Create and read customers."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock) -> None:
        self._uows = uows
        self._clock = clock

    def create(self, *, name: str, currency: str, collection_interval: str = "PT0S") -> Customer:
        """A new customer billed in `currency` (ISO 4217) with an ISO-8601 collection interval.

        Raises `InvalidInputError` for an empty name, unknown currency or bad duration.
        """
        customer = build(
            Customer,
            name=name,
            currency=currency,
            collection_interval=collection_interval,
            created_at=self._clock.now(),
        )
        with self._uows() as uow:
            uow.customers.add(customer)
            uow.commit()
        return customer

    def get(self, customer_id: str) -> Customer:
        """The customer; `NotFoundError`."""
        with self._uows() as uow:
            return uow.customers.get(customer_id)


class Features:
    """Register, look up and archive features."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock) -> None:
        self._uows = uows
        self._clock = clock

    def create(self, *, key: str, name: str | None = None) -> Feature:
        """Register a feature under `key`; `ConflictError` if a live feature already has it."""
        feature = build(Feature, key=key, name=name or key, created_at=self._clock.now())
        with self._uows() as uow:
            if uow.features.live_by_key(feature.key) is not None:
                raise ConflictError(f"feature key {feature.key!r} is already registered")
            uow.features.add(feature)
            uow.commit()
        return feature

    def get(self, key: str) -> Feature:
        """The live feature registered under `key`; `NotFoundError`."""
        with self._uows() as uow:
            feature = uow.features.live_by_key(key)
        if feature is None:
            raise NotFoundError("feature", key)
        return feature

    def archive(self, key: str) -> Feature:
        """Archive the live feature under `key`, freeing the key; `NotFoundError`."""
        with self._uows() as uow:
            feature = uow.features.live_by_key(key)
            if feature is None:
                raise NotFoundError("feature", key)
            archived = uow.features.archive(feature.id, self._clock.now())
            uow.commit()
        return archived
