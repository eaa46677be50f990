"""Guards of the charge machines: pure functions of (charge, now) (docs/lifecycle.md 3, 5)."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.charge import UsageBasedCharge
from domain.runs import RunType
from statemachines.spec import Guard

INTERNAL_COLLECTION_PERIOD = timedelta(minutes=1)
"""Usage stored within a minute of a cutoff may still be in flight; runs wait this long."""


def _inside_service_period(charge: UsageBasedCharge, now: datetime) -> bool:
    return now >= charge.intent.service_period.start


def _after_service_period(charge: UsageBasedCharge, now: datetime) -> bool:
    return now >= charge.intent.service_period.end


def _after_collection_period(charge: UsageBasedCharge, now: datetime) -> bool:
    run = charge.current_run()
    return run is not None and now >= run.stored_at_lt + INTERNAL_COLLECTION_PERIOD


def latest_run_ends_at_period_end(charge: UsageBasedCharge) -> bool:
    """Whether the newest run that is not voided bills up to the end of the service period."""
    latest = charge.latest_run()
    return latest is not None and latest.service_period_to == charge.intent.service_period.end


def _realized_for_whole_period(charge: UsageBasedCharge, now: datetime) -> bool:
    latest = charge.latest_run()
    return (
        charge.state.current_run_id is None
        and latest is not None
        and latest.type is RunType.FINAL_REALIZATION
        and latest.invoice_usage is not None
        and latest_run_ends_at_period_end(charge)
    )


def _all_runs_settled(charge: UsageBasedCharge, now: datetime) -> bool:
    live = charge.live_runs()
    invoiced_final = any(
        run.type is RunType.FINAL_REALIZATION and run.invoice_usage is not None for run in live
    )
    return invoiced_final and all(run.settled() for run in live if run.needs_fiat_payment())


INSIDE_SERVICE_PERIOD = Guard[UsageBasedCharge]("inside service period", _inside_service_period)
AFTER_SERVICE_PERIOD = Guard[UsageBasedCharge]("after service period", _after_service_period)
AFTER_COLLECTION_PERIOD = Guard[UsageBasedCharge](
    "after collection period", _after_collection_period
)
REALIZED_FOR_WHOLE_PERIOD = Guard[UsageBasedCharge](
    "realization completed for the whole period", _realized_for_whole_period
)
ALL_RUNS_SETTLED = Guard[UsageBasedCharge]("all runs settled", _all_runs_settled)
LATEST_RUN_ENDS_AT_PERIOD_END = Guard[UsageBasedCharge](
    "latest run ends at period end", lambda charge, now: latest_run_ends_at_period_end(charge)
)
LATEST_RUN_ENDS_BEFORE_PERIOD_END = Guard[UsageBasedCharge](
    "latest run ends before period end",
    lambda charge, now: not latest_run_ends_at_period_end(charge),
)
