"""Rating: the detailed lines a price charges for a quantity, each rounded to the currency's
minor units, and the delta a run bills after earlier runs (docs/lifecycle.md section 7).

All arithmetic is Decimal, in `exact_arithmetic`, and each line is rounded once, half away
from zero. Tiers hold quantities up to and including their `up_to`. A zero quantity rates
tiered and package prices at nothing; a flat price charges its amount whatever the usage. A
negative quantity (net corrections stored by an earlier version) is rated at the first tier's
unit amount, so the negative amount surfaces and is refused by the run, never hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_CEILING, Decimal

from chargeflow.domain.money import ZERO, exact_arithmetic, exact_sum, round_money
from chargeflow.domain.prices import (
    FlatPrice,
    PackagePrice,
    Price,
    Tier,
    TieredGraduatedPrice,
    TieredVolumePrice,
    UnitPrice,
)
from chargeflow.domain.runs import DetailedLine

ONE = Decimal(1)


def rate(price: Price, quantity: Decimal, currency: str) -> Decimal:
    """The amount `price` charges for `quantity`: the sum of its rounded detailed lines."""
    return amount_of(rate_lines(price, quantity, currency))


def amount_of(lines: Iterable[DetailedLine]) -> Decimal:
    """The sum of the lines' amounts."""
    return exact_sum(line.amount for line in lines)


def rate_lines(price: Price, quantity: Decimal, currency: str) -> tuple[DetailedLine, ...]:
    """The detailed lines `price` charges for `quantity`, one per price component with a
    stable key, each amount rounded to `currency`'s minor units; lines of zero quantity and
    zero amount are dropped."""
    with exact_arithmetic():
        components = _components(price, quantity)
        lines = tuple(
            DetailedLine(
                key=key,
                quantity=count,
                unit_amount=unit,
                amount=round_money(count * unit, currency),
            )
            for key, count, unit in components
        )
    return tuple(line for line in lines if line.quantity or line.amount)


def delta(
    lines: Sequence[DetailedLine], earlier: Iterable[Sequence[DetailedLine]]
) -> tuple[DetailedLine, ...]:
    """`lines` minus every line of `earlier` ratings, matched by key (quantities and amounts
    subtracted; a key only earlier runs had becomes a negative line); zero lines dropped."""
    billed: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    with exact_arithmetic():
        for rating in earlier:
            for line in rating:
                quantity, amount, _ = billed.get(line.key, (ZERO, ZERO, line.unit_amount))
                billed[line.key] = (
                    quantity + line.quantity,
                    amount + line.amount,
                    line.unit_amount,
                )
        if not billed:  # nothing billed before (a first run): the lines as they are
            return tuple(line for line in lines if line.quantity or line.amount)
        result = [
            line.model_copy(
                update={
                    "quantity": line.quantity - billed.get(line.key, (ZERO, ZERO, ZERO))[0],
                    "amount": line.amount - billed.get(line.key, (ZERO, ZERO, ZERO))[1],
                }
            )
            for line in lines
        ]
        keys = {line.key for line in lines}
        result += [
            DetailedLine(key=key, quantity=-quantity, unit_amount=unit, amount=-amount)
            for key, (quantity, amount, unit) in billed.items()
            if key not in keys
        ]
    return tuple(line for line in result if line.quantity or line.amount)


Component = tuple[str, Decimal, Decimal]
"""``(key, quantity, unit amount)`` of one detailed line, before rounding."""


def _components(price: Price, quantity: Decimal) -> list[Component]:
    match price:
        case UnitPrice():
            return [("unit", quantity, price.amount)]
        case FlatPrice():
            return [("flat", ONE, price.amount)]
        case PackagePrice():
            packages = (quantity / price.quantity_per_package).to_integral_value(ROUND_CEILING)
            return [("package", packages, price.amount)]
        case TieredVolumePrice():
            return _volume(price.tiers, quantity)
        case TieredGraduatedPrice():
            return _graduated(price.tiers, quantity)


def _volume(tiers: tuple[Tier, ...], quantity: Decimal) -> list[Component]:
    """The single tier holding `quantity` prices every unit, plus its flat amount."""
    if quantity <= 0:
        return [("volume.tier-1", quantity, tiers[0].unit_amount)]
    number, tier = next(
        (number, tier)
        for number, tier in enumerate(tiers, start=1)
        if tier.up_to is None or quantity <= tier.up_to
    )
    lines = [(f"volume.tier-{number}", quantity, tier.unit_amount)]
    if tier.flat_amount:
        lines.append((f"volume.tier-{number}.flat", ONE, tier.flat_amount))
    return lines


def _graduated(tiers: tuple[Tier, ...], quantity: Decimal) -> list[Component]:
    """Each tier reached prices its own slice, plus its flat amount."""
    if quantity <= 0:
        return [("graduated.tier-1", quantity, tiers[0].unit_amount)]
    lines: list[Component] = []
    lower = ZERO
    for number, tier in enumerate(tiers, start=1):
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if upper <= lower:
            break
        lines.append((f"graduated.tier-{number}", upper - lower, tier.unit_amount))
        if tier.flat_amount:
            lines.append((f"graduated.tier-{number}.flat", ONE, tier.flat_amount))
        lower = upper
    return lines
