"""The crossing between the SQL rows and the domain: rows to domain models and back, and
database errors to domain errors.

Loading validates: every row becomes a domain model through its constructor, so a stored value
this version does not know (a status, settlement mode, run type, invoice kind or price it cannot
parse) raises `CorruptRecordError` naming the table and row, never a half-built model. This
module must not run queries or decide which columns a repository writes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypedDict

from pydantic import TypeAdapter
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from domain.charge import ChargeIntent, ChargeState, SettlementMode, UsageBasedCharge
from domain.credits import CreditAllocation, CreditGrant
from domain.customer import Customer
from domain.errors import ChargeflowError, ConflictError, CorruptRecordError, PersistenceError
from domain.feature import Feature
from domain.history import TransitionRecord
from domain.invoices import (
    AppliedCredit,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineEngineType,
    LineStatus,
)
from domain.periods import Period
from domain.prices import PRICE_ADAPTER
from domain.runs import RealizationRun, RunType, Totals
from domain.statuses import ChargeStatus
from domain.triggers import Trigger
from domain.usage import UsageEvent
from persistence.sql.tables import (
    AllocationRow,
    ChargeRow,
    CreditGrantRow,
    CustomerRow,
    FeatureRow,
    InvoiceLineRow,
    InvoiceRow,
    RunRow,
    TransitionRow,
    UsageEventRow,
)

_ARGUMENTS: TypeAdapter[dict[str, str]] = TypeAdapter(dict[str, str])
_CREDITS_APPLIED: TypeAdapter[tuple[AppliedCredit, ...]] = TypeAdapter(tuple[AppliedCredit, ...])


# --- shared column shapes --------------------------------------------------------------------


class _TotalsColumns(TypedDict):
    amount: Decimal
    credits_total: Decimal
    total: Decimal


class _PeriodColumns(TypedDict):
    service_period_from: datetime
    service_period_to: datetime


class _TotalsRow(Protocol):
    @property
    def amount(self) -> Decimal: ...
    @property
    def credits_total(self) -> Decimal: ...
    @property
    def total(self) -> Decimal: ...


class _PeriodRow(Protocol):
    @property
    def service_period_from(self) -> datetime: ...
    @property
    def service_period_to(self) -> datetime: ...


def _totals_columns(totals: Totals) -> _TotalsColumns:
    return {"amount": totals.amount, "credits_total": totals.credits_total, "total": totals.total}


def _totals(row: _TotalsRow) -> Totals:
    return Totals(amount=row.amount, credits_total=row.credits_total, total=row.total)


def _period_columns(period: Period) -> _PeriodColumns:
    return {"service_period_from": period.start, "service_period_to": period.end}


def _period(row: _PeriodRow) -> Period:
    return Period.model_validate((row.service_period_from, row.service_period_to))


@contextmanager
def _loading(table: str, record_id: str) -> Iterator[None]:
    """Turn a value the domain refuses into `CorruptRecordError` for `table` row `record_id`.

    Unknown enum values raise `ValueError`; pydantic's `ValidationError` is one too.
    """
    try:
        yield
    except ValueError as error:
        raise CorruptRecordError(table, record_id, str(error)) from error


# --- customers, features, usage, grants ------------------------------------------------------


def customer_to_row(customer: Customer) -> CustomerRow:
    """The `customers` row of `customer`."""
    return CustomerRow(
        id=customer.id,
        name=customer.name,
        currency=customer.currency,
        collection_interval=customer.collection_interval,
        created_at=customer.created_at,
    )


def customer_from_row(row: CustomerRow) -> Customer:
    """The customer stored in `row`; `CorruptRecordError` if it does not validate."""
    with _loading(CustomerRow.__tablename__, row.id):
        return Customer(
            id=row.id,
            name=row.name,
            currency=row.currency,
            collection_interval=row.collection_interval,
            created_at=row.created_at,
        )


def feature_to_row(feature: Feature) -> FeatureRow:
    """The `features` row of `feature`."""
    return FeatureRow(
        id=feature.id,
        key=feature.key,
        name=feature.name,
        created_at=feature.created_at,
        archived_at=feature.archived_at,
    )


def feature_from_row(row: FeatureRow) -> Feature:
    """The feature stored in `row`; `CorruptRecordError` if it does not validate."""
    with _loading(FeatureRow.__tablename__, row.id):
        return Feature(
            id=row.id,
            key=row.key,
            name=row.name,
            created_at=row.created_at,
            archived_at=row.archived_at,
        )


def usage_event_to_row(event: UsageEvent) -> UsageEventRow:
    """The `usage_events` row of `event`."""
    return UsageEventRow(
        id=event.id,
        customer_id=event.customer_id,
        feature_key=event.feature_key,
        value=event.value,
        event_time=event.event_time,
        stored_at=event.stored_at,
    )


def usage_event_from_row(row: UsageEventRow) -> UsageEvent:
    """The usage event stored in `row`; `CorruptRecordError` if it does not validate."""
    with _loading(UsageEventRow.__tablename__, row.id):
        return UsageEvent(
            id=row.id,
            customer_id=row.customer_id,
            feature_key=row.feature_key,
            value=row.value,
            event_time=row.event_time,
            stored_at=row.stored_at,
        )


def grant_to_row(grant: CreditGrant) -> CreditGrantRow:
    """The `credit_grants` row of `grant`."""
    return CreditGrantRow(
        id=grant.id, customer_id=grant.customer_id, amount=grant.amount, granted_at=grant.granted_at
    )


def grant_from_row(row: CreditGrantRow) -> CreditGrant:
    """The grant stored in `row`; `CorruptRecordError` if it does not validate."""
    with _loading(CreditGrantRow.__tablename__, row.id):
        return CreditGrant(
            id=row.id, customer_id=row.customer_id, amount=row.amount, granted_at=row.granted_at
        )


# --- charges, runs, allocations, transitions -------------------------------------------------


def charge_to_row(charge: UsageBasedCharge) -> ChargeRow:
    """The `charge_usage_based` row of `charge` (intent and state; runs are rows of their own)."""
    intent, state = charge.intent, charge.state
    return ChargeRow(
        id=charge.id,
        customer_id=intent.customer_id,
        name=intent.name,
        currency=intent.currency,
        feature_key=intent.feature_key,
        **_period_columns(intent.service_period),
        invoice_at=intent.invoice_at,
        settlement_mode=intent.settlement_mode.value,
        price=PRICE_ADAPTER.dump_json(intent.price).decode(),
        status=state.status.value,
        advance_after=state.advance_after,
        current_realization_run_id=state.current_run_id,
        feature_id=state.feature_id,
        created_at=charge.created_at,
        deleted_at=charge.deleted_at,
    )


def charge_from_row(row: ChargeRow, runs: Sequence[RealizationRun]) -> UsageBasedCharge:
    """The charge stored in `row` with its already loaded `runs`.

    `CorruptRecordError` for an unknown status or settlement mode, an unparsable price, or any
    other value the domain refuses.
    """
    with _loading(ChargeRow.__tablename__, row.id):
        intent = ChargeIntent(
            customer_id=row.customer_id,
            name=row.name,
            currency=row.currency,
            feature_key=row.feature_key,
            service_period=_period(row),
            invoice_at=row.invoice_at,
            settlement_mode=SettlementMode(row.settlement_mode),
            price=PRICE_ADAPTER.validate_json(row.price),
        )
        state = ChargeState(
            status=ChargeStatus(row.status),
            advance_after=row.advance_after,
            current_run_id=row.current_realization_run_id,
            feature_id=row.feature_id,
        )
        return UsageBasedCharge(
            id=row.id,
            intent=intent,
            state=state,
            runs=list(runs),
            created_at=row.created_at,
            deleted_at=row.deleted_at,
        )


def run_to_row(run: RealizationRun) -> RunRow:
    """The `charge_usage_based_runs` row of `run` (its allocations are rows of their own)."""
    return RunRow(
        id=run.id,
        charge_id=run.charge_id,
        type=run.type.value,
        feature_id=run.feature_id,
        asof=run.as_of,
        collection_end=run.collection_end,
        line_id=run.line_id,
        meter_value=run.meter_value,
        **_totals_columns(run.totals),
        created_at=run.created_at,
    )


def run_from_row(row: RunRow, allocations: Sequence[CreditAllocation]) -> RealizationRun:
    """The run stored in `row` with its `allocations` (in the order they were added).

    `CorruptRecordError` for an unknown run type or totals that do not balance.
    """
    with _loading(RunRow.__tablename__, row.id):
        return RealizationRun(
            id=row.id,
            charge_id=row.charge_id,
            type=RunType(row.type),
            feature_id=row.feature_id,
            as_of=row.asof,
            collection_end=row.collection_end,
            line_id=row.line_id,
            meter_value=row.meter_value,
            totals=_totals(row),
            created_at=row.created_at,
            allocations=list(allocations),
        )


def allocation_to_row(allocation: CreditAllocation, seq: int) -> AllocationRow:
    """The allocations row of `allocation`, the `seq`-th added to its run."""
    return AllocationRow(
        id=allocation.id,
        run_id=allocation.run_id,
        seq=seq,
        charge_id=allocation.charge_id,
        amount=allocation.amount,
        grant_id=allocation.grant_id,
        corrects_allocation_id=allocation.corrects_allocation_id,
        created_at=allocation.created_at,
    )


def allocation_from_row(row: AllocationRow) -> CreditAllocation:
    """The allocation stored in `row`; `CorruptRecordError` if it does not validate."""
    with _loading(AllocationRow.__tablename__, row.id):
        return CreditAllocation(
            id=row.id,
            run_id=row.run_id,
            charge_id=row.charge_id,
            amount=row.amount,
            grant_id=row.grant_id,
            corrects_allocation_id=row.corrects_allocation_id,
            created_at=row.created_at,
        )


def transition_to_row(record: TransitionRecord) -> TransitionRow:
    """The `charge_transitions` row of `record`; the database numbers it."""
    return TransitionRow(
        charge_id=record.charge_id,
        from_status=record.from_status.value,
        to_status=record.to_status.value,
        trigger=record.trigger.value,
        arguments=_ARGUMENTS.dump_json(record.arguments).decode(),
        at=record.at,
    )


def transition_from_row(row: TransitionRow) -> TransitionRecord:
    """The transition stored in `row`; `CorruptRecordError` for an unknown status or trigger."""
    with _loading(TransitionRow.__tablename__, str(row.id)):
        return TransitionRecord(
            charge_id=row.charge_id,
            from_status=ChargeStatus(row.from_status),
            to_status=ChargeStatus(row.to_status),
            trigger=Trigger(row.trigger),
            arguments=_ARGUMENTS.validate_json(row.arguments),
            at=row.at,
        )


# --- invoices and lines ----------------------------------------------------------------------


def invoice_to_row(invoice: Invoice) -> InvoiceRow:
    """The `billing_invoices` row of `invoice`'s header (its lines are rows of their own)."""
    return InvoiceRow(
        id=invoice.id,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        kind=invoice.kind.value,
        status=None if invoice.status is None else invoice.status.value,
        collection_at=invoice.collection_at,
        **_totals_columns(invoice.totals),
        created_at=invoice.created_at,
    )


