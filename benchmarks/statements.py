"""SQL statements per charge for each sweep (and per invoice line), and a check that the floors
write exactly the rows chargeflow writes.

A few charges go through the reference lifecycle, and a few lines through invoicing and
collection, once per implementation. Chargeflow's statements are counted with SQLAlchemy's
``before_cursor_execute`` event; the floors count their own the same way (SQLite's
``BEGIN IMMEDIATE`` counts; COMMIT and psycopg's implicit BEGIN are never seen). Each cell is
``reads/writes/control`` per charge (or line).

Around each operation every table is snapshotted, and the net rows chargeflow changed are
compared with each floor's (ids masked). A difference means a floor no longer mirrors the
engine: it is printed, and that floor's ratios above are not like for like until it is fixed.
Rows chargeflow deletes and re-inserts unchanged are reported as churn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from benchmarks import report
from benchmarks.capture import Snapshots, TableChanges, differences, net_changes, statements
from benchmarks.capture import Statements as Seen
from benchmarks.settings import Sizes
from benchmarks.subjects import (
    BILLING,
    BILLING_IMPLEMENTATIONS,
    CHARGEFLOW,
    IDLE,
    LEGEND,
    LIFECYCLE,
    LIFECYCLE_IMPLEMENTATIONS,
    Subject,
    billing_subject,
    lifecycle_subject,
)

FLOORS = LIFECYCLE_IMPLEMENTATIONS[1:]
Found = dict[tuple[str, str], "Observed"]
"""What each (implementation, operation) did."""


@dataclass
class Observed:
    """What one implementation did in one operation."""

    seen: Seen
    changes: dict[str, TableChanges]


def observe(backend: str, count: int, batch: int) -> Found:
    """Every operation of every implementation on `backend`."""
    found: Found = {}
    for implementation in LIFECYCLE_IMPLEMENTATIONS:
        opened = lifecycle_subject(implementation, backend, count, batch)
        found.update(_observe(opened, implementation, LIFECYCLE))
    for implementation in BILLING_IMPLEMENTATIONS:
        opened = billing_subject(implementation, backend, count, batch)
        found.update(_observe(opened, implementation, (*BILLING, IDLE)))
    return found


def _observe(
    opened: AbstractContextManager[Subject], implementation: str, operations: tuple[str, ...]
) -> Iterator[tuple[tuple[str, str], Observed]]:
    with opened as subject:
        snapshots = Snapshots(subject.url)
        try:
            for operation in operations:
                before = snapshots.take()
                floor_before = dict(subject.raw.seen.kinds) if subject.raw else {}
                with statements() as seen:
                    subject.run(operation)
                if subject.raw is not None:
                    seen = Seen()
                    for kind, total in subject.raw.seen.kinds.items():
                        seen.kinds[kind] = total - floor_before.get(kind, 0)
                changes = net_changes(before, snapshots.take())
                yield (implementation, operation), Observed(seen, changes)
        finally:
            snapshots.close()


def _cell(found: Found, key: tuple[str, str], count: int) -> str:
    if key not in found:
        return "-"
    kinds = found[key].seen.kinds
    return "/".join(report.count(kinds[kind] / count) for kind in ("read", "write", "control"))


def _net_rows(changes: dict[str, TableChanges], count: int) -> str:
    rows = sum(len(c.inserted) + len(c.updated) + len(c.deleted) for c in changes.values())
    return report.count(rows / count)


def run(sizes: Sizes, backends: list[str]) -> None:
    """Count, compare and print, over the available `backends`."""
    count = sizes.statement_charges
    observed = {backend: observe(backend, count, sizes.batch) for backend in backends}
    first = observed[backends[0]]
    headers = ["per charge (per line)", "net rows", *(f"{CHARGEFLOW} {b}" for b in backends)]
    headers += [floor.removeprefix("floor: ") for floor in FLOORS]
    table = report.Table(
        headers,
        title=(
            f"reads/writes/control statements, {count} charges (lines); "
            f"the floors' as counted on {backends[0]}"
        ),
    )
    for operation in (*LIFECYCLE, *BILLING, IDLE):
        # the idle sweep also visits the warm-up customer's one waiting charge
        per = count + 1 if operation == IDLE else count
        table.add(
            operation if operation in LIFECYCLE else f"{operation} (per line)",
            _net_rows(first[(CHARGEFLOW, operation)].changes, per),
            *(_cell(observed[b], (CHARGEFLOW, operation), per) for b in backends),
            *(_cell(first, (floor, operation), per) for floor in FLOORS),
        )
    table.print()
    report.note(LEGEND)
    report.note(
        "control: BEGIN IMMEDIATE (SQLite), SAVEPOINT, RELEASE; COMMIT and PostgreSQL's BEGIN "
        "are not seen by before_cursor_execute"
    )
    report.note(
        f"{IDLE}: a due sweep after collection, every charge waiting for the invoice's "
        "approval: nothing can move, and ideally nothing is visited"
    )
    print()
    print(
        f"  net rows chargeflow leaves, {count} charges (lines); + inserted, ~ updated, - deleted"
    )
    for operation in (*LIFECYCLE, *BILLING, IDLE):
        _shape(operation, observed)
    print()


def _shape(operation: str, observed: dict[str, Found]) -> None:
    first = next(iter(observed.values()))
    ours = first[(CHARGEFLOW, operation)].changes
    summary = ", ".join(f"{table} {c.summary()}" for table, c in ours.items() if c.summary())
    print(f"  {operation}: {summary or 'no row changed'}")
    churn = [f"{c.replaced_unchanged} {t}" for t, c in ours.items() if c.replaced_unchanged]
    if churn:
        print(f"    chargeflow also deletes and re-inserts unchanged: {', '.join(churn)} rows")
    problems = [
        f"{floor} on {backend}: {line}"
        for backend, found in observed.items()
        for floor in FLOORS
        if (floor, operation) in found
        for line in differences(
            found[(CHARGEFLOW, operation)].changes, found[(floor, operation)].changes
        )
    ]
    for line in problems:
        print(f"    FLOOR DRIFT {line}")
    if not problems:
        print("    every floor leaves exactly these rows, on every backend")
