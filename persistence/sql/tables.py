"""The SQL tables, as SQLModel ``table=True`` classes: one class per table, columns and indexes.

This module owns the shape of each row as the repositories read and write it. These classes are
not domain models and never leave `persistence.sql`: each aggregate's repository module maps
their rows to validated domain models and back. Enums are stored as their string values, money
as `ExactDecimal`, instants as `UtcDateTime`, prices and other structured values as JSON text.
The schema itself is created by the Alembic migrations only; these classes must describe
exactly what they create (a test compares them).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from chargeflow.persistence.sql.types import ExactDecimal, UtcDateTime

_NOT_ARCHIVED = text("archived_at IS NULL")
_GATHERING = text("kind = 'gathering'")


class CustomerRow(SQLModel, table=True):
    """A row of ``customers``, with the billing profile."""

    __tablename__ = "customers"

    id: str = Field(primary_key=True)
    name: str
    currency: str
    collection_interval: str
    progressive_billing: bool = Field(sa_type=Boolean, sa_column_kwargs={"server_default": false()})
    auto_approve: bool = Field(sa_type=Boolean, sa_column_kwargs={"server_default": false()})
    created_at: datetime = Field(sa_type=UtcDateTime)


class FeatureRow(SQLModel, table=True):
    """A row of ``features``: at most one unarchived row per key (a partial unique index)."""

    __tablename__ = "features"
    __table_args__ = (
        Index(
            "ux_features_key_live",
            "key",
            unique=True,
            sqlite_where=_NOT_ARCHIVED,
            postgresql_where=_NOT_ARCHIVED,
        ),
    )

    id: str = Field(primary_key=True)
    key: str
    name: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    archived_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class UsageEventRow(SQLModel, table=True):
    """A row of ``usage_events``; `feature_id` is the feature live under the key when the event
    was recorded (null for events no feature can be matched to)."""

    __tablename__ = "usage_events"
    __table_args__ = (
        Index(
            "ix_usage_events_customer_id_feature_key_event_time",
            "customer_id",
            "feature_key",
            "event_time",
        ),
        Index(
            "ix_usage_events_customer_id_feature_id_event_time",
            "customer_id",
            "feature_id",
            "event_time",
        ),
    )

    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customers.id")
    feature_key: str
    feature_id: str | None = None
    value: Decimal = Field(sa_type=ExactDecimal)
    event_time: datetime = Field(sa_type=UtcDateTime)
    stored_at: datetime = Field(sa_type=UtcDateTime)


class CreditGrantRow(SQLModel, table=True):
    """A row of ``credit_grants``."""

    __tablename__ = "credit_grants"
    __table_args__ = (Index("ix_credit_grants_customer_id", "customer_id"),)

    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customers.id")
    amount: Decimal = Field(sa_type=ExactDecimal)
    granted_at: datetime = Field(sa_type=UtcDateTime)
    remaining: Decimal = Field(sa_type=ExactDecimal)
    """What of the grant is not allocated: kept in step with every allocation drawn on it."""


class CreditOverdraftRow(SQLModel, table=True):
    """A row of ``credit_overdrafts``: the net credit allocated to a customer beyond any grant,
    kept in step with every such allocation (no row: none)."""

    __tablename__ = "credit_overdrafts"

    customer_id: str = Field(primary_key=True, foreign_key="customers.id")
    amount: Decimal = Field(sa_type=ExactDecimal)


class ChargeRow(SQLModel, table=True):
    """A row of ``charge_usage_based``: the charge's intent and state columns.

    `current_realization_run_id` has no foreign key: runs reference their charge, so one back
    would be circular.
    """

    __tablename__ = "charge_usage_based"
    __table_args__ = (
        Index("ix_charge_usage_based_advance_after_id", "advance_after", "id"),
        Index("ix_charge_usage_based_customer_id", "customer_id"),
        Index(
            "ux_charge_usage_based_customer_id_unique_reference_id",
            "customer_id",
            "unique_reference_id",
            unique=True,
        ),
    )

    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customers.id")
    name: str
    currency: str
    feature_key: str
    service_period_from: datetime = Field(sa_type=UtcDateTime)
    service_period_to: datetime = Field(sa_type=UtcDateTime)
    invoice_at: datetime = Field(sa_type=UtcDateTime)
    settlement_mode: str
    price: str = Field(sa_type=Text)
    status: str
    advance_after: datetime | None = Field(default=None, sa_type=UtcDateTime)
    current_realization_run_id: str | None = None
    feature_id: str | None = None
    created_at: datetime = Field(sa_type=UtcDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    unique_reference_id: str | None = None


class RunRow(SQLModel, table=True):
    """A row of ``charge_usage_based_runs``; `line_id` is unique and nulled with its line;
    `legacy_as_of` keeps the cutoff a version-1 run was rated at (null for later runs)."""

    __tablename__ = "charge_usage_based_runs"
    __table_args__ = (
        Index("ix_charge_usage_based_runs_charge_id", "charge_id"),
        Index("ux_charge_usage_based_runs_line_id", "line_id", unique=True),
    )

    id: str = Field(primary_key=True)
    charge_id: str = Field(foreign_key="charge_usage_based.id")
    type: str
    initial_type: str
    feature_id: str
    service_period_to: datetime = Field(sa_type=UtcDateTime)
    stored_at_lt: datetime = Field(sa_type=UtcDateTime)
    legacy_as_of: datetime | None = Field(default=None, sa_type=UtcDateTime)
    line_id: str | None = Field(
        default=None,
        sa_column_args=[
            ForeignKey(
                "billing_invoice_lines.id",
                name="fk_charge_usage_based_runs_line_id",
                ondelete="SET NULL",
            )
        ],
    )
    invoice_id: str | None = Field(
        default=None,
        sa_column_args=[
            ForeignKey(
                "billing_invoices.id",
                name="fk_charge_usage_based_runs_invoice_id",
                ondelete="SET NULL",
            )
        ],
    )
    metered_quantity: Decimal = Field(sa_type=ExactDecimal)
    amount: Decimal = Field(sa_type=ExactDecimal)
    credits_total: Decimal = Field(sa_type=ExactDecimal)
    total: Decimal = Field(sa_type=ExactDecimal)
    no_fiat_transaction_required: bool = Field(sa_type=Boolean)
    created_at: datetime = Field(sa_type=UtcDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class DetailedLineRow(SQLModel, table=True):
    """A row of ``charge_usage_based_run_detailed_lines``: one price component of a run's
    rating, `seq` numbering them in rating order, one per key and run."""

    __tablename__ = "charge_usage_based_run_detailed_lines"
    __table_args__ = (
        UniqueConstraint(
            "run_id", "key", name="ux_charge_usage_based_run_detailed_lines_run_id_key"
        ),
    )

    id: str = Field(primary_key=True)
    run_id: str = Field(foreign_key="charge_usage_based_runs.id")
    seq: int
    key: str
    quantity: Decimal = Field(sa_type=ExactDecimal)
    unit_amount: Decimal = Field(sa_type=ExactDecimal)
    amount: Decimal = Field(sa_type=ExactDecimal)


class InvoiceUsageRow(SQLModel, table=True):
    """A row of ``charge_usage_based_run_invoice_usages``: what a run's issued line billed."""

    __tablename__ = "charge_usage_based_run_invoice_usages"

    run_id: str = Field(primary_key=True, foreign_key="charge_usage_based_runs.id")
    amount: Decimal = Field(sa_type=ExactDecimal)
    credits_total: Decimal = Field(sa_type=ExactDecimal)
    total: Decimal = Field(sa_type=ExactDecimal)
    booked_at: datetime = Field(sa_type=UtcDateTime)
    ledger_reference: str | None = None


