"""Worker scaling on PostgreSQL: 1, 2 and 4 processes draining the same due charges.

D credit_only charges (over several customers) are created through the API; then N processes
(``multiprocessing`` spawn), each with its own app and a clock frozen at 2026-02-03T00:01Z, are
released together and each runs `WORKER_LOOP` (sweeps with `advance_due`, or the worker's
rounds) until a sweep (round) advances nothing, or gives up at a deadline (reported); one visit
takes a charge from `created` to `final`. Reported: throughput (charges made final per second of
wall time, from the release to the last process finishing), the speed-up over one process, lock
waits sampled every 50 ms by the parent (the backends of the benchmark's database waiting for a
lock, ``pg_locks`` rows not granted: max, mean, and the mean as a share of the processes, i.e.
the part of the workers' time spent queueing), deadlocks (``pg_stat_database``) and the
failures the sweeps reported.

`WORKER_LOOP` is the one line that chooses between the two loops (``BENCH_WORKER_LOOP``
overrides it).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

import psycopg

from benchmarks import report
from benchmarks.databases import dbapi_target, fresh_database
from benchmarks.scenarios import create_charges, open_world, warm_up
from benchmarks.settings import COLLECT_AT, SETUP_AT, Sizes
from chargeflow import App, FrozenClock, open_app


@dataclass(frozen=True)
class Drained:
    """What one process's loop did: sweeps (rounds) run, failures they reported, and whether
    it gave up at its deadline."""

    sweeps: int
    failed: int
    gave_up: bool


class _Deadline(Exception):  # noqa: N818 -- a signal, raised out of `visited` and caught below
    """The deadline passed: end the sweep after the item (batch) in flight."""


def drain_with_advance_due(app: App, batch_size: int, deadline: float) -> Drained:
    """Sweep (`advance_due`) until a sweep advances nothing; past the deadline, the sweep in
    flight is ended from its `visited` callback."""

    def visited(_: str) -> None:
        if time.monotonic() > deadline:
            raise _Deadline

    sweeps = failed = 0
    while True:
        sweeps += 1
        try:
            swept = app.charges.advance_due(batch_size=batch_size, visited=visited)
        except _Deadline:
            return Drained(sweeps, failed, gave_up=True)
        failed += len(swept.failed)
        if not swept.advanced:
            return Drained(sweeps, failed, gave_up=False)


def drain_with_worker(app: App, batch_size: int, deadline: float) -> Drained:
    """Run worker rounds (`app.worker.round`: due charges, due invoices, customers to invoice)
    until a round advances nothing; past the deadline the worker is told to stop."""
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), app.worker.stop)
    timer.start()
    rounds = failed = 0
    try:
        while True:
            done = app.worker.round(batch_size)
            rounds += 1
            reports = (done.charges, done.invoices, done.customers)
            failed += sum(len(report.failed) for report in reports)
            if app.worker.stopping:
                return Drained(rounds, failed, gave_up=True)
            if not any(report.advanced for report in reports):
                return Drained(rounds, failed, gave_up=False)
    finally:
        timer.cancel()


LOOPS: dict[str, Callable[[App, int, float], Drained]] = {
    "advance_due": drain_with_advance_due,
    "worker": drain_with_worker,
}
GRACE = 2.0
"""Seconds after their deadline at which processes still draining are killed."""
WORKER_LOOP = os.environ.get("BENCH_WORKER_LOOP", "advance_due")
"""What each process runs, by name in `LOOPS`: the one line to change to measure the worker
(``"worker"``) rather than bare `advance_due` sweeps; ``BENCH_WORKER_LOOP`` overrides it (the
spawned processes inherit the environment, so parent and children agree)."""


def _worker(
    url: str,
    limits: tuple[int, float],
    ready: Queue[str],
    go: Event,
    results: Queue[tuple[Any, ...]],
) -> None:
    """One process: warm up (a small lifecycle on an in-memory SQLite database, then a drain
    of `url` before anything is due), say it is ready, wait for the start, drain, report
    (sweeps, failed, gave up, started, finished); or report why it could not (a traceback, on
    `ready` or `results`)."""
    loop = LOOPS[WORKER_LOOP]
    batch_size, seconds = limits
    try:
        warm_up("sqlite://")
        clock = FrozenClock(SETUP_AT)
        app = open_app(url, clock=clock, migrate=False, wall_clock=clock)
    except Exception:
        ready.put(traceback.format_exc())
        return
    try:
        loop(app, batch_size, time.monotonic() + seconds)
        clock.set(COLLECT_AT)
        ready.put("")
        go.wait()
        started = time.monotonic()
        drained = loop(app, batch_size, started + seconds)
        finished = time.monotonic()
        results.put((drained.sweeps, drained.failed, drained.gave_up, started, finished))
    except Exception:
        message = traceback.format_exc()
        if go.is_set():
            results.put((message,))
        else:
            ready.put(message)
    finally:
        app.close()


class LockSampler:
    """Counts, every `interval` seconds, the backends of `database` waiting for a lock."""

    def __init__(self, url: str, interval: float = 0.05) -> None:
        self._target = dbapi_target(url)
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[int] = []
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        """Begin sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (if started) and wait for the last sample."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        query = (
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.datname = current_database()"
        )
        with psycopg.connect(self._target, autocommit=True) as connection:
            while not self._stop.is_set():
                row = connection.execute(query).fetchone()
                self.samples.append(int(row[0]) if row else 0)
                self._stop.wait(self._interval)