def invoice_from_row(row: InvoiceRow, lines: Sequence[InvoiceLine]) -> Invoice:
    """The invoice stored in `row` with its already loaded `lines`.

    `CorruptRecordError` for an unknown kind or status, or totals that do not balance.
    """
    with _loading(InvoiceRow.__tablename__, row.id):
        return Invoice(
            id=row.id,
            customer_id=row.customer_id,
            currency=row.currency,
            kind=InvoiceKind(row.kind),
            status=None if row.status is None else InvoiceStatus(row.status),
            collection_at=row.collection_at,
            totals=_totals(row),
            created_at=row.created_at,
            lines=list(lines),
        )


def line_to_row(line: InvoiceLine) -> InvoiceLineRow:
    """The `billing_invoice_lines` row of `line`; credits applied are stored as JSON."""
    return InvoiceLineRow(
        id=line.id,
        invoice_id=line.invoice_id,
        customer_id=line.customer_id,
        currency=line.currency,
        engine=line.engine.value,
        status=line.status.value,
        charge_id=line.charge_id,
        name=line.name,
        **_period_columns(line.service_period),
        invoice_at=line.invoice_at,
        price=PRICE_ADAPTER.dump_json(line.price).decode(),
        quantity=line.quantity,
        credits_applied=_CREDITS_APPLIED.dump_json(line.credits_applied).decode(),
        **_totals_columns(line.totals),
        created_at=line.created_at,
    )


