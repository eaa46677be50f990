"""The five price types of a usage-based charge, as one pydantic discriminated union.

Prices are data only; rating them is `engines.rating`'s job. Plain dicts are accepted::

    {"type": "unit", "amount": "0.10"}
    {"type": "flat", "amount": "5"}
    {"type": "tiered_volume", "tiers": [{"up_to": 10, "unit_amount": "2"}, {"up_to": None, ...}]}
    {"type": "package", "amount": "5", "quantity_per_package": 100}
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from chargeflow.domain.money import (
    ZERO,
    BoundedNonNegativeAmount,
    BoundedPositiveAmount,
    require_minor_units,
)


class _PriceModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnitPrice(_PriceModel):
    """``quantity × amount``."""

    type: Literal["unit"] = "unit"
    amount: BoundedNonNegativeAmount


class FlatPrice(_PriceModel):
    """A fixed amount, whatever the usage."""

    type: Literal["flat"] = "flat"
    amount: BoundedNonNegativeAmount


class PackagePrice(_PriceModel):
    """``ceil(quantity / quantity_per_package) × amount``."""

    type: Literal["package"] = "package"
    amount: BoundedNonNegativeAmount
    quantity_per_package: BoundedPositiveAmount


class Tier(_PriceModel):
    """A price tier covering quantities up to and including `up_to` (None: no upper bound)."""

    up_to: BoundedPositiveAmount | None
    unit_amount: BoundedNonNegativeAmount = ZERO
    flat_amount: BoundedNonNegativeAmount = ZERO


class _TieredPrice(_PriceModel):
    tiers: tuple[Tier, ...]

    @model_validator(mode="after")
    def _well_formed(self) -> _TieredPrice:
        if not self.tiers:
            raise ValueError("a tiered price needs at least one tier")
        bounds = [tier.up_to for tier in self.tiers]
        if bounds[-1] is not None:
            raise ValueError("the last tier must be open-ended (up_to: null)")
        finite = bounds[:-1]
        if None in finite:
            raise ValueError("only the last tier may be open-ended")
        if any(low >= high for low, high in pairwise(finite)):  # type: ignore[operator]
            raise ValueError("tier bounds must strictly increase")
        return self


class TieredVolumePrice(_TieredPrice):
    """The single tier containing the quantity prices every unit, plus that tier's flat amount."""

    type: Literal["tiered_volume"] = "tiered_volume"


class TieredGraduatedPrice(_TieredPrice):
    """Each tier prices its own slice of the quantity, plus the flat amount of each tier reached."""

    type: Literal["tiered_graduated"] = "tiered_graduated"


Price = Annotated[
    UnitPrice | FlatPrice | PackagePrice | TieredVolumePrice | TieredGraduatedPrice,
    Field(discriminator="type"),
]
PRICE_ADAPTER: TypeAdapter[Price] = TypeAdapter(Price)
"""Validates and serializes a `Price` outside a model (persistence stores prices as JSON)."""


def require_flat_amounts_in_minor_units(price: Price, currency: str) -> None:
    """Raise `InvalidInputError` when a flat amount of `price` (a flat price's amount, a tier's
    flat amount) is finer than `currency`'s minor units; unit prices may be finer."""
    match price:
        case FlatPrice():
            require_minor_units(price.amount, currency, "flat price amount")
        case TieredVolumePrice() | TieredGraduatedPrice():
            for number, tier in enumerate(price.tiers, start=1):
                require_minor_units(tier.flat_amount, currency, f"tier {number} flat amount")
