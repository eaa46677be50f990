"""The SQL adapter against SQLite (a temporary file) and PostgreSQL alike.

PostgreSQL tests create a database of their own on the server named by
``CHARGEFLOW_TEST_POSTGRES_URL`` (default: the local ``test`` database) and drop it afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from uuid import uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import IntegrityError

from benchmarks.capture import statements as sent_statements
from chargeflow.domain.charge import ChargeIntent, ChargeState, SettlementMode, UsageBasedCharge
from chargeflow.domain.credits import CreditAllocation, CreditGrant
from chargeflow.domain.customer import Customer
from chargeflow.domain.errors import (
    ConflictError,
    CorruptRecordError,
    DowngradeRefusedError,
    NotFoundError,
)
from chargeflow.domain.feature import Feature
from chargeflow.domain.history import ChargeTransition, InvoiceTransition
from chargeflow.domain.invoices import (
    AppliedCredit,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTrigger,
    LineEngineType,
    LineStatus,
)
from chargeflow.domain.periods import Period
from chargeflow.domain.prices import PackagePrice, Price, Tier, TieredGraduatedPrice, UnitPrice
from chargeflow.domain.runs import DetailedLine, RealizationRun, RunType, Totals
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.triggers import Trigger
from chargeflow.domain.usage import UsageEvent
from chargeflow.persistence.ports import UnitOfWork
from chargeflow.persistence.sql import SqlDatabase
from chargeflow.persistence.sql.schema import VERSION_TABLE
from chargeflow.persistence.sql.tables import CustomerRow
from tests.databases import postgres_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
JAN = Period.model_validate((T0, datetime(2026, 2, 1, tzinfo=UTC)))
UNIT = UnitPrice(amount=Decimal("0.10"))
CORE_TABLES = {
    "customers",
    "features",
    "usage_events",
    "credit_grants",
    "charge_usage_based",
    "charge_usage_based_runs",
    "charge_usage_based_run_credit_allocations",
    "charge_transitions",
}
ALL_TABLES = CORE_TABLES | {
    "billing_invoices",
    "billing_invoice_lines",
    "charge_usage_based_run_detailed_lines",
    "charge_usage_based_run_invoice_usages",
    "charge_usage_based_run_payments",
    "credit_overdrafts",
}
HEAD = "0010_audit_actor"


def save_then_fail(uow: UnitOfWork, line: InvoiceLine) -> None:
    """Save `line` in a savepoint that then fails (rolled back)."""
    with uow.savepoint():
        uow.invoices.save_lines([line])
        raise RuntimeError("the block failed")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def empty_db(fresh_database: SqlDatabase) -> SqlDatabase:
    """A new database without any schema."""
    return fresh_database


@pytest.fixture
def db(database: SqlDatabase, database_url: str) -> SqlDatabase:
    """The session's database at head, emptied for this test (by `database_url`)."""
    return database


# --- builders ---------------------------------------------------------------------------------


def a_customer(customer_id: str = "cus_1") -> Customer:
    return Customer(
        id=customer_id, name="Acme", currency="USD", collection_interval="P2D", created_at=T0
    )


def a_charge(
    charge_id: str = "chg_1",
    *,
    customer_id: str = "cus_1",
    price: Price = UNIT,
    mode: SettlementMode = SettlementMode.CREDIT_THEN_INVOICE,
    created_at: datetime = T0,
) -> UsageBasedCharge:
    intent = ChargeIntent(
        customer_id=customer_id,
        name="API requests",
        currency="USD",
        feature_key="api_requests",
        service_period=JAN,
        invoice_at=JAN.end,
        settlement_mode=mode,
        price=price,
    )
    return UsageBasedCharge(id=charge_id, intent=intent, created_at=created_at)


def a_run(
    run_id: str = "run_1",
    *,
    charge_id: str = "chg_1",
    line_id: str | None = None,
    amount: str = "10.00",
    credits: str = "0",
    created_at: datetime = JAN.end,
) -> RealizationRun:
    return RealizationRun(
        id=run_id,
        charge_id=charge_id,
        type=RunType.FINAL_REALIZATION,
        initial_type=RunType.FINAL_REALIZATION,
        feature_id="feat_1",
        service_period_to=JAN.end,
        stored_at_lt=JAN.end + timedelta(days=2),
        line_id=line_id,
        invoice_id="inv_1" if line_id else None,
        metered_quantity=Decimal("100"),
        totals=Totals.of(Decimal(amount), Decimal(credits)),
        detailed_lines=(
            DetailedLine(
                key="unit",
                quantity=Decimal(100),
                unit_amount=Decimal(amount) / 100,
                amount=Decimal(amount),
            ),
        ),
        created_at=created_at,
    )


def an_allocation(
    amount: str,
    *,
    allocation_id: str | None = None,
    run_id: str = "run_1",
    grant_id: str | None = None,
    corrects: str | None = None,
) -> CreditAllocation:
    return CreditAllocation(
        id=allocation_id or f"alc_{uuid4().hex}",
        run_id=run_id,
        charge_id="chg_1",
        amount=Decimal(amount),
        grant_id=grant_id,
        corrects_allocation_id=corrects,
        booked_at=JAN.end,
        created_at=JAN.end,
    )


