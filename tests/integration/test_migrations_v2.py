"""Migrating a version-1 database to version 2 and back (docs/lifecycle.md section 13).

Each test builds a version-1 database (revision ``0005_charge_reference``) with raw SQLAlchemy
Core rows: one customer, features, usage, grants, credit_only charges in every version-1 status,
credit_then_invoice charges resting in ``active``, ``…waiting_for_collection`` and
``…completed`` (its run linked to a line of a ``draft.ready`` invoice), and deleted charges.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from chargeflow import DowngradeRefusedError, FrozenClock, open_app
from chargeflow.persistence.sql import SqlDatabase
from chargeflow.persistence.sql.schema import VERSION_TABLE
from chargeflow.persistence.sql.tables import (
    ALLOCATIONS,
    CHARGES,
    CREDIT_GRANTS,
    CREDIT_OVERDRAFTS,
    CUSTOMERS,
    DETAILED_LINES,
    INVOICE_LINES,
    INVOICES,
    RUNS,
    TRANSITIONS,
    USAGE_EVENTS,
)
from chargeflow.persistence.sql.types import ExactDecimal, UtcDateTime

V1 = "0005_charge_reference"
HEAD = "0010_audit_actor"
UNIT = '{"type":"unit","amount":"0.10"}'
GRADUATED = (
    '{"type":"tiered_graduated","tiers":[{"up_to":"1","unit_amount":"0.015","flat_amount":"0"},'
    '{"up_to":null,"unit_amount":"0.015","flat_amount":"0"}]}'
)
"""Version 1 rated 2 units at 0.03 (rounded once); version 2's two lines round to 0.02 each."""
FLAT = '{"type":"flat","amount":"5.00"}'
PACKAGE = '{"type":"package","amount":"1.00","quantity_per_package":"10"}'


