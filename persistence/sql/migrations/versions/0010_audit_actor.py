"""The audit log says who asked and when it really happened: ``charge_transitions.actor`` and
``charge_transitions.recorded_at`` (docs/lifecycle.md section 13, "The audit log").

Revision ID: 0010_audit_actor
Revises: 0009_credit_balances
Create Date: 2026-11-25

``actor`` is who a transition was made for (``system`` unless the caller names someone; the
command line names the OS user); transitions recorded before this revision get ``unknown``.
``recorded_at`` is the wall-clock instant the record was written, beside the business instant
``at``; NULL for transitions recorded before this revision (nobody knows it). The downgrade
drops both, and is refused while a transition carries a wall-clock time (a fact the upgrade
could not rebuild).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chargeflow.persistence.sql.downgrades import refuse_if_rows
from chargeflow.persistence.sql.types import UtcDateTime

revision: str = "0010_audit_actor"
down_revision: str | None = "0009_credit_balances"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNKNOWN_ACTOR = "unknown"
"""The actor of transitions recorded before this revision."""


def upgrade() -> None:
    """Add ``actor`` (existing records: ``unknown``) and ``recorded_at`` (existing: NULL)."""
    with op.batch_alter_table("charge_transitions") as batch:
        batch.add_column(
            sa.Column("actor", sa.String(), nullable=False, server_default=UNKNOWN_ACTOR)
        )
        batch.add_column(sa.Column("recorded_at", UtcDateTime(), nullable=True))
    with op.batch_alter_table("charge_transitions") as batch:
        batch.alter_column("actor", existing_type=sa.String(), server_default=None)


def downgrade() -> None:
    """Drop both columns; refused while a transition carries its wall-clock time."""
    refuse_if_rows(
        "transitions carry the actor and wall-clock time they were recorded with",
        "SELECT id FROM charge_transitions WHERE recorded_at IS NOT NULL ORDER BY id",
    )
    with op.batch_alter_table("charge_transitions") as batch:
        batch.drop_column("recorded_at")
        batch.drop_column("actor")
