"""The audit log on ``charge_transitions``: charges and invoices, one row per transition.

A row names its subject in exactly one of `charge_id` and `invoice_id` (a check constraint);
the autoincrement id keeps the order. Loading validates statuses and triggers against the
subject's machine vocabulary.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, select

from chargeflow.domain.history import ChargeTransition, InvoiceTransition, TransitionRecord
from chargeflow.persistence.sql.errors import loading
from chargeflow.persistence.sql.repository import AnyRow, Savepoints, SqlRepository
from chargeflow.persistence.sql.tables import TRANSITIONS

R = TypeVar("R", ChargeTransition, InvoiceTransition)


class SqlTransitionLog(SqlRepository):
    """`TransitionLog` on ``charge_transitions``. Records are written behind: kept in order
    and inserted in one multi-row statement when the unit of work flushes (before it commits,
    or before the log is read); a rolled-back savepoint drops the records kept inside it."""

    def __init__(self, connection: Connection, savepoints: Savepoints) -> None:
        super().__init__(connection, savepoints)
        self._pending: list[dict[str, Any]] = []

    def record_charge(self, record: ChargeTransition) -> None:
        """Append a charge's transition in the current transaction."""
        self._pending.append(_values(record, charge_id=record.subject_id))

    def record_invoice(self, record: InvoiceTransition) -> None:
        """Append an invoice's transition in the current transaction."""
        self._pending.append(_values(record, invoice_id=record.subject_id))

    def flush(self) -> None:
        """Insert the kept records, in the order they were made, in one statement."""
        pending, self._pending = self._pending, []
        self._insert(TRANSITIONS, pending)

    def mark(self) -> int:
        """How many records are kept now (a savepoint begins: `restore` returns to it)."""
        return len(self._pending)

    def restore(self, mark: int) -> None:
        """Keep only the records kept at `mark` (the savepoint is rolled back)."""
        del self._pending[mark:]

    def for_charge(self, charge_id: str) -> list[ChargeTransition]:
        """The charge's transitions in the order they were recorded."""
        return [
            _record(ChargeTransition, row)
            for row in self._subject_rows(TRANSITIONS.c.charge_id, charge_id)
        ]

    def for_invoice(self, invoice_id: str) -> list[InvoiceTransition]:
        """The invoice's transitions in the order they were recorded."""
        return [
            _record(InvoiceTransition, row)
            for row in self._subject_rows(TRANSITIONS.c.invoice_id, invoice_id)
        ]

    def _subject_rows(self, column: Column[Any], subject_id: str) -> list[AnyRow]:
        self.flush()
        statement = select(TRANSITIONS).where(column == subject_id).order_by(TRANSITIONS.c.id)
        return list(self._rows(statement))


def _values(
    record: TransitionRecord[Any, Any],
    *,
    charge_id: str | None = None,
    invoice_id: str | None = None,
) -> dict[str, Any]:
    """The row of `record`, naming its subject in `charge_id` or `invoice_id`."""
    return {
        "charge_id": charge_id,
        "invoice_id": invoice_id,
        "from_status": record.from_status.value,
        "to_status": record.to_status.value,
        "trigger": record.trigger.value,
        "arguments": json.dumps(record.arguments) if record.arguments else "{}",
        "at": record.at,
        "actor": record.actor,
        "recorded_at": record.recorded_at,
    }


def _record(model: type[R], row: AnyRow) -> R:
    with loading(TRANSITIONS.name, str(row.id)):
        return model(
            subject_id=row.charge_id or row.invoice_id,
            from_status=row.from_status,
            to_status=row.to_status,
            trigger=row.trigger,
            arguments=json.loads(row.arguments),
            at=row.at,
            actor=row.actor,
            recorded_at=row.recorded_at,
        )