def at(text: str) -> datetime:
    """``2026-02-01 00:00`` as an aware UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


JAN_1, FEB_1, FEB_3 = at("2026-01-01 00:00"), at("2026-02-01 00:00"), at("2026-02-03 00:00")
FEB_3_0001 = at("2026-02-03 00:01")


# --- version-1 tables, as revision 0005 left them -----------------------------------------------


def _table(table_name: str, /, **columns: sa.types.TypeEngine[Any]) -> sa.TableClause:
    return sa.table(table_name, *(sa.column(column, type_) for column, type_ in columns.items()))


S, D, T, TEXT = sa.String(), ExactDecimal(), UtcDateTime(), sa.Text()
V1_CUSTOMERS = _table("customers", id=S, name=S, currency=S, collection_interval=S, created_at=T)
V1_FEATURES = _table("features", id=S, key=S, name=S, created_at=T, archived_at=T)
V1_USAGE = _table(
    "usage_events", id=S, customer_id=S, feature_key=S, value=D, event_time=T, stored_at=T
)
V1_GRANTS = _table("credit_grants", id=S, customer_id=S, amount=D, granted_at=T)
V1_CHARGES = _table(
    "charge_usage_based",
    id=S,
    customer_id=S,
    name=S,
    currency=S,
    feature_key=S,
    service_period_from=T,
    service_period_to=T,
    invoice_at=T,
    settlement_mode=S,
    price=TEXT,
    status=S,
    advance_after=T,
    current_realization_run_id=S,
    feature_id=S,
    created_at=T,
    deleted_at=T,
)
V1_RUNS = _table(
    "charge_usage_based_runs",
    id=S,
    charge_id=S,
    type=S,
    feature_id=S,
    asof=T,
    collection_end=T,
    meter_value=D,
    amount=D,
    credits_total=D,
    total=D,
    created_at=T,
    line_id=S,
)
V1_ALLOCATIONS = _table(
    "charge_usage_based_run_credit_allocations",
    id=S,
    run_id=S,
    seq=sa.Integer(),
    charge_id=S,
    amount=D,
    grant_id=S,
    created_at=T,
)
V1_INVOICES = _table(
    "billing_invoices",
    id=S,
    customer_id=S,
    currency=S,
    kind=S,
    status=S,
    collection_at=T,
    amount=D,
    credits_total=D,
    total=D,
    created_at=T,
)
V1_LINES = _table(
    "billing_invoice_lines",
    id=S,
    invoice_id=S,
    customer_id=S,
    currency=S,
    engine=S,
    status=S,
    charge_id=S,
    name=S,
    service_period_from=T,
    service_period_to=T,
    invoice_at=T,
    price=TEXT,
    quantity=D,
    credits_applied=TEXT,
    amount=D,
    credits_total=D,
    total=D,
    created_at=T,
)
V1_TRANSITIONS = _table(
    "charge_transitions",
    charge_id=S,
    invoice_id=S,
    from_status=S,
    to_status=S,
    trigger=S,
    arguments=TEXT,
    at=T,
)


# --- a version-1 database -----------------------------------------------------------------------


def charge(
    charge_id: str,
    mode: str,
    status: str,
    *,
    price: str = UNIT,
    advance_after: datetime | None = None,
    current_run: str | None = None,
    deleted_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": charge_id,
        "customer_id": "cus_1",
        "name": f"API requests ({charge_id})",
        "currency": "USD",
        "feature_key": "api_requests",
        "service_period_from": JAN_1,
        "service_period_to": FEB_1,
        "invoice_at": FEB_1,
        "settlement_mode": mode,
        "price": price,
        "status": status,
        "advance_after": advance_after,
        "current_realization_run_id": current_run,
        "feature_id": None if status == "created" else "feat_1",
        "created_at": at("2025-12-01 00:00"),
        "deleted_at": deleted_at,
    }


def run(
    run_id: str,
    charge_id: str,
    *,
    meter: str,
    amount: str,
    credits: str,
    as_of: datetime,
    line_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": run_id,
        "charge_id": charge_id,
        "type": "final_realization",
        "feature_id": "feat_1",
        "asof": as_of,
        "collection_end": FEB_3,
        "meter_value": Decimal(meter),
        "amount": Decimal(amount),
        "credits_total": Decimal(credits),
        "total": Decimal(amount) - Decimal(credits),
        "created_at": as_of,
        "line_id": line_id,
    }


def allocation(
    allocation_id: str, run_id: str, charge_id: str, seq: int, amount: str, grant_id: str
) -> dict[str, Any]:
    return {
        "id": allocation_id,
        "run_id": run_id,
        "seq": seq,
        "charge_id": charge_id,
        "amount": Decimal(amount),
        "grant_id": grant_id,
        "created_at": FEB_1,
    }


def invoice(invoice_id: str, status: str | None, amount: str, credits: str) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "customer_id": "cus_1",
        "currency": "USD",
        "kind": "gathering" if status is None else "standard",
        "status": status,
        "collection_at": None if status is None else FEB_3,  # version 1: period end + P2D
        "amount": Decimal(amount),
        "credits_total": Decimal(credits),
        "total": Decimal(amount) - Decimal(credits),
        "created_at": FEB_1,
    }


def line(
    line_id: str,
    invoice_id: str,
    charge_id: str | None,
    *,
    quantity: str,
    amount: str,
    credits: Sequence[tuple[str, str]] = (),
    price: str = UNIT,
) -> dict[str, Any]:
    credited = sum((Decimal(credit) for _, credit in credits), Decimal(0))
    return {
        "id": line_id,
        "invoice_id": invoice_id,
        "customer_id": "cus_1",
        "currency": "USD",
        "engine": "invoicing" if charge_id is None else "charge_usagebased",
        "status": "gathering" if invoice_id == "inv_gathering" else "standard",
        "charge_id": charge_id,
        "name": f"line {line_id}",
        "service_period_from": JAN_1,
        "service_period_to": FEB_1,
        "invoice_at": FEB_1,
        "price": price,
        "quantity": Decimal(quantity),
        "credits_applied": json.dumps(
            [{"allocation_id": alloc, "amount": credit} for alloc, credit in credits]
        ),
        "amount": Decimal(amount),
        "credits_total": credited,
        "total": Decimal(amount) - credited,
        "created_at": FEB_1,
    }


def hop(
    subject: str, source: str, dest: str, trigger: str = "next", **arguments: str
) -> dict[str, Any]:
    invoice_row = subject.startswith("inv_")
    return {
        "charge_id": None if invoice_row else subject,
        "invoice_id": subject if invoice_row else None,
        "from_status": source,
        "to_status": dest,
        "trigger": trigger,
        "arguments": json.dumps(arguments),
        "at": FEB_1,
    }


FR = "active.final_realization."


def build_version_1(database: SqlDatabase) -> None:
    """Migrate `database` to version 1's last revision and store a version-1 data set."""
    database.upgrade(V1)
    co, cti = "credit_only", "credit_then_invoice"
    rows: list[tuple[sa.TableClause, list[dict[str, Any]]]] = [
        (
            V1_CUSTOMERS,
            [
                {
                    "id": "cus_1",
                    "name": "Acme",
                    "currency": "USD",
                    "collection_interval": "P2D",
                    "created_at": at("2025-10-01 00:00"),
                }
            ],
        ),
        (
            V1_FEATURES,
            [
                {
                    "id": "feat_old",
                    "key": "api_requests",
                    "name": "API requests (v0)",
                    "created_at": at("2025-11-01 00:00"),
                    "archived_at": at("2025-12-15 00:00"),
                },
                {
                    "id": "feat_1",
                    "key": "api_requests",
                    "name": "API requests",
                    "created_at": at("2025-12-15 00:00"),
                    "archived_at": None,
                },
            ],
        ),
        (
            V1_USAGE,
            [
                usage("ev_live", "api_requests", stored="2026-01-15 00:00"),
                usage("ev_archived", "api_requests", stored="2025-12-10 00:00"),
                usage("ev_before", "api_requests", stored="2025-10-15 00:00"),
                usage("ev_unknown", "storage", stored="2026-01-15 00:00"),
            ],
        ),
        (
            V1_GRANTS,
            [
                {
                    "id": "gr_1",
                    "customer_id": "cus_1",
                    "amount": Decimal("100.00"),
                    "granted_at": at("2025-12-01 00:00"),
                },
                {
                    "id": "gr_2",
                    "customer_id": "cus_1",
                    "amount": Decimal("3.00"),
                    "granted_at": FEB_3,
                },
            ],
        ),
        (
            V1_CHARGES,
            [
                charge("co_created", co, "created"),
                charge("co_active", co, "active", advance_after=FEB_1),
                charge(
                    "co_waiting",
                    co,
                    f"{FR}waiting_for_collection",
                    advance_after=FEB_3_0001,
                    current_run="run_co_waiting",
                ),
                charge("co_final", co, "final", price=GRADUATED),
                charge("co_deleted", co, "deleted", deleted_at=at("2026-01-10 00:00")),
                charge("cti_active", cti, "active", advance_after=FEB_1),
                charge(
                    "cti_waiting",
                    cti,
                    f"{FR}waiting_for_collection",
                    advance_after=FEB_3_0001,
                    current_run="run_cti_waiting",
                ),
                charge(
                    "cti_done",
                    cti,
                    f"{FR}completed",
                    advance_after=FEB_3_0001,
                    current_run="run_cti_done",
                ),
                charge(
                    "cti_deleted",
                    cti,
                    "deleted",
                    price=PACKAGE,
                    current_run="run_cti_deleted",
                    deleted_at=at("2026-02-04 00:00"),
                ),
            ],
        ),
        (
            V1_INVOICES,
            [
                invoice("inv_gathering", None, "0", "0"),
                invoice("inv_waiting", "draft.waiting_for_collection", "10.00", "5.00"),
                invoice("inv_ready", "draft.ready", "12.50", "8.00"),
                invoice("inv_deleted", "draft.ready", "1.00", "0"),
            ],
        ),
        (
            V1_LINES,
            [
                line("line_gathering", "inv_gathering", "cti_active", quantity="0", amount="0"),
                line(
                    "line_cti_waiting",
                    "inv_waiting",
                    "cti_waiting",
                    quantity="50",
                    amount="5.00",
                    credits=[("alc_cti_waiting", "5.00")],
                ),
                line("line_setup", "inv_waiting", None, quantity="1", amount="5.00", price=FLAT),
                line(
                    "line_cti_done",
                    "inv_ready",
                    "cti_done",
                    quantity="125",
                    amount="12.50",
                    credits=[("alc_cti_done_1", "5.00"), ("alc_cti_done_2", "3.00")],
                ),
                line(
                    "line_cti_deleted",
                    "inv_deleted",
                    "cti_deleted",
                    quantity="0",
                    amount="1.00",
                    price=PACKAGE,
                ),
            ],
        ),
        (
            V1_RUNS,
            [
                run(
                    "run_co_waiting",
                    "co_waiting",
                    meter="100",
                    amount="10.00",
                    credits="10.00",
                    as_of=at("2026-02-01 11:59"),
                ),
                run(
                    "run_co_final",
                    "co_final",
                    meter="2",
                    amount="0.03",
                    credits="0.03",
                    as_of=at("2026-02-03 00:00"),
                ),
                run(
                    "run_cti_waiting",
                    "cti_waiting",
                    meter="50",
                    amount="5.00",
                    credits="5.00",
                    as_of=FEB_1,
                    line_id="line_cti_waiting",
                ),
                run(
                    "run_cti_done",
                    "cti_done",
                    meter="125",
                    amount="12.50",
                    credits="8.00",
                    as_of=FEB_1,
                    line_id="line_cti_done",
                ),
                run(
                    "run_cti_deleted",
                    "cti_deleted",
                    meter="0",
                    amount="1.00",
                    credits="0",
                    as_of=FEB_1,
                    line_id="line_cti_deleted",
                ),
            ],
        ),
        (
            V1_ALLOCATIONS,
            [
                allocation("alc_co_waiting", "run_co_waiting", "co_waiting", 1, "10.00", "gr_1"),
                allocation("alc_co_final_1", "run_co_final", "co_final", 1, "0.02", "gr_1"),
                allocation("alc_co_final_2", "run_co_final", "co_final", 2, "0.01", "gr_1"),
                allocation("alc_cti_waiting", "run_cti_waiting", "cti_waiting", 1, "5.00", "gr_1"),
                allocation("alc_cti_done_1", "run_cti_done", "cti_done", 1, "5.00", "gr_1"),
                allocation("alc_cti_done_2", "run_cti_done", "cti_done", 2, "3.00", "gr_2"),
            ],
        ),
        (
            V1_TRANSITIONS,
            [
                hop("cti_done", "created", "active"),
                hop(
                    "cti_done",
                    "active",
                    f"{FR}started",
                    "invoice_created",
                    line_id="line_cti_done",
                ),
                hop("cti_done", f"{FR}started", f"{FR}waiting_for_collection"),
                hop(
                    "cti_done",
                    f"{FR}waiting_for_collection",
                    f"{FR}processing",
                    "collection_completed",
                ),
                hop("cti_done", f"{FR}processing", f"{FR}completed"),
                hop("co_final", f"{FR}waiting_for_collection", f"{FR}processing"),
                hop("co_final", f"{FR}processing", f"{FR}completed"),
                hop("co_final", f"{FR}completed", "final"),
                hop("cti_deleted", f"{FR}processing", f"{FR}completed"),
                hop("cti_deleted", f"{FR}completed", "deleted", "delete", policy="ignore"),
                hop("inv_ready", "draft.created", "draft.waiting_for_collection"),
                hop("inv_ready", "draft.waiting_for_collection", "draft.collecting"),
                hop("inv_ready", "draft.collecting", "draft.ready"),
            ],
        ),
    ]
    with database.engine.begin() as connection:
        for table, values in rows:
            connection.execute(sa.insert(table), values)


