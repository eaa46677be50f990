"""Guards of the charge machines: pure functions of (charge, now) (docs/lifecycle.md 3, 5)."""

from __future__ import annotations

from datetime import datetime, timedelta

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.runs import RunType
from chargeflow.domain.timestamps import format_instant
from chargeflow.statemachines.spec import Guard

INTERNAL_COLLECTION_PERIOD = timedelta(minutes=1)
"""Usage stored within a minute of a cutoff may still be in flight; runs wait this long."""


def _inside_service_period(charge: UsageBasedCharge, now: datetime) -> bool:
    return now >= charge.intent.service_period.start


def _after_service_period(charge: UsageBasedCharge, now: datetime) -> bool:
    return now >= charge.intent.service_period.end


def _after_collection_period(charge: UsageBasedCharge, now: datetime) -> bool:
    run = charge.current_run()
    return run is not None and now >= run.stored_at_lt + INTERNAL_COLLECTION_PERIOD


def _versus(left: tuple[str, datetime], operator: str, right: tuple[str, datetime]) -> str:
    """``LEFT OP RIGHT`` with both instants shown, OP negated (``>=`` becomes ``<``, ``==``
    becomes ``!=``) when the comparison does not hold."""
    holds = left[1] >= right[1] if operator == ">=" else left[1] == right[1]
    shown = operator if holds else {">=": "<", "==": "!="}[operator]
    return f"{left[0]} {format_instant(left[1])} {shown} {right[0]} {format_instant(right[1])}"


def _start_compared(charge: UsageBasedCharge, now: datetime) -> str:
    start = charge.intent.service_period.start
    return _versus(("now", now), ">=", ("service period start", start))


def _end_compared(charge: UsageBasedCharge, now: datetime) -> str:
    end = charge.intent.service_period.end
    return _versus(("now", now), ">=", ("service period end", end))


def _collection_compared(charge: UsageBasedCharge, now: datetime) -> str:
    run = charge.current_run()
    if run is None:
        return "no current run"
    closes = run.stored_at_lt + INTERNAL_COLLECTION_PERIOD
    return _versus(("now", now), ">=", ("collection closes", closes))


def _latest_run_end_compared(charge: UsageBasedCharge, now: datetime) -> str:
    latest = charge.latest_run()
    if latest is None:
        return "no run"
    end = charge.intent.service_period.end
    return _versus(("latest run ends", latest.service_period_to), "==", ("period end", end))


def _realized_compared(charge: UsageBasedCharge, now: datetime) -> str:
    latest = charge.latest_run()
    if charge.state.current_run_id is not None:
        return f"run {charge.state.current_run_id} is still current"
    if latest is None or latest.type is not RunType.FINAL_REALIZATION:
        return "no final realization run"
    if latest.invoice_usage is None:
        return f"final run {latest.id} is not invoiced yet"
    return _latest_run_end_compared(charge, now)


def _settled_compared(charge: UsageBasedCharge, now: datetime) -> str:
    live = charge.live_runs()
    owed = [run for run in live if run.needs_fiat_payment()]
    unsettled = [run.id for run in owed if not run.settled()]
    if not any(run.type is RunType.FINAL_REALIZATION and run.invoice_usage for run in live):
        return "no invoiced final realization run"
    if unsettled:
        return f"{len(unsettled)} of {len(owed)} invoiced runs unpaid: {', '.join(unsettled)}"
    return f"{len(owed)} invoiced runs paid"


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


INSIDE_SERVICE_PERIOD = Guard[UsageBasedCharge](
    "inside service period", _inside_service_period, _start_compared
)
AFTER_SERVICE_PERIOD = Guard[UsageBasedCharge](
    "after service period", _after_service_period, _end_compared
)
AFTER_COLLECTION_PERIOD = Guard[UsageBasedCharge](
    "after collection period", _after_collection_period, _collection_compared
)
REALIZED_FOR_WHOLE_PERIOD = Guard[UsageBasedCharge](
    "realization completed for the whole period", _realized_for_whole_period, _realized_compared
)
ALL_RUNS_SETTLED = Guard[UsageBasedCharge]("all runs settled", _all_runs_settled, _settled_compared)
LATEST_RUN_ENDS_AT_PERIOD_END = Guard[UsageBasedCharge](
    "latest run ends at period end",
    lambda charge, now: latest_run_ends_at_period_end(charge),
    _latest_run_end_compared,
)
LATEST_RUN_ENDS_BEFORE_PERIOD_END = Guard[UsageBasedCharge](
    "latest run ends before period end",
    lambda charge, now: not latest_run_ends_at_period_end(charge),
    _latest_run_end_compared,
)
