"""Guards at their exact boundaries: one second before, and at the boundary."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chargeflow import App, FrozenClock
from chargeflow.domain.charge import SettlementMode
from chargeflow.domain.errors import GuardFailedError
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.triggers import Trigger
from chargeflow.persistence.sql import SqlDatabase
from tests.conftest import Snapshot
from tests.factories import CO, CTI, charge_in

S = ChargeStatus
ONE_SECOND = timedelta(seconds=1)

BOUNDARIES = [
    pytest.param(CO, S.CREATED, Trigger.NEXT, "2026-01-01T00:00:00Z", "inside service period", S.ACTIVE, id="co-inside-service-period"),
    pytest.param(CTI, S.CREATED, Trigger.NEXT, "2026-01-01T00:00:00Z", "inside service period", S.ACTIVE, id="cti-inside-service-period"),
    pytest.param(CO, S.ACTIVE, Trigger.NEXT, "2026-02-01T00:00:00Z", "after service period", S.REALIZATION_STARTED, id="co-after-service-period"),
    pytest.param(CO, S.REALIZATION_WAITING_FOR_COLLECTION, Trigger.NEXT, "2026-02-03T00:01:00Z", "after collection period", S.REALIZATION_PROCESSING, id="co-after-collection-period"),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "status", "trigger", "boundary", "guard", "dest"), BOUNDARIES)
def test_a_guard_fails_one_second_before_its_boundary_and_passes_at_it(
    database: SqlDatabase,
    app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    mode: SettlementMode,
    status: ChargeStatus,
    trigger: Trigger,
    boundary: str,
    guard: str,
    dest: ChargeStatus,
) -> None:
    charge_id = charge_in(app, database, clock, mode, status)
    arguments: dict[str, str] = {}
    clock.set(boundary)
    clock.advance(-ONE_SECOND)
    before = snapshot()
    assert app.charges.advance(charge_id) == []
    with pytest.raises(GuardFailedError) as refused:
        app.charges.fire(charge_id, trigger, **arguments)
    assert refused.value.guard == guard
    assert (refused.value.charge_id, refused.value.status, refused.value.trigger) == (
        charge_id,
        status.value,
        trigger.value,
    )
    assert snapshot() == before

    clock.advance(ONE_SECOND)
    assert app.charges.fire(charge_id, trigger, **arguments).state.status is dest