_SEQ = count(1)


def add_allocation(uow: UnitOfWork, allocation: CreditAllocation) -> None:
    """Append `allocation` after every allocation added before it (`seq` always grows)."""
    uow.charges.add_allocation(allocation, next(_SEQ))


def a_grant(grant_id: str, amount: str, granted_at: datetime) -> CreditGrant:
    return CreditGrant(
        id=grant_id, customer_id="cus_1", amount=Decimal(amount), granted_at=granted_at
    )


def an_invoice(
    invoice_id: str = "inv_1",
    *,
    kind: InvoiceKind = InvoiceKind.STANDARD,
    created_at: datetime = JAN.end,
) -> Invoice:
    return Invoice(
        id=invoice_id,
        customer_id="cus_1",
        currency="USD",
        kind=kind,
        status=InvoiceStatus.DRAFT_CREATED if kind is InvoiceKind.STANDARD else None,
        created_at=created_at,
    )


def a_line(
    line_id: str = "line_1",
    *,
    invoice_id: str = "inv_1",
    status: LineStatus = LineStatus.STANDARD,
    created_at: datetime = JAN.end,
) -> InvoiceLine:
    return InvoiceLine(
        id=line_id,
        invoice_id=invoice_id,
        customer_id="cus_1",
        currency="USD",
        engine=LineEngineType.CHARGE_USAGEBASED,
        status=status,
        charge_id="chg_1",
        name="API requests",
        service_period=JAN,
        invoice_at=JAN.end,
        price=UNIT,
        created_at=created_at,
    )


def seed_charge(db: SqlDatabase, *, with_line: bool = False) -> None:
    """Customer cus_1 with charge chg_1; with `with_line`, standard invoice inv_1 with line_1."""
    with db.unit_of_work() as uow:
        uow.customers.add(a_customer())
        uow.charges.add(a_charge())
        if with_line:
            uow.invoices.add(an_invoice())
            uow.invoices.add_lines([a_line()])
        uow.commit()


def execute(db: SqlDatabase, sql: str, **params: Any) -> None:
    """Run raw SQL in a transaction of its own (to plant what the adapter would never write)."""
    with db.engine.begin() as connection:
        connection.execute(text(sql), params)


def add_run(db: SqlDatabase, run: RealizationRun) -> None:
    """Add `run` in a unit of work of its own."""
    with db.unit_of_work() as uow:
        uow.charges.add_run(run)
        uow.commit()


def table_names(db: SqlDatabase) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"chargeflow_alembic_version"}


# --- migrations -------------------------------------------------------------------------------


def test_migrations_go_up_down_to_base_and_up_again_over_data(empty_db: SqlDatabase) -> None:
    # given a schema migrated from empty, holding a run linked to its standard line
    empty_db.upgrade()
    assert table_names(empty_db) == ALL_TABLES
    seed_charge(empty_db, with_line=True)
    with empty_db.unit_of_work() as uow:
        uow.charges.add_run(a_run(line_id="line_1"))
        add_allocation(uow, an_allocation("1.00"))
        uow.commit()

    # when the line link would be migrated away, the downgrade refuses, naming the linked run,
    # and changes nothing
    with pytest.raises(DowngradeRefusedError, match="run_1") as refused:
        empty_db.downgrade("0002_billing")
    assert refused.value.row_ids == ["run_1"]
    with empty_db.unit_of_work() as uow:
        run = uow.charges.get("chg_1").runs[0]
    assert run.line_id == "line_1"

    # once no run is linked, the link is migrated away and back; runs and lines keep their rows
    with empty_db.unit_of_work() as uow:
        run.line_id, run.invoice_id = None, None
        uow.charges.save_run(run)
        uow.commit()
    empty_db.downgrade("0002_billing")
    assert "line_id" not in {
        c["name"] for c in inspect(empty_db.engine).get_columns("charge_usage_based_runs")
    }
    empty_db.upgrade()
    with empty_db.unit_of_work() as uow:
        assert uow.invoices.get_line("line_1") is not None
    with empty_db.unit_of_work() as uow:
        run = uow.charges.get("chg_1").runs[0]
    assert (run.id, run.line_id, [a.amount for a in run.allocations]) == (
        "run_1",
        None,
        [Decimal("1.00")],
    )
    # and the link is enforced again: a run can be linked to its line, and only to a real line
    with empty_db.unit_of_work() as uow:
        run.line_id, run.invoice_id = "line_1", "inv_1"
        uow.charges.save_run(run)
        uow.commit()
    with pytest.raises(ConflictError):
        add_run(empty_db, a_run("run_2", line_id="no-such-line"))
    with empty_db.unit_of_work() as uow:
        run.line_id, run.invoice_id = None, None
        uow.charges.save_run(run)
        uow.commit()

    # when everything is migrated down to base, every table goes; up again, they are back empty
    empty_db.downgrade("base")
    assert table_names(empty_db) == set()
    empty_db.upgrade()
    assert table_names(empty_db) == ALL_TABLES
    with empty_db.unit_of_work() as uow:
        assert uow.charges.list() == []


