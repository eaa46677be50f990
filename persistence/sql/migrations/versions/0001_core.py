"""Core tables: customers, features, usage, credit grants, charges, runs, allocations, history.

Revision ID: 0001_core
Revises:
Create Date: 2025-11-24

Runs have no `line_id` yet: revision 0003_run_line_link adds it, once invoice lines exist.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chargeflow.persistence.sql.types import ExactDecimal, UtcDateTime

revision: str = "0001_core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_ARCHIVED = sa.text("archived_at IS NULL")


def upgrade() -> None:
    """Create the core tables and their indexes."""
    op.create_table(
        "customers",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("collection_interval", sa.String(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "features",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("archived_at", UtcDateTime(), nullable=True),
    )
    op.create_index(
        "ux_features_key_live",
        "features",
        ["key"],
        unique=True,
        sqlite_where=_NOT_ARCHIVED,
        postgresql_where=_NOT_ARCHIVED,
    )
    op.create_table(
        "usage_events",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("customer_id", sa.String(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("feature_key", sa.String(), nullable=False),
        sa.Column("value", ExactDecimal(), nullable=False),
        sa.Column("event_time", UtcDateTime(), nullable=False),
        sa.Column("stored_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_usage_events_customer_id_feature_key_event_time",
        "usage_events",
        ["customer_id", "feature_key", "event_time"],
    )
    op.create_table(
        "credit_grants",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("customer_id", sa.String(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("granted_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_credit_grants_customer_id", "credit_grants", ["customer_id"])
    op.create_table(
        "charge_usage_based",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("customer_id", sa.String(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("feature_key", sa.String(), nullable=False),
        sa.Column("service_period_from", UtcDateTime(), nullable=False),
        sa.Column("service_period_to", UtcDateTime(), nullable=False),
        sa.Column("invoice_at", UtcDateTime(), nullable=False),
        sa.Column("settlement_mode", sa.String(), nullable=False),
        sa.Column("price", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("advance_after", UtcDateTime(), nullable=True),
        sa.Column("current_realization_run_id", sa.String(), nullable=True),
        sa.Column("feature_id", sa.String(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
    )
    op.create_index(
        "ix_charge_usage_based_advance_after_id", "charge_usage_based", ["advance_after", "id"]
    )
    op.create_index("ix_charge_usage_based_customer_id", "charge_usage_based", ["customer_id"])
    op.create_table(
        "charge_usage_based_runs",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("charge_id", sa.String(), sa.ForeignKey("charge_usage_based.id"), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("feature_id", sa.String(), nullable=False),
        sa.Column("asof", UtcDateTime(), nullable=False),
        sa.Column("collection_end", UtcDateTime(), nullable=False),
        sa.Column("meter_value", ExactDecimal(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("credits_total", ExactDecimal(), nullable=False),
        sa.Column("total", ExactDecimal(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_charge_usage_based_runs_charge_id", "charge_usage_based_runs", ["charge_id"]
    )
    op.create_table(
        "charge_usage_based_run_credit_allocations",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column(
            "run_id", sa.String(), sa.ForeignKey("charge_usage_based_runs.id"), nullable=False
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("charge_id", sa.String(), sa.ForeignKey("charge_usage_based.id"), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("grant_id", sa.String(), sa.ForeignKey("credit_grants.id"), nullable=True),
        sa.Column(
            "corrects_allocation_id",
            sa.String(),
            sa.ForeignKey("charge_usage_based_run_credit_allocations.id"),
            nullable=True,
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint(
            "run_id", "seq", name="ux_charge_usage_based_run_credit_allocations_run_id_seq"
        ),
    )
    op.create_index(
        "ix_charge_usage_based_run_credit_allocations_grant_id",
        "charge_usage_based_run_credit_allocations",
        ["grant_id"],
    )
    op.create_table(
        "charge_transitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("charge_id", sa.String(), sa.ForeignKey("charge_usage_based.id"), nullable=False),
        sa.Column("from_status", sa.String(), nullable=False),
        sa.Column("to_status", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_charge_transitions_charge_id_id", "charge_transitions", ["charge_id", "id"])


def downgrade() -> None:
    """Drop the core tables, children first (their indexes go with them)."""
    for table in (
        "charge_transitions",
        "charge_usage_based_run_credit_allocations",
        "charge_usage_based_runs",
        "charge_usage_based",
        "credit_grants",
        "usage_events",
        "features",
        "customers",
    ):
        op.drop_table(table)
