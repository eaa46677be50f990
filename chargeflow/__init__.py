"""chargeflow: an explicit state-machine engine for usage-based billing charges.

Start with `open_app`::

    from chargeflow import open_app, FrozenClock
    app = open_app("sqlite://", clock=FrozenClock("2025-12-01T00:00:00Z"))
"""

from chargeflow.app import App, open_app
from domain.charge import SettlementMode
from domain.clock import Clock, FrozenClock, SystemClock
from domain.errors import ChargeflowError
from domain.statuses import ChargeStatus, MetaStatus
from domain.triggers import DeletePolicy, Trigger

__all__ = [
    "App",
    "ChargeStatus",
    "ChargeflowError",
    "Clock",
    "DeletePolicy",
    "FrozenClock",
    "MetaStatus",
    "SettlementMode",
    "SystemClock",
    "Trigger",
    "open_app",
]
