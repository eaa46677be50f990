"""The rows chargeflow writes, computed in plain Python, for the floors and the set-ups.

Each builder returns one row as ``{column: value}`` with Python values (`datetime`, `Decimal`,
`str`, `bool`, None); `benchmarks.raw` stores them the way chargeflow's column types do. The
values follow what chargeflow was seen writing for the same work (`benchmarks.capture` checks
it on every run): a unit price's amount is ``usage x price`` rounded half-up to the currency's
two minor digits, every run is covered by credits, allocations are booked at the end of the
period, and an audit row's ``arguments`` is JSON text. Statuses, run types and line statuses come
from the public enums of `chargeflow`, so a renamed status follows.

Only what the benchmarks need is modelled: usage-based charges with a unit price in a
two-decimal currency, one detailed line per run, one allocation per run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from ulid import ULID

from benchmarks.settings import COLLECTION_INTERVAL, INTERNAL_COLLECTION_PERIOD
from chargeflow import ChargeStatus, InvoiceKind, InvoiceStatus, LineStatus, RunType

Record = dict[str, object]
"""One row: column -> value."""

S = ChargeStatus
CENT = Decimal("0.01")
EMPTY_ARGUMENTS = "{}"


def new_id() -> str:
    """A fresh ULID, as chargeflow's ids are."""
    return str(ULID())


def iso(value: datetime) -> str:
    """An instant as chargeflow writes it in JSON: ``2026-01-01T00:00:00Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact(value: object) -> str:
    """JSON without spaces, as chargeflow stores prices, detailed lines and credits applied."""
    return json.dumps(value, separators=(",", ":"))


def unit_price(amount: str) -> str:
    """A unit price's stored JSON."""
    return compact({"type": "unit", "amount": amount})


@dataclass(frozen=True)
class Customer:
    """A customer the API created, and the credit grant it was given."""

    id: str
    grant_id: str


@dataclass(frozen=True)
class Facts:
    """What the API set up before a floor runs (a floor never reads these back)."""

    feature_id: str
    feature_key: str
    currency: str
    customers: tuple[Customer, ...]

    @cached_property
    def _grants(self) -> dict[str, str]:
        return {customer.id: customer.grant_id for customer in self.customers}

    def grant_of(self, customer_id: str) -> str:
        """The grant of `customer_id`."""
        return self._grants[customer_id]


@dataclass(frozen=True)
class Rating:
    """A usage-based charge rated over its period: quantity, unit price, and the amount."""

    quantity: Decimal
    unit_amount: Decimal

    @property
    def amount(self) -> Decimal:
        """``quantity x unit price``, rounded half-up to cents."""
        return (self.quantity * self.unit_amount).quantize(CENT, rounding=ROUND_HALF_UP)

    def detailed_json(self) -> str:
        """The line's ``detailed_lines`` JSON."""
        return compact(
            [
                {
                    "key": "unit",
                    "quantity": str(self.quantity),
                    "unit_amount": str(self.unit_amount),
                    "amount": str(self.amount),
                }
            ]
        )


def collection_end(period_end: datetime) -> datetime:
    """When usage stops counting for a period ending at `period_end` (the run's cutoff)."""
    return period_end + COLLECTION_INTERVAL


def collected_at(period_end: datetime) -> datetime:
    """When a run of a period ending at `period_end` may be collected (cutoff + 1 minute)."""
    return collection_end(period_end) + INTERNAL_COLLECTION_PERIOD


def charge(
    facts: Facts,
    customer_id: str,
    period: tuple[datetime, datetime],
    *,
    mode: str,
    price: str,
    now: datetime,
) -> Record:
    """A new charge in `created`, due at the start of its service period."""
    return {
        "id": new_id(),
        "customer_id": customer_id,
        "name": facts.feature_key,
        "currency": facts.currency,
        "feature_key": facts.feature_key,
        "service_period_from": period[0],
        "service_period_to": period[1],
        "invoice_at": period[1],
        "settlement_mode": mode,
        "price": unit_price(price),
        "status": S.CREATED.value,
        "advance_after": period[0],
        "current_realization_run_id": None,
        "feature_id": None,
        "created_at": now,
        "deleted_at": None,
        "unique_reference_id": None,
    }


