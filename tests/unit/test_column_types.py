"""The instant column type binds exactly what it should on each dialect: UTC text on SQLite,
an aware UTC datetime on PostgreSQL, never a naive value, whatever it bound last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine
from sqlalchemy.dialects import sqlite

from chargeflow.persistence.sql.types import UtcDateTime

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