def test_migrated_schema_matches_the_table_classes(db: SqlDatabase) -> None:
    # every table class is declared on one metadata; the migrations alone must produce it
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        assert compare_metadata(context, CustomerRow.metadata) == []
    assert set(CustomerRow.metadata.tables) == ALL_TABLES


def test_the_line_link_migration_adds_a_unique_set_null_foreign_key(db: SqlDatabase) -> None:
    inspector = inspect(db.engine)
    [link] = [
        fk
        for fk in inspector.get_foreign_keys("charge_usage_based_runs")
        if fk["constrained_columns"] == ["line_id"]
    ]
    assert link["name"] == "fk_charge_usage_based_runs_line_id"
    assert link["referred_table"] == "billing_invoice_lines"
    assert link["options"]["ondelete"] == "SET NULL"
    indexes = {ix["name"]: ix for ix in inspector.get_indexes("charge_usage_based_runs")}
    assert indexes["ux_charge_usage_based_runs_line_id"]["unique"]


# --- round trips ------------------------------------------------------------------------------


def test_customers_round_trip_and_a_missing_one_is_not_found(db: SqlDatabase) -> None:
    with db.unit_of_work() as uow:
        uow.customers.add(a_customer())
        uow.commit()
    with db.unit_of_work() as uow:
        loaded = uow.customers.get("cus_1")
        with pytest.raises(NotFoundError):
            uow.customers.get("cus_missing")
    assert loaded == a_customer()
    assert loaded.created_at.tzinfo is UTC


def test_a_feature_key_names_one_live_feature_until_it_is_archived(db: SqlDatabase) -> None:
    first = Feature(id="feat_1", key="api_requests", name="API requests", created_at=T0)
    second = Feature(id="feat_2", key="api_requests", name="API v2", created_at=JAN.end)
    with db.unit_of_work() as uow:
        uow.features.add(first)
        uow.commit()
    with pytest.raises(ConflictError), db.unit_of_work() as uow:
        uow.features.add(second)

    with db.unit_of_work() as uow:
        archived = uow.features.archive("feat_1", JAN.end)
        uow.features.add(second)
        with pytest.raises(NotFoundError):
            uow.features.archive("feat_1", JAN.end)
        live = uow.features.live_by_key("api_requests")
        uow.commit()
    assert archived == first.model_copy(update={"archived_at": JAN.end})
    assert live == second


def test_usage_totals_are_exact_and_bounded_by_period_and_storage_time(db: SqlDatabase) -> None:
    def event(
        value: str, event_time: datetime, stored_at: datetime | None = None, feature: str = "feat_1"
    ) -> UsageEvent:
        return UsageEvent.model_construct(  # -0.05: a correction an earlier version stored
            id=str(uuid4()),
            customer_id="cus_1",
            feature_key="api_requests",
            feature_id=feature,
            value=Decimal(value),
            event_time=event_time,
            stored_at=stored_at or event_time,
        )

    with db.unit_of_work() as uow:
        uow.customers.add(a_customer())
        for usage in (
            event("0.1", T0),  # the first instant of the period counts
            event("0.2", T0 + timedelta(days=14)),
            event("5", JAN.end),  # the end of the period is excluded
            event("7", T0 + timedelta(days=3), stored_at=JAN.end),  # stored at the cutoff
            event("-0.05", T0 + timedelta(days=20)),
            event("11", T0 + timedelta(days=2), feature="feat_2"),  # a later feature, same key
        ):
            uow.usage.add(usage)
        uow.commit()

    with db.unit_of_work() as uow:
        total = uow.usage.total("cus_1", "feat_1", JAN, stored_before=JAN.end)
        nothing = uow.usage.total("cus_1", "other_feature", JAN, stored_before=JAN.end)
    assert total == Decimal("0.25")
    assert nothing == Decimal(0)


def test_a_charge_round_trips_with_runs_allocations_and_state(db: SqlDatabase) -> None:
    price = TieredGraduatedPrice(
        tiers=(
            Tier(up_to=Decimal(10), unit_amount=Decimal("2"), flat_amount=Decimal("0.5")),
            Tier(up_to=None, unit_amount=Decimal("1")),
        )
    )
    charge = a_charge(price=price, mode=SettlementMode.CREDIT_ONLY)
    with db.unit_of_work() as uow:
        uow.customers.add(a_customer())
        uow.credits.add_grant(a_grant("grant_1", "5", T0))
        uow.charges.add(charge)
        uow.commit()

    run = a_run(amount="0.30", credits="0.30")
    first = an_allocation("0.1", allocation_id="alc_b", grant_id="grant_1")
    second = an_allocation("0.2", allocation_id="alc_a")
    correction = an_allocation("-0.05", allocation_id="alc_c", corrects="alc_b", grant_id="grant_1")
    with db.unit_of_work() as uow:
        uow.charges.add_run(run)
        for allocation in (first, second, correction):
            add_allocation(uow, allocation)
        charge.state = ChargeState(
            status=ChargeStatus.REALIZATION_WAITING_FOR_COLLECTION,
            advance_after=JAN.end + timedelta(days=2, minutes=1),
            current_run_id=run.id,
            feature_id="feat_1",
        )
        uow.charges.save_state(charge)
        run.totals = Totals.of(Decimal("0.30"), Decimal("0.25"))
        run.metered_quantity = Decimal("3.000000001")
        uow.charges.save_run(run)
        uow.commit()

    with db.unit_of_work() as uow:
        loaded = uow.charges.get("chg_1")
    run.allocations = [first, second, correction]  # in the order they were added, not by id
    assert loaded == charge.model_copy(update={"runs": [run]})
    assert loaded.runs[0].totals.amount - loaded.runs[0].totals.credits_total == Decimal("0.05")
    assert loaded.state.advance_after is not None
    assert loaded.state.advance_after.tzinfo is UTC


