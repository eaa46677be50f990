"""Records restored from their rows without validating again (`repository.restored`), and the
comparison that tells whether a record would be stored as it is (`repository.stored_alike`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from chargeflow.domain.charge import ChargeState
from chargeflow.domain.periods import Period
from chargeflow.domain.runs import Totals
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.persistence.sql.repository import restored, stored_alike, stored_period

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def test_a_restored_record_equals_the_validated_one_and_dumps_alike() -> None:
    values = {"amount": Decimal("10.00"), "credits_total": Decimal("4"), "total": Decimal("6.00")}
    validated = Totals(**values)
    restored_totals = restored(Totals, dict(values))
    assert restored_totals == validated
    assert restored_totals.model_dump() == validated.model_dump()
    assert restored_totals.model_fields_set == validated.model_fields_set
    assert stored_period(JAN, FEB) == Period(start=JAN, end=FEB)


def test_a_restored_record_still_validates_what_is_assigned_to_it() -> None:
    state = restored(
        ChargeState,
        {
            "status": ChargeStatus.ACTIVE,
            "advance_after": None,
            "current_run_id": None,
            "feature_id": None,
        },
    )
    state.status = ChargeStatus.FINAL
    with pytest.raises(ValidationError):
        state.status = "active.bogus"  # type: ignore[assignment]
    assert state.status is ChargeStatus.FINAL
    copied = state.model_copy(update={"feature_id": "feat_1"})
    assert (copied.status, copied.feature_id, state.feature_id) == (
        ChargeStatus.FINAL,
        "feat_1",
        None,
    )


@pytest.mark.parametrize(
    ("held", "given", "alike"),
    [
        (Decimal("10"), Decimal("10"), True),
        (Decimal("10"), Decimal("10.00"), False),  # equal, but stored as other text or scale
        ((Decimal("1"), "a"), (Decimal("1"), "a"), True),
        ((Decimal("1"),), (Decimal("1"), Decimal("2")), False),
        ([Decimal("1.0")], [Decimal("1.00")], False),
        ((Decimal("1"),), [Decimal("1")], False),
        (None, None, True),
        (None, Decimal("0"), False),
        ("a", "b", False),
    ],
)
def test_stored_alike_keeps_the_scale_of_decimals(held: object, given: object, alike: bool) -> None:
    assert stored_alike(held, given) is alike


def test_stored_alike_compares_models_field_by_field_by_name() -> None:
    held = Totals(amount=Decimal("10"), credits_total=Decimal("4"), total=Decimal("6"))
    assert stored_alike(held, held.model_copy())
    assert not stored_alike(held, held.model_copy(update={"total": Decimal("6.0")}))
    # the same values under other names, held in another order: not what is stored
    swapped = restored(Period, {"end": JAN, "start": FEB})
    assert not stored_alike(Period(start=JAN, end=FEB), swapped)
    assert stored_alike(Period(start=JAN, end=FEB), restored(Period, {"end": FEB, "start": JAN}))
