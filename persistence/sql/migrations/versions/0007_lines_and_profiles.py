"""Lines, invoices, billing profiles, usage and created charges of version 2 (docs/lifecycle.md
sections 8 and 13).

Revision ID: 0007_lines_and_profiles
Revises: 0006_run_structure
Create Date: 2026-11-26

- ``customers``: the billing profile's ``progressive_billing`` and ``auto_approve`` (false);
- ``usage_events.feature_id``, indexed with the customer and event time: existing events get the
  feature live under their key when they were stored (else the earliest feature of that key);
- ``billing_invoices``: ``auto_approve`` (false), ``issued_at``, ``deleted_at`` and an index on
  ``(status, collection_at)``;
- ``billing_invoice_lines``: ``metered_quantity`` (an existing usage line: its ``quantity``, the
  run's meter value in version 1; any other line 0, as version 2 writes them),
  ``pre_line_quantity`` (0), ``detailed_lines`` (a usage line: its run's detailed lines as JSON;
  other lines ``[]``), ``collection_period_end`` (a usage line: its run's ``stored_at_lt`` + the
  internal collection period of one minute) and ``deleted_at``;
- standard invoices with usage lines: ``collection_at`` is recomputed as the latest
  ``collection_period_end`` of those lines;
- ``created`` charges without ``advance_after`` get their period start, so the due sweep sees them.

The downgrade refuses, naming the rows, while an invoice is issued or soft-deleted, a line is
soft-deleted or bills usage after an earlier run (``pre_line_quantity`` not 0), or a customer or
invoice has a billing-profile flag set (version 1 could not keep it). Otherwise it drops the
columns; the feature ids of usage events are derived again by the next upgrade, and
``advance_after`` stays (version 1 can hold it).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from chargeflow.domain.errors import DowngradeRefusedError
from chargeflow.persistence.sql.downgrades import refuse_if_rows
from chargeflow.persistence.sql.types import ExactDecimal, UtcDateTime

revision: str = "0007_lines_and_profiles"
down_revision: str | None = "0006_run_structure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTERNAL_COLLECTION_PERIOD = timedelta(minutes=1)
"""How long after a run's ingestion cutoff its line's collection ends (section 3)."""
_NAMED = 10
"""How many row ids a refusal names (as `persistence.sql.downgrades`)."""

_FEATURES = sa.table(
    "features",
    sa.column("id", sa.String()),
    sa.column("key", sa.String()),
    sa.column("created_at", UtcDateTime()),
    sa.column("archived_at", UtcDateTime()),
)
_USAGE_EVENTS = sa.table(
    "usage_events",
    sa.column("feature_key", sa.String()),
    sa.column("feature_id", sa.String()),
    sa.column("stored_at", UtcDateTime()),
)
_INVOICES = sa.table(
    "billing_invoices",
    sa.column("id", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("collection_at", UtcDateTime()),
)
_USAGE_ENGINE = "charge_usagebased"
_LINES = sa.table(
    "billing_invoice_lines",
    sa.column("id", sa.String()),
    sa.column("invoice_id", sa.String()),
    sa.column("engine", sa.String()),
    sa.column("quantity", ExactDecimal()),
    sa.column("metered_quantity", ExactDecimal()),
    sa.column("pre_line_quantity", ExactDecimal()),
    sa.column("detailed_lines", sa.Text()),
    sa.column("collection_period_end", UtcDateTime()),
    sa.column("deleted_at", UtcDateTime()),
)
_RUNS = sa.table(
    "charge_usage_based_runs",
    sa.column("id", sa.String()),
    sa.column("line_id", sa.String()),
    sa.column("stored_at_lt", UtcDateTime()),
)
_DETAILED_LINES = sa.table(
    "charge_usage_based_run_detailed_lines",
    sa.column("run_id", sa.String()),
    sa.column("seq", sa.Integer()),
    sa.column("key", sa.String()),
    sa.column("quantity", ExactDecimal()),
    sa.column("unit_amount", ExactDecimal()),
    sa.column("amount", ExactDecimal()),
)
_CHARGES = sa.table(
    "charge_usage_based",
    sa.column("status", sa.String()),
    sa.column("service_period_from", UtcDateTime()),
    sa.column("advance_after", UtcDateTime()),
)


def upgrade() -> None:
    """Add the version-2 columns and derive their values for the rows version 1 stored."""
    for name in ("progressive_billing", "auto_approve"):
        op.add_column(
            "customers",
            sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()),
        )

    op.add_column("usage_events", sa.Column("feature_id", sa.String(), nullable=True))
    op.create_index(
        "ix_usage_events_customer_id_feature_id_event_time",
        "usage_events",
        ["customer_id", "feature_id", "event_time"],
    )
    _match_usage_to_features()

    op.add_column(
        "billing_invoices",
        sa.Column("auto_approve", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("billing_invoices", sa.Column("issued_at", UtcDateTime(), nullable=True))
    op.add_column("billing_invoices", sa.Column("deleted_at", UtcDateTime(), nullable=True))
    op.create_index(
        "ix_billing_invoices_status_collection_at", "billing_invoices", ["status", "collection_at"]
    )

    with op.batch_alter_table("billing_invoice_lines") as batch:  # plain ALTERs: no copy
        batch.add_column(sa.Column("metered_quantity", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("pre_line_quantity", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("detailed_lines", sa.Text(), nullable=True))
        batch.add_column(sa.Column("collection_period_end", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("deleted_at", UtcDateTime(), nullable=True))
    _fill_lines()
    with op.batch_alter_table("billing_invoice_lines") as batch:
        batch.alter_column("metered_quantity", existing_type=ExactDecimal(), nullable=False)
        batch.alter_column("pre_line_quantity", existing_type=ExactDecimal(), nullable=False)
        batch.alter_column("detailed_lines", existing_type=sa.Text(), nullable=False)
    _recompute_collection_at()

    op.get_bind().execute(
        sa.update(_CHARGES)
        .where(_CHARGES.c.status == "created", _CHARGES.c.advance_after.is_(None))
        .values(advance_after=_CHARGES.c.service_period_from)
    )


def downgrade() -> None:
    """Drop the version-2 columns; refused while version-2-only facts exist."""
    _refuse_version_2_facts()
    with op.batch_alter_table("billing_invoice_lines") as batch:
        for name in (
            "metered_quantity",
            "pre_line_quantity",
            "detailed_lines",
            "collection_period_end",
            "deleted_at",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("billing_invoices") as batch:
        batch.drop_index("ix_billing_invoices_status_collection_at")
        batch.drop_column("auto_approve")
        batch.drop_column("issued_at")
        batch.drop_column("deleted_at")
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_index("ix_usage_events_customer_id_feature_id_event_time")
        batch.drop_column("feature_id")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("progressive_billing")
        batch.drop_column("auto_approve")


# --- upgrade ----------------------------------------------------------------------------------


def _match_usage_to_features() -> None:
    """Each event's feature: the one live under its key when it was stored (created at or
    before, not yet archived), else the earliest created with that key, else none."""
    events, features = _USAGE_EVENTS, _FEATURES
    same_key = features.c.key == events.c.feature_key
    live = (
        sa.select(features.c.id)
        .where(
            same_key,
            features.c.created_at <= events.c.stored_at,
            sa.or_(features.c.archived_at.is_(None), events.c.stored_at < features.c.archived_at),
        )
        .order_by(features.c.created_at.desc(), features.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    earliest = (
        sa.select(features.c.id)
        .where(same_key)
        .order_by(features.c.created_at, features.c.id)
        .limit(1)
        .scalar_subquery()
    )
    op.get_bind().execute(sa.update(events).values(feature_id=sa.func.coalesce(live, earliest)))


def _fill_lines() -> None:
    """Every line: nothing before it, metered = quantity for a usage line (0 for the others, as
    version 2 writes them); a line billing a run gets the run's detailed lines and collection
    end, the others none."""
    bind = op.get_bind()
    lines, runs, details = _LINES, _RUNS, _DETAILED_LINES
    bind.execute(
        sa.update(lines).values(
            metered_quantity=sa.case(
                (lines.c.engine == _USAGE_ENGINE, lines.c.quantity), else_=Decimal(0)
            ),
            pre_line_quantity=Decimal(0),
            detailed_lines="[]",
        )
    )
    billed = bind.execute(
        sa.select(runs.c.id, runs.c.line_id, runs.c.stored_at_lt).where(runs.c.line_id.is_not(None))
    ).all()
    if not billed:
        return
    by_run: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    for row in bind.execute(
        sa.select(details).order_by(details.c.run_id, details.c.seq)
    ):  # each decimal as its exact text, as the invoice repository writes it
        by_run[row.run_id].append(
            {
                "key": row.key,
                "quantity": str(row.quantity),
                "unit_amount": str(row.unit_amount),
                "amount": str(row.amount),
            }
        )
    bind.execute(
        sa.update(lines)
        .where(lines.c.id == sa.bindparam("b_id"))
        .values(
            detailed_lines=sa.bindparam("b_detailed_lines"),
            collection_period_end=sa.bindparam("b_collection_period_end"),
        ),
        [
            {
                "b_id": row.line_id,
                "b_detailed_lines": json.dumps(
                    by_run[row.id], separators=(",", ":"), ensure_ascii=False
                ),
                "b_collection_period_end": row.stored_at_lt + INTERNAL_COLLECTION_PERIOD,
            }
            for row in billed
        ],
    )


def _recompute_collection_at() -> None:
    """A standard invoice billing usage collects until the latest collection end of its lines."""
    bind = op.get_bind()
    lines, invoices = _LINES, _INVOICES
    latest = bind.execute(
        sa.select(lines.c.invoice_id, sa.func.max(lines.c.collection_period_end))
        .join(invoices, invoices.c.id == lines.c.invoice_id)
        .where(
            invoices.c.kind == "standard",
            lines.c.collection_period_end.is_not(None),
            lines.c.deleted_at.is_(None),
        )
        .group_by(lines.c.invoice_id)
    ).all()
    if latest:
        bind.execute(
            sa.update(invoices)
            .where(invoices.c.id == sa.bindparam("b_id"))
            .values(collection_at=sa.bindparam("b_collection_at", type_=UtcDateTime())),
            [{"b_id": invoice_id, "b_collection_at": at} for invoice_id, at in latest],
        )


# --- downgrade --------------------------------------------------------------------------------


def _refuse_version_2_facts() -> None:
    """Refuse, naming the rows, what version 1 cannot hold."""
    refuse_if_rows(
        "invoices are issued",
        "SELECT id FROM billing_invoices WHERE issued_at IS NOT NULL ORDER BY id",
    )
    refuse_if_rows(
        "invoices are deleted",
        "SELECT id FROM billing_invoices WHERE deleted_at IS NOT NULL ORDER BY id",
    )
    refuse_if_rows(
        "invoice lines are deleted",
        "SELECT id FROM billing_invoice_lines WHERE deleted_at IS NOT NULL ORDER BY id",
    )
    rows = op.get_bind().execute(
        sa.select(_LINES.c.id, _LINES.c.pre_line_quantity).order_by(_LINES.c.id)
    )  # compared in Python: SQLite keeps the decimals as text
    after_earlier_runs = [line_id for line_id, pre_line in rows if pre_line != 0]
    if after_earlier_runs:
        raise DowngradeRefusedError(
            "invoice lines bill usage after an earlier run",
            after_earlier_runs[:_NAMED],
            len(after_earlier_runs),
        )
    refuse_if_rows(
        "customers have progressive billing or auto approval",
        "SELECT id FROM customers WHERE progressive_billing OR auto_approve ORDER BY id",
    )
    refuse_if_rows(
        "invoices are approved automatically",
        "SELECT id FROM billing_invoices WHERE auto_approve ORDER BY id",
    )
