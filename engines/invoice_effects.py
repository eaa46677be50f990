"""Applying the invoice effects charge actions return (docs/lifecycle.md section 10).

Whoever drives a charge (the charge operations, billing's line engines) applies the effects
its transitions produced with `apply`, in the same unit of work, before advancing further.
"""

from __future__ import annotations

from typing import assert_never

from domain.effects import DeleteGatheringLine
from engines.operation import Operation


def apply(op: Operation) -> bool:
    """Apply and clear every pending effect of `op`; whether there were any."""
    pending, op.effects = op.effects, []
    for effect in pending:
        match effect:
            case DeleteGatheringLine(charge_id=charge_id):
                line = op.uow.invoices.gathering_line_of(charge_id)
                if line is not None:
                    op.uow.invoices.remove_lines([line.id])
            case _:
                assert_never(effect)
    return bool(pending)
