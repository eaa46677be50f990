"""The worker: the loop that runs a month end (README, "The worker").

A round runs, in order, the due charge sweep, the invoice collection sweep and the invoicing of
every customer whose lines are due; each sweep claims its items a batch per transaction,
skipping rows another worker holds, so several workers, in several processes on several
machines, share one PostgreSQL database without waiting on each other (PostgreSQL is the
coordinator: there is no other). A worker sleeps when a round found nothing to do, and stops
gracefully, after the batch in flight, when `stop` is called (the CLI calls it on SIGTERM and
SIGINT).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chargeflow.billing import Billing
from chargeflow.charges import Charges
from chargeflow.engines.sweeps import AdvanceReport

_log = logging.getLogger("chargeflow.worker")


@dataclass(frozen=True)
class Round:
    """What one round did: each sweep's report, and how long the round took (seconds)."""

    charges: AdvanceReport
    invoices: AdvanceReport
    customers: AdvanceReport
    seconds: float

    @property
    def idle(self) -> bool:
        """Whether the round found nothing due at all."""
        return not (self.charges.visited or self.invoices.visited or self.customers.visited)

    def summary(self) -> str:
        """One line: what each sweep advanced and failed, and the round's duration."""
        parts = [
            f"{name} {report.visited} visited, {len(report.advanced)} advanced, "
            f"{len(report.failed)} failed" + (f", {len(report.busy)} busy" if report.busy else "")
            for name, report in (
                ("charges", self.charges),
                ("invoices", self.invoices),
                ("customers", self.customers),
            )
        ]
        return "; ".join(parts) + f" in {self.seconds:.2f}s"

    def counts(self) -> dict[str, Any]:
        """The round as plain data: per sweep what it visited, advanced, failed (id: error)
        and found busy, and the round's duration."""
        sweeps = {"charges": self.charges, "invoices": self.invoices, "customers": self.customers}
        return {
            **{
                name: {
                    "visited": report.visited,
                    "advanced": len(report.advanced),
                    "failed": {item: str(error) for item, error in report.failed.items()},
                    "busy": len(report.busy),
                }
                for name, report in sweeps.items()
            },
            "seconds": round(self.seconds, 3),
        }


class Worker:
    """Runs rounds of the three sweeps until stopped (`run`), or one round (`run(once=True)`)."""

    def __init__(self, charges: Charges, billing: Billing) -> None:
        self._charges = charges
        self._billing = billing
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask the worker to stop after the batch in flight (safe from a signal handler)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self._stopping.is_set()

    def run(
        self,
        *,
        once: bool = False,
        batch_size: int = 500,
        idle_sleep: float = 5.0,
        on_round: Callable[[Round], None] | None = None,
    ) -> list[Round]:
        """Run rounds until `stop` is called (or one round with `once`), sleeping `idle_sleep`
        seconds after a round that found nothing due; `on_round` is called after each round.
        Returns the rounds run. `InvalidInputError` for a bad `batch_size` (1 to 100,000)."""
        rounds: list[Round] = []
        while not self.stopping:
            done = self.round(batch_size)
            rounds.append(done)
            _log.info("round: %s", done.summary())
            if on_round is not None:
                on_round(done)
            if once:
                break
            if done.idle:
                self._stopping.wait(idle_sleep)
        return rounds

    def round(self, batch_size: int = 500) -> Round:
        """One round: due charges, due invoices, then customers to invoice."""
        started = time.perf_counter()
        stop = self._stopping.is_set
        charges = self._charges.advance_due(batch_size, stop=stop)
        invoices = self._billing.advance_due(batch_size, stop=stop)
        customers = self._billing.invoice_due(batch_size, stop=stop)
        return Round(charges, invoices, customers, time.perf_counter() - started)
