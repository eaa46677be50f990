"""Credit balances kept as running totals: reading a customer's balance no longer sums every
allocation the customer ever made (docs/lifecycle.md section 7, "Credits").

Revision ID: 0009_credit_balances
Revises: 0008_status_consolidation
Create Date: 2026-11-25

``credit_grants.remaining``: what of the grant is not allocated (existing grants: their amount
less the net of the allocations and corrections drawn on them). New table
``credit_overdrafts``: per customer, the net credit allocated beyond any grant (existing
customers: the net of their allocations without a grant, when it is not zero). Both are kept
in step with every allocation and correction from now on. The downgrade drops them: they are
derived from the allocations, which stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from chargeflow.persistence.sql.types import ExactDecimal

revision: str = "0009_credit_balances"
down_revision: str | None = "0008_status_consolidation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GRANTS = sa.table(
    "credit_grants",
    sa.column("id", sa.String()),
    sa.column("amount", ExactDecimal()),
    sa.column("remaining", ExactDecimal()),
)
_ALLOCATIONS = sa.table(
    "charge_usage_based_run_credit_allocations",
    sa.column("charge_id", sa.String()),
    sa.column("grant_id", sa.String()),
    sa.column("amount", ExactDecimal()),
)
_CHARGES = sa.table(
    "charge_usage_based", sa.column("id", sa.String()), sa.column("customer_id", sa.String())
)
_OVERDRAFTS = sa.table(
    "credit_overdrafts",
    sa.column("customer_id", sa.String()),
    sa.column("amount", ExactDecimal()),
)


def upgrade() -> None:
    """Add the running totals and fill them from the allocations stored so far."""
    with op.batch_alter_table("credit_grants") as batch:
        batch.add_column(sa.Column("remaining", ExactDecimal(), nullable=True))
    op.create_table(
        "credit_overdrafts",
        sa.Column("customer_id", sa.String(), sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("amount", ExactDecimal(), nullable=False),
    )
    _fill()
    with op.batch_alter_table("credit_grants") as batch:
        batch.alter_column("remaining", existing_type=ExactDecimal(), nullable=False)


def downgrade() -> None:
    """Drop the running totals (the allocations they are derived from stay)."""
    op.drop_table("credit_overdrafts")
    with op.batch_alter_table("credit_grants") as batch:
        batch.drop_column("remaining")


def _fill() -> None:
    """Each grant's remaining amount and each customer's overdraft, summed exactly in Python
    (SQLite stores decimals as text)."""
    bind = op.get_bind()
    drawn: dict[str, Decimal] = {}
    overdrawn: dict[str, Decimal] = {}
    rows = bind.execute(
        sa.select(_ALLOCATIONS.c.grant_id, _ALLOCATIONS.c.amount, _CHARGES.c.customer_id).join(
            _CHARGES, _CHARGES.c.id == _ALLOCATIONS.c.charge_id
        )
    )
    for grant_id, amount, customer_id in rows:
        if grant_id is None:
            overdrawn[customer_id] = overdrawn.get(customer_id, Decimal(0)) + amount
        else:
            drawn[grant_id] = drawn.get(grant_id, Decimal(0)) + amount
    grants = bind.execute(sa.select(_GRANTS.c.id, _GRANTS.c.amount)).all()
    if grants:
        bind.execute(
            sa.update(_GRANTS)
            .where(_GRANTS.c.id == sa.bindparam("b_id"))
            .values(remaining=sa.bindparam("b_remaining")),
            [
                {"b_id": grant_id, "b_remaining": amount - drawn.get(grant_id, Decimal(0))}
                for grant_id, amount in grants
            ],
        )
    owed = [
        {"customer_id": customer_id, "amount": amount}
        for customer_id, amount in sorted(overdrawn.items())
        if amount
    ]
    if owed:
        bind.execute(sa.insert(_OVERDRAFTS), owed)
