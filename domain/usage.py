"""Usage events: a metered value for a customer's feature key at an event time.

`stored_at` is when the event reached us; it defaults to `event_time` and decides whether a run
rated at a cutoff saw the event (late usage is usage stored after the cutoff). Events recorded
by an earlier version may hold negative values (corrections); they are rated as they are.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chargeflow.domain.ids import new_id
from chargeflow.domain.money import BoundedAmount
from chargeflow.domain.text import Text
from chargeflow.domain.timestamps import Instant


class UsageEvent(BaseModel):
    """One metered value, recorded under a feature key and the id of the feature live under
    that key at the time (`feature_id`): a charge counts only the events of the feature it was
    activated with. Never negative when recorded now (`engines.usage.record_usage` refuses
    it); an earlier version's corrections may be, and load as they are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id)
    customer_id: Text = Field(min_length=1)
    feature_key: Text = Field(min_length=1)
    feature_id: str | None = None
    value: BoundedAmount
    event_time: Instant
    stored_at: Instant

    @model_validator(mode="before")
    @classmethod
    def _stored_at_defaults_to_event_time(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("stored_at") is None:
            return {**data, "stored_at": data.get("event_time")}
        return data