@dataclass(frozen=True)
class Scaling:
    """One setting's figures."""

    processes: int
    outcomes: list[tuple[Any, ...]]
    """Per process: (sweeps, failed, gave up, started, finished)."""
    seconds: float
    samples: list[int]
    deadlocks: int
    final: int

    @property
    def failed(self) -> int:
        """Failures the processes' sweeps reported (a failed charge is retried later)."""
        return sum(outcome[1] for outcome in self.outcomes)

    @property
    def gave_up(self) -> int:
        """Processes that were still advancing charges at their deadline (or were killed)."""
        return sum(1 for outcome in self.outcomes if outcome[2]) + self.killed

    @property
    def killed(self) -> int:
        """Processes killed after the grace period (they never reported)."""
        return self.processes - len(self.outcomes)

    @property
    def throughput(self) -> float:
        """Charges taken to `final` per second (one visit each)."""
        return self.final / self.seconds if self.seconds > 0 else 0.0


def _database_figure(url: str, sql: str) -> int:
    with psycopg.connect(dbapi_target(url), autocommit=True) as connection:
        row = connection.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


_DEADLOCKS = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
_FINAL = "SELECT count(*) FROM charge_usage_based WHERE status = 'final'"
_OTHER_BACKENDS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def measure(sizes: Sizes, processes: int) -> Scaling:
    """`processes` processes draining `sizes.worker_charges` due charges on a fresh database."""
    with fresh_database("postgresql") as url:
        world = open_world(url, customers=sizes.worker_customers)
        create_charges(world, sizes.worker_charges)
        world.close()
        deadlocks = _database_figure(url, _DEADLOCKS)
        seconds, samples, outcomes = _drain(url, sizes, processes)
        for _ in range(100):  # a backend's statistics reach pg_stat_database when it exits
            if not _database_figure(url, _OTHER_BACKENDS):
                break
            time.sleep(0.05)
        return Scaling(
            processes,
            outcomes,
            seconds,
            samples,
            _database_figure(url, _DEADLOCKS) - deadlocks,
            _database_figure(url, _FINAL),
        )


def _drain(
    url: str, sizes: Sizes, processes: int
) -> tuple[float, list[int], list[tuple[Any, ...]]]:
    """Start the processes, release them together, and sample lock waits until the last one
    is done, or until `GRACE` seconds after their deadline, when those still running are
    killed: (seconds from the release to the end, samples, the outcomes reported)."""
    context = multiprocessing.get_context("spawn")
    ready: Queue[str] = context.Queue()
    results: Queue[tuple[Any, ...]] = context.Queue()
    go = context.Event()
    limits = (sizes.worker_batch, sizes.worker_seconds)
    started = [
        context.Process(target=_worker, args=(url, limits, ready, go, results), daemon=True)
        for _ in range(processes)
    ]
    for process in started:
        process.start()
    sampler = LockSampler(url)
    outcomes: list[tuple[Any, ...]] = []
    try:
        for _ in started:
            problem = ready.get(timeout=120)
            if problem:
                raise RuntimeError(f"a worker process could not start:\n{problem}")
        sampler.start()
        released = time.monotonic()
        go.set()
        outcomes = _collect(results, processes, released + sizes.worker_seconds + GRACE)
        ended = time.monotonic()
    finally:
        sampler.stop()
        for process in started:
            process.join(timeout=10 if len(outcomes) == processes else 0)
            if process.is_alive():
                process.terminate()
                process.join()
    if len(outcomes) == processes:
        ended = max(outcome[4] for outcome in outcomes)
    return ended - released, sampler.samples, outcomes


def _collect(results: Queue[tuple[Any, ...]], count: int, until: float) -> list[tuple[Any, ...]]:
    """Up to `count` outcomes, those reported by `until`; `RuntimeError` for a failed one."""
    outcomes: list[tuple[Any, ...]] = []
    while len(outcomes) < count:
        try:
            outcome = results.get(timeout=max(0.0, until - time.monotonic()))
        except queue.Empty:
            break
        if len(outcome) == 1:
            raise RuntimeError(f"a worker process failed:\n{outcome[0]}")
        outcomes.append(outcome)
    return outcomes


def run(sizes: Sizes) -> None:
    """Measure and print the table."""
    found = [measure(sizes, processes) for processes in sizes.processes]
    one = found[0].throughput
    table = report.Table(
        [
            "processes",
            "charges/s",
            "speed-up",
            "lock waiters max",
            "mean",
            "waiting share",
            "deadlocks",
            "failed",
            "final",
        ],
        title=(
            f"postgresql: {sizes.worker_charges:,} due charges over {sizes.worker_customers} "
            f"customers, each process looping {LOOPS[WORKER_LOOP].__name__}, batches of "
            f"{sizes.worker_batch}; {os.cpu_count()} cores"
        ),
    )
    for scaling in found:
        samples = scaling.samples or [0]
        mean = sum(samples) / len(samples)
        final = f"{scaling.final}/{sizes.worker_charges}"
        if scaling.gave_up:
            final += f" ({scaling.gave_up} stopped at {sizes.worker_seconds:.0f} s"
            final += f", {scaling.killed} killed)" if scaling.killed else ")"
        table.add(
            str(scaling.processes),
            f"{scaling.throughput:,.0f}",
            report.ratio(scaling.throughput, one),
            str(max(samples)),
            f"{mean:.2f}",
            f"{mean / scaling.processes:.0%}",
            str(scaling.deadlocks),
            f"{scaling.failed}{'+' if scaling.gave_up else ''}",
            final,
        )
    table.print()
    report.note(
        "lock waiters: backends waiting for a lock (pg_locks not granted), sampled every 50 ms; "
        "waiting share: mean waiters / processes; deadlocks: pg_stat_database; failed: as the "
        "sweeps reported them (+: a sweep cut short at the deadline reported none)"
    )
