"""Listing customers, features and usage, and resolving the ids users give (whole, or a tail
copied from a table), on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event

from chargeflow import App, FrozenClock, InvalidInputError, NotFoundError
from chargeflow.domain.customer import Customer
from chargeflow.domain.feature import Feature
from chargeflow.domain.ids import IdKind
from chargeflow.domain.timestamps import to_instant
from chargeflow.domain.usage import UsageEvent
from chargeflow.persistence.sql import SqlDatabase
from tests.factories import CTI, FEATURE, PERIOD, charge, customer, legacy_usage

START = "2025-12-01T00:00:00Z"
FLAT_5 = {"type": "flat", "amount": "5"}


def stored_customers(database: SqlDatabase, *ids: str) -> None:
    """Customers with the given ids, inserted in that order (all created at the same instant)."""
    with database.unit_of_work() as uow:
        for customer_id in ids:
            uow.customers.add(
                Customer(id=customer_id, name="Acme", currency="USD", created_at=to_instant(START))
            )
        uow.commit()


def ulid_ending(tail: str, filler: str = "0") -> str:
    """A 26-character id ending with `tail`."""
    return "01" + filler * (24 - len(tail)) + tail


@contextmanager
def selects() -> Iterator[list[str]]:
    """The SELECT statements run inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement: str = args[2]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


# customers.list


def test_customers_are_listed_oldest_first(app: App) -> None:
    created = [app.customers.create(name=name, currency="USD") for name in ("Zed", "Acme", "Bo")]
    assert app.customers.list() == created


def test_customers_are_listed_by_id_not_by_insertion(app: App, database: SqlDatabase) -> None:
    stored_customers(database, ulid_ending("3"), ulid_ending("1"), ulid_ending("2"))
    assert [c.id for c in app.customers.list()] == [ulid_ending(t) for t in ("1", "2", "3")]


def test_no_customers_list_empty(app: App) -> None:
    assert app.customers.list() == []


# features.list


def test_live_features_are_listed_by_key(app: App) -> None:
    app.features.create(key="storage")
    app.features.create(key="api_requests")
    app.features.create(key="seats")
    assert [f.key for f in app.features.list()] == ["api_requests", "seats", "storage"]


def test_archived_features_are_left_out_unless_asked_for(app: App, clock: FrozenClock) -> None:
    first = app.features.create(key="api_requests")
    other = app.features.create(key="seats")
    clock.set("2025-12-02T00:00:00Z")
    archived = app.features.archive("api_requests")
    again = app.features.create(key="api_requests")
    retired = app.features.archive("seats")

    assert app.features.list() == [again]
    listed = app.features.list(include_archived=True)
    assert listed == [archived, again, retired]
    assert [f.id for f in listed] == [first.id, again.id, other.id]
    assert [f.archived_at for f in listed] == [clock.now(), None, clock.now()]


def test_a_keys_features_are_listed_oldest_first(app: App) -> None:
    ids = []
    for _ in range(3):
        ids.append(app.features.create(key="api_requests").id)
        app.features.archive("api_requests")
    listed = app.features.list(include_archived=True)
    assert [f.id for f in listed] == ids
    assert app.features.list() == []


def test_a_keys_features_are_listed_by_id_not_by_insertion(app: App, database: SqlDatabase) -> None:
    at = to_instant(START)
    with database.unit_of_work() as uow:
        for tail, archived_at in (("3", None), ("1", at), ("2", at)):
            feature = Feature(id=ulid_ending(tail), key=FEATURE, name=FEATURE, created_at=at)
            uow.features.add(feature.model_copy(update={"archived_at": archived_at}))
        uow.commit()
    listed = app.features.list(include_archived=True)
    assert [f.id for f in listed] == [ulid_ending(t) for t in "123"]
    assert [f.id for f in app.features.list()] == [ulid_ending("3")]


# usage.list


@pytest.fixture
def acme(app: App) -> str:
    """A customer with two features and events out of time order, beside another customer's."""
    who = customer(app)
    app.features.create(key="seats")
    other = app.customers.create(name="Other", currency="USD")
    for key, when in [
        (FEATURE, "2026-01-20T00:00:00Z"),
        ("seats", "2026-01-05T00:00:00Z"),
        (FEATURE, "2026-01-01T00:00:00Z"),
        (FEATURE, "2026-02-01T00:00:00Z"),
        ("seats", "2026-01-31T23:59:59Z"),
    ]:
        app.usage.record(who.id, key, value=1, event_time=when)
    app.usage.record(other.id, FEATURE, value=1, event_time="2026-01-10T00:00:00Z")
    return who.id


def times(events: list[UsageEvent]) -> list[tuple[str, str]]:
    return [(e.feature_key, e.event_time.strftime("%m-%dT%H:%M:%S")) for e in events]


def test_a_customers_usage_is_listed_by_event_time(app: App, acme: str) -> None:
    assert times(app.usage.list(acme)) == [
        (FEATURE, "01-01T00:00:00"),
        ("seats", "01-05T00:00:00"),
        (FEATURE, "01-20T00:00:00"),
        ("seats", "01-31T23:59:59"),
        (FEATURE, "02-01T00:00:00"),
    ]
    assert {e.customer_id for e in app.usage.list(acme)} == {acme}