def usage(event_id: str, key: str, *, stored: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "customer_id": "cus_1",
        "feature_key": key,
        "value": Decimal(10),
        "event_time": at(stored),
        "stored_at": at(stored),
    }


# --- reading ------------------------------------------------------------------------------------


def select_rows(database: SqlDatabase, table: sa.Table) -> dict[str, sa.RowMapping]:
    """Every row of `table` (typed by the table classes) by id."""
    with database.engine.connect() as connection:
        return {row["id"]: row for row in connection.execute(sa.select(table)).mappings()}


def revision(database: SqlDatabase) -> list[str]:
    with database.engine.connect() as connection:
        return list(connection.scalars(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")))


Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(database: SqlDatabase) -> Snapshot:
    """Every application table's rows as column dicts (column order ignored), leaving out the
    generated ids of detailed lines."""
    metadata = sa.MetaData()
    metadata.reflect(database.engine)
    with database.engine.connect() as connection:
        contents = {
            table.name: [dict(row) for row in connection.execute(table.select()).mappings()]
            for table in metadata.sorted_tables
            if table.name != VERSION_TABLE
        }
    return without(contents, {"charge_usage_based_run_detailed_lines": {"id"}})


def without(contents: Snapshot, columns: Mapping[str, set[str]]) -> Snapshot:
    """`contents` without the `columns` of each table, every table's rows sorted."""
    return {
        name: sorted(
            (
                {key: value for key, value in row.items() if key not in columns.get(name, set())}
                for row in rows
            ),
            key=lambda row: repr(sorted(row.items())),
        )
        for name, rows in contents.items()
    }


def audit(database: SqlDatabase, subject: str) -> list[tuple[str, str, str]]:
    column = TRANSITIONS.c.invoice_id if subject.startswith("inv_") else TRANSITIONS.c.charge_id
    with database.engine.connect() as connection:
        rows = connection.execute(
            sa.select(TRANSITIONS.c.from_status, TRANSITIONS.c.to_status, TRANSITIONS.c.trigger)
            .where(column == subject)
            .order_by(TRANSITIONS.c.id)
        )
        return [(source, dest, trigger) for source, dest, trigger in rows]


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def migrated(fresh_database: SqlDatabase) -> SqlDatabase:
    """A version-1 database with the data set, upgraded to head."""
    build_version_1(fresh_database)
    fresh_database.upgrade()
    return fresh_database


# --- tests --------------------------------------------------------------------------------------


RZ = "active.realization."


def test_the_upgrade_maps_every_version_1_value(migrated: SqlDatabase) -> None:
    assert revision(migrated) == [HEAD]

    # charges: consolidated statuses; a created charge is due when its period starts
    charges = select_rows(migrated, CHARGES)
    assert {charge_id: row["status"] for charge_id, row in charges.items()} == {
        "co_created": "created",
        "co_active": "active",
        "co_waiting": f"{RZ}waiting_for_collection",
        "co_final": "final",
        "co_deleted": "deleted",
        "cti_active": "active",
        "cti_waiting": f"{RZ}waiting_for_collection",
        "cti_done": f"{RZ}processing",
        "cti_deleted": "deleted",
    }
    assert charges["co_created"]["advance_after"] == JAN_1
    assert charges["co_active"]["advance_after"] == FEB_1
    assert charges["cti_done"]["current_realization_run_id"] == "run_cti_done"

    # runs: time bounds, types, invoice, fiat flag
    runs = select_rows(migrated, RUNS)
    expected_runs = {
        # run: (metered, legacy as of, invoice, no fiat transaction required)
        "run_co_waiting": ("100", at("2026-02-01 11:59"), None, True),
        "run_co_final": ("2", at("2026-02-03 00:00"), None, True),
        "run_cti_waiting": ("50", FEB_1, "inv_waiting", True),
        "run_cti_done": ("125", FEB_1, "inv_ready", False),
        "run_cti_deleted": ("0", FEB_1, "inv_deleted", False),
    }
    assert set(runs) == set(expected_runs)
    for run_id, (metered, as_of, invoice_id, no_fiat) in expected_runs.items():
        row = runs[run_id]
        assert row["metered_quantity"] == Decimal(metered), run_id
        assert (row["service_period_to"], row["stored_at_lt"]) == (FEB_1, FEB_3), run_id
        assert row["legacy_as_of"] == as_of, run_id
        assert (row["type"], row["initial_type"]) == ("final_realization",) * 2, run_id
        assert row["invoice_id"] == invoice_id, run_id
        assert row["no_fiat_transaction_required"] is no_fiat, run_id
        assert row["deleted_at"] is None, run_id

    # allocations are booked at their run's period end
    allocations = select_rows(migrated, ALLOCATIONS)
    assert len(allocations) == 6
    assert {row["booked_at"] for row in allocations.values()} == {FEB_1}

    # grants keep what is not allocated as a running total: 100 - 10 - 0.02 - 0.01 - 5 - 5
    grants = select_rows(migrated, CREDIT_GRANTS)
    assert {grant_id: row["remaining"] for grant_id, row in grants.items()} == {
        "gr_1": Decimal("79.97"),
        "gr_2": Decimal("0.00"),
    }

    # version 1 stored only amounts: one line per run carries it, keyed by the price type
    details: dict[str, list[tuple[int, str, Decimal, Decimal, Decimal]]] = {}
    for row in select_rows(migrated, DETAILED_LINES).values():
        details.setdefault(row["run_id"], []).append(
            (row["seq"], row["key"], row["quantity"], row["unit_amount"], row["amount"])
        )
    assert details["run_cti_done"] == [
        (1, "unit", Decimal("125"), Decimal("0.10"), Decimal("12.50"))
    ]
    assert details["run_co_final"] == [
        (1, "graduated", Decimal("2"), Decimal("0.015"), Decimal("0.03"))
    ]
    assert details["run_cti_deleted"] == [
        (1, "package", Decimal("0"), Decimal("1.00"), Decimal("1.00"))
    ]
    for run_id, row in runs.items():
        assert sum(line[4] for line in details[run_id]) == row["amount"], run_id

    # usage lines: metered = quantity, nothing before, the run's detailed lines, collection end
    lines = select_rows(migrated, INVOICE_LINES)
    done = lines["line_cti_done"]
    assert (done["metered_quantity"], done["pre_line_quantity"]) == (Decimal(125), 0)
    assert done["detailed_lines"] == (  # as the invoice repository writes it
        '[{"key":"unit","quantity":"125","unit_amount":"0.10","amount":"12.50"}]'
    )
    assert done["collection_period_end"] == FEB_3_0001
    for line_id in ("line_gathering", "line_setup"):
        assert lines[line_id]["detailed_lines"] == "[]"
        assert lines[line_id]["collection_period_end"] is None
    assert lines["line_setup"]["metered_quantity"] == 0  # a plain line meters nothing
    assert {row["deleted_at"] for row in lines.values()} == {None}

    # invoices: collection recomputed from the usage lines, manual approval for draft.ready
    invoices = select_rows(migrated, INVOICES)
    assert {invoice_id: row["status"] for invoice_id, row in invoices.items()} == {
        "inv_gathering": None,
        "inv_waiting": "draft.waiting_for_collection",
        "inv_ready": "draft.manual_approval_needed",
        "inv_deleted": "draft.manual_approval_needed",
    }
    assert invoices["inv_ready"]["collection_at"] == FEB_3_0001
    assert invoices["inv_waiting"]["collection_at"] == FEB_3_0001
    assert invoices["inv_gathering"]["collection_at"] is None
    for row in invoices.values():
        assert (row["auto_approve"], row["issued_at"], row["deleted_at"]) == (False, None, None)

    # customers and usage
    customer = select_rows(migrated, CUSTOMERS)["cus_1"]
    assert (customer["progressive_billing"], customer["auto_approve"]) == (False, False)
    events = select_rows(migrated, USAGE_EVENTS)
    assert {event_id: row["feature_id"] for event_id, row in events.items()} == {
        "ev_live": "feat_1",
        "ev_archived": "feat_old",
        "ev_before": "feat_old",  # no feature was live yet: the earliest of its key
        "ev_unknown": None,
    }

    # the audit log: the credit_then_invoice hop into version 1's completed is kept
    assert audit(migrated, "cti_done") == [
        ("created", "active", "next"),
        ("active", f"{RZ}started", "invoice_created"),
        (f"{RZ}started", f"{RZ}waiting_for_collection", "next"),
        (f"{RZ}waiting_for_collection", f"{RZ}processing", "collection_completed"),
        (f"{RZ}processing", f"{RZ}processing", "next"),
    ]
    assert audit(migrated, "co_final") == [
        (f"{RZ}waiting_for_collection", f"{RZ}processing", "next"),
        (f"{RZ}processing", f"{RZ}completed", "next"),
        (f"{RZ}completed", "final", "next"),
    ]
    assert audit(migrated, "cti_deleted") == [
        (f"{RZ}processing", f"{RZ}processing", "next"),
        (f"{RZ}processing", "deleted", "delete"),
    ]
    assert audit(migrated, "inv_ready")[-1] == (
        "draft.collecting",
        "draft.manual_approval_needed",
        "next",
    )


def test_a_migrated_credit_then_invoice_charge_is_issued_paid_and_final(
    migrated: SqlDatabase,
) -> None:
    url = migrated.engine.url.render_as_string(hide_password=False)
    app = open_app(url, clock=FrozenClock("2026-02-05T00:00:00Z"), migrate=False)
    try:
        app.billing.approve_invoice("inv_ready")
        assert (
            app.charges.get("cti_done").state.status.value == "active.awaiting_payment_settlement"
        )
        app.billing.record_payment("inv_ready", "paid")
        assert app.charges.get("cti_done").state.status.value == "final"
    finally:
        app.close()


def test_downgrading_and_upgrading_again_keeps_every_value(fresh_database: SqlDatabase) -> None:
    build_version_1(fresh_database)
    before = snapshot(fresh_database)
    fresh_database.upgrade()
    upgraded = snapshot(fresh_database)

    fresh_database.downgrade(V1)
    assert revision(fresh_database) == [V1]
    # version 1 gets back what it stored, except the two values the upgrade recomputes
    recomputed = {"charge_usage_based": {"advance_after"}, "billing_invoices": {"collection_at"}}
    assert without(snapshot(fresh_database), recomputed) == without(before, recomputed)

    fresh_database.upgrade()
    assert snapshot(fresh_database) == upgraded


@pytest.mark.parametrize(
    ("fact", "undo", "named"),
    [
        (
            "UPDATE charge_usage_based_runs SET type = 'partial_invoice' WHERE id = 'run_co_final'",
            "UPDATE charge_usage_based_runs SET type = 'final_realization'",
            "run_co_final",
        ),
        (
            "UPDATE charge_usage_based_runs SET deleted_at = stored_at_lt"
            " WHERE id = 'run_cti_waiting'",
            "UPDATE charge_usage_based_runs SET deleted_at = NULL",
            "run_cti_waiting",
        ),
        (
            "INSERT INTO charge_usage_based_run_payments (run_id, status, amount, authorized_at,"
            " authorization_reference) SELECT id, 'authorized', total, stored_at_lt, 'ref-1'"
            " FROM charge_usage_based_runs WHERE id = 'run_cti_done'",
            "DELETE FROM charge_usage_based_run_payments",
            "run_cti_done",
        ),
        (
            "UPDATE billing_invoices SET status = 'paid' WHERE id = 'inv_ready'",
            "UPDATE billing_invoices SET status = 'draft.manual_approval_needed'"
            " WHERE id = 'inv_ready'",
            "inv_ready",
        ),
        (
            "UPDATE billing_invoices SET issued_at = created_at WHERE id = 'inv_deleted'",
            "UPDATE billing_invoices SET issued_at = NULL",
            "inv_deleted",
        ),
        (
            "UPDATE charge_usage_based SET status = 'active.awaiting_payment_settlement'"
            " WHERE id = 'cti_done'",
            f"UPDATE charge_usage_based SET status = '{RZ}processing' WHERE id = 'cti_done'",
            "cti_done",
        ),
    ],
)
def test_a_downgrade_refuses_while_version_2_facts_exist(
    migrated: SqlDatabase, fact: str, undo: str, named: str
) -> None:
    with migrated.engine.begin() as connection:
        connection.execute(sa.text(fact))
    before = snapshot(migrated)

    with pytest.raises(DowngradeRefusedError, match=named) as refused:
        migrated.downgrade(V1)
    assert named in refused.value.row_ids
    assert revision(migrated) == [HEAD]
    assert snapshot(migrated) == before  # nothing changed

    # without the fact, the same database goes down
    with migrated.engine.begin() as connection:
        connection.execute(sa.text(undo))
    migrated.downgrade(V1)
    assert revision(migrated) == [V1]


def test_lines_billing_after_an_earlier_run_refuse_the_downgrade(migrated: SqlDatabase) -> None:
    with migrated.engine.begin() as connection:
        connection.execute(
            sa.update(INVOICE_LINES)
            .where(INVOICE_LINES.c.id == "line_cti_done")
            .values(pre_line_quantity=Decimal("15.0"))
        )
    with pytest.raises(DowngradeRefusedError, match="line_cti_done"):
        migrated.downgrade(V1)
    assert revision(migrated) == [HEAD]
    assert select_rows(migrated, CHARGES)["cti_done"]["status"] == f"{RZ}processing"


def _migration(name: str) -> Any:
    """A migration module, loaded from its file (the versions folder is not a package)."""
    path = Path(__file__).parents[2] / "persistence" / "sql" / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ('{"type": "unit", "amount": "0.10"}', [("unit", 5, "0.10", "0.50")]),
        ('{"type": "tiered_volume", "tiers": [{"up_to": null, "unit_amount": "2"}]}',
         [("volume", 5, "2", "0.50")]),
        ('{"type": "mystery", "amount": "x"}', [("unit", 5, "0", "0.50")]),
        ("not json", [("unit", 5, "0", "0.50")]),
        ('["a list"]', [("unit", 5, "0", "0.50")]),
    ],
)  # fmt: skip
def test_a_version_1_run_keeps_its_stored_amount_on_one_line_whatever_its_price(
    price: str, expected: list[tuple[str, int, str, str]]
) -> None:
    carried = _migration("0006_run_structure.py").carried_lines
    assert carried(price, Decimal(5), Decimal("0.50")) == [
        (key, Decimal(quantity), Decimal(unit), Decimal(amount))
        for key, quantity, unit, amount in expected
    ]
    assert carried(price, Decimal(5), Decimal("0")) == []


