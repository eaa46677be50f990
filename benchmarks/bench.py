"""`make bench`: figures that keep the engine honest (not timed tests; nothing fails on a slow
figure).

Usage::

    python -m benchmarks.bench [--quick] [--only SECTION[,SECTION...]]

``--quick`` (or ``BENCH=quick``) runs small sizes, in under a minute; the default runs the full
sizes (`benchmarks.settings`). Sections, in order:

- ``binding``: bind + fire through the shared machine vs a long-lived `transitions` model;
- ``lifecycle``: the reference lifecycle (create, three sweeps), ms per charge, chargeflow next
  to its raw floors (`benchmarks.floors`: a transaction per charge, chargeflow's own
  transaction shape, batched) as ratios, on SQLite and PostgreSQL;
- ``statements``: SQL statements per charge per sweep and per invoice line, and a check that
  every floor writes exactly the rows chargeflow writes;
- ``invoicing``: invoicing and collection per line at 1 / 10 / 100 / 1,000 lines, with ratios;
- ``flatness``: the due sweeps' cost per due charge beside 1k / 20k not-due charges;
- ``workers``: 1 / 2 / 4 processes draining the same due charges on PostgreSQL: throughput
  and lock waits (``BENCH_WORKER_LOOP=worker`` drains with the worker's rounds instead of
  `advance_due` sweeps).

Only the public API drives chargeflow (`benchmarks.scenarios`); the floors use the DB-API on the
same schema. PostgreSQL sections are skipped with a one-line note when the server cannot be
reached. A section that fails prints its error and the run goes on with the next one.
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable

from benchmarks import binding, flatness, invoicing, lifecycle, report, statements, workers
from benchmarks.databases import BACKENDS, close_all, fresh_database, unavailable
from benchmarks.scenarios import warm_up
from benchmarks.settings import Sizes, sizes

SECTIONS = ("binding", "lifecycle", "statements", "invoicing", "flatness", "workers")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, of: {', '.join(SECTIONS)}",
    )
    arguments = parser.parse_args(argv)
    chosen = [name.strip() for name in arguments.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    arguments.only = chosen
    return arguments


def _per_backend(run: Callable[[Sizes, str], None]) -> Callable[[Sizes, list[str]], None]:
    def each(chosen: Sizes, backends: list[str]) -> None:
        for backend in backends:
            run(chosen, backend)

    return each


def _postgres_only(run: Callable[[Sizes], None]) -> Callable[[Sizes, list[str]], None]:
    def only(chosen: Sizes, backends: list[str]) -> None:
        if "postgresql" not in backends:
            report.note("needs PostgreSQL: skipped")
            return
        run(chosen)

    return only


TITLES: dict[str, tuple[str, Callable[[Sizes, list[str]], None]]] = {
    "binding": (
        "1. Binding: bind + fire vs a long-lived transitions model",
        lambda chosen, _: binding.run(chosen),
    ),
    "lifecycle": (
        "2. Reference lifecycle: chargeflow vs raw floors (ratio = chargeflow / floor)",
        _per_backend(lifecycle.run),
    ),
    "statements": (
        "3. SQL statements per charge per sweep and per invoice line; floor write check",
        statements.run,
    ),
    "invoicing": (
        "4. Invoicing and collection per line (ratio = chargeflow / floor)",
        _per_backend(invoicing.run),
    ),
    "flatness": (
        "5. Due sweeps beside not-due charges (must stay flat)",
        _per_backend(flatness.run),
    ),
    "workers": (
        "6. Worker scaling on PostgreSQL",
        _postgres_only(workers.run),
    ),
}


def _warm_up(backends: list[str]) -> None:
    """One small unmeasured run through chargeflow per backend (see `scenarios.warm_up`)."""
    started = time.perf_counter()
    try:
        for backend in backends:
            with fresh_database(backend) as url:
                warm_up(url)
    except Exception:
        print("  the warm-up failed (the sections will say more):")
        print("  " + traceback.format_exc().strip().splitlines()[-1])
        return
    report.note(f"(warmed up on {', '.join(backends)} in {time.perf_counter() - started:.1f} s)")


def _run(name: str, chosen: Sizes, backends: list[str]) -> None:
    """One section, its failure printed rather than raised."""
    title, run = TITLES[name]
    report.section(title)
    started = time.perf_counter()
    try:
        run(chosen, backends)
    except Exception:
        print(f"  section {name} failed:")
        print("  " + traceback.format_exc().strip().replace("\n", "\n  "))
    report.note(f"({time.perf_counter() - started:.1f} s)")


def main(argv: list[str] | None = None) -> None:
    """Run the chosen sections and print their tables."""
    arguments = _arguments(argv)
    chosen = sizes(arguments.quick)
    started = time.perf_counter()
    print(f"chargeflow benchmarks, {chosen.name} sizes")
    backends = []
    for backend in BACKENDS:
        reason = unavailable(backend)
        if reason is None:
            backends.append(backend)
        else:
            print(f"  {reason}")
    try:
        if set(arguments.only) - {"binding"}:
            _warm_up(backends)
        for name in arguments.only:
            _run(name, chosen, backends)
    finally:
        close_all()
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
