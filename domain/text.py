"""Text a user gives (names, keys, references, ids): strings every database can store and every
terminal can show, refused with a typed error otherwise.

A NUL character cannot be stored in PostgreSQL text, and a lone surrogate (``"\\ud800"``)
cannot be encoded as UTF-8 at all; both would otherwise fail deep inside the database driver.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from chargeflow.domain.errors import InvalidInputError, NotFoundError


def storable(value: str) -> str:
    """`value` if it can be stored and shown; `InvalidInputError` otherwise."""
    if "\x00" in value:
        raise InvalidInputError("text must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInputError(f"text is not valid Unicode: {error.reason}") from error
    return value


def lookup_id(value: object, kind: str) -> str:
    """`value` as the id (or key) of a `kind` to look up: `InvalidInputError` unless it is a
    string, `NotFoundError` when it is a string no record can have (empty, a NUL, a lone
    surrogate)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{kind} id must be a string, not {type(value).__name__}")
    try:
        return storable(value) if value else _missing(kind, value)
    except InvalidInputError as error:
        raise NotFoundError(kind, value) from error


def _missing(kind: str, value: str) -> str:
    raise NotFoundError(kind, value)


Text = Annotated[str, AfterValidator(storable)]
"""A pydantic field type for text a user gives."""
