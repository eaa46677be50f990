"""Sweeps: advancing every due charge or invoice, and invoicing every customer whose lines are
due, a batch per unit of work (docs/lifecycle.md section 3, "the due sweep").

A sweep claims the due items a batch at a time, in key order (keyset pagination: each item at
most once per sweep), locking them and skipping items another transaction holds (so several
sweeps, in several processes, share the work instead of queueing on the same rows). Each item
is handled inside its own savepoint: one that fails, whatever its error, is rolled back to
before it, logged when unexpected, and reported, and never blocks or undoes the others. A page
never waits for a lock another transaction holds (its rows are claimed skipping locked ones,
and a customer's credit lock is only tried): an item that would wait is rolled back and left
for the next sweep, so concurrent sweeps, each holding many locks, can never deadlock. The
batch commits once; a crash loses only the batch in flight, which the next sweep claims again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from chargeflow.domain.errors import ChargeflowError, InvalidInputError, LockBusyError
from chargeflow.engines.operation import Operation, Operations

_log = logging.getLogger("chargeflow.engines")

MAX_BATCH_SIZE = 100_000

K = TypeVar("K")
Item = TypeVar("Item")

Claim = Callable[[Operation, datetime, K | None, int], list[tuple[K, Item]]]
"""``(op, now, after, limit)`` -> up to `limit` due ``(key, item)`` pairs after key `after`, in
key order, claimed (locked) for the operation; an item is what `Handle` takes (an id, or the
item itself when the claim loads the page at once)."""
Handle = Callable[[Operation, Item], bool]
"""Advance one claimed item within `op`; whether it moved."""


@dataclass
class AdvanceReport:
    """What a sweep did: the ids it advanced, and the ones it could not with the error each
    raised (a typed refusal, or an unexpected error: the sweep went on); `visited` counts every
    item it handled, `batches` the units of work it committed, and `busy` lists the items left
    for a later sweep because another transaction held a lock they needed."""

    advanced: list[str] = field(default_factory=list)
    failed: dict[str, Exception] = field(default_factory=dict)
    visited: int = field(default=0, compare=False)
    batches: int = field(default=0, compare=False)
    busy: list[str] = field(default_factory=list, compare=False)


@dataclass
class Sweep(Generic[K, Item]):
    """How to sweep one kind of item: claim a batch of due items, handle one, name one."""

    kind: str
    claim: Claim[K, Item]
    handle: Handle[Item]
    ident: Callable[[Item], str]


def sweep(
    operations: Operations,
    kind: Sweep[K, Item],
    *,
    batch_size: int,
    visited: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> AdvanceReport:
    """Handle every item due at the clock's now, `batch_size` claimed per unit of work, each
    item in its own savepoint; `visited(id)` after each batch commits, for each of its items.
    `stop()` is asked before each batch: a sweep told to stop ends after the batch in flight.
    `InvalidInputError` unless `batch_size` is a whole number from 1 to 100,000."""
    _require_batch_size(batch_size)
    now = operations.clock.now()
    report = AdvanceReport()
    after: K | None = None
    while stop is None or not stop():
        batch = AdvanceReport()
        started = time.perf_counter()
        with operations(now) as op:
            op.uow.never_wait()  # a page holds many locks: waiting for one could deadlock
            claimed = kind.claim(op, now, after, batch_size)
            for _, item in claimed:
                _handle(op, kind, item, batch)
        if claimed:
            _log.info(
                "%s batch: %d claimed, %d advanced, %d failed in %.3fs",
                kind.kind,
                len(claimed),
                len(batch.advanced),
                len(batch.failed),
                time.perf_counter() - started,
            )
        report.advanced += batch.advanced
        report.failed.update(batch.failed)
        report.busy += batch.busy
        report.visited += len(claimed)
        report.batches += 1
        for _, item in claimed:
            if visited is not None:
                visited(kind.ident(item))
        if len(claimed) < batch_size:
            break
        after = claimed[-1][0]
    return report


def _handle(op: Operation, kind: Sweep[K, Item], item: Item, batch: AdvanceReport) -> None:
    """One item, in a savepoint: rolled back and reported if it fails."""
    item_id = kind.ident(item)
    try:
        with op.uow.savepoint():
            moved = kind.handle(op, item)
    except LockBusyError:  # another transaction works on its customer: the next sweep will
        op.effects.clear()
        batch.busy.append(item_id)
    except ChargeflowError as error:
        op.effects.clear()
        batch.failed[item_id] = error
    except Exception as error:  # isolate the blast radius: log it, go on
        op.effects.clear()
        _log.exception("advancing %s %s failed", kind.kind, item_id)
        batch.failed[item_id] = error
    else:
        if moved:
            batch.advanced.append(item_id)


def _require_batch_size(batch_size: object) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise InvalidInputError(
            f"batch_size must be a whole number, not {type(batch_size).__name__}"
        )
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidInputError(f"batch_size must be from 1 to {MAX_BATCH_SIZE}")