def test_usage_of_one_feature_key(app: App, acme: str) -> None:
    assert times(app.usage.list(acme, "seats")) == [
        ("seats", "01-05T00:00:00"),
        ("seats", "01-31T23:59:59"),
    ]
    assert app.usage.list(acme, "unknown") == []


def test_usage_in_a_period_is_from_inclusive_to_exclusive(app: App, acme: str) -> None:
    january = app.usage.list(acme, period=PERIOD)
    assert times(january) == [
        (FEATURE, "01-01T00:00:00"),
        ("seats", "01-05T00:00:00"),
        (FEATURE, "01-20T00:00:00"),
        ("seats", "01-31T23:59:59"),
    ]
    period = (datetime(2026, 1, 5, tzinfo=UTC), "2026-01-31T23:59:59Z")
    assert times(app.usage.list(acme, FEATURE, period=period)) == [(FEATURE, "01-20T00:00:00")]
    assert app.usage.list(acme, period=("2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z")) == []


def test_usage_at_the_same_time_is_listed_by_id(app: App, database: SqlDatabase) -> None:
    who = customer(app)
    with database.unit_of_work() as uow:
        feature = uow.features.live_by_key(FEATURE)
        assert feature is not None
        at = to_instant("2026-01-10T00:00:00Z")
        for tail in ("B", "C", "A"):
            uow.usage.add(
                UsageEvent(
                    id=ulid_ending(tail),
                    customer_id=who.id,
                    feature_key=FEATURE,
                    feature_id=feature.id,
                    value=Decimal(1),
                    event_time=at,
                    stored_at=at,
                )
            )
        uow.commit()
    assert [e.id for e in app.usage.list(who.id)] == [ulid_ending(t) for t in "ABC"]


