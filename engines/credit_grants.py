"""Granting promotional credit and reading a customer's balance (use cases taking an
`Operation` first). The balance is the credit source's own arithmetic (`available_credit`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from chargeflow.domain.credits import CreditGrant
from chargeflow.domain.money import require_minor_units
from chargeflow.domain.validation import build
from chargeflow.engines.ledger import available_credit
from chargeflow.engines.operation import Operation


def grant_credit(
    op: Operation,
    customer_id: str,
    *,
    amount: Decimal | int | str,
    granted_at: datetime | str | None,
) -> CreditGrant:
    """Grant `amount` (> 0) of credit in the customer's currency, usable from `granted_at`
    (default now) on; grants are drawn first-in, first-out."""
    grant = build(
        CreditGrant,
        customer_id=customer_id,
        amount=amount,
        granted_at=granted_at or op.now,
    )
    customer = op.uow.customers.get(customer_id)
    require_minor_units(grant.amount, customer.currency, "credit grant")
    op.uow.credits.add_grant(grant)
    return grant


def balance(op: Operation, customer_id: str) -> Decimal:
    """Unallocated credit now: what the grants made by now still hold, minus credit taken
    beyond them (negative when credit_only charges overdrew)."""
    op.uow.customers.get(customer_id)
    return available_credit(op.uow, customer_id, op.now)
