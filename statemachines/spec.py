"""The shape of a machine spec: transitions as rows, activation actions per status.

A spec is plain, immutable data. Guards are named pure functions of (subject, now); actions are
names that the engine implements. Two kinds of actions exist (docs/lifecycle.md section 3):

- **entry actions** belong to a row and run while the transition enters its destination; they
  receive the trigger's argument;
- **activation actions** belong to a status and run after every successful transition into it
  (fire, then activate); they take no argument.

A row without a destination is **internal** (docs/lifecycle.md section 2): its entry actions
decide the status the subject ends in, and no activation follows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)  # status
T = TypeVar("T", bound=StrEnum)  # trigger
A = TypeVar("A", bound=StrEnum)  # action name
Subject = TypeVar("Subject")


@dataclass(frozen=True)
class Guard(Generic[Subject]):
    """A named condition on (subject, now); the name labels diagrams and error messages.
    `compared`, when given, states the values the condition compares for a subject at an
    instant, e.g. ``now 2026-01-20T00:00:00Z < service period end 2026-02-01T00:00:00Z``
    (what "why can't this fire?" shows); it decides nothing."""

    name: str
    check: Callable[[Subject, datetime], bool]
    compared: Callable[[Subject, datetime], str] | None = None

    def explain(self, subject: Subject, now: datetime) -> str:
        """What the guard compared for `subject` at `now` (its name if it cannot say more)."""
        return self.compared(subject, now) if self.compared is not None else self.name


@dataclass(frozen=True)
class Row(Generic[S, T, A, Subject]):
    """``source --trigger[guards]--> dest``, running `entry` actions on the way in; `dest`
    None makes the row internal (its entry actions set the status, no activation follows)."""

    trigger: T
    source: S
    dest: S | None
    guards: tuple[Guard[Subject], ...] = ()
    entry: tuple[A, ...] = ()

    @property
    def internal(self) -> bool:
        """Whether the row's entry actions, not the row, decide where the subject ends."""
        return self.dest is None


@dataclass(frozen=True)
class TriggerCheck(Generic[S, T]):
    """Whether `trigger` may fire from a status now. `has_row` False: no row leaves the status
    on it. Otherwise `failed` holds, when no row's guards all pass, each failing guard as
    ``(name, what it compared)``; when one passes, `failed` is empty and `dest` is where that
    row goes (None for an internal row, whose actions decide)."""

    trigger: T
    has_row: bool
    dest: S | None = None
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def permitted(self) -> bool:
        """Whether the trigger may fire now."""
        return self.has_row and not self.failed


@dataclass(frozen=True)
class MachineSpec(Generic[S, T, A, Subject]):
    """A lifecycle: its statuses, initial and terminal statuses, rows and activation actions.

    `meta` maps each status to its meta status; `continuation` is the trigger that "advance until
    stable" fires repeatedly.
    """

    name: str
    statuses: tuple[S, ...]
    initial: S
    terminal: frozenset[S]
    rows: tuple[Row[S, T, A, Subject], ...]
    continuation: T
    meta: Callable[[S], StrEnum]
    activation: Mapping[S, tuple[A, ...]] = field(default_factory=dict)

    def activation_of(self, status: S) -> tuple[A, ...]:
        """The activation actions of `status` (none for most)."""
        return self.activation.get(status, ())

    def triggers(self) -> tuple[T, ...]:
        """The triggers this spec uses, in first-use order."""
        return tuple(dict.fromkeys(row.trigger for row in self.rows))

    def never_continued(self) -> frozenset[S]:
        """The statuses no `continuation` row leaves: advancing a subject there does nothing
        (only another trigger, fired by someone else, moves it on)."""
        continued = {row.source for row in self.rows if row.trigger == self.continuation}
        return frozenset(status for status in self.statuses if status not in continued)

    def rows_from(self, status: S, trigger: T) -> tuple[Row[S, T, A, Subject], ...]:
        """The rows leaving `status` on `trigger`, in spec order."""
        return self._rows_by_source.get((status, trigger), ())

    @cached_property
    def _rows_by_source(self) -> dict[tuple[S, T], tuple[Row[S, T, A, Subject], ...]]:
        """The rows by (source, trigger), in spec order: indexed once (every advance asks)."""
        index: dict[tuple[S, T], list[Row[S, T, A, Subject]]] = {}
        for row in self.rows:
            index.setdefault((row.source, row.trigger), []).append(row)
        return {key: tuple(rows) for key, rows in index.items()}

    def check(self, subject: Subject, status: S, trigger: T, now: datetime) -> TriggerCheck[S, T]:
        """Whether `trigger` may fire at `subject` in `status` at `now`, and if not, why (the
        first row whose guards all pass is the one firing would take). Pure: runs no action."""
        rows = self.rows_from(status, trigger)
        failed: list[tuple[str, str]] = []
        for row in rows:
            failing = [guard for guard in row.guards if not guard.check(subject, now)]
            if not failing:
                return TriggerCheck(trigger, has_row=True, dest=row.dest)
            failed.extend((guard.name, guard.explain(subject, now)) for guard in failing)
        return TriggerCheck(trigger, has_row=bool(rows), failed=tuple(failed))
