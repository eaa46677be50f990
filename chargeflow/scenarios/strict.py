"""The base every model of the scenario format derives from.

A misspelt key in a scenario file must be refused, never silently ignored, and a loaded
scenario must not change while it runs; one base says so for every model. This module must not
know any particular part of the format.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A part of the scenario format: refuses fields it does not declare, frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
