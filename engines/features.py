"""Resolving a charge's feature key to the feature currently registered under it."""

from __future__ import annotations

from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.errors import NotFoundError
from chargeflow.engines.operation import Operation


def current_feature_id(op: Operation, charge: UsageBasedCharge) -> str:
    """The id of the live feature registered under the charge's key; `NotFoundError` if none."""
    feature_id = op.live_feature_id(charge.intent.feature_key)
    if feature_id is None:
        raise NotFoundError("feature", charge.intent.feature_key)
    return feature_id
