"""Runs of version 2: time bounds, types, invoice, fiat flag, voiding, detailed lines, invoice
usage and payments (docs/lifecycle.md sections 7 and 13).

Revision ID: 0006_run_structure
Revises: 0005_charge_reference
Create Date: 2026-11-26

``charge_usage_based_runs``: ``meter_value`` becomes ``metered_quantity``; ``asof`` is kept as the
nullable ``legacy_as_of``; ``collection_end`` becomes ``stored_at_lt`` (it is the exclusive
ingestion cutoff); new ``service_period_to`` (existing runs: their charge's period end),
``initial_type`` (= ``type``), ``invoice_id`` (the invoice of the run's linked line; foreign key,
ON DELETE SET NULL), ``no_fiat_transaction_required`` (credit_only runs: true;
credit_then_invoice runs: ``total = 0``) and ``deleted_at`` (voided). Allocations gain
``booked_at`` (the run's ``service_period_to``). New tables: a run's detailed lines, its invoice
usage and its payment. Version 1 stored only a run's amount, so each existing run with an amount
gets one detailed line keyed by its price type carrying that amount for the whole metered
quantity; the migration rates nothing (it must not depend on later rating code), and a run that
is re-rated later (finalized) gets version 2's lines then.

The downgrade refuses, naming the runs, while version-2-only facts exist (partial runs, voided
runs, invoice usage, payments, or run columns version 1 could not rebuild); otherwise it maps
back: ``collection_end = stored_at_lt``, ``asof = legacy_as_of`` (or ``service_period_to`` for a
run version 2 created), ``meter_value = metered_quantity``. Detailed lines are derived data and
are rebuilt by the next upgrade.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

from chargeflow.domain.ids import new_id
from chargeflow.domain.money import ZERO
from chargeflow.persistence.sql.downgrades import refuse_if_rows
from chargeflow.persistence.sql.types import ExactDecimal, UtcDateTime

revision: str = "0006_run_structure"
down_revision: str | None = "0005_charge_reference"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREDIT_ONLY = "credit_only"
_PARTIAL_INVOICE = "partial_invoice"
_PRICE_TYPE_KEYS = {
    "unit": "unit",
    "flat": "flat",
    "package": "package",
    "tiered_volume": "volume",
    "tiered_graduated": "graduated",
}
"""The key of the one detailed line that carries a version-1 run's amount, by price type (a
tiered price's has no tier: version 1 never split the amount by tier)."""

_RUNS = sa.table(
    "charge_usage_based_runs",
    sa.column("id", sa.String()),
    sa.column("charge_id", sa.String()),
    sa.column("type", sa.String()),
    sa.column("line_id", sa.String()),
    sa.column("asof", UtcDateTime()),
    sa.column("legacy_as_of", UtcDateTime()),
    sa.column("collection_end", UtcDateTime()),
    sa.column("meter_value", ExactDecimal()),
    sa.column("amount", ExactDecimal()),
    sa.column("total", ExactDecimal()),
    sa.column("service_period_to", UtcDateTime()),
    sa.column("stored_at_lt", UtcDateTime()),
    sa.column("initial_type", sa.String()),
    sa.column("invoice_id", sa.String()),
    sa.column("no_fiat_transaction_required", sa.Boolean()),
)
_CHARGES = sa.table(
    "charge_usage_based",
    sa.column("id", sa.String()),
    sa.column("currency", sa.String()),
    sa.column("settlement_mode", sa.String()),
    sa.column("price", sa.Text()),
    sa.column("service_period_to", UtcDateTime()),
)
_LINES = sa.table(
    "billing_invoice_lines", sa.column("id", sa.String()), sa.column("invoice_id", sa.String())
)
_ALLOCATIONS = sa.table(
    "charge_usage_based_run_credit_allocations",
    sa.column("run_id", sa.String()),
    sa.column("booked_at", UtcDateTime()),
)

DetailedLine = tuple[str, Decimal, Decimal, Decimal]
"""``(key, quantity, unit_amount, amount)`` of one detailed line."""