def test_saving_an_unknown_charge_or_run_is_not_found(db: SqlDatabase) -> None:
    with db.unit_of_work() as uow:
        uow.charges.save_state(a_charge("chg_missing"))  # written behind: found out at flush
        with pytest.raises(NotFoundError):
            uow.flush()
        uow.charges.save_run(a_run("run_missing"))
        with pytest.raises(NotFoundError):
            uow.flush()
        with pytest.raises(NotFoundError):
            uow.charges.get("chg_missing")


def test_charges_load_in_a_fixed_number_of_queries_and_lock_their_rows(
    db: SqlDatabase,
) -> None:
    seed_charge(db)
    with db.unit_of_work() as uow:
        uow.customers.add(a_customer("cus_2"))
        uow.charges.add(a_charge("chg_2", customer_id="cus_2", created_at=T0 + timedelta(days=1)))
        uow.charges.add_run(a_run("run_1"))
        uow.charges.add_run(a_run("run_2", created_at=JAN.end + timedelta(days=1)))
        add_allocation(uow, an_allocation("1", run_id="run_1"))
        add_allocation(uow, an_allocation("2", run_id="run_2"))
        uow.commit()

    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.unit_of_work() as uow:
            charges = uow.charges.get_many(["chg_2", "chg_1"], lock=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    selects = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4
    if db.engine.dialect.name == "postgresql":
        assert "FOR NO KEY UPDATE" in selects[0]
    assert [charge.id for charge in charges] == ["chg_2", "chg_1"]
    assert [run.id for run in charges[1].runs] == ["run_1", "run_2"]
    assert [len(run.allocations) for run in charges[1].runs] == [1, 1]


def test_charge_states_are_read_in_one_query_after_the_kept_ones_are_written(
    db: SqlDatabase,
) -> None:
    seed_charge(db)
    with db.unit_of_work() as uow:
        charge = uow.charges.get("chg_1", lock=True)
        charge.state.status = ChargeStatus.ACTIVE
        charge.state.advance_after = JAN.end
        uow.charges.save_state(charge)
        with sent_statements() as sent:
            states = uow.charges.states(["chg_1", "chg_missing"])
    assert states == {"chg_1": charge.state}
    assert (sent.kinds["write"], sent.kinds["read"]) == (1, 1)


def test_charge_listings_are_oldest_first_and_skip_deleted_ids(db: SqlDatabase) -> None:
    seed_charge(db)
    later = a_charge("chg_0", created_at=T0 + timedelta(days=1))
    deleted = a_charge("chg_2", created_at=T0 + timedelta(days=2))
    deleted.state.status = ChargeStatus.DELETED
    deleted.deleted_at = JAN.end
    with db.unit_of_work() as uow:
        uow.charges.add(later)
        uow.charges.add(deleted)
        uow.commit()
    with db.unit_of_work() as uow:
        assert uow.charges.ids_for_customer("cus_1") == ["chg_1", "chg_0"]
        assert [c.id for c in uow.charges.list()] == ["chg_1", "chg_0", "chg_2"]
        assert [c.id for c in uow.charges.list("cus_1")] == ["chg_1", "chg_0", "chg_2"]
        assert uow.charges.list("cus_other") == []


def test_transitions_come_back_in_the_order_they_were_recorded(db: SqlDatabase) -> None:
    seed_charge(db, with_line=True)
    records = [
        ChargeTransition(
            subject_id="chg_1",
            from_status=ChargeStatus.CREATED,
            to_status=ChargeStatus.ACTIVE,
            trigger=Trigger.NEXT,
            at=T0,
        ),
        ChargeTransition(
            subject_id="chg_1",
            from_status=ChargeStatus.REALIZATION_STARTED,
            to_status=ChargeStatus.REALIZATION_WAITING_FOR_COLLECTION,
            trigger=Trigger.INVOICE_CREATED,
            arguments={"line_id": "line_1"},
            at=T0,
        ),
    ]
    invoice_record = InvoiceTransition(
        subject_id="inv_1",
        from_status=InvoiceStatus.DRAFT_CREATED,
        to_status=InvoiceStatus.DRAFT_WAITING_FOR_COLLECTION,
        trigger=InvoiceTrigger.NEXT,
        at=T0,
    )
    with db.unit_of_work() as uow:
        uow.history.record_charge(records[0])
        uow.history.record_invoice(invoice_record)
        uow.history.record_charge(records[1])
        uow.commit()
    with db.unit_of_work() as uow:
        assert uow.history.for_charge("chg_1") == records
        assert uow.history.for_charge("chg_other") == []
        assert uow.history.for_invoice("inv_1") == [invoice_record]


def test_an_audit_row_names_exactly_one_subject(db: SqlDatabase) -> None:
    seed_charge(db, with_line=True)
    for subjects in ("NULL, NULL", "'chg_1', 'inv_1'"):
        with pytest.raises(IntegrityError):
            execute(
                db,
                "INSERT INTO charge_transitions (charge_id, invoice_id, from_status, to_status,"
                f" trigger, arguments, at) VALUES ({subjects}, 'created', 'active', 'next', '{{}}',"
                " '2026-01-01 00:00:00.000000')",
            )


def test_invoices_round_trip_with_lines_in_order(db: SqlDatabase) -> None:
    seed_charge(db)
    gathering = an_invoice("inv_g", kind=InvoiceKind.GATHERING, created_at=T0)
    pending = a_line("line_g", invoice_id="inv_g", status=LineStatus.GATHERING, created_at=T0)
    standard = an_invoice("inv_1")
    late = a_line("line_a", created_at=JAN.end + timedelta(seconds=1))
    early = a_line("line_b").model_copy(
        update={"price": PackagePrice(amount=Decimal("5"), quantity_per_package=Decimal(100))}
    )
    with db.unit_of_work() as uow:
        uow.invoices.add(gathering)
        uow.invoices.add_lines([pending])
        uow.invoices.add(standard)
        uow.invoices.add_lines([late, early])
        uow.commit()

    early.quantity = Decimal("125")
    early.credits_applied = (AppliedCredit(allocation_id="alc_1", amount=Decimal("5.00")),)
    early.totals = Totals.of(Decimal("12.50"), Decimal("5.00"))
    standard.status = InvoiceStatus.DRAFT_WAITING_FOR_COLLECTION
    standard.collection_at = JAN.end + timedelta(days=2)
    standard.totals = early.totals
    with db.unit_of_work() as uow:
        uow.invoices.save_lines([early])
        uow.invoices.save(standard)
        uow.commit()

    with db.unit_of_work() as uow:
        assert uow.invoices.gathering_invoice("cus_1", "USD") == gathering
        assert uow.invoices.gathering_invoice("cus_1", "EUR") is None
        assert uow.invoices.pending_lines("cus_1") == [pending]
        assert uow.invoices.get_line("line_b") == early
        assert uow.invoices.get_line("line_missing") is None
        assert uow.invoices.get("inv_1", lock=True) == standard.model_copy(
            update={"lines": [early, late]}
        )
        assert [invoice.id for invoice in uow.invoices.list()] == ["inv_1"]
        assert uow.invoices.list("cus_other") == []
        with pytest.raises(NotFoundError):
            uow.invoices.get("inv_missing")


def test_a_line_keeps_its_id_when_it_moves_to_a_standard_invoice(db: SqlDatabase) -> None:
    seed_charge(db)
    pending = a_line("line_1", invoice_id="inv_g", status=LineStatus.GATHERING)
    with db.unit_of_work() as uow:
        uow.invoices.add(an_invoice("inv_g", kind=InvoiceKind.GATHERING))
        uow.invoices.add_lines([pending])
        uow.commit()

    moved = pending.model_copy(update={"invoice_id": "inv_1", "status": LineStatus.STANDARD})
    with db.unit_of_work() as uow:
        [line] = uow.invoices.pending_lines("cus_1")
        uow.invoices.add(an_invoice("inv_1"))
        uow.invoices.remove_lines([line.id])
        uow.invoices.add_lines([moved])
        uow.charges.add_run(a_run(line_id=moved.id))
        uow.commit()

    with db.unit_of_work() as uow:
        assert uow.invoices.pending_lines("cus_1") == []
        assert uow.invoices.get("inv_1").lines == [moved]
        assert uow.charges.get("chg_1").runs[0].line_id == "line_1"


def test_a_line_the_unit_of_work_wrote_is_answered_without_a_read_until_a_rollback(
    db: SqlDatabase,
) -> None:
    """A row the unit of work wrote is locked by it: `get_line` answers from what was written
    (not from the caller's object, which it may change after) and reads it back only once a
    savepoint rolled back, which may have undone the write."""
    seed_charge(db)
    line = a_line()
    with db.unit_of_work() as uow:
        uow.invoices.add(an_invoice())
        uow.invoices.add_lines([line])
        line.quantity = Decimal("7")
        with sent_statements() as unread:
            assert uow.invoices.get_line("line_1") == a_line()
        with pytest.raises(RuntimeError):
            save_then_fail(uow, line)
        with sent_statements() as read_back:
            assert uow.invoices.get_line("line_1") == a_line()
    assert unread.total == 0
    assert read_back.total == 1


def test_saving_lines_writes_only_those_that_differ_from_their_rows(db: SqlDatabase) -> None:
    """The lines of an invoice read under its lock are held: saving one as it stands sends
    nothing, and a decimal written with another exponent is a difference (``10.00`` is stored
    apart from ``10.0``); the invoice header is written once, when the unit of work commits."""
    seed_charge(db, with_line=True)
    with db.unit_of_work() as uow:
        invoice = uow.invoices.get("inv_1", lock=True)
        [line] = invoice.lines
        rescaled = line.model_copy(update={"totals": Totals.of(Decimal("10.0"), Decimal(0))})
        invoice.status = InvoiceStatus.DRAFT_WAITING_FOR_COLLECTION
        with sent_statements() as unchanged:
            uow.invoices.save_lines([line.model_copy()])
            uow.invoices.save(invoice)
            uow.invoices.save(invoice)
        with sent_statements() as once:
            uow.invoices.save_lines(
                [rescaled.model_copy(update={"totals": Totals.of(Decimal("10.00"), Decimal(0))})]
            )
            uow.invoices.save_lines([rescaled])
            uow.commit()
    with db.unit_of_work() as uow:
        stored = uow.invoices.get("inv_1")
    assert unchanged.total == 0
    assert once.total == 3  # the two lines saved, then the header
    assert str(stored.lines[0].totals.amount) == "10.0"
    assert stored.status is InvoiceStatus.DRAFT_WAITING_FOR_COLLECTION


def test_a_customer_has_one_gathering_invoice_per_currency(db: SqlDatabase) -> None:
    seed_charge(db)
    with db.unit_of_work() as uow:
        uow.invoices.add(an_invoice("inv_g1", kind=InvoiceKind.GATHERING))
        uow.commit()
    with pytest.raises(ConflictError), db.unit_of_work() as uow:
        uow.invoices.add(an_invoice("inv_g2", kind=InvoiceKind.GATHERING))


def test_saving_a_loaded_run_writes_only_the_columns_that_changed(db: SqlDatabase) -> None:
    seed_charge(db)
    add_run(db, a_run())
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    with db.unit_of_work() as uow:
        run = uow.charges.get("chg_1").runs[0]
        run.no_fiat_transaction_required = True
        uow.charges.save_run(run)
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            uow.commit()
        finally:
            event.remove(db.engine, "before_cursor_execute", record)

    [update] = [sql for sql in statements if sql.lstrip().upper().startswith("UPDATE")]
    assert "SET no_fiat_transaction_required=" in " ".join(update.split())
    assert "metered_quantity" not in update
    with db.unit_of_work() as uow:
        assert uow.charges.get("chg_1").runs[0].no_fiat_transaction_required


def test_a_run_value_equal_but_of_another_scale_is_written(db: SqlDatabase) -> None:
    seed_charge(db)
    add_run(db, a_run())  # metered quantity 100
    with db.unit_of_work() as uow:
        run = uow.charges.get("chg_1").runs[0]
        run.metered_quantity = Decimal("100.000")
        uow.charges.save_run(run)
        uow.commit()
    with db.unit_of_work() as uow:
        assert str(uow.charges.get("chg_1").runs[0].metered_quantity) == "100.000"


def test_a_run_write_a_savepoint_rolled_back_is_written_again(db: SqlDatabase) -> None:
    seed_charge(db)
    add_run(db, a_run())
    with db.unit_of_work() as uow:
        run = uow.charges.get("chg_1").runs[0]
        run.metered_quantity = Decimal("250")

        def item_failing_after_its_write() -> None:
            with uow.savepoint():
                uow.charges.save_run(run)
                uow.charges.get("chg_1")  # a read flushes the write inside the savepoint
                raise RuntimeError("the item fails after its write")

        with pytest.raises(RuntimeError):
            item_failing_after_its_write()
        uow.charges.save_run(run)  # the same values, which the rollback took out of the row
        uow.commit()
    with db.unit_of_work() as uow:
        assert uow.charges.get("chg_1").runs[0].metered_quantity == Decimal("250")


# --- corrupt rows -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "detail"),
    [
        ("status", "active.bogus", "ChargeStatus"),
        ("settlement_mode", "invoice_only", "SettlementMode"),
        ("price", '{"type": "unit", "amount": 0.1e}', "json"),
        ("price", '{"type": "per_seat", "amount": "1"}', "per_seat"),
    ],
)
def test_a_charge_with_a_value_this_version_does_not_know_is_corrupt(
    db: SqlDatabase, column: str, value: str, detail: str
) -> None:
    seed_charge(db)
    execute(db, f"UPDATE charge_usage_based SET {column} = :value", value=value)
    with db.unit_of_work() as uow, pytest.raises(CorruptRecordError) as raised:
        uow.charges.get("chg_1")
    assert (raised.value.table, raised.value.record_id) == ("charge_usage_based", "chg_1")
    assert detail in raised.value.detail


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("charge_usage_based_runs", "type", "progressive_billing"),
        ("billing_invoices", "kind", "credit_note"),
        ("billing_invoices", "status", "issued"),
        ("billing_invoice_lines", "engine", "charge_seat"),
        ("billing_invoice_lines", "status", "void"),
    ],
)
def test_runs_invoices_and_lines_with_unknown_values_are_corrupt(
    db: SqlDatabase, table: str, column: str, value: str
) -> None:
    seed_charge(db, with_line=True)
    with db.unit_of_work() as uow:
        uow.charges.add_run(a_run())
        uow.commit()
    execute(db, f"UPDATE {table} SET {column} = :value", value=value)
    with db.unit_of_work() as uow:
        load = uow.charges.get if table == "charge_usage_based_runs" else uow.invoices.get
        with pytest.raises(CorruptRecordError) as raised:
            load("chg_1" if table == "charge_usage_based_runs" else "inv_1")
    assert raised.value.table == table


