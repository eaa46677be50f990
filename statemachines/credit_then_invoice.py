"""The credit_then_invoice machine (docs/lifecycle.md section 5): credits first, then an invoice.

Only billing moves such a charge past `active` (`invoice_created`, then `collection_completed`).
The charge rests in `…completed`; `final` is not reachable in this version, so it is left out.
"""

from __future__ import annotations

from domain.charge import UsageBasedCharge
from domain.statuses import ChargeStatus, meta_status
from domain.triggers import Trigger
from statemachines.actions import ChargeAction
from statemachines.charge_guards import AFTER_SERVICE_PERIOD
from statemachines.charge_rows import (
    ACTIVATE,
    ACTIVE_ACTIVATION,
    CREATED_ACTIVATION,
    ChargeRow,
    delete_rows,
)
from statemachines.spec import MachineSpec

S = ChargeStatus
_STATUSES = (
    S.CREATED,
    S.ACTIVE,
    S.FINAL_REALIZATION_STARTED,
    S.FINAL_REALIZATION_WAITING_FOR_COLLECTION,
    S.FINAL_REALIZATION_PROCESSING,
    S.FINAL_REALIZATION_COMPLETED,
    S.DELETED,
)

CREDIT_THEN_INVOICE = MachineSpec[ChargeStatus, Trigger, ChargeAction, UsageBasedCharge](
    name="credit_then_invoice",
    statuses=_STATUSES,
    initial=S.CREATED,
    terminal=frozenset({S.DELETED}),
    continuation=Trigger.NEXT,
    meta=meta_status,
    rows=(
        ACTIVATE,
        ChargeRow(
            Trigger.INVOICE_CREATED,
            S.ACTIVE,
            S.FINAL_REALIZATION_STARTED,
            guards=(AFTER_SERVICE_PERIOD,),
            entry=(ChargeAction.START_INVOICE_CREATED_RUN,),
        ),
        ChargeRow(
            Trigger.NEXT, S.FINAL_REALIZATION_STARTED, S.FINAL_REALIZATION_WAITING_FOR_COLLECTION
        ),
        ChargeRow(
            Trigger.COLLECTION_COMPLETED,
            S.FINAL_REALIZATION_WAITING_FOR_COLLECTION,
            S.FINAL_REALIZATION_PROCESSING,
        ),
        ChargeRow(Trigger.NEXT, S.FINAL_REALIZATION_PROCESSING, S.FINAL_REALIZATION_COMPLETED),
        *delete_rows(_STATUSES),
    ),
    activation={
        S.CREATED: CREATED_ACTIVATION,
        S.ACTIVE: ACTIVE_ACTIVATION,
        S.FINAL_REALIZATION_WAITING_FOR_COLLECTION: (ChargeAction.ADVANCE_AFTER_COLLECTION_END,),
        S.FINAL_REALIZATION_PROCESSING: (ChargeAction.FINALIZE_INVOICE_CREATED_RUN,),
    },
)
