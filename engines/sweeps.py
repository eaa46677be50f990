"""Sweeps: advancing every due charge or invoice, one unit of work each (docs/lifecycle.md
section 3, "the due sweep").

A sweep pages through the due keys (keyset pagination: each item at most once per sweep) and
handles each item in its own operation, so one failing item, whatever its error, is rolled
back, logged and reported, and never blocks or undoes the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import ChargeflowError, InvalidInputError
from engines.operation import Operation, Operations

_log = logging.getLogger("chargeflow.engines")

MAX_BATCH_SIZE = 100_000

DueKeys = Callable[
    [Operation, datetime, tuple[datetime, str] | None, int], list[tuple[datetime, str]]
]
"""``(op, now, after, limit)`` -> up to `limit` due ``(due_at, id)`` keys after `after`."""
Handle = Callable[[Operation, str], bool]
"""Advance one item within `op`; whether it moved."""


@dataclass
class AdvanceReport:
    """What a sweep did: the ids it advanced, and the ones it could not with the error each
    raised (a typed refusal, or an unexpected error: the sweep went on)."""

    advanced: list[str] = field(default_factory=list)
    failed: dict[str, Exception] = field(default_factory=dict)


def sweep(
    operations: Operations,
    due: DueKeys,
    handle: Handle,
    *,
    batch_size: int,
    visited: Callable[[str], None] | None,
    kind: str,
) -> AdvanceReport:
    """Handle every item `due` lists at the clock's now, `batch_size` keys at a time, each in
    its own operation; `visited(id)` after each. `InvalidInputError` unless `batch_size` is a
    whole number from 1 to 100,000."""
    _require_batch_size(batch_size)
    now = operations.clock.now()
    report = AdvanceReport()
    after: tuple[datetime, str] | None = None
    while True:
        with operations(now) as op:
            keys = due(op, now, after, batch_size)
        for _, item_id in keys:
            _handle(operations, now, handle, item_id, report=report, kind=kind)
            if visited is not None:
                visited(item_id)
        if len(keys) < batch_size:
            return report
        after = keys[-1]


def _handle(
    operations: Operations,
    now: datetime,
    handle: Handle,
    item_id: str,
    *,
    report: AdvanceReport,
    kind: str,
) -> None:
    try:
        with operations(now) as op:
            moved = handle(op, item_id)
    except ChargeflowError as error:
        report.failed[item_id] = error
    except Exception as error:  # isolate the blast radius: log it, go on
        _log.exception("advancing %s %s failed", kind, item_id)
        report.failed[item_id] = error
    else:
        if moved:
            report.advanced.append(item_id)


def _require_batch_size(batch_size: object) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise InvalidInputError(
            f"batch_size must be a whole number, not {type(batch_size).__name__}"
        )
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidInputError(f"batch_size must be from 1 to {MAX_BATCH_SIZE}")
