"""The credit_only machine (docs/lifecycle.md section 4): usage is settled from credits alone,
with cutoffs fixed when the run starts."""

from __future__ import annotations

from chargeflow.domain.charge import MODE_STATUSES, SettlementMode, UsageBasedCharge
from chargeflow.domain.statuses import ChargeStatus, meta_status
from chargeflow.domain.triggers import Trigger
from chargeflow.statemachines.actions import ChargeAction
from chargeflow.statemachines.charge_guards import AFTER_COLLECTION_PERIOD, AFTER_SERVICE_PERIOD
from chargeflow.statemachines.charge_rows import (
    ACTIVATE,
    ACTIVE_ACTIVATION,
    CREATED_ACTIVATION,
    ChargeRow,
    delete_rows,
    period_change_rows,
)
from chargeflow.statemachines.spec import MachineSpec

S = ChargeStatus

CREDIT_ONLY = MachineSpec[ChargeStatus, Trigger, ChargeAction, UsageBasedCharge](
    name="credit_only",
    statuses=MODE_STATUSES[SettlementMode.CREDIT_ONLY],
    initial=S.CREATED,
    terminal=frozenset({S.DELETED}),
    continuation=Trigger.NEXT,
    meta=meta_status,
    rows=(
        ACTIVATE,
        ChargeRow(Trigger.NEXT, S.ACTIVE, S.REALIZATION_STARTED, guards=(AFTER_SERVICE_PERIOD,)),
        ChargeRow(Trigger.NEXT, S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION),
        ChargeRow(
            Trigger.NEXT,
            S.REALIZATION_WAITING_FOR_COLLECTION,
            S.REALIZATION_PROCESSING,
            guards=(AFTER_COLLECTION_PERIOD,),
        ),
        ChargeRow(Trigger.NEXT, S.REALIZATION_PROCESSING, S.REALIZATION_COMPLETED),
        ChargeRow(Trigger.NEXT, S.REALIZATION_COMPLETED, S.FINAL),
        *delete_rows(MODE_STATUSES[SettlementMode.CREDIT_ONLY]),
        *period_change_rows(
            (
                S.CREATED,
                S.ACTIVE,
                S.REALIZATION_STARTED,
                S.REALIZATION_WAITING_FOR_COLLECTION,
                S.REALIZATION_COMPLETED,
                S.FINAL,
            )
        ),
    ),
    activation={
        S.CREATED: CREATED_ACTIVATION,
        S.ACTIVE: ACTIVE_ACTIVATION,
        S.REALIZATION_STARTED: (ChargeAction.START_FINAL_REALIZATION_RUN,),
        S.REALIZATION_WAITING_FOR_COLLECTION: (ChargeAction.ADVANCE_AFTER_COLLECTION_END,),
        S.REALIZATION_PROCESSING: (ChargeAction.FINALIZE_REALIZATION_RUN,),
        S.FINAL: (ChargeAction.CLEAR_ADVANCE_AFTER,),
    },
)