# --- the line link ----------------------------------------------------------------------------


def test_deleting_a_line_nulls_the_link_of_its_run(db: SqlDatabase) -> None:
    seed_charge(db, with_line=True)
    with db.unit_of_work() as uow:
        uow.charges.add_run(a_run(line_id="line_1"))
        uow.commit()
    with db.unit_of_work() as uow:
        assert uow.charges.get("chg_1").runs[0].line_id == "line_1"
        uow.invoices.remove_lines(["line_1"])
        run = uow.charges.get("chg_1").runs[0]
        uow.commit()
    assert (run.id, run.line_id) == ("run_1", None)


def test_a_line_bills_at_most_one_run(db: SqlDatabase) -> None:
    seed_charge(db, with_line=True)
    with db.unit_of_work() as uow:
        uow.charges.add_run(a_run("run_1", line_id="line_1"))
        uow.commit()
    with db.unit_of_work() as uow:
        uow.charges.add_run(a_run("run_2", line_id="line_1"))  # written behind: refused at
        with pytest.raises(ConflictError, match="line_id"):
            uow.flush()  # the flush (at the latest, the commit)


def test_a_run_cannot_link_a_line_that_does_not_exist(db: SqlDatabase) -> None:
    seed_charge(db, with_line=True)
    with db.unit_of_work() as uow:
        uow.charges.add_run(a_run(line_id="line_missing"))
        with pytest.raises(ConflictError):
            uow.commit()
    with db.unit_of_work() as uow:
        run = a_run()
        uow.charges.add_run(run)
        run.line_id = "line_missing"
        uow.charges.save_run(run)  # written behind: the database refuses it at flush
        with pytest.raises(ConflictError):
            uow.flush()


