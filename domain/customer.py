"""Customers and their billing profile (currency, collection interval)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from chargeflow.domain.durations import IsoDuration, add_duration
from chargeflow.domain.ids import new_id
from chargeflow.domain.money import CurrencyCode
from chargeflow.domain.text import Text
from chargeflow.domain.timestamps import Instant


class Customer(BaseModel):
    """A customer and their billing profile.

    `collection_interval` is how long late usage may still arrive after a service period ends
    (ISO-8601, default ``PT0S``); `progressive_billing` lets usage be invoiced before its period
    ends; `auto_approve` issues an invoice as soon as its collection completes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id)
    name: Text = Field(min_length=1)
    currency: CurrencyCode
    collection_interval: IsoDuration = "PT0S"
    progressive_billing: StrictBool = False
    auto_approve: StrictBool = False
    created_at: Instant

    def collection_period_end(self, service_period_end: datetime) -> datetime:
        """``service_period_end + collection_interval`` (docs/lifecycle.md section 3)."""
        return add_duration(service_period_end, self.collection_interval)
