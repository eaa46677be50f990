"""Gathering and standard invoices on ``billing_invoices`` and their lines on
``billing_invoice_lines``, with their mapping.

At most one gathering invoice exists per customer and currency (a partial unique index).
Prices and applied credits are stored as JSON text. Loading checks an invoice's kind and
status, a line's engine, status, price and JSON (`CorruptRecordError` otherwise), and restores
the rest as stored (`repository.restored`).

A unit of work knows the lines whose rows it holds: those it wrote (a row it inserted or updated
is locked by its transaction until it ends) and those of an invoice it read under the invoice's
lock (a standard line is only written under its invoice's lock). `get_line` answers those from
what it knows instead of reading the row back (invoicing asks for every line it just wrote), and
`save_lines` writes only the lines that differ from their rows (collection re-rates every line,
and most come out as they were). A savepoint rolled back forgets them all (`restore`): the
rollback may have undone a write.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    select,
    tuple_,
    update,
)

from chargeflow.domain.errors import NotFoundError
from chargeflow.domain.invoices import (
    AppliedCredit,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineEngineType,
    LineStatus,
)
from chargeflow.domain.prices import PRICE_ADAPTER
from chargeflow.domain.runs import DetailedLine
from chargeflow.persistence.sql.errors import loading
from chargeflow.persistence.sql.prices import stored_price
from chargeflow.persistence.sql.repository import (
    AnyRow,
    Savepoints,
    SqlRepository,
    claimed,
    ids_matching,
    restored,
    stored_alike,
    stored_period,
    stored_totals,
)
from chargeflow.persistence.sql.tables import INVOICE_LINES, INVOICES

_CREDITS_APPLIED: TypeAdapter[tuple[AppliedCredit, ...]] = TypeAdapter(tuple[AppliedCredit, ...])
_DETAILED_LINES: TypeAdapter[tuple[DetailedLine, ...]] = TypeAdapter(tuple[DetailedLine, ...])
_LINE_FIXED = ("id", "invoice_id", "customer_id", "currency", "engine", "charge_id", "created_at")
_HEADER = ("status", "collection_at", "issued_at", "amount", "credits_total", "total", "deleted_at")
_LIVE_LINE = INVOICE_LINES.c.deleted_at.is_(None)
_SAVE_LINE = (
    update(INVOICE_LINES)
    .where(INVOICE_LINES.c.id == bindparam("b_id"))
    .values(
        {
            column.name: bindparam(f"b_{column.name}")
            for column in INVOICE_LINES.columns
            if column.name not in _LINE_FIXED
        }
    )
)
"""The executemany UPDATE of saved lines, built once."""
_SAVE_HEADER = (
    update(INVOICES)
    .where(INVOICES.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in _HEADER})
)
"""The executemany UPDATE of kept invoice headers, built once."""


_COLLECTING = (InvoiceStatus.DRAFT_CREATED.value, InvoiceStatus.DRAFT_WAITING_FOR_COLLECTION.value)


class SqlInvoiceRepository(SqlRepository):
    """`InvoiceRepository` on ``billing_invoices`` and ``billing_invoice_lines``. Invoice
    headers are written behind (`save` keeps them, `flush` writes them): every read of
    invoices flushes first, so a read never sees a stale row."""

    def __init__(self, connection: Connection, savepoints: Savepoints) -> None:
        super().__init__(connection, savepoints)
        self._held: dict[str, InvoiceLine] = {}
        """A copy of each line whose row this unit of work holds, as the row now stands."""
        self._headers: dict[str, dict[str, Any]] = {}
        """The parameters of each invoice header kept to write, by invoice id."""

    def gathering_invoice(self, customer_id: str, currency: str) -> Invoice | None:
        """The customer's gathering invoice for `currency`, without its lines, if it exists."""
        self.flush()
        c = INVOICES.c
        rows = self._rows(
            select(INVOICES).where(
                c.customer_id == customer_id,
                c.currency == currency,
                c.kind == InvoiceKind.GATHERING.value,
            )
        )
        return _invoice(rows[0], ()) if rows else None

    def add(self, invoice: Invoice) -> None:
        """Insert the invoice header; `ConflictError` for a second gathering invoice of the
        same customer and currency."""
        self._insert(INVOICES, [_invoice_values(invoice)])

    def add_lines(self, lines: Sequence[InvoiceLine]) -> None:
        """Insert `lines` (each names its invoice), in one statement."""
        self._insert(INVOICE_LINES, [_line_values(line) for line in lines])
        self._remember(lines)

    def save(self, invoice: Invoice) -> None:
        """Keep the header's status, collection and issue times, totals and `deleted_at` to
        write: written once, however many hops an operation takes, when the unit of work
        flushes (before it commits, or before invoices are read again); `NotFoundError` then
        if the invoice has no row."""
        values = _invoice_values(invoice)
        self._headers[invoice.id] = {f"b_{name}": values[name] for name in _HEADER} | {
            "b_id": invoice.id
        }

    def flush(self) -> None:
        """Write the kept headers, in one executemany UPDATE; `NotFoundError` when fewer rows
        matched than were kept."""
        headers, self._headers = self._headers, {}
        if headers and self._write(_SAVE_HEADER, list(headers.values())) != len(headers):
            raise NotFoundError("invoice", ", ".join(headers))

    def mark(self) -> dict[str, dict[str, Any]]:
        """The headers kept to write now (a savepoint begins: `restore` returns to them)."""
        return dict(self._headers)

    def restore(self, mark: dict[str, dict[str, Any]]) -> None:
        """Keep only the headers kept at `mark`, and forget the lines held (the savepoint is
        rolled back: it may have undone a write)."""
        self._headers = dict(mark)
        self._held.clear()

    def save_lines(self, lines: Sequence[InvoiceLine]) -> None:
        """Everything but each line's identity, invoice and charge, in one executemany UPDATE
        of the lines that differ from their rows (none is sent when none does); `NotFoundError`
        when a line has no row."""
        lines = [line for line in lines if not stored_alike(self._held.get(line.id), line)]
        if not lines:
            return
        parameters = [
            {f"b_{name}": value for name, value in _line_values(line).items()
             if name not in _LINE_FIXED} | {"b_id": line.id}
            for line in lines
        ]  # fmt: skip
        if self._write(_SAVE_LINE, parameters) != len(parameters):
            raise NotFoundError("invoice line", ", ".join(line.id for line in lines))
        self._remember(lines)

    def remove_lines(self, line_ids: Sequence[str]) -> None:
        """Delete the lines' rows (a gathering line moving onto a standard invoice leaves its
        row this way); the database nulls the `line_id` of a run linked to one."""
        if line_ids:
            self._write(delete(INVOICE_LINES).where(INVOICE_LINES.c.id.in_(line_ids)))
            for line_id in line_ids:
                self._held.pop(line_id, None)

    def _remember(self, lines: Sequence[InvoiceLine]) -> None:
        """Keep a copy of each of `lines`, whose rows are held as they stand (the caller may
        change its own)."""
        self._held.update((line.id, line.model_copy()) for line in lines)

    def get(self, invoice_id: str, *, lock: bool = False) -> Invoice:
        """The invoice with its lines (oldest first); with `lock`, ``SELECT ... FOR NO KEY
        UPDATE`` on its row. `NotFoundError`."""
        invoices = self._load(_READS_BY_ID[lock], {"invoice_id": invoice_id})
        if not invoices:
            raise NotFoundError("invoice", invoice_id)
        return invoices[0]

    def get_line(self, line_id: str) -> InvoiceLine | None:
        """The line `line_id`, if it exists (a deleted one too: it carries `deleted_at`); no
        read for a line whose row this unit of work holds."""
        if line_id in self._held:
            return self._held[line_id].model_copy()
        rows = self._rows(select(INVOICE_LINES).where(INVOICE_LINES.c.id == line_id))
        return _line(rows[0]) if rows else None

    def claim_due(
        self, now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> builtins.list[tuple[datetime, str]]:
        """Up to `limit` (collection_at, id) keys of live standard invoices still collecting
        whose ``collection_at <= now``, in key order, strictly after `after`, locked with
        ``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL."""
        c = INVOICES.c
        statement = select(c.collection_at, c.id).where(
            c.status.in_(_COLLECTING), c.collection_at <= now, c.deleted_at.is_(None)
        )
        if after is not None:
            statement = statement.where(tuple_(c.collection_at, c.id) > tuple_(*after))
        self.flush()
        rows = self._rows(claimed(statement.order_by(c.collection_at, c.id).limit(limit)))
        return [(due_at, invoice_id) for due_at, invoice_id in rows]

    def pending_lines(self, customer_id: str) -> builtins.list[InvoiceLine]:
        """The customer's lines in status ``gathering``, oldest first."""
        c = INVOICE_LINES.c
        rows = self._rows(
            select(INVOICE_LINES)
            .where(c.customer_id == customer_id, c.status == LineStatus.GATHERING.value, _LIVE_LINE)
            .order_by(c.created_at, c.id)
        )
        return [_line(row) for row in rows]

    def gathering_line_of(self, charge_id: str) -> InvoiceLine | None:
        """The line of charge `charge_id` in status ``gathering``, if any."""
        c = INVOICE_LINES.c
        rows = self._rows(
            select(INVOICE_LINES).where(
                c.charge_id == charge_id, c.status == LineStatus.GATHERING.value, _LIVE_LINE
            )
        )
        return _line(rows[0]) if rows else None

    def ids_matching(self, exact: str, suffix: str | None, limit: int) -> builtins.list[str]:
        """One SELECT on ``billing_invoices`` (`repository.ids_matching`), after flushing kept
        headers."""
        self.flush()
        rows = self._rows(ids_matching(INVOICES, exact, suffix, limit))
        return [invoice_id for (invoice_id,) in rows]

    def line_ids_matching(self, exact: str, suffix: str | None, limit: int) -> builtins.list[str]:
        """One SELECT on ``billing_invoice_lines`` (`repository.ids_matching`)."""
        rows = self._rows(ids_matching(INVOICE_LINES, exact, suffix, limit))
        return [line_id for (line_id,) in rows]

    def list(self, customer_id: str | None = None) -> builtins.list[Invoice]:
        """Live standard invoices (all, or one customer's), oldest first, with their lines."""
        where: ColumnElement[bool] = and_(
            INVOICES.c.kind == InvoiceKind.STANDARD.value, INVOICES.c.deleted_at.is_(None)
        )
        if customer_id is not None:
            where = and_(where, INVOICES.c.customer_id == customer_id)
        return self._load(_reads(where, lock=False))

    def _load(
        self, reads: _Reads, parameters: dict[str, Any] | None = None
    ) -> builtins.list[Invoice]:
        """The invoices `reads` reads (for `parameters`) with their live lines: two queries;
        when it locks the invoices, the lines' rows are held from then on (after flushing kept
        headers)."""
        self.flush()
        invoice_rows = self._rows(reads.invoices, parameters)
        if not invoice_rows:
            return []
        lines: defaultdict[str, builtins.list[InvoiceLine]] = defaultdict(list)
        for row in self._rows(reads.lines, parameters):
            lines[row.invoice_id].append(_line(row))
        if reads.locked:
            for held in lines.values():
                self._remember(held)
        return [_invoice(row, lines[row.id]) for row in invoice_rows]


@dataclass(frozen=True)
class _Reads:
    """The two SELECTs of `SqlInvoiceRepository._load` for one condition on the invoices."""

    invoices: Select[Any]
    lines: Select[Any]
    locked: bool


def _reads(where: ColumnElement[bool], *, lock: bool) -> _Reads:
    """The invoices matching `where`, oldest first (locked ``FOR NO KEY UPDATE`` with
    `lock`), and their live lines, oldest first."""
    invoices = select(INVOICES).where(where).order_by(INVOICES.c.created_at, INVOICES.c.id)
    lines = (
        select(INVOICE_LINES)
        .where(INVOICE_LINES.c.invoice_id.in_(select(INVOICES.c.id).where(where)), _LIVE_LINE)
        .order_by(INVOICE_LINES.c.created_at, INVOICE_LINES.c.id)
    )
    return _Reads(invoices.with_for_update(key_share=True) if lock else invoices, lines, lock)


_READS_BY_ID = {
    lock: _reads(INVOICES.c.id == bindparam("invoice_id"), lock=lock) for lock in (False, True)
}
"""The reads of one invoice by id, built once (SQLAlchemy then finds their compiled form at
once)."""


def _invoice_values(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "customer_id": invoice.customer_id,
        "currency": invoice.currency,
        "kind": invoice.kind.value,
        "status": None if invoice.status is None else invoice.status.value,
        "collection_at": invoice.collection_at,
        "auto_approve": invoice.auto_approve,
        "issued_at": invoice.issued_at,
        "amount": invoice.totals.amount,
        "credits_total": invoice.totals.credits_total,
        "total": invoice.totals.total,
        "created_at": invoice.created_at,
        "deleted_at": invoice.deleted_at,
    }


def _invoice(row: AnyRow, lines: Sequence[InvoiceLine]) -> Invoice:
    """The invoice stored in `row` with its already loaded `lines`."""
    values = row._mapping
    with loading(INVOICES.name, values["id"]):
        return restored(
            Invoice,
            {
                "id": values["id"],
                "customer_id": values["customer_id"],
                "currency": values["currency"],
                "kind": InvoiceKind(values["kind"]),
                "status": None if values["status"] is None else InvoiceStatus(values["status"]),
                "collection_at": values["collection_at"],
                "auto_approve": values["auto_approve"],
                "issued_at": values["issued_at"],
                "totals": stored_totals(values),
                "created_at": values["created_at"],
                "deleted_at": values["deleted_at"],
                "lines": list(lines),
            },
        )


def _line_values(line: InvoiceLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "invoice_id": line.invoice_id,
        "customer_id": line.customer_id,
        "currency": line.currency,
        "engine": line.engine.value,
        "status": line.status.value,
        "charge_id": line.charge_id,
        "name": line.name,
        "service_period_from": line.service_period.start,
        "service_period_to": line.service_period.end,
        "invoice_at": line.invoice_at,
        "price": PRICE_ADAPTER.dump_json(line.price).decode(),
        "quantity": line.quantity,
        "metered_quantity": line.metered_quantity,
        "pre_line_quantity": line.pre_line_quantity,
        "detailed_lines": _DETAILED_LINES.dump_json(line.detailed_lines).decode(),
        "credits_applied": _CREDITS_APPLIED.dump_json(line.credits_applied).decode(),
        "amount": line.totals.amount,
        "credits_total": line.totals.credits_total,
        "total": line.totals.total,
        "collection_period_end": line.collection_period_end,
        "created_at": line.created_at,
        "deleted_at": line.deleted_at,
    }


def _line(row: AnyRow) -> InvoiceLine:
    """The line stored in `row`."""
    values = row._mapping
    with loading(INVOICE_LINES.name, values["id"]):
        return restored(
            InvoiceLine,
            {
                "id": values["id"],
                "invoice_id": values["invoice_id"],
                "customer_id": values["customer_id"],
                "currency": values["currency"],
                "engine": LineEngineType(values["engine"]),
                "status": LineStatus(values["status"]),
                "charge_id": values["charge_id"],
                "name": values["name"],
                "service_period": stored_period(
                    values["service_period_from"], values["service_period_to"]
                ),
                "invoice_at": values["invoice_at"],
                "price": stored_price(values["price"]),
                "quantity": values["quantity"],
                "metered_quantity": values["metered_quantity"],
                "pre_line_quantity": values["pre_line_quantity"],
                "detailed_lines": _detailed_lines(values["detailed_lines"]),
                "credits_applied": _CREDITS_APPLIED.validate_json(values["credits_applied"]),
                "totals": stored_totals(values),
                "collection_period_end": values["collection_period_end"],
                "created_at": values["created_at"],
                "deleted_at": values["deleted_at"],
            },
        )


@lru_cache(maxsize=1024)
def _detailed_lines(stored: str) -> tuple[DetailedLine, ...]:
    """The detailed lines stored as `stored`, parsed once per text: they are frozen, so the
    lines that store the same text (an invoice's lines often bill alike) share them."""
    return _DETAILED_LINES.validate_json(stored)