class PaymentRow(SQLModel, table=True):
    """A row of ``charge_usage_based_run_payments``: the payment of a run's invoiced total."""

    __tablename__ = "charge_usage_based_run_payments"

    run_id: str = Field(primary_key=True, foreign_key="charge_usage_based_runs.id")
    status: str
    amount: Decimal = Field(sa_type=ExactDecimal)
    authorized_at: datetime = Field(sa_type=UtcDateTime)
    authorization_reference: str
    settled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    settlement_reference: str | None = None


class AllocationRow(SQLModel, table=True):
    """A row of ``charge_usage_based_run_credit_allocations``.

    `seq` numbers a run's allocations 1, 2, 3... in the order they were added; `booked_at` is
    the accounting date (the end of the period the run bills).
    """

    __tablename__ = "charge_usage_based_run_credit_allocations"
    __table_args__ = (
        UniqueConstraint(
            "run_id", "seq", name="ux_charge_usage_based_run_credit_allocations_run_id_seq"
        ),
        Index("ix_charge_usage_based_run_credit_allocations_grant_id", "grant_id"),
    )

    id: str = Field(primary_key=True)
    run_id: str = Field(foreign_key="charge_usage_based_runs.id")
    seq: int
    charge_id: str = Field(foreign_key="charge_usage_based.id")
    amount: Decimal = Field(sa_type=ExactDecimal)
    grant_id: str | None = Field(default=None, foreign_key="credit_grants.id")
    corrects_allocation_id: str | None = Field(
        default=None, foreign_key="charge_usage_based_run_credit_allocations.id"
    )
    booked_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = Field(sa_type=UtcDateTime)