def charge_state(
    charge_id: str,
    status: ChargeStatus,
    *,
    advance_after: datetime | None,
    run_id: str | None,
    feature_id: str | None,
) -> Record:
    """The state columns of a charge (what an UPDATE writes), keyed by id."""
    return {
        "status": status.value,
        "advance_after": advance_after,
        "current_realization_run_id": run_id,
        "feature_id": feature_id,
        "id": charge_id,
    }


def run(
    charge_id: str,
    feature_id: str,
    period_end: datetime,
    rating: Rating,
    *,
    now: datetime,
    no_fiat: bool,
    line_id: str | None = None,
    invoice_id: str | None = None,
) -> Record:
    """A final realization run of the whole period, covered by credits."""
    return {
        "id": new_id(),
        "charge_id": charge_id,
        "type": RunType.FINAL_REALIZATION.value,
        "initial_type": RunType.FINAL_REALIZATION.value,
        "feature_id": feature_id,
        "service_period_to": period_end,
        "stored_at_lt": collection_end(period_end),
        "legacy_as_of": None,
        "line_id": line_id,
        "invoice_id": invoice_id,
        "metered_quantity": rating.quantity,
        "amount": rating.amount,
        "credits_total": rating.amount,
        "total": rating.amount - rating.amount,
        "no_fiat_transaction_required": no_fiat,
        "created_at": now,
        "deleted_at": None,
    }


def rated_run(run_id: str, rating: Rating, *, no_fiat: bool) -> Record:
    """A run's rated columns written back after re-rating (what an UPDATE writes), by id."""
    return {
        "metered_quantity": rating.quantity,
        "amount": rating.amount,
        "credits_total": rating.amount,
        "total": rating.amount - rating.amount,
        "no_fiat_transaction_required": no_fiat,
        "id": run_id,
    }


def detailed_line(run_id: str, rating: Rating) -> Record:
    """The run's one detailed line (a unit price has one component)."""
    return {
        "id": new_id(),
        "run_id": run_id,
        "seq": 1,
        "key": "unit",
        "quantity": rating.quantity,
        "unit_amount": rating.unit_amount,
        "amount": rating.amount,
    }


def allocation(
    run_id: str,
    charge_id: str,
    grant_id: str,
    amount: Decimal,
    *,
    booked_at: datetime,
    now: datetime,
) -> Record:
    """Credit allocated to a run from a grant."""
    return {
        "id": new_id(),
        "run_id": run_id,
        "seq": 1,
        "charge_id": charge_id,
        "amount": amount,
        "grant_id": grant_id,
        "corrects_allocation_id": None,
        "booked_at": booked_at,
        "created_at": now,
    }


def charge_transition(
    charge_id: str,
    source: ChargeStatus,
    dest: ChargeStatus,
    at: datetime,
    *,
    trigger: str = "next",
    arguments: str = EMPTY_ARGUMENTS,
) -> Record:
    """An audit row of a charge's transition, made by the ``system`` actor and recorded at
    `at` (the benchmarks' chargeflow reads its wall clock from the same frozen clock)."""
    return {
        "charge_id": charge_id,
        "invoice_id": None,
        "from_status": source.value,
        "to_status": dest.value,
        "trigger": trigger,
        "arguments": arguments,
        "at": at,
        "actor": "system",
        "recorded_at": at,
    }


