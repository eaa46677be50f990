"""Customers and their billing profile (currency, collection interval)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.durations import IsoDuration, add_duration
from domain.ids import new_id
from domain.money import CurrencyCode
from domain.timestamps import Instant


class Customer(BaseModel):
    """A customer billed in one currency.

    `collection_interval` is how long late usage may still arrive after a service period ends
    (ISO-8601, default ``PT0S``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id)
    name: str = Field(min_length=1)
    currency: CurrencyCode
    collection_interval: IsoDuration = "PT0S"
    created_at: Instant

    def collection_period_end(self, service_period_end: datetime) -> datetime:
        """``service_period_end + collection_interval`` (docs/lifecycle.md section 3)."""
        return add_duration(service_period_end, self.collection_interval)
