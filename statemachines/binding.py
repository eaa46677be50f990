"""The one binding of a machine spec to `transitions`.

`BoundMachine` builds one `transitions.Machine` per spec, once (no model registered on it,
``auto_transitions=False``). A subject is bound at its persisted status by wrapping it in a
small slotted proxy for the duration of one trigger; no `Machine` is constructed per subject
and no subject is ever registered on the shared machine, so nothing leaks between calls.

A refused trigger never returns a silent ``False``: an unknown trigger or one with no row from
the status raises `TriggerNotPermittedError`; a row whose guard fails raises `GuardFailedError`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, cast

from transitions import EventData, Machine, MachineError

from chargeflow.domain.errors import GuardFailedError, TriggerNotPermittedError
from chargeflow.statemachines.spec import A, Guard, MachineSpec, Row, S, Subject, T

Perform = Callable[[A, object | None], None]
"""Runs one entry action with the trigger's argument (a typed model, or None)."""


class _Binding(Generic[A, Subject]):
    """What the shared machine sees as its model during one trigger (`state`: the value of
    the subject's status)."""

    __slots__ = ("now", "perform", "state", "subject")

    def __init__(self, state: str, subject: Subject, now: datetime, perform: Perform[A]) -> None:
        self.state = state
        self.subject = subject
        self.now = now
        self.perform = perform


def _guard_condition(guard: Guard[Subject]) -> Callable[[EventData], bool]:
    def condition(event: EventData) -> bool:
        binding = cast(_Binding[Any, Subject], event.model)
        return guard.check(binding.subject, binding.now)

    return condition


def _entry_callback(actions: tuple[A, ...]) -> Callable[[EventData], None]:
    def enter(event: EventData) -> None:
        binding = cast(_Binding[A, Any], event.model)
        arguments = tuple(event.args)
        argument = arguments[0] if arguments else None
        for action in actions:
            binding.perform(action, argument)

    return enter


class BoundMachine(Generic[S, T, A, Subject]):
    """A spec bound to its single `transitions.Machine`; cheap to apply to any subject.

    `identify` gives a subject's id and `subject` its kind ("charge", "invoice") for errors.
    """

    def __init__(
        self,
        spec: MachineSpec[S, T, A, Subject],
        identify: Callable[[Subject], str],
        subject: str,
    ) -> None:
        self.spec = spec
        self._identify = identify
        self._subject = subject
        self._status = {status.value: status for status in spec.statuses}
        """Each status by its value: the shared machine names its states by value (an
        enum-named state costs `transitions` an enum lookup at every name it reads)."""
        self._machine = Machine(
            model=None,
            states=list(self._status),
            initial=spec.initial.value,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        self._internal = frozenset((row.source, row.trigger) for row in spec.rows if row.internal)
        for row in spec.rows:
            self._machine.add_transition(
                trigger=row.trigger.value,
                source=row.source.value,
                dest=None if row.dest is None else row.dest.value,
                conditions=[_guard_condition(guard) for guard in row.guards],
                after=[_entry_callback(row.entry)] if row.entry else [],
            )

    def permits(self, subject: Subject, status: S, trigger: T, now: datetime) -> bool:
        """Whether `trigger` may fire from `status` now (a row exists and its guards pass)."""
        return self._first_passing(subject, status, trigger, now) is not None

    def fire(
        self,
        subject: Subject,
        status: S,
        trigger: T,
        now: datetime,
        perform: Perform[A],
        *,
        argument: object | None = None,
    ) -> S | None:
        """Fire `trigger` at `subject` standing in `status`; return the status it moved to, or
        None when the row taken is internal (its entry actions decided the status).

        Entry actions of the taken row run through `perform` with `argument` (the trigger's
        typed argument, handed to `transitions` as the event's one positional argument; an
        internal row is a `transitions` transition without a destination).
        Raises `TriggerNotPermittedError` or `GuardFailedError`; then no action has run.
        """
        binding: _Binding[A, Subject] = _Binding(status.value, subject, now, perform)
        event = self._machine.events.get(trigger.value)
        if event is None:
            raise self._not_permitted(subject, status, trigger)
        try:
            moved = event.trigger(binding, *(() if argument is None else (argument,)))
        except MachineError as error:
            raise self._not_permitted(subject, status, trigger) from error
        if not moved:
            raise GuardFailedError(
                self._identify(subject),
                status.value,
                trigger.value,
                self._failing_guard(subject, status, trigger, now),
                subject=self._subject,
            )
        return None if (status, trigger) in self._internal else self._status[binding.state]

    def _first_passing(
        self, subject: Subject, status: S, trigger: T, now: datetime
    ) -> Row[S, T, A, Subject] | None:
        for row in self.spec.rows_from(status, trigger):
            if all(guard.check(subject, now) for guard in row.guards):
                return row
        return None

    def _failing_guard(self, subject: Subject, status: S, trigger: T, now: datetime) -> str:
        failed = self.spec.check(subject, status, trigger, now).failed
        return failed[0][0] if failed else "unknown"

    def _not_permitted(self, subject: Subject, status: S, trigger: T) -> TriggerNotPermittedError:
        return TriggerNotPermittedError(
            self._identify(subject),
            status.value,
            trigger.value,
            f"{self.spec.name} has no {trigger.value!r} transition from {status.value!r}",
            subject=self._subject,
        )
