"""The names of the charge actions the specs refer to; `engines.charge_actions` implements them."""

from __future__ import annotations

from enum import StrEnum


class ChargeAction(StrEnum):
    """An action a charge machine asks the engine to perform (docs/lifecycle.md sections 3-6)."""

    SYNC_FEATURE_ID = "sync feature id"
    ADVANCE_AFTER_PERIOD_FROM = "advance after period from"
    ADVANCE_AFTER_PERIOD_TO = "advance after period to"
    ADVANCE_AFTER_COLLECTION_END = "advance after collection end"
    CLEAR_ADVANCE_AFTER = "clear advance after"
    START_FINAL_REALIZATION_RUN = "start final realization run"
    FINALIZE_REALIZATION_RUN = "finalize realization run"
    START_INVOICE_RUN = "start invoice run"
    SNAPSHOT_INVOICE_USAGE = "snapshot invoice usage"
    FINALIZE_INVOICE_RUN = "finalize invoice run"
    DELETE_CHARGE = "delete charge"
    CHANGE_PERIOD = "change period"
