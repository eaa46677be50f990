"""Half-open time periods ``[from, to)`` such as a charge's service period."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chargeflow.domain.timestamps import Instant


class Period(BaseModel):
    """``[start, end)``; ``start <= end``. Accepts ``(start, end)`` pairs and ``{"from", "to"}``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    start: Instant = Field(alias="from")
    end: Instant = Field(alias="to")

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, tuple | list):
            if len(value) != 2:
                raise ValueError("a period is a pair (from, to)")
            return {"from": value[0], "to": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.start > self.end:
            raise ValueError(f"period from {self.start} is after to {self.end}")
        return self