def test_credit_balances_are_filled_from_the_allocations_when_migrating(
    fresh_database: SqlDatabase,
) -> None:
    """0009 derives each grant's remaining amount and each customer's overdraft from the
    allocations: dropping them (a downgrade) and filling them again gives the running totals
    every allocation kept."""
    fresh_database.upgrade()
    clock = FrozenClock("2025-12-01T00:00:00Z")
    app = open_app(fresh_database.engine.url.render_as_string(hide_password=False), clock=clock)
    try:
        who = app.customers.create(name="Acme", currency="USD", collection_interval="P2D")
        app.features.create(key="api_requests")
        app.credits.grant(who.id, amount="5.00")
        app.charges.create(
            customer_id=who.id,
            feature_key="api_requests",
            service_period=("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
            settlement_mode="credit_only",
            price={"type": "unit", "amount": "1.00"},
        )
        app.usage.record(who.id, "api_requests", value=8, event_time="2026-01-15T00:00:00Z")
        clock.set("2026-02-03T00:01:00Z")
        app.charges.advance_due()
        app.charges.advance_due()
        assert app.credits.balance(who.id) == Decimal("-3.00")
    finally:
        app.close()
    kept = (select_rows(fresh_database, CREDIT_GRANTS), overdrafts(fresh_database))
    assert [row["remaining"] for row in kept[0].values()] == [Decimal("0.00")]
    assert kept[1] == {who.id: Decimal("3.00")}

    with fresh_database.engine.begin() as connection:  # else 0010's downgrade refuses
        connection.execute(sa.text("UPDATE charge_transitions SET recorded_at = NULL"))
    fresh_database.downgrade("0008_status_consolidation")
    fresh_database.upgrade()
    assert (select_rows(fresh_database, CREDIT_GRANTS), overdrafts(fresh_database)) == kept


def test_transitions_keep_their_actor_and_wall_clock_and_refuse_to_lose_them(
    fresh_database: SqlDatabase,
) -> None:
    """0010: records made before it read actor ``unknown`` and no wall-clock time; records
    made after carry both, and the downgrade refuses while one does."""
    build_version_1(fresh_database)
    fresh_database.upgrade()
    url = fresh_database.engine.url.render_as_string(hide_password=False)
    wall = FrozenClock("2026-11-25T10:00:00Z")
    app = open_app(url, clock=FrozenClock("2026-02-05T00:00:00Z"), actor="alice", wall_clock=wall)
    try:
        before = app.charges.history("cti_done")
        assert {(record.actor, record.recorded_at) for record in before} == {("unknown", None)}
        app.charges.delete("co_created", policy="ignore")
        [deleted] = app.charges.history("co_created")[-1:]
        assert (deleted.actor, deleted.recorded_at) == ("alice", wall.now())
        assert deleted.at == FrozenClock("2026-02-05T00:00:00Z").now()
    finally:
        app.close()

    with pytest.raises(DowngradeRefusedError, match="wall-clock"):
        fresh_database.downgrade("0009_credit_balances")
    assert revision(fresh_database) == [HEAD]


def overdrafts(database: SqlDatabase) -> dict[str, Decimal]:
    with database.engine.connect() as connection:
        rows = connection.execute(
            sa.select(CREDIT_OVERDRAFTS.c.customer_id, CREDIT_OVERDRAFTS.c.amount)
        )
        return {str(customer_id): amount for customer_id, amount in rows}