class TransitionRow(SQLModel, table=True):
    """A row of ``charge_transitions``, the audit log of charges and invoices: exactly one of
    `charge_id` and `invoice_id` names the subject; `id` orders the transitions; `at` is the
    business instant, `recorded_at` the wall clock (NULL before revision 0010), `actor` who
    asked."""

    __tablename__ = "charge_transitions"
    __table_args__ = (
        Index("ix_charge_transitions_charge_id_id", "charge_id", "id"),
        Index("ix_charge_transitions_invoice_id_id", "invoice_id", "id"),
        CheckConstraint(
            "(charge_id IS NULL) <> (invoice_id IS NULL)", name="ck_charge_transitions_subject"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    charge_id: str | None = Field(default=None, foreign_key="charge_usage_based.id")
    invoice_id: str | None = Field(default=None, foreign_key="billing_invoices.id")
    from_status: str
    to_status: str
    trigger: str
    arguments: str = Field(sa_type=Text)
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str
    recorded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class InvoiceRow(SQLModel, table=True):
    """A row of ``billing_invoices``: at most one gathering invoice per customer and currency;
    `deleted_at` marks a standard invoice left without lines."""

    __tablename__ = "billing_invoices"
    __table_args__ = (
        Index("ix_billing_invoices_customer_id", "customer_id"),
        Index(
            "ux_billing_invoices_gathering",
            "customer_id",
            "currency",
            unique=True,
            sqlite_where=_GATHERING,
            postgresql_where=_GATHERING,
        ),
        Index("ix_billing_invoices_status_collection_at", "status", "collection_at"),
    )

    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customers.id")
    currency: str
    kind: str
    status: str | None = None
    collection_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    auto_approve: bool = Field(sa_type=Boolean, sa_column_kwargs={"server_default": false()})
    issued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    amount: Decimal = Field(sa_type=ExactDecimal)
    credits_total: Decimal = Field(sa_type=ExactDecimal)
    total: Decimal = Field(sa_type=ExactDecimal)
    created_at: datetime = Field(sa_type=UtcDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class InvoiceLineRow(SQLModel, table=True):
    """A row of ``billing_invoice_lines``; deleting its invoice deletes it; `deleted_at` marks a
    line removed from a draft invoice (kept, so a voided run keeps its `line_id`)."""

    __tablename__ = "billing_invoice_lines"
    __table_args__ = (
        Index("ix_billing_invoice_lines_invoice_id", "invoice_id"),
        Index("ix_billing_invoice_lines_charge_id", "charge_id"),
        Index("ix_billing_invoice_lines_customer_id_status", "customer_id", "status"),
    )

    id: str = Field(primary_key=True)
    invoice_id: str = Field(foreign_key="billing_invoices.id", ondelete="CASCADE")
    customer_id: str = Field(foreign_key="customers.id")
    currency: str
    engine: str
    status: str
    charge_id: str | None = Field(default=None, foreign_key="charge_usage_based.id")
    name: str
    service_period_from: datetime = Field(sa_type=UtcDateTime)
    service_period_to: datetime = Field(sa_type=UtcDateTime)
    invoice_at: datetime = Field(sa_type=UtcDateTime)
    price: str = Field(sa_type=Text)
    quantity: Decimal = Field(sa_type=ExactDecimal)
    metered_quantity: Decimal = Field(sa_type=ExactDecimal)
    pre_line_quantity: Decimal = Field(sa_type=ExactDecimal)
    detailed_lines: str = Field(sa_type=Text)
    credits_applied: str = Field(sa_type=Text)
    amount: Decimal = Field(sa_type=ExactDecimal)
    credits_total: Decimal = Field(sa_type=ExactDecimal)
    total: Decimal = Field(sa_type=ExactDecimal)
    collection_period_end: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(sa_type=UtcDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


CUSTOMERS: Table = SQLModel.metadata.tables["customers"]
FEATURES: Table = SQLModel.metadata.tables["features"]
USAGE_EVENTS: Table = SQLModel.metadata.tables["usage_events"]
CREDIT_GRANTS: Table = SQLModel.metadata.tables["credit_grants"]
CREDIT_OVERDRAFTS: Table = SQLModel.metadata.tables["credit_overdrafts"]
CHARGES: Table = SQLModel.metadata.tables["charge_usage_based"]
RUNS: Table = SQLModel.metadata.tables["charge_usage_based_runs"]
DETAILED_LINES: Table = SQLModel.metadata.tables["charge_usage_based_run_detailed_lines"]
INVOICE_USAGES: Table = SQLModel.metadata.tables["charge_usage_based_run_invoice_usages"]
PAYMENTS: Table = SQLModel.metadata.tables["charge_usage_based_run_payments"]
ALLOCATIONS: Table = SQLModel.metadata.tables["charge_usage_based_run_credit_allocations"]
TRANSITIONS: Table = SQLModel.metadata.tables["charge_transitions"]
INVOICES: Table = SQLModel.metadata.tables["billing_invoices"]
INVOICE_LINES: Table = SQLModel.metadata.tables["billing_invoice_lines"]
"""The tables as SQLAlchemy Core `Table`s: what the repositories' statements are built on."""