def upgrade() -> None:
    """Reshape the runs, book their allocations, and add the run tables with derived lines."""
    with op.batch_alter_table("charge_usage_based_runs") as batch:  # plain ALTERs: no copy
        batch.add_column(sa.Column("service_period_to", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("stored_at_lt", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("initial_type", sa.String(), nullable=True))
        batch.add_column(sa.Column("invoice_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("no_fiat_transaction_required", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("deleted_at", UtcDateTime(), nullable=True))
    with op.batch_alter_table("charge_usage_based_run_credit_allocations") as batch:
        batch.add_column(sa.Column("booked_at", UtcDateTime(), nullable=True))

    detailed_lines = _fill_runs_and_allocations()

    with op.batch_alter_table("charge_usage_based_runs") as batch:
        # renamed without `existing_type`: Alembic's batch rename cannot inspect a TypeDecorator
        batch.alter_column("meter_value", new_column_name="metered_quantity")
        batch.alter_column("asof", new_column_name="legacy_as_of", nullable=True)
        for name, column_type in (
            ("service_period_to", UtcDateTime()),
            ("stored_at_lt", UtcDateTime()),
            ("initial_type", sa.String()),
            ("no_fiat_transaction_required", sa.Boolean()),
        ):
            batch.alter_column(name, existing_type=column_type, nullable=False)
        batch.drop_column("collection_end")
        batch.create_foreign_key(
            "fk_charge_usage_based_runs_invoice_id",
            "billing_invoices",
            ["invoice_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("charge_usage_based_run_credit_allocations") as batch:
        batch.alter_column("booked_at", existing_type=UtcDateTime(), nullable=False)

    _create_run_tables()
    if detailed_lines:
        op.bulk_insert(_detailed_lines_table(), detailed_lines)


def downgrade() -> None:
    """Map the runs back to version 1; refused while version-2-only facts exist."""
    _refuse_version_2_facts()
    op.drop_table("charge_usage_based_run_payments")
    op.drop_table("charge_usage_based_run_invoice_usages")
    op.drop_table("charge_usage_based_run_detailed_lines")
    with op.batch_alter_table("charge_usage_based_run_credit_allocations") as batch:
        batch.drop_column("booked_at")

    with op.batch_alter_table("charge_usage_based_runs") as batch:  # a plain ALTER: no copy
        batch.add_column(sa.Column("collection_end", UtcDateTime(), nullable=True))
    bind = op.get_bind()
    bind.execute(sa.update(_RUNS).values(collection_end=_RUNS.c.stored_at_lt))
    bind.execute(
        sa.update(_RUNS)
        .where(_RUNS.c.legacy_as_of.is_(None))
        .values(legacy_as_of=_RUNS.c.service_period_to)
    )
    with op.batch_alter_table("charge_usage_based_runs") as batch:
        batch.drop_constraint("fk_charge_usage_based_runs_invoice_id", type_="foreignkey")
        for name in (
            "service_period_to",
            "stored_at_lt",
            "initial_type",
            "invoice_id",
            "no_fiat_transaction_required",
            "deleted_at",
        ):
            batch.drop_column(name)
        batch.alter_column("metered_quantity", new_column_name="meter_value")
        batch.alter_column("legacy_as_of", new_column_name="asof", nullable=False)
        batch.alter_column("collection_end", existing_type=UtcDateTime(), nullable=False)


# --- upgrade ----------------------------------------------------------------------------------


def _fill_runs_and_allocations() -> list[dict[str, Any]]:
    """Fill the new run and allocation columns of every existing run (one executemany each);
    the detailed lines of the runs, as rows to insert once their table exists."""
    bind = op.get_bind()
    runs, charges, lines = _RUNS, _CHARGES, _LINES
    found = bind.execute(
        sa.select(
            runs.c.id,
            runs.c.type,
            runs.c.collection_end,
            runs.c.meter_value,
            runs.c.amount,
            runs.c.total,
            charges.c.service_period_to,
            charges.c.settlement_mode,
            charges.c.price,
            charges.c.currency,
            lines.c.invoice_id,
        )
        .select_from(
            runs.join(charges, charges.c.id == runs.c.charge_id).outerjoin(
                lines, lines.c.id == runs.c.line_id
            )
        )
        .order_by(runs.c.id)
    ).all()
    if not found:
        return []
    bind.execute(
        sa.update(runs)
        .where(runs.c.id == sa.bindparam("b_id"))
        .values(
            service_period_to=sa.bindparam("b_service_period_to"),
            stored_at_lt=sa.bindparam("b_stored_at_lt"),
            initial_type=sa.bindparam("b_initial_type"),
            invoice_id=sa.bindparam("b_invoice_id"),
            no_fiat_transaction_required=sa.bindparam("b_no_fiat"),
        ),
        [
            {
                "b_id": row.id,
                "b_service_period_to": row.service_period_to,
                "b_stored_at_lt": row.collection_end,
                "b_initial_type": row.type,
                "b_invoice_id": row.invoice_id,
                "b_no_fiat": row.settlement_mode == _CREDIT_ONLY or row.total == ZERO,
            }
            for row in found
        ],
    )
    bind.execute(
        sa.update(_ALLOCATIONS)
        .where(_ALLOCATIONS.c.run_id == sa.bindparam("b_run_id"))
        .values(booked_at=sa.bindparam("b_booked_at")),
        [{"b_run_id": row.id, "b_booked_at": row.service_period_to} for row in found],
    )
    return [
        {
            "id": new_id(),
            "run_id": row.id,
            "seq": seq,
            "key": key,
            "quantity": quantity,
            "unit_amount": unit_amount,
            "amount": amount,
        }
        for row in found
        for seq, (key, quantity, unit_amount, amount) in enumerate(
            carried_lines(row.price, row.meter_value, row.amount), start=1
        )
    ]


def carried_lines(price_json: str, quantity: Decimal, amount: Decimal) -> list[DetailedLine]:
    """The detailed lines of a version-1 run, which stored only its amount: one line keyed by
    the price type carries the stored `amount` for the whole metered `quantity`, at the price's
    unit amount (a tiered price's first tier's); none when the amount is zero. The migration
    rates nothing: it never depends on the rating code of a later version."""
    if not amount:
        return []
    try:
        price = json.loads(price_json)
    except ValueError:
        price = None
    if not isinstance(price, dict):
        return [("unit", quantity, ZERO, amount)]
    key = _PRICE_TYPE_KEYS.get(str(price.get("type")), "unit")
    return [(key, quantity, _unit_amount(price), amount)]


def _unit_amount(price: dict[str, Any]) -> Decimal:
    """The stored price's unit amount (its first tier's for a tiered price); 0 if unreadable."""
    tiers = price.get("tiers")
    first = tiers[0] if isinstance(tiers, list) and tiers and isinstance(tiers[0], dict) else {}
    raw = first.get("unit_amount") if tiers else price.get("amount")
    try:
        return Decimal(str(raw)) if raw is not None else ZERO
    except ArithmeticError:
        return ZERO


def _detailed_lines_table() -> sa.TableClause:
    return sa.table(
        "charge_usage_based_run_detailed_lines",
        sa.column("id", sa.String()),
        sa.column("run_id", sa.String()),
        sa.column("seq", sa.Integer()),
        sa.column("key", sa.String()),
        sa.column("quantity", ExactDecimal()),
        sa.column("unit_amount", ExactDecimal()),
        sa.column("amount", ExactDecimal()),
    )


def _create_run_tables() -> None:
    op.create_table(
        "charge_usage_based_run_detailed_lines",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column(
            "run_id", sa.String(), sa.ForeignKey("charge_usage_based_runs.id"), nullable=False
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("unit_amount", ExactDecimal(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.UniqueConstraint(
            "run_id", "key", name="ux_charge_usage_based_run_detailed_lines_run_id_key"
        ),
    )
    op.create_table(
        "charge_usage_based_run_invoice_usages",
        sa.Column(
            "run_id",
            sa.String(),
            sa.ForeignKey("charge_usage_based_runs.id"),
            primary_key=True,
        ),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("credits_total", ExactDecimal(), nullable=False),
        sa.Column("total", ExactDecimal(), nullable=False),
        sa.Column("booked_at", UtcDateTime(), nullable=False),
        sa.Column("ledger_reference", sa.String(), nullable=True),
    )
    op.create_table(
        "charge_usage_based_run_payments",
        sa.Column(
            "run_id",
            sa.String(),
            sa.ForeignKey("charge_usage_based_runs.id"),
            primary_key=True,
        ),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("authorized_at", UtcDateTime(), nullable=False),
        sa.Column("authorization_reference", sa.String(), nullable=False),
        sa.Column("settled_at", UtcDateTime(), nullable=True),
        sa.Column("settlement_reference", sa.String(), nullable=True),
    )


# --- downgrade --------------------------------------------------------------------------------


def _refuse_version_2_facts() -> None:
    """Refuse, naming the rows, what version 1 cannot hold or the next upgrade cannot rebuild."""
    refuse_if_rows(
        "runs are partial invoice runs",
        "SELECT id FROM charge_usage_based_runs"
        f" WHERE type = '{_PARTIAL_INVOICE}' OR initial_type = '{_PARTIAL_INVOICE}' ORDER BY id",
    )
    refuse_if_rows(
        "runs are voided",
        "SELECT id FROM charge_usage_based_runs WHERE deleted_at IS NOT NULL ORDER BY id",
    )
    refuse_if_rows(
        "runs record invoice usage",
        "SELECT run_id FROM charge_usage_based_run_invoice_usages ORDER BY run_id",
    )
    refuse_if_rows(
        "runs record payments", "SELECT run_id FROM charge_usage_based_run_payments ORDER BY run_id"
    )
    refuse_if_rows(
        "runs name an invoice their line does not",
        "SELECT r.id FROM charge_usage_based_runs r"
        " LEFT JOIN billing_invoice_lines l ON l.id = r.line_id"
        " WHERE r.invoice_id IS NOT NULL"
        " AND (l.invoice_id IS NULL OR l.invoice_id <> r.invoice_id) ORDER BY r.id",
    )
    refuse_if_rows(
        "runs end at another time than their charge's service period",
        "SELECT r.id FROM charge_usage_based_runs r"
        " JOIN charge_usage_based c ON c.id = r.charge_id"
        " WHERE r.service_period_to <> c.service_period_to ORDER BY r.id",
    )
    refuse_if_rows(
        "credit allocations are booked at another time than their run's period end",
        "SELECT a.id FROM charge_usage_based_run_credit_allocations a"
        " JOIN charge_usage_based_runs r ON r.id = a.run_id"
        " WHERE a.booked_at <> r.service_period_to ORDER BY a.id",
    )
