"""Progressive billing never bills more or less than the whole period: for any usage and any
split points, the partial runs and the final run of a charge add up to the rating of the whole
period's usage at once (docs/lifecycle.md section 7, delta rating).

It holds for every price whose rating never decreases as the quantity grows: unit, package,
flat and tiered graduated prices (each run bills its cumulative rating less what the earlier
runs billed, so the amounts telescope to the last cumulative rating, rounding included). A
tiered volume price can rate lower at a higher quantity, so it is billed whole, never in parts;
the last test shows it. The whole lifecycle runs through the public API on an in-memory SQLite
database: split, invoice, collect, issue, and the final invoice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargeflow import App, FrozenClock, NoLinesToInvoiceError, open_app
from chargeflow.domain.prices import PRICE_ADAPTER
from chargeflow.engines.rating import rate

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)
HOURS = int((END - START) / timedelta(hours=1))
FEATURE = "api_requests"

amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(100), places=3)
unit = st.builds(lambda a: {"type": "unit", "amount": str(a)}, amounts)
package = st.builds(
    lambda a, size: {"type": "package", "amount": str(a), "quantity_per_package": size},
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2),
    st.integers(min_value=1, max_value=500),
)
flat = st.builds(
    lambda a: {"type": "flat", "amount": str(a)},
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1000), places=2),
)


@st.composite
def graduated(draw: st.DrawFn) -> dict[str, Any]:
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=2000), min_size=1, max_size=3)))
    ups: list[int | None] = [*bounds, None]
    tiers = [
        {
            "up_to": up_to,
            "unit_amount": str(draw(amounts)),
            "flat_amount": str(draw(st.sampled_from([Decimal(0), Decimal("2.50")]))),
        }
        for up_to in ups
    ]
    return {"type": "tiered_graduated", "tiers": tiers}


PRICES = st.one_of(unit, package, flat, graduated())
EVENTS = st.lists(
    st.tuples(
        st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=2),
        st.integers(min_value=0, max_value=HOURS * 60 - 1),  # minute of January
    ),
    max_size=8,
)
SPLITS = st.lists(st.integers(min_value=1, max_value=HOURS - 1), max_size=3, unique=True)
"""Hours of January at which the customer is invoiced before the period ends."""


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[App, FrozenClock]]:
    clock = FrozenClock("2025-12-01T00:00:00Z")
    app = open_app("sqlite://", clock=clock)
    app.features.create(key=FEATURE)
    yield app, clock
    app.close()


def bill_progressively(
    app: App, clock: FrozenClock, price: dict[str, Any], events: list[Any], splits: list[int]
) -> list[Decimal]:
    """Invoice a fresh charge at each split hour and at the period's end, collecting and
    issuing each invoice before the next; the amounts of its runs, oldest first."""
    clock.set("2025-12-01T00:00:00Z")
    customer = app.customers.create(
        name="Acme", currency="USD", progressive_billing=True, auto_approve=True
    )
    made = app.charges.create(
        customer_id=customer.id,
        feature_key=FEATURE,
        service_period=(START, END),
        settlement_mode="credit_then_invoice",
        price=price,
    )
    for value, minute in events:
        at = START + timedelta(minutes=minute)
        app.usage.record(customer.id, FEATURE, value=value, event_time=at, stored_at=at)
    for instant in [START + timedelta(hours=hour) for hour in sorted(splits)] + [END]:
        clock.set(instant)
        [invoice] = app.billing.invoice_pending_lines(customer.id)
        clock.set(instant + timedelta(minutes=1))
        app.billing.advance_invoice(invoice.id)  # collected, then issued: auto approval
    runs = app.charges.get(made.id).runs
    assert len(runs) == len(splits) + 1
    return [run.totals.amount for run in runs]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(price=PRICES, events=EVENTS, splits=SPLITS)
def test_the_runs_add_up_to_rating_the_whole_period_at_once(
    world: tuple[App, FrozenClock], price: dict[str, Any], events: list[Any], splits: list[int]
) -> None:
    app, clock = world
    amounts_billed = bill_progressively(app, clock, price, events, splits)
    whole = rate(PRICE_ADAPTER.validate_python(price), sum(v for v, _ in events), "USD")
    assert all(amount >= 0 for amount in amounts_billed)
    assert sum(amounts_billed) == whole


def test_a_volume_price_is_billed_whole_because_its_rating_can_fall(
    world: tuple[App, FrozenClock],
) -> None:
    app, clock = world
    volume = {
        "type": "tiered_volume",
        "tiers": [{"up_to": 10, "unit_amount": "1.00"}, {"up_to": None, "unit_amount": "0.25"}],
    }
    tiers = PRICE_ADAPTER.validate_python(volume)
    assert rate(tiers, Decimal(10), "USD") > rate(tiers, Decimal(11), "USD")  # 10.00 > 2.75
    with pytest.raises(NoLinesToInvoiceError, match="not billable before 2026-02-01"):
        bill_progressively(app, clock, volume, [(Decimal(10), 60)], splits=[24])
    assert bill_progressively(app, clock, volume, [(Decimal(10), 60), (Decimal(1), 120)], []) == [
        Decimal("2.75")
    ]
