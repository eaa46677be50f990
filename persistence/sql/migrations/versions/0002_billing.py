"""Billing tables: invoices (gathering and standard) and their lines.

Revision ID: 0002_billing
Revises: 0001_core
Create Date: 2025-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chargeflow.persistence.sql.types import ExactDecimal, UtcDateTime

revision: str = "0002_billing"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GATHERING = sa.text("kind = 'gathering'")


def upgrade() -> None:
    """Create ``billing_invoices`` and ``billing_invoice_lines`` with their indexes."""
    op.create_table(
        "billing_invoices",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("customer_id", sa.String(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("collection_at", UtcDateTime(), nullable=True),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("credits_total", ExactDecimal(), nullable=False),
        sa.Column("total", ExactDecimal(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_billing_invoices_customer_id", "billing_invoices", ["customer_id"])
    op.create_index(
        "ux_billing_invoices_gathering",
        "billing_invoices",
        ["customer_id", "currency"],
        unique=True,
        sqlite_where=_GATHERING,
        postgresql_where=_GATHERING,
    )
    op.create_table(
        "billing_invoice_lines",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column(
            "invoice_id",
            sa.String(),
            sa.ForeignKey("billing_invoices.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("engine", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("charge_id", sa.String(), sa.ForeignKey("charge_usage_based.id"), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("service_period_from", UtcDateTime(), nullable=False),
        sa.Column("service_period_to", UtcDateTime(), nullable=False),
        sa.Column("invoice_at", UtcDateTime(), nullable=False),
        sa.Column("price", sa.Text(), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("credits_applied", sa.Text(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("credits_total", ExactDecimal(), nullable=False),
        sa.Column("total", ExactDecimal(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_billing_invoice_lines_invoice_id", "billing_invoice_lines", ["invoice_id"])
    op.create_index("ix_billing_invoice_lines_charge_id", "billing_invoice_lines", ["charge_id"])
    op.create_index(
        "ix_billing_invoice_lines_customer_id_status",
        "billing_invoice_lines",
        ["customer_id", "status"],
    )


def downgrade() -> None:
    """Drop the billing tables, lines first."""
    op.drop_table("billing_invoice_lines")
    op.drop_table("billing_invoices")
