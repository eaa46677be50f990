"""Guards shared by both charge machines: pure functions of (charge, now) (docs/lifecycle.md 3)."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.charge import UsageBasedCharge
from statemachines.spec import Guard

INTERNAL_COLLECTION_PERIOD = timedelta(minutes=1)
"""Usage stored within a minute of a cutoff may still be in flight; runs wait this long."""


def _inside_service_period(charge: UsageBasedCharge, now: datetime) -> bool:
    return now >= charge.intent.service_period.start


def _after_service_period(charge: UsageBasedCharge, now: datetime) -> bool:
    return now >= charge.intent.service_period.end


def _after_collection_period(charge: UsageBasedCharge, now: datetime) -> bool:
    run = charge.current_run()
    return run is not None and now >= run.collection_end + INTERNAL_COLLECTION_PERIOD


INSIDE_SERVICE_PERIOD = Guard[UsageBasedCharge]("inside service period", _inside_service_period)
AFTER_SERVICE_PERIOD = Guard[UsageBasedCharge]("after service period", _after_service_period)
AFTER_COLLECTION_PERIOD = Guard[UsageBasedCharge](
    "after collection period", _after_collection_period
)