def test_usage_of_a_key_spans_its_archived_features(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    app.usage.record(who.id, FEATURE, value=1, event_time="2026-01-01T00:00:00Z")
    app.features.archive(FEATURE)
    app.features.create(key=FEATURE)
    app.usage.record(who.id, FEATURE, value=2, event_time="2026-01-02T00:00:00Z")
    listed = app.usage.list(who.id, FEATURE)
    assert [e.value for e in listed] == [1, 2]
    assert listed[0].feature_id != listed[1].feature_id


def test_listed_usage_is_what_was_recorded(app: App) -> None:
    who = customer(app)
    recorded = app.usage.record(
        who.id,
        FEATURE,
        value="2.5",
        event_time="2026-01-01T00:00:00Z",
        stored_at="2026-01-03T00:00:00Z",
    )
    assert app.usage.list(who.id) == [recorded]


def test_an_earlier_versions_negative_correction_is_listed_and_a_new_one_refused(
    app: App, database: SqlDatabase, acme: str
) -> None:
    legacy_usage(database, acme, "-3", "2026-01-05T00:00:00Z")
    listed = app.usage.list(acme)
    assert [event.value for event in listed if event.value < 0] == [Decimal(-3)]
    with pytest.raises(InvalidInputError, match="must not be negative"):
        app.usage.record(acme, FEATURE, value="-1", event_time="2026-01-06T00:00:00Z")
    assert app.usage.list(acme) == listed


def test_usage_of_an_unknown_customer_is_not_found(app: App) -> None:
    with pytest.raises(NotFoundError) as raised:
        app.usage.list("no-such-customer")
    assert (raised.value.kind, raised.value.key) == ("customer", "no-such-customer")


@pytest.mark.parametrize(
    "period",
    [
        ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"),  # from after to
        ("not a time", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00", "2026-02-01T00:00:00Z"),  # no time zone
        ("2026-01-01T00:00:00Z",),
        ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"),
    ],
)
def test_a_malformed_period_is_invalid_input(app: App, acme: str, period: Any) -> None:
    with pytest.raises(InvalidInputError):
        app.usage.list(acme, period=period)


# ids.resolve


@pytest.fixture
def records(app: App) -> dict[IdKind, str]:
    """One customer, charge, invoice and line, by kind."""
    who = customer(app)
    made = charge(app, who.id, CTI)
    line = app.billing.add_line(
        who.id, engine="invoicing", name="setup", price=FLAT_5, service_period=PERIOD
    )
    return {
        IdKind.CUSTOMER: who.id,
        IdKind.CHARGE: made.id,
        IdKind.INVOICE: line.invoice_id,
        IdKind.LINE: line.id,
    }


@pytest.mark.parametrize("kind", list(IdKind))
def test_a_whole_id_resolves_to_itself(app: App, records: dict[IdKind, str], kind: IdKind) -> None:
    assert app.ids.resolve(kind, records[kind]) == records[kind]
    assert app.ids.resolve(kind.value, records[kind]) == records[kind]


@pytest.mark.parametrize("kind", list(IdKind))
@pytest.mark.parametrize(
    "shorten",
    [
        lambda i: i[-8:],
        lambda i: i[-4:],
        lambda i: i[-8:].lower(),
        lambda i: "…" + i[-6:],
        lambda i: "..." + i[-6:].lower(),
        lambda i: i.lower(),
    ],
    ids=["tail", "four", "lower", "ellipsis", "dots-lower", "whole-lower"],
)
def test_the_tail_of_an_id_resolves_to_the_whole_id(
    app: App, records: dict[IdKind, str], kind: IdKind, shorten: Any
) -> None:
    assert app.ids.resolve(kind, shorten(records[kind])) == records[kind]


@pytest.mark.parametrize("kind", list(IdKind))
def test_an_id_of_another_kind_is_not_found(
    app: App, records: dict[IdKind, str], kind: IdKind
) -> None:
    others = [record_id for other, record_id in records.items() if other is not kind]
    for record_id in others:
        with pytest.raises(NotFoundError) as raised:
            app.ids.resolve(kind, record_id)
        assert (raised.value.kind, raised.value.key) == (kind.value, record_id)


def test_an_unmatched_text_is_not_found(app: App, database: SqlDatabase) -> None:
    stored_customers(database, ulid_ending("WXYZ"))
    with pytest.raises(NotFoundError) as raised:
        app.ids.resolve("customer", "…QWXYZ")
    assert (raised.value.kind, raised.value.key) == ("customer", "…QWXYZ")


@pytest.mark.parametrize("text", ["XYZ", "xyz", "…XYZ", "...XYZ", "Z"])
def test_a_tail_shorter_than_four_characters_is_not_looked_up(
    app: App, database: SqlDatabase, text: str
) -> None:
    stored_customers(database, ulid_ending("WXYZ"))
    with pytest.raises(NotFoundError):
        app.ids.resolve("customer", text)


def test_a_short_whole_id_still_resolves(app: App, database: SqlDatabase) -> None:
    stored_customers(database, "XYZ")
    assert app.ids.resolve("customer", "XYZ") == "XYZ"


def test_a_tail_several_ids_end_with_is_ambiguous(app: App, database: SqlDatabase) -> None:
    first, second = ulid_ending("WXYZ", "A"), ulid_ending("WXYZ", "B")
    stored_customers(database, second, first, ulid_ending("WXYA"))
    with pytest.raises(InvalidInputError, match="ambiguous") as raised:
        app.ids.resolve("customer", "wxyz")
    assert str(raised.value) == f"ambiguous: customer 'wxyz' matches {first}, {second}"


def test_an_ambiguous_tail_names_five_candidates(app: App, database: SqlDatabase) -> None:
    matching = [ulid_ending("WXYZ", filler) for filler in "ABCDEFG"]
    stored_customers(database, *reversed(matching))
    with pytest.raises(InvalidInputError) as raised:
        app.ids.resolve("customer", "…WXYZ")
    assert str(raised.value) == (
        f"ambiguous: customer '…WXYZ' matches {', '.join(matching[:5])}, …"
    )


def test_an_exact_id_wins_over_the_ids_ending_with_it(app: App, database: SqlDatabase) -> None:
    stored_customers(database, *(ulid_ending("WXYZ", filler) for filler in "ABCDEFG"), "WXYZ")
    assert app.ids.resolve("customer", "WXYZ") == "WXYZ"


@pytest.mark.parametrize("text", ["____", "%%%%", "%XYZ", "_XYZ", "\\XYZ", "/XYZ"])
def test_like_wildcards_in_the_text_match_only_themselves(
    app: App, database: SqlDatabase, text: str
) -> None:
    stored_customers(database, ulid_ending("AXYZ"), ulid_ending("BXYZ"))
    with pytest.raises(NotFoundError):
        app.ids.resolve("customer", text)


def test_wildcard_characters_in_an_id_match_literally(app: App, database: SqlDatabase) -> None:
    stored_customers(database, "id_with%wild", "idXwithYwild")
    assert app.ids.resolve("customer", "h%wild") == "id_with%wild"
    assert app.ids.resolve("customer", "_WITH%WILD") == "id_with%wild"


def test_resolving_is_one_statement(app: App, records: dict[IdKind, str]) -> None:
    for kind, record_id in records.items():
        with selects() as statements:
            app.ids.resolve(kind, record_id[-6:])
        assert len(statements) == 1, statements


@pytest.mark.parametrize("kind", ["customers", "", None, 3])
def test_an_unknown_kind_is_invalid_input(app: App, records: dict[IdKind, str], kind: Any) -> None:
    with pytest.raises(InvalidInputError, match="unknown id kind"):
        app.ids.resolve(kind, records[IdKind.CUSTOMER])


def test_a_text_that_is_no_string_is_invalid_input(app: App) -> None:
    with pytest.raises(InvalidInputError):
        app.ids.resolve("customer", 42)  # type: ignore[arg-type]


def test_an_empty_text_is_not_found(app: App) -> None:
    with pytest.raises(NotFoundError):
        app.ids.resolve("charge", "")


def test_a_deleted_charge_still_resolves(app: App, records: dict[IdKind, str]) -> None:
    charge_id = records[IdKind.CHARGE]
    app.charges.delete(charge_id, policy="ignore")
    assert app.ids.resolve("charge", charge_id[-6:]) == charge_id
