"""Rating: the amount a price charges for a quantity, in the currency's minor units.

All arithmetic is Decimal; the result is rounded once, at the end, half away from zero.
Tiers cover quantities up to and including their `up_to`. A zero quantity rates tiered and
package prices at 0 (no usage, nothing billed); a flat price charges its amount regardless.
A negative quantity (net usage corrections) is rated at the first tier's unit amount for tiered
prices, so the negative total surfaces and is refused by the run, instead of being hidden.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from domain.money import ZERO, exact_arithmetic, round_money
from domain.prices import (
    FlatPrice,
    PackagePrice,
    Price,
    Tier,
    TieredGraduatedPrice,
    TieredVolumePrice,
    UnitPrice,
)


def rate(price: Price, quantity: Decimal, currency: str) -> Decimal:
    """The amount `price` charges for `quantity`, rounded to `currency`'s minor units; exact
    whatever the size of bounded inputs (computed in `exact_arithmetic`)."""
    with exact_arithmetic():
        return round_money(_unrounded(price, quantity), currency)


def _unrounded(price: Price, quantity: Decimal) -> Decimal:
    match price:
        case UnitPrice():
            amount = quantity * price.amount
        case FlatPrice():
            amount = price.amount
        case PackagePrice():
            packages = (quantity / price.quantity_per_package).to_integral_value(ROUND_CEILING)
            amount = packages * price.amount
        case TieredVolumePrice():
            amount = _volume(price.tiers, quantity)
        case TieredGraduatedPrice():
            amount = _graduated(price.tiers, quantity)
    return amount


def _volume(tiers: tuple[Tier, ...], quantity: Decimal) -> Decimal:
    if quantity <= 0:
        return quantity * tiers[0].unit_amount
    tier = next(tier for tier in tiers if tier.up_to is None or quantity <= tier.up_to)
    return quantity * tier.unit_amount + tier.flat_amount


def _graduated(tiers: tuple[Tier, ...], quantity: Decimal) -> Decimal:
    if quantity <= 0:
        return quantity * tiers[0].unit_amount
    amount = ZERO
    lower = ZERO
    for tier in tiers:
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if upper <= lower:
            break
        amount += (upper - lower) * tier.unit_amount + tier.flat_amount
        lower = upper
    return amount
