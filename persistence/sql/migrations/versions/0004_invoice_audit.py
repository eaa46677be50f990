"""Audit invoices in the same log as charges (docs/architecture.md, one driver for every machine).

Revision ID: 0004_invoice_audit
Revises: 0003_run_line_link
Create Date: 2026-11-25

``charge_transitions`` gains a nullable ``invoice_id`` (foreign key to ``billing_invoices``);
``charge_id`` becomes nullable, and a check constraint keeps exactly one of the two set. The
downgrade refuses, naming the rows, while invoice transitions exist: revision 0003_run_line_link
cannot hold them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chargeflow.persistence.sql.downgrades import refuse_if_rows

revision: str = "0004_invoice_audit"
down_revision: str | None = "0003_run_line_link"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``invoice_id``, relax ``charge_id`` and check that one names the subject."""
    with op.batch_alter_table("charge_transitions") as batch:
        batch.add_column(sa.Column("invoice_id", sa.String(), nullable=True))
        batch.alter_column("charge_id", existing_type=sa.String(), nullable=True)
        batch.create_foreign_key(
            "fk_charge_transitions_invoice_id", "billing_invoices", ["invoice_id"], ["id"]
        )
        batch.create_check_constraint(
            "ck_charge_transitions_subject", "(charge_id IS NULL) <> (invoice_id IS NULL)"
        )
        batch.create_index("ix_charge_transitions_invoice_id_id", ["invoice_id", "id"])


def downgrade() -> None:
    """Drop ``invoice_id`` again; refused while an invoice transition is recorded."""
    refuse_if_rows(
        "invoice transitions are recorded",
        "SELECT id FROM charge_transitions WHERE invoice_id IS NOT NULL ORDER BY id",
    )
    with op.batch_alter_table("charge_transitions") as batch:
        batch.drop_index("ix_charge_transitions_invoice_id_id")
        batch.drop_constraint("ck_charge_transitions_subject", type_="check")
        batch.drop_constraint("fk_charge_transitions_invoice_id", type_="foreignkey")
        batch.drop_column("invoice_id")
        batch.alter_column("charge_id", existing_type=sa.String(), nullable=False)
