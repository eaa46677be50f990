"""Two advances of the same charge at once: the charge lock lets one realize it, not both."""

from __future__ import annotations

import threading

from chargeflow import App, FrozenClock, open_app
from domain.statuses import ChargeStatus
from tests.factories import CO, charge_in

S = ChargeStatus


def test_two_concurrent_advances_of_one_charge_create_one_run(
    app: App, clock: FrozenClock, database_url: str
) -> None:
    """PostgreSQL: the second waits on ``SELECT ... FOR UPDATE``; SQLite: on the write
    transaction. Either way it then finds the charge already realized."""
    charge_id = charge_in(app, clock, CO, S.ACTIVE)
    clock.set("2026-02-01T12:00:00Z")
    apps = [open_app(database_url, clock=clock, migrate=False) for _ in range(2)]
    start = threading.Barrier(2)
    moved: list[bool] = []
    errors: list[BaseException] = []

    def advance(worker: App) -> None:
        start.wait()
        try:
            moved.append(bool(worker.charges.advance(charge_id)))
        except BaseException as error:  # surfaced below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=advance, args=(worker,)) for worker in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for worker in apps:
        worker.close()

    assert errors == []
    assert sorted(moved) == [False, True]
    stored = app.charges.get(charge_id)
    assert stored.state.status is S.FINAL_REALIZATION_WAITING_FOR_COLLECTION
    assert len(stored.runs) == 1