# --- due charges, transactions, credits ------------------------------------------------------


DUE = {
    "chg_a": T0 + timedelta(hours=2),
    "chg_b": T0 + timedelta(hours=1),
    "chg_c": T0 + timedelta(hours=1),
    "chg_d": T0,
    "chg_future": JAN.end,
}


def add_due_charges(db: SqlDatabase) -> None:
    with db.unit_of_work() as uow:
        uow.customers.add(a_customer())
        uow.charges.add(a_charge("chg_never"))
        for charge_id, at in DUE.items():
            charge = a_charge(charge_id)
            charge.state.advance_after = at
            uow.charges.add(charge)
        uow.commit()


def test_due_charges_are_claimed_a_page_at_a_time_by_advance_after_then_id(
    db: SqlDatabase,
) -> None:
    add_due_charges(db)
    now = T0 + timedelta(hours=2)
    pages: list[list[tuple[datetime, str]]] = []
    after: tuple[datetime, str] | None = None
    with db.unit_of_work() as uow:
        while page := uow.charges.claim_due(now, after, limit=2):
            pages.append(page)
            after = page[-1]
    assert pages == [
        [(T0, "chg_d"), (T0 + timedelta(hours=1), "chg_b")],
        [(T0 + timedelta(hours=1), "chg_c"), (T0 + timedelta(hours=2), "chg_a")],
    ]


