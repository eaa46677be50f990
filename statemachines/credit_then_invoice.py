"""The credit_then_invoice machine (docs/lifecycle.md section 5): credits first, then an
invoice; the charge is `final` once every invoiced run is paid.

Billing moves the charge through a realization (`invoice_created`, `collection_completed`,
`invoice_issued`); after it, the charge goes back to `active` when the run billed only part of
the period, or waits for payment when it billed the rest (two rows with complementary guards).
"""

from __future__ import annotations

from chargeflow.domain.charge import MODE_STATUSES, SettlementMode, UsageBasedCharge
from chargeflow.domain.statuses import ChargeStatus, meta_status
from chargeflow.domain.triggers import Trigger
from chargeflow.statemachines.actions import ChargeAction
from chargeflow.statemachines.charge_guards import (
    ALL_RUNS_SETTLED,
    LATEST_RUN_ENDS_AT_PERIOD_END,
    LATEST_RUN_ENDS_BEFORE_PERIOD_END,
    REALIZED_FOR_WHOLE_PERIOD,
)
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

CREDIT_THEN_INVOICE = MachineSpec[ChargeStatus, Trigger, ChargeAction, UsageBasedCharge](
    name="credit_then_invoice",
    statuses=MODE_STATUSES[SettlementMode.CREDIT_THEN_INVOICE],
    initial=S.CREATED,
    terminal=frozenset({S.DELETED}),
    continuation=Trigger.NEXT,
    meta=meta_status,
    rows=(
        ACTIVATE,
        ChargeRow(
            Trigger.NEXT,
            S.ACTIVE,
            S.AWAITING_PAYMENT_SETTLEMENT,
            guards=(REALIZED_FOR_WHOLE_PERIOD,),
        ),
        ChargeRow(
            Trigger.INVOICE_CREATED,
            S.ACTIVE,
            S.REALIZATION_STARTED,
            entry=(ChargeAction.START_INVOICE_RUN,),
        ),
        ChargeRow(Trigger.NEXT, S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION),
        ChargeRow(
            Trigger.COLLECTION_COMPLETED,
            S.REALIZATION_WAITING_FOR_COLLECTION,
            S.REALIZATION_PROCESSING,
        ),
        ChargeRow(
            Trigger.INVOICE_ISSUED,
            S.REALIZATION_PROCESSING,
            S.REALIZATION_ISSUING,
            entry=(ChargeAction.FINALIZE_INVOICE_RUN,),
        ),
        ChargeRow(Trigger.NEXT, S.REALIZATION_ISSUING, S.REALIZATION_COMPLETED),
        ChargeRow(
            Trigger.NEXT,
            S.REALIZATION_COMPLETED,
            S.AWAITING_PAYMENT_SETTLEMENT,
            guards=(LATEST_RUN_ENDS_AT_PERIOD_END,),
        ),
        ChargeRow(
            Trigger.NEXT,
            S.REALIZATION_COMPLETED,
            S.ACTIVE,
            guards=(LATEST_RUN_ENDS_BEFORE_PERIOD_END,),
        ),
        ChargeRow(Trigger.NEXT, S.AWAITING_PAYMENT_SETTLEMENT, S.FINAL, guards=(ALL_RUNS_SETTLED,)),
        *delete_rows(MODE_STATUSES[SettlementMode.CREDIT_THEN_INVOICE]),
        *period_change_rows(
            (
                S.CREATED,
                S.ACTIVE,
                S.REALIZATION_STARTED,
                S.REALIZATION_WAITING_FOR_COLLECTION,
                S.REALIZATION_PROCESSING,
                S.AWAITING_PAYMENT_SETTLEMENT,
                S.FINAL,
            )
        ),
    ),
    activation={
        S.CREATED: CREATED_ACTIVATION,
        S.ACTIVE: ACTIVE_ACTIVATION,
        S.REALIZATION_WAITING_FOR_COLLECTION: (ChargeAction.ADVANCE_AFTER_COLLECTION_END,),
        S.REALIZATION_PROCESSING: (ChargeAction.SNAPSHOT_INVOICE_USAGE,),
        S.AWAITING_PAYMENT_SETTLEMENT: (ChargeAction.CLEAR_ADVANCE_AFTER,),
        S.FINAL: (ChargeAction.CLEAR_ADVANCE_AFTER,),
    },
)
