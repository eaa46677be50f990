"""chargeflow: an explicit state-machine engine for usage-based billing charges.

Everything a user needs is importable from here (never from the internal packages)::

    from chargeflow import open_app, FrozenClock
    app = open_app("sqlite://", clock=FrozenClock("2025-12-01T00:00:00Z"))

`__all__` is the public surface: the facade, the clocks, the models the facade returns, the
enums they carry, the typed trigger arguments, and every error class (all subclasses of
`ChargeflowError`). docs/architecture.md describes the layers behind it.
"""

from importlib.metadata import version as _version

from chargeflow.app import App, Schema, open_app, open_schema
from chargeflow.domain.charge import ChargeIntent, ChargeState, SettlementMode, UsageBasedCharge
from chargeflow.domain.clock import Clock, FrozenClock, SystemClock
from chargeflow.domain.credits import CreditAllocation, CreditGrant
from chargeflow.domain.customer import Customer
from chargeflow.domain.errors import (
    AmountOutOfRangeError,
    BillingError,
    ChargeError,
    ChargeflowError,
    ConflictError,
    CorruptRecordError,
    CreditAllocationMismatchError,
    CurrentRunExistsError,
    DowngradeRefusedError,
    GuardFailedError,
    InsufficientFundsError,
    InvalidCurrencyError,
    InvalidInputError,
    InvalidLineError,
    InvalidPeriodChangeError,
    InvalidTriggerArgumentError,
    LedgerError,
    LockBusyError,
    MachineDefinitionError,
    NegativeTotalError,
    NoCurrentRunError,
    NoLinesToInvoiceError,
    NotFoundError,
    PaymentAlreadyAuthorizedError,
    PaymentAlreadySettledError,
    PersistenceError,
    RetryAfterBillingAdvancesError,
    SchemaNotReadyError,
    TransitionRefusedError,
    TriggerNotPermittedError,
    UnappliedEffectsError,
)
from chargeflow.domain.feature import Feature
from chargeflow.domain.history import ChargeTransition, InvoiceTransition, TransitionRecord
from chargeflow.domain.ids import IdKind
from chargeflow.domain.invoices import (
    AppliedCredit,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoicePreview,
    InvoiceStatus,
    InvoiceTrigger,
    LineEngineType,
    LineStatus,
)
from chargeflow.domain.periods import Period
from chargeflow.domain.prices import (
    FlatPrice,
    PackagePrice,
    Price,
    Tier,
    TieredGraduatedPrice,
    TieredVolumePrice,
    UnitPrice,
)
from chargeflow.domain.runs import RealizationRun, RunType, Totals
from chargeflow.domain.statuses import ChargeStatus, MetaStatus
from chargeflow.domain.trigger_options import (
    ChargeTriggers,
    FailingGuard,
    TriggerOption,
    TriggerVerdict,
)
from chargeflow.domain.triggers import (
    Delete,
    DeletePolicy,
    InvoiceCreated,
    InvoiceIssued,
    PeriodChange,
    Trigger,
    TriggerArgument,
)
from chargeflow.domain.usage import UsageEvent
from chargeflow.engines.sweeps import AdvanceReport

__version__ = _version("chargeflow")
"""The installed distribution's version (pyproject.toml is its one source)."""

__all__ = [
    "AdvanceReport",
    "AmountOutOfRangeError",
    "App",
    "AppliedCredit",
    "BillingError",
    "ChargeError",
    "ChargeIntent",
    "ChargeState",
    "ChargeStatus",
    "ChargeTransition",
    "ChargeTriggers",
    "ChargeflowError",
    "Clock",
    "ConflictError",
    "CorruptRecordError",
    "CreditAllocation",
    "CreditAllocationMismatchError",
    "CreditGrant",
    "CurrentRunExistsError",
    "Customer",
    "Delete",
    "DeletePolicy",
    "DowngradeRefusedError",
    "FailingGuard",
    "Feature",
    "FlatPrice",
    "FrozenClock",
    "GuardFailedError",
    "IdKind",
    "InsufficientFundsError",
    "InvalidCurrencyError",
    "InvalidInputError",
    "InvalidLineError",
    "InvalidPeriodChangeError",
    "InvalidTriggerArgumentError",
    "Invoice",
    "InvoiceCreated",
    "InvoiceIssued",
    "InvoiceKind",
    "InvoiceLine",
    "InvoicePreview",
    "InvoiceStatus",
    "InvoiceTransition",
    "InvoiceTrigger",
    "LedgerError",
    "LineEngineType",
    "LineStatus",
    "LockBusyError",
    "MachineDefinitionError",
    "MetaStatus",
    "NegativeTotalError",
    "NoCurrentRunError",
    "NoLinesToInvoiceError",
    "NotFoundError",
    "PackagePrice",
    "PaymentAlreadyAuthorizedError",
    "PaymentAlreadySettledError",
    "Period",
    "PeriodChange",
    "PersistenceError",
    "Price",
    "RealizationRun",
    "RetryAfterBillingAdvancesError",
    "RunType",
    "Schema",
    "SchemaNotReadyError",
    "SettlementMode",
    "SystemClock",
    "Tier",
    "TieredGraduatedPrice",
    "TieredVolumePrice",
    "Totals",
    "TransitionRecord",
    "TransitionRefusedError",
    "Trigger",
    "TriggerArgument",
    "TriggerNotPermittedError",
    "TriggerOption",
    "TriggerVerdict",
    "UnappliedEffectsError",
    "UnitPrice",
    "UsageBasedCharge",
    "UsageEvent",
    "__version__",
    "open_app",
    "open_schema",
]