@pytest.mark.postgres
def test_a_second_sweep_skips_the_charges_the_first_has_claimed() -> None:
    """PostgreSQL: claimed rows are locked ``FOR NO KEY UPDATE SKIP LOCKED``, so a concurrent
    claim gets the next due charges at once instead of waiting for the first to commit."""
    with postgres_database() as url:
        db = SqlDatabase(url)
        db.upgrade()
        add_due_charges(db)
        now = T0 + timedelta(hours=2)
        try:
            with db.unit_of_work() as first, db.unit_of_work() as second:
                claimed = first.charges.claim_due(now, None, limit=2)
                rest = second.charges.claim_due(now, None, limit=10)
            assert [key[1] for key in claimed] == ["chg_d", "chg_b"]
            assert [key[1] for key in rest] == ["chg_c", "chg_a"]
        finally:
            db.dispose()


def test_leaving_a_unit_of_work_without_commit_rolls_back(db: SqlDatabase) -> None:
    with db.unit_of_work() as uow:
        uow.customers.add(a_customer())

    def add_then_fail() -> None:
        with db.unit_of_work() as uow:
            uow.customers.add(a_customer("cus_2"))
            raise RuntimeError("the operation failed")

    with pytest.raises(RuntimeError):
        add_then_fail()
    with db.unit_of_work() as uow:
        for customer_id in ("cus_1", "cus_2"):
            with pytest.raises(NotFoundError):
                uow.customers.get(customer_id)


