"""Voiding runs and giving their credits back: what deleting a charge and changing its period
do to runs that no longer stand (docs/lifecycle.md sections 6, 10 and 11)."""

from __future__ import annotations

from collections.abc import Sequence

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.effects import DeleteStandardLine, InvoiceEffect
from chargeflow.domain.runs import RealizationRun, Totals
from chargeflow.domain.triggers import Trigger
from chargeflow.engines import credits
from chargeflow.engines.operation import Operation


def give_back_credits(
    op: Operation, charge: UsageBasedCharge, run: RealizationRun, trigger: Trigger
) -> None:
    """Correct every credit `run` still holds (newest first, booked at its period end); its
    totals follow."""
    held = run.net_credits()
    if held:
        credits.correct(op, charge, run, held, trigger)
        run.totals = Totals.of(run.totals.amount, run.net_credits())
        op.uow.charges.save_run(run)


def void_run(
    op: Operation, charge: UsageBasedCharge, run: RealizationRun, trigger: Trigger
) -> Sequence[InvoiceEffect]:
    """Void `run`: its credits given back, `deleted_at` set, no longer current; the effect
    deleting its standard line, if it has one."""
    held = run.net_credits()
    if held:
        credits.correct(op, charge, run, held, trigger)
    run.totals = Totals.of(run.totals.amount, run.net_credits())
    run.deleted_at = op.now
    op.uow.charges.save_run(run)
    if charge.state.current_run_id == run.id:
        charge.state.current_run_id = None
    return (DeleteStandardLine(run.line_id),) if run.line_id else ()
