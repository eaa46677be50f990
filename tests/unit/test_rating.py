"""Rating every price type, with Decimal amounts, tier edges and package rounding."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargeflow.domain.charge import ChargeIntent
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.prices import PRICE_ADAPTER, Price
from chargeflow.domain.validation import build
from chargeflow.engines.rating import rate

TIERS = [
    {"up_to": 10, "unit_amount": "2", "flat_amount": "5"},
    {"up_to": 20, "unit_amount": "1.5"},
    {"up_to": None, "unit_amount": "1", "flat_amount": "1"},
]


def price(data: dict[str, Any]) -> Price:
    return PRICE_ADAPTER.validate_python(data)


@pytest.mark.parametrize(
    ("data", "quantity", "amount"),
    [
        ({"type": "unit", "amount": "0.10"}, "125", "12.50"),
        ({"type": "unit", "amount": "0.333"}, "1", "0.33"),
        ({"type": "unit", "amount": "0.005"}, "1", "0.01"),
        ({"type": "unit", "amount": "1.00"}, "0", "0.00"),
        ({"type": "flat", "amount": "5"}, "0", "5.00"),
        ({"type": "flat", "amount": "5"}, "1000", "5.00"),
        ({"type": "package", "amount": "5", "quantity_per_package": 100}, "0", "0.00"),
        ({"type": "package", "amount": "5", "quantity_per_package": 100}, "1", "5.00"),
        ({"type": "package", "amount": "5", "quantity_per_package": 100}, "100", "5.00"),
        ({"type": "package", "amount": "5", "quantity_per_package": 100}, "100.5", "10.00"),
        ({"type": "package", "amount": "5", "quantity_per_package": 100}, "201", "15.00"),
    ],
)
def test_unit_flat_and_package_prices(data: dict[str, Any], quantity: str, amount: str) -> None:
    assert rate(price(data), Decimal(quantity), "USD") == Decimal(amount)


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        ("0", "0.00"),
        ("1", "7.00"),  # 1 x 2 + 5
        ("10", "25.00"),  # the edge stays in tier 1: 10 x 2 + 5
        ("10.5", "15.75"),  # just past the edge: tier 2 prices every unit
        ("20", "30.00"),
        ("21", "22.00"),  # tier 3: 21 x 1 + 1
    ],
)
def test_tiered_volume_prices_every_unit_at_the_tier_containing_the_quantity(
    quantity: str, amount: str
) -> None:
    assert rate(
        price({"type": "tiered_volume", "tiers": TIERS}), Decimal(quantity), "USD"
    ) == Decimal(amount)


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        ("0", "0.00"),
        ("1", "7.00"),  # 1 x 2 + 5
        ("10", "25.00"),  # tier 1 full
        ("11", "26.50"),  # + 1 x 1.5 (tier 2 has no flat amount)
        ("20", "40.00"),  # + 10 x 1.5
        ("21", "42.00"),  # + 1 x 1 + 1
    ],
)
def test_tiered_graduated_prices_each_slice_in_its_own_tier(quantity: str, amount: str) -> None:
    assert rate(
        price({"type": "tiered_graduated", "tiers": TIERS}), Decimal(quantity), "USD"
    ) == Decimal(amount)


@pytest.mark.parametrize("kind", ["tiered_volume", "tiered_graduated"])
def test_a_negative_quantity_rates_negative_so_it_is_refused_later(kind: str) -> None:
    assert rate(price({"type": kind, "tiers": TIERS}), Decimal("-3"), "USD") == Decimal("-6.00")


@pytest.mark.parametrize(
    "tiers",
    [
        [],
        [{"up_to": 10, "unit_amount": "1"}],
        [{"up_to": None, "unit_amount": "1"}, {"up_to": None, "unit_amount": "1"}],
        [{"up_to": 10, "unit_amount": "1"}, {"up_to": 10, "unit_amount": "1"}, {"up_to": None}],
    ],
)
def test_malformed_tiers_are_refused(tiers: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidInputError, match="price"):
        build(
            ChargeIntent,
            customer_id="c",
            currency="USD",
            feature_key="f",
            service_period=("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
            settlement_mode="credit_only",
            price={"type": "tiered_volume", "tiers": tiers},
        )


@pytest.mark.parametrize(
    "data",
    [
        {"type": "unit", "amount": 0.1},
        {"type": "unit", "amount": "-1"},
        {"type": "package", "amount": "5", "quantity_per_package": 0},
        {"type": "stairs", "amount": "1"},
    ],
)
def test_bad_prices_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match="price"):
        build(
            ChargeIntent,
            customer_id="c",
            currency="USD",
            feature_key="f",
            service_period=("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
            settlement_mode="credit_only",
            price=data,
        )


quantities = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False)


@given(quantities, quantities)
def test_graduated_pricing_never_decreases_with_more_usage(a: Decimal, b: Decimal) -> None:
    graduated = price({"type": "tiered_graduated", "tiers": TIERS})
    low, high = sorted((a, b))
    assert rate(graduated, low, "USD") <= rate(graduated, high, "USD")


@given(quantities)
def test_unit_rating_is_exact_decimal_arithmetic(quantity: Decimal) -> None:
    assert rate(price({"type": "unit", "amount": "0.10"}), quantity, "USD") == (
        quantity * Decimal("0.10")
    ).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
