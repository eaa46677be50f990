"""The binding micro-benchmark: binding a charge at its persisted status and firing one trigger
through chargeflow's shared machine, against a long-lived `transitions` model re-fired.

Both fire ``next`` from `created` (the guard "inside service period" checked, the entry action
dispatched to a no-op), in memory, no database. The baseline is the cheapest way to use
`transitions`: one `Machine` built once with one model, its rows the spec's rows (same guards,
same entry callbacks), re-fired after setting the model's state and subject, which is all
binding does. The goal: chargeflow within 1.5x of it.

This section reaches into the engine's internals (`statemachines`, `domain`), the only one that
does: there is no public API to a machine without a database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import transitions

from benchmarks import report
from benchmarks.settings import PERIOD, Sizes
from chargeflow import ChargeIntent, ChargeStatus, Trigger, UsageBasedCharge

GOAL = 1.5
JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)


def _a_charge() -> UsageBasedCharge:
    intent = ChargeIntent.model_validate(
        {
            "customer_id": "c",
            "currency": "USD",
            "feature_key": "f",
            "service_period": PERIOD,
            "settlement_mode": "credit_only",
            "price": {"type": "unit", "amount": "1"},
        }
    )
    return UsageBasedCharge(intent=intent, created_at=JAN_1)


def _per_call_us(work: Callable[[], object], calls: int) -> float:
    for _ in range(min(calls, 1_000)):  # warm up
        work()
    started = time.perf_counter()
    for _ in range(calls):
        work()
    return (time.perf_counter() - started) / calls * 1e6


class _Model:
    """The long-lived model: a charge's state, and what the guards and actions read."""

    state: ChargeStatus
    subject: UsageBasedCharge
    now: datetime


def run(sizes: Sizes) -> None:
    """Measure and print."""
    from chargeflow.statemachines.credit_only import CREDIT_ONLY
    from chargeflow.statemachines.registry import CHARGE_MACHINES

    charge = _a_charge()
    machine = CHARGE_MACHINES[charge.intent.settlement_mode]

    def no_action(action: Any, argument: Any) -> None:
        return None

    def shared() -> object:
        return machine.fire(charge, ChargeStatus.CREATED, Trigger.NEXT, JAN_1, no_action)

    def condition(guard: Any) -> Callable[[Any], bool]:
        return lambda event: bool(guard.check(event.model.subject, event.model.now))

    def entry(actions: tuple[Any, ...]) -> Callable[[Any], None]:
        def enter(event: Any) -> None:
            for action in actions:
                no_action(action, None)

        return enter

    model = _Model()
    long_lived = transitions.Machine(
        model=model,
        states=list(CREDIT_ONLY.statuses),
        initial=CREDIT_ONLY.initial,
        auto_transitions=False,
        send_event=True,
    )
    for row in CREDIT_ONLY.rows:
        long_lived.add_transition(
            trigger=row.trigger.value,
            source=row.source,
            dest=row.dest,
            conditions=[condition(guard) for guard in row.guards],
            after=[entry(row.entry)] if row.entry else [],
        )
    event = long_lived.events[Trigger.NEXT.value]

    def refire() -> object:
        model.state, model.subject, model.now = ChargeStatus.CREATED, charge, JAN_1
        return event.trigger(model)

    if shared() is not ChargeStatus.ACTIVE or not refire() or model.state != ChargeStatus.ACTIVE:
        raise RuntimeError("the two do not make the same transition")
    ours = _per_call_us(shared, sizes.binding_calls)
    baseline = _per_call_us(refire, sizes.binding_calls)
    table = report.Table(
        ["bind + fire `next` from created", "µs per charge", "ratio"],
        title=f"in memory, {sizes.binding_calls:,} calls each; goal: within {GOAL}x",
    )
    table.add("chargeflow shared machine", f"{ours:.1f}", report.ratio(ours, baseline))
    table.add("long-lived transitions model", f"{baseline:.1f}", "1.0x")
    table.print()
    verdict = "meets" if ours <= GOAL * baseline else "MISSES"
    report.note(f"chargeflow {verdict} the {GOAL}x goal ({ours / baseline:.2f}x)")
