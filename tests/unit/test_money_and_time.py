"""Money is exact Decimal rounded per currency; instants are UTC truncated to seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from chargeflow.domain.clock import FrozenClock
from chargeflow.domain.durations import add_duration
from chargeflow.domain.errors import InvalidCurrencyError, InvalidInputError
from chargeflow.domain.money import currency_exponent, round_money, to_decimal
from chargeflow.domain.timestamps import format_instant, to_instant


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("1.005", "USD", "1.01"),
        ("-1.005", "USD", "-1.01"),
        ("1.004", "USD", "1.00"),
        ("2.5", "JPY", "3"),
        ("-2.5", "JPY", "-3"),
        ("1.0005", "BHD", "1.001"),
    ],
)
def test_amounts_round_half_away_from_zero_to_the_currency_minor_units(
    amount: str, currency: str, rounded: str
) -> None:
    result = round_money(Decimal(amount), currency)
    assert result == Decimal(rounded)
    assert str(result) == rounded


@pytest.mark.parametrize("code", ["XXX", "ZZZ", "usd", "XAU"])
def test_unknown_or_unitless_currencies_are_refused(code: str) -> None:
    with pytest.raises(InvalidCurrencyError, match=code):
        currency_exponent(code)


@pytest.mark.parametrize("value", [0.1, True, "abc", "NaN", "Infinity", None])
def test_floats_and_non_decimals_are_refused_as_amounts(value: object) -> None:
    with pytest.raises(InvalidInputError):
        to_decimal(value)


@pytest.mark.parametrize(
    ("value", "exact"), [(Decimal("0.10"), "0.10"), (3, "3"), ("12.50", "12.50")]
)
def test_decimals_ints_and_strings_are_exact_amounts(value: object, exact: str) -> None:
    assert to_decimal(value) == Decimal(exact)


def test_instants_are_utc_and_truncated_not_rounded_to_seconds() -> None:
    instant = to_instant("2026-01-31T23:59:59.999999-01:00")
    assert instant == datetime(2026, 2, 1, 0, 59, 59, tzinfo=UTC)
    assert to_instant(
        datetime(2026, 1, 1, 0, 0, 0, 900000, tzinfo=timezone(timedelta(hours=2)))
    ) == datetime(2025, 12, 31, 22, 0, 0, tzinfo=UTC)
    assert format_instant(instant) == "2026-02-01T00:59:59Z"


NAIVE = datetime(2026, 1, 1)  # noqa: DTZ001 - naive on purpose


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00", NAIVE, "yesterday", 5])
def test_naive_or_unparsable_timestamps_are_refused(value: object) -> None:
    with pytest.raises(InvalidInputError):
        to_instant(value)  # type: ignore[arg-type]


def test_a_frozen_clock_stands_still_until_set() -> None:
    clock = FrozenClock("2026-01-01T00:00:00.7Z")
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    clock.advance(timedelta(minutes=1, microseconds=500))
    assert clock.now() == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    clock.set("2026-02-01T00:00:00Z")
    assert clock.now() == datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [
        ("2026-02-01T00:00:00Z", "P2D", "2026-02-03T00:00:00Z"),
        ("2026-02-01T00:00:00Z", "PT0S", "2026-02-01T00:00:00Z"),
        ("2026-01-31T00:00:00Z", "P1M", "2026-02-28T00:00:00Z"),
        ("2026-02-01T00:00:00Z", "PT1H30M", "2026-02-01T01:30:00Z"),
    ],
)
def test_collection_intervals_are_iso_8601_durations(start: str, duration: str, end: str) -> None:
    assert add_duration(to_instant(start), duration) == to_instant(end)


@pytest.mark.parametrize("text", ["2 days", "P", "-P1D", ""])
def test_invalid_or_negative_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        add_duration(to_instant("2026-01-01T00:00:00Z"), text)
