"""Statuses of version 2: one realization phase for every run, and invoice approval
(docs/lifecycle.md sections 1, 5, 8 and 13).

Revision ID: 0008_status_consolidation
Revises: 0007_lines_and_profiles
Create Date: 2026-11-26

Charges: ``active.final_realization.X`` becomes ``active.realization.X``; a credit_then_invoice
charge resting in version 1's ``…completed`` goes to ``active.realization.processing`` (its
invoice was never issued: version 2 completes the realization when it is). Invoices:
``draft.ready`` becomes ``draft.manual_approval_needed``. The audit log is mapped the same way;
a credit_then_invoice charge's version-1 hop ``…processing -> …completed`` is kept, as
``…processing -> …processing`` (nothing stored is lost), and its later rows start from
``…processing``.

The downgrade refuses, naming the rows, while charges, invoices or audit rows stand in
statuses (or name triggers) version 1 cannot express; otherwise it maps back: a
credit_then_invoice charge in ``…processing`` with a current run rests in version 1's
``…completed`` again, and its audit rows after the kept hop start from ``…completed`` again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chargeflow.persistence.sql.downgrades import refuse_if_rows

revision: str = "0008_status_consolidation"
down_revision: str | None = "0007_lines_and_profiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_V1 = "active.final_realization."
_V2 = "active.realization."
_PHASES = ("started", "waiting_for_collection", "processing", "completed")
_V1_PROCESSING, _V1_COMPLETED = f"{_V1}processing", f"{_V1}completed"
_V2_PROCESSING = f"{_V2}processing"
_CREDIT_THEN_INVOICE = "credit_then_invoice"
_NEXT = "next"
_V1_READY, _V2_APPROVAL = "draft.ready", "draft.manual_approval_needed"

_V2_ONLY_CHARGE_STATUSES = ("active.realization.issuing", "active.awaiting_payment_settlement")
_V2_ONLY_CTI_STATUSES = ("final", "active.realization.completed")
"""credit_then_invoice never reached these in version 1 (it rested in ``…completed``)."""
_V2_ONLY_INVOICE_STATUSES = (
    "issuing",
    "payment_processing.pending",
    "payment_processing.authorized",
    "paid",
)
_V1_CHARGE_TRIGGERS = ("next", "invoice_created", "collection_completed", "delete")
_V1_INVOICE_TRIGGERS = ("next",)

_CHARGES = sa.table(
    "charge_usage_based",
    sa.column("id", sa.String()),
    sa.column("settlement_mode", sa.String()),
    sa.column("status", sa.String()),
    sa.column("current_realization_run_id", sa.String()),
)
_INVOICES = sa.table("billing_invoices", sa.column("status", sa.String()))
_TRANSITIONS = sa.table(
    "charge_transitions",
    sa.column("id", sa.Integer()),
    sa.column("charge_id", sa.String()),
    sa.column("invoice_id", sa.String()),
    sa.column("from_status", sa.String()),
    sa.column("to_status", sa.String()),
    sa.column("trigger", sa.String()),
)


def upgrade() -> None:
    """Map charge, invoice and audit statuses to version 2."""
    bind = op.get_bind()
    charges, log = _CHARGES, _TRANSITIONS
    cti = charges.c.settlement_mode == _CREDIT_THEN_INVOICE
    bind.execute(
        sa.update(charges)
        .where(cti, charges.c.status == _V1_COMPLETED)
        .values(status=_V2_PROCESSING)
    )
    cti_rows = log.c.charge_id.in_(sa.select(charges.c.id).where(cti))
    bind.execute(
        sa.update(log)
        .where(
            cti_rows,
            log.c.from_status == _V1_PROCESSING,
            log.c.to_status == _V1_COMPLETED,
            log.c.trigger == _NEXT,
        )
        .values(from_status=_V2_PROCESSING, to_status=_V2_PROCESSING)
    )
    for column in ("from_status", "to_status"):
        _rename(log, column, _V1_COMPLETED, _V2_PROCESSING, cti_rows)
    for phase in _PHASES:
        _rename(charges, "status", f"{_V1}{phase}", f"{_V2}{phase}")
        for column in ("from_status", "to_status"):
            _rename(log, column, f"{_V1}{phase}", f"{_V2}{phase}", log.c.charge_id.is_not(None))
    _rename(_INVOICES, "status", _V1_READY, _V2_APPROVAL)
    for column in ("from_status", "to_status"):
        _rename(log, column, _V1_READY, _V2_APPROVAL, log.c.invoice_id.is_not(None))


def downgrade() -> None:
    """Map the statuses back to version 1; refused while version 1 cannot express one."""
    _refuse_version_2_statuses()
    bind = op.get_bind()
    charges, log = _CHARGES, _TRANSITIONS
    cti = charges.c.settlement_mode == _CREDIT_THEN_INVOICE
    bind.execute(
        sa.update(charges)
        .where(
            cti,
            charges.c.status == _V2_PROCESSING,
            charges.c.current_realization_run_id.is_not(None),
        )
        .values(status=_V1_COMPLETED)
    )
    _restore_cti_completion_hops()
    for phase in _PHASES:
        _rename(charges, "status", f"{_V2}{phase}", f"{_V1}{phase}")
        for column in ("from_status", "to_status"):
            _rename(log, column, f"{_V2}{phase}", f"{_V1}{phase}", log.c.charge_id.is_not(None))
    _rename(_INVOICES, "status", _V2_APPROVAL, _V1_READY)
    for column in ("from_status", "to_status"):
        _rename(log, column, _V2_APPROVAL, _V1_READY, log.c.invoice_id.is_not(None))


def _rename(
    table: sa.TableClause,
    column: str,
    old: str,
    new: str,
    *where: sa.ColumnElement[bool],
) -> None:
    """``UPDATE table SET column = new WHERE column = old`` (and `where`)."""
    op.get_bind().execute(
        sa.update(table).where(table.c[column] == old, *where).values({column: new})
    )


def _restore_cti_completion_hops() -> None:
    """A credit_then_invoice charge's ``processing -> processing`` hop on ``next`` is version 1's
    ``processing -> completed`` again, and the row after it starts from ``completed``."""
    bind = op.get_bind()
    charges, log = _CHARGES, _TRANSITIONS
    rows = bind.execute(
        sa.select(log.c.id, log.c.charge_id, log.c.from_status, log.c.to_status, log.c.trigger)
        .where(
            log.c.charge_id.in_(
                sa.select(charges.c.id).where(charges.c.settlement_mode == _CREDIT_THEN_INVOICE)
            )
        )
        .order_by(log.c.charge_id, log.c.id)
    ).all()
    changes: list[dict[str, object]] = []
    previous: tuple[str, str] | None = None  # (charge id, status it reached in version 1)
    for row in rows:
        source, dest = row.from_status, row.to_status
        hop = (source, dest, row.trigger) == (_V2_PROCESSING, _V2_PROCESSING, _NEXT)
        if hop:
            source, dest = _V1_PROCESSING, _V1_COMPLETED
        elif source == _V2_PROCESSING and previous == (row.charge_id, _V1_COMPLETED):
            source = _V1_COMPLETED
        if (source, dest) != (row.from_status, row.to_status):
            changes.append({"b_id": row.id, "b_from": source, "b_to": dest})
        previous = (row.charge_id, dest)
    if changes:
        bind.execute(
            sa.update(log)
            .where(log.c.id == sa.bindparam("b_id"))
            .values(from_status=sa.bindparam("b_from"), to_status=sa.bindparam("b_to")),
            changes,
        )


def _refuse_version_2_statuses() -> None:
    """Refuse, naming the rows, statuses and triggers version 1 has no word for."""
    charge_only = _sql_list(_V2_ONLY_CHARGE_STATUSES)
    cti_only = _sql_list(_V2_ONLY_CTI_STATUSES)
    cti_ids = f"SELECT id FROM charge_usage_based WHERE settlement_mode = '{_CREDIT_THEN_INVOICE}'"
    refuse_if_rows(
        "charges are in statuses version 1 cannot express",
        f"SELECT id FROM charge_usage_based WHERE status IN ({charge_only})"
        f" OR (settlement_mode = '{_CREDIT_THEN_INVOICE}' AND status IN ({cti_only}))"
        " ORDER BY id",
    )
    refuse_if_rows(
        "invoices are issued, in payment or paid",
        "SELECT id FROM billing_invoices"
        f" WHERE status IN ({_sql_list(_V2_ONLY_INVOICE_STATUSES)}) ORDER BY id",
    )
    invoice_only = _sql_list(_V2_ONLY_INVOICE_STATUSES)
    refuse_if_rows(
        "audit rows record statuses or triggers version 1 cannot express",
        "SELECT id FROM charge_transitions WHERE"
        " (charge_id IS NOT NULL AND ("
        f"from_status IN ({charge_only}) OR to_status IN ({charge_only})"
        f" OR trigger NOT IN ({_sql_list(_V1_CHARGE_TRIGGERS)})"
        f" OR (charge_id IN ({cti_ids})"
        f" AND (from_status IN ({cti_only}) OR to_status IN ({cti_only})))))"
        " OR (invoice_id IS NOT NULL AND ("
        f"from_status IN ({invoice_only}) OR to_status IN ({invoice_only})"
        f" OR trigger NOT IN ({_sql_list(_V1_INVOICE_TRIGGERS)})))"
        " ORDER BY id",
    )


def _sql_list(values: Sequence[str]) -> str:
    """``'a', 'b'``: fixed literals of this module, never user input."""
    return ", ".join(f"'{value}'" for value in values)