def test_balances_are_fifo_and_running_totals_of_the_moves(db: SqlDatabase) -> None:
    seed_charge(db)
    with db.unit_of_work() as uow:
        uow.credits.add_grant(a_grant("grant_late", "3", T0 + timedelta(days=1)))
        uow.credits.add_grant(a_grant("grant_b", "0.2", T0))
        uow.credits.add_grant(a_grant("grant_a", "0.1", T0))
        uow.charges.add_run(a_run())
        for allocation in (
            an_allocation("0.1", allocation_id="alc_1", grant_id="grant_a"),
            an_allocation("0.2", allocation_id="alc_2", grant_id="grant_b"),
            an_allocation("1.5", allocation_id="alc_3", grant_id="grant_late"),
            an_allocation("-0.1", allocation_id="alc_4", grant_id="grant_b", corrects="alc_2"),
            an_allocation("0.7", allocation_id="alc_6"),
            an_allocation("-0.3", allocation_id="alc_7", corrects="alc_6"),
        ):
            add_allocation(uow, allocation)
            uow.credits.move_balances("cus_1", {allocation.grant_id: allocation.amount})
        uow.commit()

    with db.unit_of_work() as uow:
        balances = [(b.grant.id, b.remaining) for b in uow.credits.balances("cus_1", JAN.end)]
        unassigned = uow.credits.unassigned_total("cus_1")
        nobody = uow.credits.balances("cus_other", JAN.end)
        before_late = [b.grant.id for b in uow.credits.balances("cus_1", T0)]
    assert before_late == ["grant_a", "grant_b"]
    assert balances == [
        ("grant_a", Decimal("0")),
        ("grant_b", Decimal("0.1")),
        ("grant_late", Decimal("1.5")),
    ]
    assert unassigned == Decimal("0.4")
    assert nobody == []


@pytest.mark.postgres
def test_balances_read_before_the_credit_lock_are_read_again_once_it_is_taken() -> None:
    """PostgreSQL: balances read without the customer's credit lock are kept for the unit of
    work, but another transaction may move them until the lock is taken; taking it forgets
    them, so a correction made under the lock moves the balance as it stands then (the other
    transaction's draw is not lost)."""
    with postgres_database() as url:
        db = SqlDatabase(url)
        db.upgrade()
        seed_charge(db)
        with db.unit_of_work() as uow:
            uow.credits.add_grant(a_grant("grant_a", "5", T0))
            uow.commit()
        try:
            with db.unit_of_work() as first:
                [before] = first.credits.balances("cus_1", JAN.end)
                with db.unit_of_work() as second:
                    second.credits.lock("cus_1")
                    second.credits.move_balances("cus_1", {"grant_a": Decimal("2")})
                    second.commit()
                first.credits.lock("cus_1")
                first.credits.move_balances("cus_1", {"grant_a": Decimal("-1")})
                first.commit()
            with db.unit_of_work() as uow:
                [after] = uow.credits.balances("cus_1", JAN.end)
            assert (before.remaining, after.remaining) == (Decimal("5"), Decimal("4"))
        finally:
            db.dispose()


def test_an_in_memory_database_is_shared_by_every_unit_of_work() -> None:
    database = SqlDatabase("sqlite://")
    try:
        database.upgrade()
        with database.unit_of_work() as uow:
            uow.customers.add(a_customer())
            uow.commit()
        with database.unit_of_work() as uow:
            assert uow.customers.get("cus_1") == a_customer()
    finally:
        database.dispose()


# --- the migration version table -------------------------------------------------------------


def version_rows(db: SqlDatabase, table: str) -> list[str]:
    with db.engine.connect() as connection:
        return [row[0] for row in connection.execute(text(f"SELECT version_num FROM {table}"))]


def test_chargeflow_keeps_its_revision_in_its_own_version_table(empty_db: SqlDatabase) -> None:
    execute(empty_db, "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    execute(empty_db, "INSERT INTO alembic_version VALUES ('someone_elses_head')")
    empty_db.upgrade()
    assert version_rows(empty_db, VERSION_TABLE) == [HEAD]
    assert version_rows(empty_db, "alembic_version") == ["someone_elses_head"]


def test_a_revision_kept_in_the_shared_version_table_moves_to_chargeflows_own(
    empty_db: SqlDatabase,
) -> None:
    empty_db.upgrade("0003_run_line_link")
    execute(empty_db, "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    execute(empty_db, f"INSERT INTO alembic_version SELECT version_num FROM {VERSION_TABLE}")
    execute(empty_db, f"DROP TABLE {VERSION_TABLE}")
    empty_db.upgrade()
    assert version_rows(empty_db, VERSION_TABLE) == [HEAD]
    assert "alembic_version" not in inspect(empty_db.engine).get_table_names()


def test_downgrades_that_would_lose_facts_refuse_naming_the_rows(db: SqlDatabase) -> None:
    seed_charge(db, with_line=True)
    execute(db, "UPDATE charge_usage_based SET unique_reference_id = 'ref-1' WHERE id = 'chg_1'")
    with pytest.raises(DowngradeRefusedError, match="chg_1") as refused:
        db.downgrade("0004_invoice_audit")
    assert refused.value.reason == "charges carry a unique reference"
    with db.unit_of_work() as uow:
        uow.history.record_invoice(
            InvoiceTransition(
                subject_id="inv_1",
                from_status=InvoiceStatus.DRAFT_CREATED,
                to_status=InvoiceStatus.DRAFT_WAITING_FOR_COLLECTION,
                trigger=InvoiceTrigger.NEXT,
                at=T0,
            )
        )
        uow.commit()
    execute(db, "UPDATE charge_usage_based SET unique_reference_id = NULL")
    with pytest.raises(DowngradeRefusedError, match="invoice transitions"):
        db.downgrade("0003_run_line_link")
    assert version_rows(db, VERSION_TABLE) == [HEAD]
    db.upgrade()
