"""A charge's unique reference: safe retries of create (docs/lifecycle.md section 8).

Revision ID: 0005_charge_reference
Revises: 0004_invoice_audit
Create Date: 2026-11-25

``charge_usage_based.unique_reference_id`` (nullable), unique per customer. The downgrade
refuses, naming the charges, while a reference is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chargeflow.persistence.sql.downgrades import refuse_if_rows

revision: str = "0005_charge_reference"
down_revision: str | None = "0004_invoice_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``unique_reference_id`` and its unique index per customer."""
    with op.batch_alter_table("charge_usage_based") as batch:
        batch.add_column(sa.Column("unique_reference_id", sa.String(), nullable=True))
        batch.create_index(
            "ux_charge_usage_based_customer_id_unique_reference_id",
            ["customer_id", "unique_reference_id"],
            unique=True,
        )


def downgrade() -> None:
    """Drop ``unique_reference_id``; refused while a charge carries one."""
    refuse_if_rows(
        "charges carry a unique reference",
        "SELECT id FROM charge_usage_based WHERE unique_reference_id IS NOT NULL ORDER BY id",
    )
    with op.batch_alter_table("charge_usage_based") as batch:
        batch.drop_index("ux_charge_usage_based_customer_id_unique_reference_id")
        batch.drop_column("unique_reference_id")
