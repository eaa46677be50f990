"""Money: Decimal amounts, ISO 4217 currencies and per-currency rounding.

Amounts are `Decimal` from end to end. They are accepted as `Decimal`, `int` or decimal strings;
a float is refused because it cannot represent most decimal fractions exactly. Currency minor
units come from the `iso4217` package (the ISO 4217 table), not from a hand-kept list.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated

import iso4217
from pydantic import AfterValidator, BeforeValidator

from domain.errors import InvalidCurrencyError, InvalidInputError

ZERO = Decimal(0)


def currency_exponent(code: str) -> int:
    """The number of minor-unit digits of the ISO 4217 currency `code` (USD: 2, JPY: 0).

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
    if isinstance(value, bool | float):
        raise InvalidInputError(
            f"amount {value!r} must be a Decimal, an int or a string, not float"
        )
    if isinstance(value, Decimal):
        result = value
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
    quantum = Decimal(1).scaleb(-currency_exponent(currency))
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise InvalidInputError(f"amount {value} must not be negative")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise InvalidInputError(f"amount {value} must be positive")
    return value


Amount = Annotated[Decimal, BeforeValidator(to_decimal)]
"""Any finite Decimal (usage values may be negative corrections)."""
NonNegativeAmount = Annotated[Decimal, BeforeValidator(to_decimal), AfterValidator(_non_negative)]
PositiveAmount = Annotated[Decimal, BeforeValidator(to_decimal), AfterValidator(_positive)]
CurrencyCode = Annotated[str, AfterValidator(validate_currency)]