def invoice_transition(
    invoice_id: str, source: InvoiceStatus, dest: InvoiceStatus, at: datetime
) -> Record:
    """An audit row of an invoice's transition (actor and wall clock as `charge_transition`)."""
    return {
        "charge_id": None,
        "invoice_id": invoice_id,
        "from_status": source.value,
        "to_status": dest.value,
        "trigger": "next",
        "arguments": EMPTY_ARGUMENTS,
        "at": at,
        "actor": "system",
        "recorded_at": at,
    }


def invoice_created_arguments(line_id: str, invoice_id: str, period: tuple[datetime, ...]) -> str:
    """The audit arguments of ``invoice_created``."""
    service_period = json.dumps({"start": iso(period[0]), "end": iso(period[1])})
    return json.dumps(
        {"line_id": line_id, "invoice_id": invoice_id, "service_period": service_period}
    )


def standard_invoice(
    invoice_id: str,
    customer_id: str,
    currency: str,
    amounts: tuple[Decimal, Decimal, Decimal],
    *,
    collection_at: datetime,
    now: datetime,
) -> Record:
    """A new standard invoice in ``draft.created`` with its totals (amount, credits, total)."""
    return {
        "id": invoice_id,
        "customer_id": customer_id,
        "currency": currency,
        "kind": InvoiceKind.STANDARD.value,
        "status": InvoiceStatus.DRAFT_CREATED.value,
        "collection_at": collection_at,
        "auto_approve": False,
        "issued_at": None,
        "amount": amounts[0],
        "credits_total": amounts[1],
        "total": amounts[2],
        "created_at": now,
        "deleted_at": None,
    }


def invoiced_line(
    line_id: str, invoice_id: str, rating: Rating, allocation_id: str, period_end: datetime
) -> Record:
    """A gathering line moved onto a standard invoice, rated and credited (an UPDATE, by id)."""
    return {
        "invoice_id": invoice_id,
        "status": LineStatus.STANDARD.value,
        "quantity": rating.quantity,
        "metered_quantity": rating.quantity,
        "detailed_lines": rating.detailed_json(),
        "credits_applied": compact(
            [{"allocation_id": allocation_id, "amount": str(rating.amount)}]
        ),
        "amount": rating.amount,
        "credits_total": rating.amount,
        "total": rating.amount - rating.amount,
        "collection_period_end": collected_at(period_end),
        "id": line_id,
    }


def final_history(
    facts: Facts, customer_id: str, period: tuple[datetime, datetime], rating: Rating
) -> dict[str, list[Record]]:
    """One credit_only charge as chargeflow leaves it once final: the charge, its run, detailed
    line, allocation and six audit rows, by table (for set-ups, not for floors)."""
    start, end = period
    created = start - timedelta(days=31)
    realized = end + timedelta(hours=12)
    collected = collected_at(end)
    row = charge(facts, customer_id, period, mode="credit_only", price="1", now=created)
    charge_id = str(row["id"])
    row.update(status=S.FINAL.value, advance_after=None, feature_id=facts.feature_id)
    the_run = run(charge_id, facts.feature_id, end, rating, now=realized, no_fiat=True)
    run_id = str(the_run["id"])
    steps = (
        (S.CREATED, S.ACTIVE, start),
        (S.ACTIVE, S.REALIZATION_STARTED, realized),
        (S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION, realized),
        (S.REALIZATION_WAITING_FOR_COLLECTION, S.REALIZATION_PROCESSING, collected),
        (S.REALIZATION_PROCESSING, S.REALIZATION_COMPLETED, collected),
        (S.REALIZATION_COMPLETED, S.FINAL, collected),
    )
    return {
        "charge_usage_based": [row],
        "charge_usage_based_runs": [the_run],
        "charge_usage_based_run_detailed_lines": [detailed_line(run_id, rating)],
        "charge_usage_based_run_credit_allocations": [
            allocation(
                run_id,
                charge_id,
                facts.grant_of(customer_id),
                rating.amount,
                booked_at=end,
                now=realized,
            )
        ],
        "charge_transitions": [charge_transition(charge_id, a, b, at) for a, b, at in steps],
    }
