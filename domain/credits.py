"""Credits: promotional grants, and the allocations that realization runs draw from them.

Allocations are append-only facts. A correction is a further allocation with a negative amount
that names the allocation it corrects; it never exceeds what that allocation still holds.
An allocation without a grant is credit taken beyond the grants (a credit_only charge may drive
the customer's balance negative).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from chargeflow.domain.ids import new_id
from chargeflow.domain.money import ZERO, Amount, BoundedPositiveAmount
from chargeflow.domain.text import Text
from chargeflow.domain.timestamps import Instant


class CreditGrant(BaseModel):
    """Promotional credit given to a customer, in the customer's currency, usable FIFO."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id)
    customer_id: Text = Field(min_length=1)
    amount: BoundedPositiveAmount
    granted_at: Instant


class CreditAllocation(BaseModel):
    """Credit applied to a run (positive), or a correction of an earlier allocation (negative).
    `booked_at` is its accounting date (the end of the period the run bills); `created_at` is
    when it was recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id)
    run_id: str
    charge_id: str
    amount: Amount
    grant_id: str | None = None
    corrects_allocation_id: str | None = None
    booked_at: Instant
    created_at: Instant


def remaining_by_allocation(allocations: Iterable[CreditAllocation]) -> dict[str, Decimal]:
    """What each original allocation still holds after its corrections, in allocation order."""
    remaining: dict[str, Decimal] = {}
    for allocation in allocations:
        if allocation.corrects_allocation_id is None:
            remaining[allocation.id] = remaining.get(allocation.id, ZERO) + allocation.amount
        else:
            corrected = allocation.corrects_allocation_id
            remaining[corrected] = remaining.get(corrected, ZERO) + allocation.amount
    return remaining
