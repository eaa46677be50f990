"""Asking a charge what may fire now, and why not the rest (docs/lifecycle.md section 2,
"Asking what may fire"): the use case behind ``app.charges.triggers(id)`` and ``chargeflow
charges explain``.

It judges every trigger of the charge's machine from the persisted status at the operation's
instant (the machine's rows and guards, nothing else), then rehearses an advance to tell which
statuses `next` would pass through. It must run in an operation that is rolled back
(`Operations.rehearse`): the rehearsal performs the real actions, and only the rollback keeps
them from being written.
"""

from __future__ import annotations

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.errors import ChargeflowError
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.trigger_options import (
    ChargeTriggers,
    FailingGuard,
    TriggerOption,
    TriggerVerdict,
)
from chargeflow.domain.triggers import BILLING_TRIGGERS
from chargeflow.engines import charge_lifecycle
from chargeflow.engines.charge_lifecycle import CHARGES
from chargeflow.engines.operation import Operation


def charge_triggers(op: Operation, charge_id: str) -> ChargeTriggers:
    """Every trigger of the charge's machine judged now, and what advancing now would do;
    `NotFoundError` for an unknown charge. The operation must be rolled back afterwards."""
    charge = op.uow.charges.get(charge_id, lock=True)
    spec = CHARGES.machine(charge).spec
    status = charge.state.status  # before the rehearsal moves it
    options = []
    for trigger in spec.triggers():
        check = spec.check(charge, status, trigger, op.now)
        if not check.has_row:
            verdict = TriggerVerdict.NOT_FROM_STATUS
        else:
            verdict = TriggerVerdict.PERMITTED if check.permitted else TriggerVerdict.GUARD_FAILING
        options.append(
            TriggerOption(
                trigger=trigger,
                verdict=verdict,
                to_status=check.dest,
                failing=tuple(
                    FailingGuard(guard=name, compared=text) for name, text in check.failed
                ),
                fired_by_billing=trigger in BILLING_TRIGGERS,
            )
        )
    path, error = _rehearse_advance(op, charge)
    return ChargeTriggers(
        charge_id=charge.id,
        status=status,
        as_of=op.now,
        triggers=tuple(options),
        advance_path=path,
        advance_error=error,
    )


def _rehearse_advance(
    op: Operation, charge: UsageBasedCharge
) -> tuple[tuple[ChargeStatus, ...], str | None]:
    """Advance `charge` in `op` (to be rolled back): the statuses it passed through, or the
    error advancing met (then the path is not known, and empty)."""
    before = len(op.uow.history.for_charge(charge.id))
    try:
        charge_lifecycle.advance(op, charge)
    except ChargeflowError as error:
        return (), str(error)
    moved = op.uow.history.for_charge(charge.id)[before:]
    return tuple(record.to_status for record in moved), None
