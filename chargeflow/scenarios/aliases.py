"""The aliases a scenario names customers, charges and invoices by.

`AliasUse` is how a step declares the aliases it binds and refers to (loading checks that each
is bound by an earlier step); `Bindings` holds the ids they stand for while a scenario runs.
This module holds declarations and plain mappings only: it neither reads files nor drives an
app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AliasKind = Literal["customer", "charge", "invoice"]


@dataclass(frozen=True)
class AliasUse:
    """An alias of `kind` that the field `field` of a step binds or refers to."""

    field: str
    kind: AliasKind
    alias: str


@dataclass
class Bindings:
    """The ids a running scenario's aliases are bound to, by kind: filled in as actions
    succeed, read when checking. `gathering_lines` holds, by charge alias, the id the charge's
    gathering line had when the charge was created (an invoice line may keep it)."""

    customers: dict[str, str] = field(default_factory=dict)
    charges: dict[str, str] = field(default_factory=dict)
    invoices: dict[str, str] = field(default_factory=dict)
    gathering_lines: dict[str, str] = field(default_factory=dict)
