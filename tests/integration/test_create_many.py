"""`app.charges.create_many`: a billing cycle's charges made in one transaction, each exactly as
`create` makes it, all or none, as safe to retry; on both databases."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.capture import statements
from chargeflow import App, FrozenClock, InvalidInputError, NotFoundError
from chargeflow.engines import charges as charge_use_cases
from chargeflow.persistence.sql.charges import SqlChargeRepository
from tests.conftest import Snapshot
from tests.factories import CO, CTI, FEATURE, PERIOD, UNIT_010, UNIT_1, customer


def intent(customer_id: str, mode: Any = CO, **more: Any) -> dict[str, Any]:
    """What `create` takes for a January charge of the feature."""
    price = UNIT_1 if mode == CO else UNIT_010
    return {
        "customer_id": customer_id,
        "feature_key": FEATURE,
        "service_period": PERIOD,
        "settlement_mode": mode,
        "price": price,
        **more,
    }


def test_each_charge_is_made_as_create_makes_it_in_order(app: App, clock: FrozenClock) -> None:
    who = customer(app)
    clock.set("2026-01-01T00:00:00Z")
    made = app.charges.create_many([intent(who.id), intent(who.id, CTI, name="calls")])

    assert [charge.intent.settlement_mode for charge in made] == [CO, CTI]
    assert made[1].intent.name == "calls"
    one_by_one = [app.charges.create(**intent(who.id)), app.charges.create(**intent(who.id, CTI))]
    for many, single in zip(made, one_by_one, strict=True):
        stored = app.charges.get(many.id)
        assert stored.state.status is app.charges.get(single.id).state.status
        assert [(t.from_status, t.to_status) for t in app.charges.history(many.id)] == [
            (t.from_status, t.to_status) for t in app.charges.history(single.id)
        ]
    clock.set("2026-02-01T00:00:00Z")
    gathering = [line.charge_id for line in app.billing.pending_lines(who.id)]
    assert made[1].id in gathering and made[0].id not in gathering


@pytest.mark.parametrize(
    ("bad", "error", "detail"),
    [
        ({"feature_key": "nope"}, NotFoundError, "nope"),
        ({"price": {"type": "unit", "amount": "-1"}}, InvalidInputError, "price"),
        ({"colour": "red"}, InvalidInputError, "unknown arguments: colour"),
        ({"customer_id": 7}, InvalidInputError, "customer id must be a string"),
    ],
)
def test_one_refused_intent_creates_nothing_and_names_its_position(
    app: App,
    clock: FrozenClock,
    snapshot: Snapshot,
    bad: dict[str, Any],
    error: type[Exception],
    detail: str,
) -> None:
    who = customer(app)
    before = snapshot()
    intents = [intent(who.id), intent(who.id), {**intent(who.id), **bad}]
    with pytest.raises(error, match=detail) as refused:
        app.charges.create_many(intents)
    assert "refused: intent 2 of 3 (counting from 0)" in refused.value.__notes__
    assert snapshot() == before


@pytest.mark.parametrize(
    ("intents", "detail"),
    [
        ([["customer_id"]], "an intent must be a mapping, not list"),
        ([{"customer_id": "x"}], "an intent is missing: feature_key, service_period"),
        ({"customer_id": "x"}, "intents must be a list of mappings"),
        (None, "intents must be a list of mappings"),
    ],
)
def test_intents_that_are_not_mappings_of_creates_arguments_are_refused(
    app: App, snapshot: Snapshot, intents: Any, detail: str
) -> None:
    before = snapshot()
    with pytest.raises(InvalidInputError, match=detail):
        app.charges.create_many(intents)
    assert snapshot() == before


def test_more_intents_than_one_call_holds_are_refused(
    app: App, snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = customer(app)
    monkeypatch.setattr(charge_use_cases, "MAX_INTENTS", 2)
    before = snapshot()
    with pytest.raises(InvalidInputError, match="at most 2 charges"):
        app.charges.create_many([intent(who.id)] * 3)
    assert snapshot() == before


def test_a_reference_made_earlier_or_in_the_same_call_returns_that_charge(app: App) -> None:
    who = customer(app)
    first = app.charges.create(**intent(who.id, unique_reference_id="jan"))
    made = app.charges.create_many(
        [
            intent(who.id, unique_reference_id="jan"),
            intent(who.id, unique_reference_id="feb"),
            intent(who.id, unique_reference_id="feb"),
        ]
    )
    assert made[0].id == first.id
    assert made[1].id == made[2].id != first.id
    assert len(app.charges.list(who.id)) == 2
    again = app.charges.create_many([intent(who.id, unique_reference_id="feb")])
    assert [charge.id for charge in again] == [made[1].id]


def test_a_reference_another_transaction_took_meanwhile_returns_its_charge(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = customer(app)
    theirs = app.charges.create(**intent(who.id, unique_reference_id="jan"))
    real_lookup = SqlChargeRepository.by_references
    missed = iter([True])  # the first lookup misses it, as a racing insert would

    def lookup(self: SqlChargeRepository, keys: Any) -> Any:
        return {} if next(missed, False) else real_lookup(self, keys)

    monkeypatch.setattr(SqlChargeRepository, "by_references", lookup)
    made = app.charges.create_many(
        [intent(who.id, unique_reference_id="jan"), intent(who.id, unique_reference_id="feb")]
    )

    assert made[0].id == theirs.id
    assert made[1].id != theirs.id
    assert {charge.id for charge in app.charges.list(who.id)} == {theirs.id, made[1].id}
    assert [t.to_status for t in app.charges.history(theirs.id)] == [
        t.to_status for t in app.charges.history(made[1].id)
    ]


def test_no_intents_create_nothing(app: App, snapshot: Snapshot) -> None:
    before = snapshot()
    assert app.charges.create_many([]) == []
    assert snapshot() == before


def test_a_retried_call_looks_its_references_up_together(app: App) -> None:
    who = customer(app)
    sent = []
    for count in (2, 6):
        intents = [intent(who.id, unique_reference_id=f"{count}-{n}") for n in range(count)]
        made = app.charges.create_many(intents)
        with statements() as seen:
            again = app.charges.create_many(intents)
        assert [charge.id for charge in again] == [charge.id for charge in made]
        sent.append(seen.total)
    assert sent[0] == sent[1]  # not one lookup per intent
