"""The facade over usage-based charges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.charge import SettlementMode, UsageBasedCharge
from domain.errors import InvalidInputError
from domain.history import TransitionRecord
from domain.triggers import DeletePolicy, Trigger
from engines.charges import AdvanceReport, ChargeEngine


class Charges:
    """Create charges, drive them with triggers, and read them back."""

    def __init__(self, engine: ChargeEngine) -> None:
        self._engine = engine

    def create(
        self,
        *,
        customer_id: str,
        feature_key: str,
        service_period: tuple[datetime | str, datetime | str] | dict[str, Any],
        settlement_mode: SettlementMode | str,
        price: Any,
        name: str | None = None,
        invoice_at: datetime | str | None = None,
    ) -> UsageBasedCharge:
        """Create a charge (see `ChargeEngine.create`); `price` may be a plain dict."""
        return self._engine.create(
            customer_id=customer_id,
            feature_key=feature_key,
            service_period=service_period,
            settlement_mode=settlement_mode,
            price=price,
            name=name,
            invoice_at=invoice_at,
        )

    def get(self, charge_id: str) -> UsageBasedCharge:
        """The charge with its runs and allocations."""
        return self._engine.get(charge_id)

    def history(self, charge_id: str) -> list[TransitionRecord]:
        """The charge's transitions (from the `charge_transitions` audit log)."""
        return self._engine.history(charge_id)

    def advance(
        self, charge_id: str | None = None, *, customer_id: str | None = None
    ) -> list[UsageBasedCharge]:
        """Advance one charge, or every charge of `customer_id`, until stable; those that moved."""
        if (charge_id is None) == (customer_id is None):
            raise InvalidInputError("advance takes exactly one of charge_id or customer_id")
        if customer_id is not None:
            return self._engine.advance_customer(customer_id)
        assert charge_id is not None
        moved = self._engine.advance(charge_id)
        return [moved] if moved else []

    def advance_due(
        self, batch_size: int = 500, visited: Callable[[str], None] | None = None
    ) -> AdvanceReport:
        """Advance every charge whose `advance_after` has come; `visited(charge_id)` is called
        after each charge is handled."""
        return self._engine.advance_due(batch_size, visited)

    def fire(self, charge_id: str, trigger: Trigger | str, **arguments: Any) -> UsageBasedCharge:
        """Fire one trigger with its arguments, e.g. ``fire(id, "delete", policy="correct")``."""
        return self._engine.fire(charge_id, trigger, arguments)

    def delete(self, charge_id: str, *, policy: DeletePolicy | str) -> UsageBasedCharge:
        """Delete the charge; `policy` says whether its credits are given back (`correct`)."""
        return self._engine.delete(charge_id, policy)

    def list(self, customer_id: str | None = None) -> list[UsageBasedCharge]:
        """Every charge, or one customer's, oldest first. (Last: it shadows `list` below it.)"""
        return self._engine.list(customer_id)
