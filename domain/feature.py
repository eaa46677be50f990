"""Metered features: a key (what usage is recorded under) registered as a feature id.

A key names at most one live feature; once that feature is archived the key can be registered
again, as a new feature with a new id. Charges keep the key and sync the current id.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chargeflow.domain.ids import new_id
from chargeflow.domain.text import Text
from chargeflow.domain.timestamps import Instant


class Feature(BaseModel):
    """A registered feature; `archived_at` is set when it is retired."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id)
    key: Text = Field(min_length=1)
    name: Text = Field(min_length=1)
    created_at: Instant
    archived_at: Instant | None = None
