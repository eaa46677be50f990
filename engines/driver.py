"""The one driver of every machine: fire a trigger, activate the status reached, persist and
audit, advance until stable (docs/architecture.md, one driver for every machine).

A `Lifecycle` adapts one kind of subject (a charge, an invoice) to the driver: which bound
machine it follows, where its status lives, how an action is performed, and how a transition is
persisted and audited. The driver itself knows no subject.

A transition is "fire, then activate": the bound machine checks the trigger and its guards and
runs the row's entry actions with the trigger's typed argument; the driver then runs the new
status's activation actions (none after an internal row, whose entry actions set the status),
and the lifecycle persists the subject and appends one audit record, all in the operation's
unit of work. Actions may return invoice effects: they are kept
on the operation, advancing stops, and the caller applies them before advancing again
(advancing with effects unapplied raises `UnappliedEffectsError`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Protocol, TypeVar, cast

from chargeflow.domain.effects import InvoiceEffect
from chargeflow.domain.triggers import TriggerArgument
from chargeflow.engines.operation import Operation
from chargeflow.statemachines.binding import BoundMachine

Subject = TypeVar("Subject")
S = TypeVar("S", bound=StrEnum)
T = TypeVar("T", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)


class Lifecycle(Protocol[Subject, S, T, A]):
    """What the driver needs to know about one kind of subject."""

    def machine(self, subject: Subject) -> BoundMachine[S, T, A, Subject]:
        """The bound machine `subject` follows (`CorruptRecordError` if its status is not one
        of that machine's)."""
        ...

    def status(self, subject: Subject) -> S:
        """Where `subject` stands."""
        ...

    def perform(
        self,
        op: Operation,
        subject: Subject,
        trigger: T,
        action: A,
        argument: TriggerArgument | None,
    ) -> Sequence[InvoiceEffect]:
        """Run `action` on `subject` (for `trigger`, with its argument); the effects it needs."""
        ...

    def audit(self, subject: Subject, argument: TriggerArgument | None) -> dict[str, str]:
        """What the audit record of a transition about to fire keeps: its argument's fields as
        text, and what of the subject it may change that the record must show."""
        ...

    def moved(
        self,
        op: Operation,
        subject: Subject,
        transition: tuple[S, T, S],
        audit: Mapping[str, str],
    ) -> None:
        """Set the subject's status to the transition's destination, persist the subject and
        append one audit record of ``(source, trigger, dest)`` with `audit`."""
        ...


def permits(
    op: Operation, lifecycle: Lifecycle[Subject, S, T, A], subject: Subject, trigger: T
) -> bool:
    """Whether `trigger` may fire at `subject` now (a row exists and its guards pass)."""
    return lifecycle.machine(subject).permits(subject, lifecycle.status(subject), trigger, op.now)


def fire(
    op: Operation,
    lifecycle: Lifecycle[Subject, S, T, A],
    subject: Subject,
    trigger: T,
    argument: TriggerArgument | None = None,
) -> None:
    """Fire `trigger` with its typed `argument`, activate the status reached, persist, audit;
    the effects the actions produced are added to `op.effects`.

    Raises `UnappliedEffectsError` if effects are pending, the machine's typed refusal, or any
    error of an action; the caller's unit of work then rolls back, so nothing has changed.
    """
    op.require_no_pending_effects()
    machine = lifecycle.machine(subject)
    source = lifecycle.status(subject)
    audit = lifecycle.audit(subject, argument)
    effects: list[InvoiceEffect] = []

    def entry(action: A, entry_argument: object | None) -> None:
        typed = cast(TriggerArgument | None, entry_argument)  # `argument`, handed back
        effects.extend(lifecycle.perform(op, subject, trigger, action, typed))

    dest = machine.fire(subject, source, trigger, op.now, entry, argument=argument)
    if dest is None:  # an internal row: its entry actions set the status, nothing activates
        dest = lifecycle.status(subject)
    else:
        for action in machine.spec.activation_of(dest):
            effects.extend(lifecycle.perform(op, subject, trigger, action, None))
    lifecycle.moved(op, subject, (source, trigger, dest), audit)
    op.effects.extend(effects)


def activate(
    op: Operation, lifecycle: Lifecycle[Subject, S, T, A], subject: Subject, trigger: T
) -> None:
    """Run the activation actions of the status `subject` stands in, without a transition:
    what a new subject gets once, on create (a subject that is merely loaded is never
    activated). The caller persists the subject; effects are added to `op.effects`."""
    machine = lifecycle.machine(subject)
    for action in machine.spec.activation_of(lifecycle.status(subject)):
        op.effects.extend(lifecycle.perform(op, subject, trigger, action, None))


def advance(op: Operation, lifecycle: Lifecycle[Subject, S, T, A], subject: Subject) -> bool:
    """Fire the machine's continuation trigger while it may fire; whether anything moved.

    Stops early after a transition that produced effects: the caller applies them and advances
    again. Raises `UnappliedEffectsError` if effects are pending when called.
    """
    op.require_no_pending_effects()
    machine = lifecycle.machine(subject)
    continuation = machine.spec.continuation
    moved = False
    while not op.effects and permits(op, lifecycle, subject, continuation):
        fire(op, lifecycle, subject, continuation)
        moved = True
    return moved
