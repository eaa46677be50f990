"""Invoice effects: the changes on the billing side that a charge action asks for
(docs/lifecycle.md section 10).

Charge actions never write invoice lines. An action that needs one added, moved or removed
returns an effect; the driver hands the effects to its caller, who applies them in the same unit
of work before advancing further. Effects never decide a charge's status: the action that returns
one has already done everything on the charge's side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chargeflow.domain.periods import Period


@dataclass(frozen=True)
class DeleteGatheringLine:
    """Remove the pending gathering line of charge `charge_id`, if it has one."""

    charge_id: str


@dataclass(frozen=True)
class DeleteStandardLine:
    """Remove standard line `line_id` from its draft invoice (a soft delete) and recalculate
    the invoice; an invoice left without lines is soft-deleted too."""

    line_id: str


@dataclass(frozen=True)
class UpsertGatheringLine:
    """Give charge `charge_id` a gathering line over `period`, invoiced at `invoice_at`: its
    pending gathering line moved there, or a new one when it has none."""

    charge_id: str
    period: Period
    invoice_at: datetime


InvoiceEffect = DeleteGatheringLine | DeleteStandardLine | UpsertGatheringLine
"""Every effect a charge action may return."""
