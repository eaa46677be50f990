"""Operations on usage-based charges: create, advance (one, a customer's, every due charge),
fire an explicit trigger, delete.

Each operation is one unit of work holding the charge's lock: it commits at its end and rolls
back on any error, so a refused operation changes nothing. The advance sweep gives each charge
its own unit of work, so one failing charge neither blocks nor undoes the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.charge import ChargeIntent, SettlementMode, UsageBasedCharge
from domain.errors import ChargeflowError, NotFoundError, TriggerNotPermittedError
from domain.history import TransitionRecord
from domain.triggers import DeletePolicy, Trigger
from domain.validation import build
from engines import driver
from engines.gathering import add_charge_line
from engines.operation import Operations


@dataclass
class AdvanceReport:
    """What a sweep over due charges did: the ids it advanced, and the ones it could not."""

    advanced: list[str] = field(default_factory=list)
    failed: dict[str, ChargeflowError] = field(default_factory=dict)


class ChargeEngine:
    """The operations on charges."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations
        self._uows = operations.uows

    def create(
        self,
        *,
        customer_id: str,
        feature_key: str,
        service_period: Any,
        settlement_mode: SettlementMode | str,
        price: Any,
        name: str | None = None,
        invoice_at: Any = None,
    ) -> UsageBasedCharge:
        """Create a charge in `created`. A credit_then_invoice charge gets its gathering line in
        the same transaction; a credit_only charge is advanced once the create is committed.

        Raises `InvalidInputError` for an invalid intent, `NotFoundError` for an unknown
        customer or feature key.
        """
        with self._operations() as op:
            customer = op.uow.customers.get(customer_id)
            intent = build(
                ChargeIntent,
                customer_id=customer_id,
                name=name,
                currency=customer.currency,
                feature_key=feature_key,
                service_period=service_period,
                invoice_at=invoice_at,
                settlement_mode=settlement_mode,
                price=price,
            )
            if op.uow.features.live_by_key(intent.feature_key) is None:
                raise NotFoundError("feature", intent.feature_key)
            charge = UsageBasedCharge(intent=intent, created_at=op.now)
            op.uow.charges.add(charge)
            if intent.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE:
                add_charge_line(op, charge)
        if intent.settlement_mode is SettlementMode.CREDIT_ONLY:
            return self.advance(charge.id) or charge
        return charge

    def get(self, charge_id: str) -> UsageBasedCharge:
        """The charge with its runs; `NotFoundError`."""
        with self._uows() as uow:
            return uow.charges.get(charge_id)

    def history(self, charge_id: str) -> list[TransitionRecord]:
        """The charge's transitions from the audit log, oldest first."""
        with self._uows() as uow:
            uow.charges.get(charge_id)
            return uow.history.for_charge(charge_id)

    def advance(self, charge_id: str, *, now: datetime | None = None) -> UsageBasedCharge | None:
        """Advance one charge until stable; the charge if it moved, else None."""
        with self._operations(now) as op:
            charge = op.uow.charges.get(charge_id, lock=True)
            return charge if driver.advance(op, charge) else None

    def advance_customer(self, customer_id: str) -> list[UsageBasedCharge]:
        """Advance each of the customer's charges; those that moved."""
        with self._uows() as uow:
            uow.customers.get(customer_id)
            charge_ids = uow.charges.ids_for_customer(customer_id)
        now = self._operations.clock.now()
        return [moved for charge_id in charge_ids if (moved := self.advance(charge_id, now=now))]

    def advance_due(
        self, batch_size: int = 500, visited: Callable[[str], None] | None = None
    ) -> AdvanceReport:
        """Advance every charge whose `advance_after` has come, `batch_size` ids at a time.

        Each charge is visited at most once per sweep (keyset pagination), each in its own unit
        of work; a charge that fails is reported in `failed` and the sweep goes on. `visited`
        is called with each charge id once it has been handled (for progress displays).
        """
        now = self._operations.clock.now()
        report = AdvanceReport()
        after: tuple[datetime, str] | None = None
        while True:
            with self._uows() as uow:
                keys = uow.charges.due_ids(now, after, batch_size)
            for _, charge_id in keys:
                try:
                    if self.advance(charge_id, now=now):
                        report.advanced.append(charge_id)
                except ChargeflowError as error:
                    report.failed[charge_id] = error
                if visited is not None:
                    visited(charge_id)
            if len(keys) < batch_size:
                return report
            after = keys[-1]

    def fire(
        self, charge_id: str, trigger: Trigger | str, arguments: Mapping[str, Any] | None = None
    ) -> UsageBasedCharge:
        """Fire one trigger at a charge (no advance afterwards); the charge as it now stands.

        Raises `TriggerNotPermittedError`, `GuardFailedError`, or the typed error of an action;
        then nothing has changed.
        """
        with self._operations() as op:
            charge = op.uow.charges.get(charge_id, lock=True)
            driver.fire(op, charge, _trigger(charge, trigger), arguments)
            return charge

    def delete(self, charge_id: str, policy: DeletePolicy | str) -> UsageBasedCharge:
        """Fire `delete` with the credit refund `policy` (`correct` or `ignore`)."""
        return self.fire(charge_id, Trigger.DELETE, {"policy": policy})

    def list(self, customer_id: str | None = None) -> list[UsageBasedCharge]:
        """Every charge, or one customer's, oldest first. (Last: it shadows `list` below it.)"""
        with self._uows() as uow:
            return uow.charges.list(customer_id)


def _trigger(charge: UsageBasedCharge, trigger: Trigger | str) -> Trigger:
    try:
        return Trigger(trigger)
    except ValueError as error:
        raise TriggerNotPermittedError(
            charge.id, charge.state.status, str(trigger), "unknown trigger"
        ) from error
