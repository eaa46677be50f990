"""What both charge machines share: the row into `active` at the start of the service period,
the activation actions of `created` and `active`, `delete` from every status but `deleted`,
and the internal `extend` / `shrink` rows."""

from __future__ import annotations

from collections.abc import Iterable

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.triggers import Trigger
from chargeflow.statemachines.actions import ChargeAction
from chargeflow.statemachines.charge_guards import INSIDE_SERVICE_PERIOD
from chargeflow.statemachines.spec import Row

ChargeRow = Row[ChargeStatus, Trigger, ChargeAction, UsageBasedCharge]

ACTIVATE = ChargeRow(
    Trigger.NEXT,
    ChargeStatus.CREATED,
    ChargeStatus.ACTIVE,
    guards=(INSIDE_SERVICE_PERIOD,),
    entry=(ChargeAction.SYNC_FEATURE_ID,),
)
"""``created --next[inside service period]--> active``, syncing the feature id on the way in
(once: a charge keeps measuring the feature it was activated with)."""

CREATED_ACTIVATION = (ChargeAction.ADVANCE_AFTER_PERIOD_FROM,)
"""A new charge (activated once, on create): come back when the service period starts."""

ACTIVE_ACTIVATION = (ChargeAction.ADVANCE_AFTER_PERIOD_TO,)
"""Entering `active`: come back when the service period ends."""


def delete_rows(statuses: Iterable[ChargeStatus]) -> tuple[ChargeRow, ...]:
    """``status --delete--> deleted`` for every status but `deleted`, deleting the charge."""
    return tuple(
        ChargeRow(Trigger.DELETE, status, ChargeStatus.DELETED, entry=(ChargeAction.DELETE_CHARGE,))
        for status in statuses
        if status is not ChargeStatus.DELETED
    )


def period_change_rows(statuses: Iterable[ChargeStatus]) -> tuple[ChargeRow, ...]:
    """Internal ``extend`` and ``shrink`` rows from each of `statuses`: changing the period
    decides the status itself (docs/lifecycle.md section 11), and nothing activates."""
    return tuple(
        ChargeRow(trigger, status, None, entry=(ChargeAction.CHANGE_PERIOD,))
        for status in statuses
        for trigger in (Trigger.EXTEND, Trigger.SHRINK)
    )
