"""The column types bind exactly what they should on each dialect: UTC text on SQLite,
an aware UTC datetime on PostgreSQL, never a naive value, whatever it bound last; and read
back aware UTC instants and decimals with their scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import create_engine
from sqlalchemy.dialects import sqlite

from chargeflow.persistence.sql.types import ExactDecimal, UtcDateTime

NOON = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def test_an_instant_binds_as_utc_text_on_sqlite_and_an_aware_datetime_on_postgresql() -> None:
    column = UtcDateTime()
    lite, pg = sqlite.dialect(), create_engine("postgresql+psycopg://").dialect  # unconnected
    assert column.process_bind_param(NOON, lite) == "2026-01-31 12:00:00.000000"
    assert column.process_bind_param(NOON, pg) == NOON
    assert column.process_bind_param(NOON, lite) == "2026-01-31 12:00:00.000000"
    eastern = NOON.astimezone(timezone(timedelta(hours=-5)))
    assert column.process_bind_param(eastern, lite) == "2026-01-31 12:00:00.000000"
    assert column.process_result_value("2026-01-31 12:00:00.000000", lite) == NOON


def test_the_same_instant_bound_again_is_the_same_text_and_another_is_converted() -> None:
    column, lite = UtcDateTime(), sqlite.dialect()
    first = column.process_bind_param(NOON, lite)
    assert column.process_bind_param(NOON, lite) is first
    assert column.process_bind_param(NOON + timedelta(seconds=1), lite) == (
        "2026-01-31 12:00:01.000000"
    )


def test_a_naive_datetime_is_refused_even_right_after_an_equal_aware_one() -> None:
    column, lite = UtcDateTime(), sqlite.dialect()
    column.process_bind_param(NOON, lite)
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(NOON.replace(tzinfo=None), lite)


def test_sqlite_reads_instants_and_decimals_through_one_cached_parser_each() -> None:
    lite = sqlite.dialect()
    read_instant = UtcDateTime().result_processor(lite, None)
    read_decimal = ExactDecimal().result_processor(lite, None)
    assert read_instant is not None and read_decimal is not None
    assert read_instant(None) is None and read_decimal(None) is None
    assert read_instant("2026-01-31 12:00:00.000000") == NOON
    assert read_instant("2026-01-31 12:00:00.000000") is read_instant("2026-01-31 12:00:00.000000")
    assert read_instant("2026-01-31T07:00:00-05:00") == NOON  # not chargeflow's text: still UTC
    stamp = read_instant("2026-01-31 12:00:00")
    assert stamp is not None and stamp.tzinfo is UTC
    ten, whole = read_decimal("10.00"), read_decimal("10")
    assert ten is not None and ten == Decimal("10") and ten.as_tuple().exponent == -2
    assert whole is not None and whole.as_tuple().exponent == 0


def test_postgresql_keeps_the_drivers_values_and_converts_them_to_utc() -> None:
    pg = create_engine("postgresql+psycopg://").dialect  # unconnected
    eastern = NOON.astimezone(timezone(timedelta(hours=-5)))
    read = UtcDateTime().process_result_value(eastern, pg)
    assert read is not None and read == NOON and read.tzinfo is UTC
    assert UtcDateTime().process_result_value(None, pg) is None
    assert ExactDecimal().process_result_value(Decimal("1.50"), pg) == Decimal("1.50")
