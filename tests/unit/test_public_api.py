"""The public surface is pinned: `chargeflow.__all__` lists exactly what users import, every
error class is among it, and the facade hides the database it was opened on."""

from __future__ import annotations

import chargeflow
from chargeflow.domain import errors

PUBLIC = {
    # the facade and its clocks
    "__version__", "open_app", "App", "Clock", "FrozenClock", "SystemClock", "AdvanceReport",
    # the schema on its own (``chargeflow db``)
    "open_schema", "Schema", "IdKind",
    # what the facade returns
    "UsageBasedCharge", "ChargeIntent", "ChargeState", "RealizationRun", "Totals",
    "CreditAllocation", "CreditGrant", "Customer", "Feature", "UsageEvent", "Invoice",
    "InvoiceLine", "InvoicePreview", "AppliedCredit", "Period", "TransitionRecord",
    "ChargeTransition",
    "InvoiceTransition",
    # prices
    "Price", "UnitPrice", "FlatPrice", "PackagePrice", "TieredVolumePrice",
    "TieredGraduatedPrice", "Tier",
    # enums and typed trigger arguments
    "ChargeStatus", "MetaStatus", "SettlementMode", "Trigger", "DeletePolicy", "RunType",
    "InvoiceStatus", "InvoiceTrigger", "InvoiceKind", "LineEngineType", "LineStatus",
    "TriggerArgument", "InvoiceCreated", "InvoiceIssued", "Delete",
    # "why can't this fire?"
    "ChargeTriggers", "TriggerOption", "TriggerVerdict", "FailingGuard",
    # errors
    "ChargeflowError", "InvalidInputError", "InvalidCurrencyError", "NotFoundError",
    "ConflictError", "CorruptRecordError", "PersistenceError", "DowngradeRefusedError",
    "ChargeError", "TransitionRefusedError", "TriggerNotPermittedError", "GuardFailedError",
    "InvalidTriggerArgumentError", "CurrentRunExistsError", "NoCurrentRunError",
    "NegativeTotalError", "AmountOutOfRangeError", "CreditAllocationMismatchError",
    "InsufficientFundsError",
    "BillingError", "NoLinesToInvoiceError", "InvalidLineError", "MachineDefinitionError",
    "UnappliedEffectsError", "LedgerError", "PaymentAlreadyAuthorizedError",
    "PaymentAlreadySettledError", "InvalidPeriodChangeError", "RetryAfterBillingAdvancesError",
    "LockBusyError", "SchemaNotReadyError",
    "PeriodChange",
}  # fmt: skip


def test_all_is_exactly_the_public_surface() -> None:
    assert set(chargeflow.__all__) == PUBLIC
    assert len(chargeflow.__all__) == len(PUBLIC)
    for name in chargeflow.__all__:
        assert getattr(chargeflow, name) is not None


def test_every_error_class_is_exported() -> None:
    error_classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.ChargeflowError)
    }
    assert error_classes <= set(chargeflow.__all__)
    for name in error_classes:
        assert getattr(chargeflow, name) is getattr(errors, name)


def test_the_app_does_not_expose_its_database() -> None:
    app = chargeflow.open_app("sqlite://")
    try:
        assert not hasattr(app, "database")
        public = {name for name in vars(app) if not name.startswith("_")}
        assert public == {
            "ids",
            "worker",
            "clock",
            "customers",
            "features",
            "usage",
            "credits",
            "charges",
            "billing",
        }
    finally:
        app.close()