def line_from_row(row: InvoiceLineRow) -> InvoiceLine:
    """The line stored in `row`.

    `CorruptRecordError` for an unknown engine or line status, an unparsable price or credits.
    """
    with _loading(InvoiceLineRow.__tablename__, row.id):
        return InvoiceLine(
            id=row.id,
            invoice_id=row.invoice_id,
            customer_id=row.customer_id,
            currency=row.currency,
            engine=LineEngineType(row.engine),
            status=LineStatus(row.status),
            charge_id=row.charge_id,
            name=row.name,
            service_period=_period(row),
            invoice_at=row.invoice_at,
            price=PRICE_ADAPTER.validate_json(row.price),
            quantity=row.quantity,
            credits_applied=_CREDITS_APPLIED.validate_json(row.credits_applied),
            totals=_totals(row),
            created_at=row.created_at,
        )


# --- database errors -------------------------------------------------------------------------


def domain_error(error: SQLAlchemyError) -> ChargeflowError:
    """The domain error for a database error: `ConflictError` for a broken constraint (named
    when the driver reports it), `PersistenceError` for anything else. Chain it with ``from``."""
    cause: BaseException = getattr(error, "orig", None) or error
    message = str(cause).strip()
    detail = message.splitlines()[0] if message else type(cause).__name__
    if isinstance(error, IntegrityError):
        constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
        named = f"constraint {constraint!r}" if constraint else "a database constraint"
        return ConflictError(f"{named} would be violated: {detail}")
    return PersistenceError(f"database error ({type(cause).__name__}): {detail}")


@contextmanager
def database_errors() -> Iterator[None]:
    """Translate any `SQLAlchemyError` raised inside into its `domain_error`, chained."""
    try:
        yield
    except SQLAlchemyError as error:
        raise domain_error(error) from error
