"""The worker (README, "The worker"): rounds of the charge sweep, the invoice sweep and invoicing,
a graceful stop, and the command line, on both databases."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from chargeflow import App, FrozenClock
from chargeflow.domain.invoices import InvoiceStatus
from chargeflow.domain.statuses import ChargeStatus
from tests.factories import CO, CTI, FEATURE, charge, customer

S = ChargeStatus


def a_month(app: App) -> tuple[str, str, str]:
    """A customer with a credit_only and a credit_then_invoice charge over January 2026, used
    mid-January; the customer's and both charges' ids."""
    who = customer(app)
    app.credits.grant(who.id, amount="100")
    only = charge(app, who.id, CO)
    then = charge(app, who.id, CTI)
    app.usage.record(who.id, FEATURE, value=10, event_time="2026-01-15T00:00:00Z")
    return who.id, only.id, then.id


def test_rounds_take_a_month_to_its_invoices(app: App, clock: FrozenClock) -> None:
    who, only, then = a_month(app)

    clock.set("2026-01-01T00:00:00Z")
    [first] = app.worker.run(once=True)
    assert sorted(first.charges.advanced) == sorted([only, then])  # both active
    assert not first.idle

    clock.set("2026-02-01T12:00:00Z")
    [second] = app.worker.run(once=True)
    assert second.customers.advanced == [who]  # invoiced: its line's invoice_at has come
    [invoice] = app.billing.list_invoices(who)
    assert app.charges.get(then).state.status is S.REALIZATION_WAITING_FOR_COLLECTION
    assert app.charges.get(only).state.status is S.REALIZATION_WAITING_FOR_COLLECTION

    clock.set("2026-02-03T00:01:00Z")
    [third] = app.worker.run(once=True)
    assert third.invoices.advanced == [invoice.id]
    assert app.billing.get_invoice(invoice.id).status is InvoiceStatus.DRAFT_MANUAL_APPROVAL_NEEDED
    assert app.charges.get(only).state.status is S.FINAL
    assert "charges 1 visited" in third.summary()  # the invoiced charge waits for billing


def test_a_round_with_nothing_due_is_idle(app: App, clock: FrozenClock) -> None:
    a_month(app)
    clock.set("2025-12-15T00:00:00Z")
    [nothing] = app.worker.run(once=True)
    assert nothing.idle


def test_stop_ends_the_loop_after_the_round_in_flight(app: App, clock: FrozenClock) -> None:
    a_month(app)
    rounds: list[object] = []
    runner = threading.Thread(
        target=lambda: rounds.extend(app.worker.run(idle_sleep=60, batch_size=1))
    )
    runner.start()
    time.sleep(0.3)  # idle: it sleeps, waiting for work or a stop
    app.worker.stop()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert len(rounds) >= 1


def test_the_cli_worker_stops_gracefully_on_sigterm(database_url: str) -> None:
    code = (
        "import sys; from chargeflow.cli import main; "
        f"sys.exit(main(['--database', {database_url!r}, 'worker', '--idle-sleep', '60']))"
    )
    worker = subprocess.Popen(
        [sys.executable, "-u", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        first_round = worker.stdout.readline()  # printed after the signal handlers are set
        worker.send_signal(signal.SIGTERM)  # it is sleeping: idle, nothing was due
        rest, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert first_round.startswith("charges 0 visited")
    assert worker.returncode == 0
    assert rest == ""  # stopped without another round
