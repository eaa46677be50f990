"""Link a realization run to the standard invoice line that bills it (docs/lifecycle.md section 12).

Revision ID: 0003_run_line_link
Revises: 0002_billing
Create Date: 2025-11-24

`charge_usage_based_runs.line_id`: nullable, at most one run per line (unique index), and nulled
when its line is deleted (ON DELETE SET NULL). SQLite cannot add a foreign key with ALTER, so
both directions go through a batch (copy-and-move) operation there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chargeflow.persistence.sql.downgrades import refuse_if_rows

revision: str = "0003_run_line_link"
down_revision: str | None = "0002_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``line_id`` with its foreign key and unique index."""
    with op.batch_alter_table("charge_usage_based_runs") as batch:
        batch.add_column(sa.Column("line_id", sa.String(), nullable=True))
        batch.create_foreign_key(
            "fk_charge_usage_based_runs_line_id",
            "billing_invoice_lines",
            ["line_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ux_charge_usage_based_runs_line_id", ["line_id"], unique=True)


def downgrade() -> None:
    """Drop ``line_id``, its index and its foreign key; the runs keep every other column.

    Refused, naming the runs, while a run is linked to its line: the link cannot be rebuilt.
    """
    refuse_if_rows(
        "runs are linked to their invoice lines",
        "SELECT id FROM charge_usage_based_runs WHERE line_id IS NOT NULL ORDER BY id",
    )
    with op.batch_alter_table("charge_usage_based_runs") as batch:
        batch.drop_index("ux_charge_usage_based_runs_line_id")
        batch.drop_constraint("fk_charge_usage_based_runs_line_id", type_="foreignkey")
        batch.drop_column("line_id")
