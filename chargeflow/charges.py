"""The facade over usage-based charges. It only converts input and forwards to the charge use
cases (`engines.charges`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from chargeflow.domain.charge import SettlementMode, UsageBasedCharge
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.history import ChargeTransition
from chargeflow.domain.text import lookup_id
from chargeflow.domain.trigger_options import ChargeTriggers
from chargeflow.domain.triggers import DeletePolicy, Trigger
from chargeflow.engines import charges
from chargeflow.engines.charge_triggers import charge_triggers
from chargeflow.engines.charges import ChargeSweeps
from chargeflow.engines.operation import Operations
from chargeflow.engines.sweeps import AdvanceReport


class Charges:
    """Create charges, drive them with triggers, and read them back."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations
        self._sweeps = ChargeSweeps(operations)

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
        unique_reference_id: str | None = None,
    ) -> UsageBasedCharge:
        """Create a charge in `created` (a credit_only charge is advanced at once, a
        credit_then_invoice charge gets its gathering line); `price` may be a plain dict. With
        `unique_reference_id`, creating again returns the customer's first charge of that
        reference unchanged (safe retries).

        Raises `InvalidInputError` for an invalid intent, `NotFoundError` for an unknown
        customer or feature key.
        """
        return self._operations.run(
            charges.create_charge,
            customer_id=lookup_id(customer_id, "customer"),
            feature_key=feature_key,
            service_period=service_period,
            settlement_mode=settlement_mode,
            price=price,
            name=name,
            invoice_at=invoice_at,
            unique_reference_id=unique_reference_id,
        )

    def create_many(self, intents: Iterable[Mapping[str, Any]]) -> list[UsageBasedCharge]:
        """Create one charge per intent (a mapping of `create`'s keyword arguments), in order,
        in one transaction: all of them, or none. Much faster than one `create` each (a billing
        cycle's charges made at once); retries are as safe (`unique_reference_id`).

        Raises `InvalidInputError` for more than 100,000 intents or an intent that is not such
        a mapping, else the first refused intent's error (as `create` raises it), with a note
        naming its position; nothing is created then.
        """
        if isinstance(intents, Mapping) or not isinstance(intents, Iterable):
            raise InvalidInputError("intents must be a list of mappings of create's arguments")
        return self._operations.run(charges.create_charges, list(intents))

    def get(self, charge_id: str) -> UsageBasedCharge:
        """The charge with its runs and allocations."""
        return self._operations.run(charges.get_charge, lookup_id(charge_id, "charge"))

    def history(self, charge_id: str) -> list[ChargeTransition]:
        """The charge's transitions (from the `charge_transitions` audit log)."""
        return self._operations.run(charges.charge_history, lookup_id(charge_id, "charge"))

    def triggers(self, charge_id: str) -> ChargeTriggers:
        """Which triggers may fire at the charge now and why not the others (the status it
        stands in, or the guard failing with the values it compared), and what advancing now
        would do (the statuses it would pass through). Writes nothing: the advance is rehearsed
        in a transaction that is rolled back."""
        return self._operations.rehearse(charge_triggers, lookup_id(charge_id, "charge"))

    def advance(
        self, charge_id: str | None = None, *, customer_id: str | None = None
    ) -> list[UsageBasedCharge]:
        """Advance one charge, or every charge of `customer_id`, until stable; those that moved."""
        if customer_id is not None and charge_id is None:
            return self._sweeps.advance_customer(lookup_id(customer_id, "customer"))
        if charge_id is None or customer_id is not None:
            raise InvalidInputError("advance takes exactly one of charge_id or customer_id")
        moved = self._operations.run(charges.advance_charge, lookup_id(charge_id, "charge"))
        return [moved] if moved else []

    def advance_due(
        self,
        batch_size: int = 500,
        visited: Callable[[str], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> AdvanceReport:
        """Advance every charge whose `advance_after` has come, `batch_size` per transaction,
        each isolated (one that fails is reported in `failed`); `visited(charge_id)` is called
        for each charge once its batch is committed; `stop()` ends the sweep after the batch in
        flight. Several processes may sweep one PostgreSQL database at once: each claims the
        charges no other holds."""
        return self._sweeps.advance_due(batch_size, visited, stop)

    def fire(self, charge_id: str, trigger: Trigger | str, **arguments: Any) -> UsageBasedCharge:
        """Fire one trigger with its arguments, e.g. ``fire(id, "delete", policy="correct")``."""
        charge_id = lookup_id(charge_id, "charge")
        return self._operations.run(charges.fire_trigger, charge_id, trigger, arguments)

    def delete(self, charge_id: str, *, policy: DeletePolicy | str) -> UsageBasedCharge:
        """Delete the charge; `policy` says whether its credits are given back (`correct`)."""
        return self._operations.run(charges.delete_charge, lookup_id(charge_id, "charge"), policy)

    def extend(self, charge_id: str, *, to: datetime | str) -> UsageBasedCharge:
        """Extend the service period to the later `to`; the charge as it now stands (not
        advanced: the next advance or due sweep goes on). `InvalidPeriodChangeError` for an end
        not after the current one."""
        return self._operations.run(charges.extend_charge, lookup_id(charge_id, "charge"), to)

    def shrink(self, charge_id: str, *, to: datetime | str) -> UsageBasedCharge:
        """Shrink the service period to the earlier `to` (still after its start); the charge as
        it now stands. `InvalidPeriodChangeError` for an end outside the period or one that
        would cut an invoiced run."""
        return self._operations.run(charges.shrink_charge, lookup_id(charge_id, "charge"), to)

    def list(self, customer_id: str | None = None) -> list[UsageBasedCharge]:
        """Every charge, or one customer's, oldest first. (Last: it shadows `list` below it.)"""
        if customer_id is not None:
            customer_id = lookup_id(customer_id, "customer")
        return self._operations.run(charges.list_charges, customer_id)
