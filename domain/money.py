"""Money: Decimal amounts, ISO 4217 currencies and per-currency rounding.

Amounts are `Decimal` from end to end. They are accepted as `Decimal`, `int` or decimal strings;
a float is refused because it cannot represent most decimal fractions exactly. Currency minor
units come from the `iso4217` package (the ISO 4217 table), not from a hand-kept list.

What a user gives is bounded (docs/lifecycle.md section 7): at most 15 digits before the point
and 9 after it (`Bounded*` types); money a customer is credited or charged flat, at most the
currency's minor units (`require_minor_units`). Arithmetic on amounts runs in `exact_arithmetic`,
a decimal context wide enough that no bounded input can make it round or fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import cache
from typing import Annotated

import iso4217
from pydantic import AfterValidator, BeforeValidator

from chargeflow.domain.errors import InvalidCurrencyError, InvalidInputError

ZERO = Decimal(0)
MAX_INTEGER_DIGITS = 15
"""Digits before the point an amount a user gives may have."""
MAX_DECIMAL_PLACES = 9
"""Decimal places an amount a user gives may have (sub-cent unit prices are common)."""

_EXACT = Context(
    prec=80, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow]
)


def exact_arithmetic() -> AbstractContextManager[Context]:
    """A decimal context of 80 significant digits: products and sums of bounded amounts are
    exact in it (the default context keeps 28 and would round them silently)."""
    return localcontext(_EXACT)


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of `values` (0 for none)."""
    with exact_arithmetic():
        return sum(values, ZERO)


@cache
def currency_exponent(code: str) -> int:
    """The number of minor-unit digits of the ISO 4217 currency `code` (USD: 2, JPY: 0), looked
    up once per code (the table is an enum whose lookup by value is slow).

    Raises `InvalidCurrencyError` for an unknown code or one without minor units (gold, SDR...).
    """
    try:
        exponent = iso4217.Currency(code).exponent
    except ValueError as error:
        raise InvalidCurrencyError(code) from error
    if exponent is None:
        raise InvalidCurrencyError(code)
    return int(exponent)


def validate_currency(code: str) -> str:
    """`code` if it is a usable ISO 4217 currency, else `InvalidCurrencyError`."""
    currency_exponent(code)
    return code


def to_decimal(value: object) -> Decimal:
    """`value` (Decimal, int or decimal string) as a finite Decimal; floats are refused."""
    if isinstance(value, Decimal):  # the common case first (a bool or float never is one)
        result = value
    elif isinstance(value, bool | float):
        raise InvalidInputError(
            f"amount {value!r} must be a Decimal, an int or a string, not float"
        )
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation as error:
            raise InvalidInputError(f"not a decimal amount: {value!r}") from error
    else:
        raise InvalidInputError(f"not a decimal amount: {value!r}")
    if not result.is_finite():
        raise InvalidInputError(f"amount {value!r} is not finite")
    return result


def round_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded to `currency`'s minor units, half away from zero."""
    return amount.quantize(_minor_unit(currency), rounding=ROUND_HALF_UP, context=_EXACT)


@cache
def _minor_unit(currency: str) -> Decimal:
    """`currency`'s smallest amount (USD: 0.01), as a quantum."""
    return Decimal(1).scaleb(-currency_exponent(currency))


def decimal_places(amount: Decimal) -> int:
    """How many decimal places `amount` needs (``1.50`` needs 1, ``100`` none), counted from
    its digits rather than by normalizing (which underflows to 0 for ``1E-1000027``)."""
    _, digits, exponent = amount.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    if not isinstance(exponent, int) or not significant:
        return 0
    return max(0, -(exponent + len(digits) - len(significant)))


def integer_digits(amount: Decimal) -> int:
    """How many digits `amount` has before the point (``0.5`` has none)."""
    return max(0, amount.adjusted() + 1) if amount else 0


def require_minor_units(amount: Decimal, currency: str, what: str) -> None:
    """Raise `InvalidInputError` unless `amount` is a whole number of `currency`'s minor units
    (0.001 USD is refused: no one can be credited or charged a tenth of a cent flat)."""
    if decimal_places(amount) > currency_exponent(currency):
        raise InvalidInputError(
            f"{what} {amount} has more decimal places than {currency} has minor units "
            f"({currency_exponent(currency)})"
        )


def bounded(value: Decimal) -> Decimal:
    """`value` if it is within what a user may give; `InvalidInputError` otherwise."""
    if integer_digits(value) > MAX_INTEGER_DIGITS:
        raise InvalidInputError(
            f"amount {value} has more than {MAX_INTEGER_DIGITS} digits before the point"
        )
    if decimal_places(value) > MAX_DECIMAL_PLACES:
        raise InvalidInputError(f"amount {value} has more than {MAX_DECIMAL_PLACES} decimal places")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise InvalidInputError(f"amount {value} must not be negative")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise InvalidInputError(f"amount {value} must be positive")
    return value


Amount = Annotated[Decimal, BeforeValidator(to_decimal)]
"""Any finite Decimal: amounts the engine computes (totals, meter quantities)."""
NonNegativeAmount = Annotated[Decimal, BeforeValidator(to_decimal), AfterValidator(_non_negative)]
PositiveAmount = Annotated[Decimal, BeforeValidator(to_decimal), AfterValidator(_positive)]
BoundedAmount = Annotated[Decimal, BeforeValidator(to_decimal), AfterValidator(bounded)]
"""An amount a user gives: at most 15 digits before the point and 9 after it."""
BoundedNonNegativeAmount = Annotated[
    Decimal, BeforeValidator(to_decimal), AfterValidator(bounded), AfterValidator(_non_negative)
]
BoundedPositiveAmount = Annotated[
    Decimal, BeforeValidator(to_decimal), AfterValidator(bounded), AfterValidator(_positive)
]
CurrencyCode = Annotated[str, AfterValidator(validate_currency)]
