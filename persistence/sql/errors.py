"""Database errors become domain errors here, at the persistence boundary (chained with
``from``), and a stored value the domain refuses becomes `CorruptRecordError`.

This module owns the translation only: it runs no query and knows no table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from chargeflow.domain.errors import (
    ChargeflowError,
    ConflictError,
    CorruptRecordError,
    PersistenceError,
)


def domain_error(error: SQLAlchemyError) -> ChargeflowError:
    """The domain error for a database error: `ConflictError` for a broken constraint (named
    when the driver reports it), `PersistenceError` for anything else. Chain it with ``from``."""
    cause: BaseException = getattr(error, "orig", None) or error
    message = str(cause).strip()
    detail = message.splitlines()[0] if message else type(cause).__name__
    if isinstance(error, IntegrityError):
        constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
        named = f"constraint {constraint!r}" if constraint else "a database constraint"
        return ConflictError(f"{named} would be violated: {detail}")
    return PersistenceError(f"database error ({type(cause).__name__}): {detail}")


@contextmanager
def database_errors() -> Iterator[None]:
    """Translate any `SQLAlchemyError` raised inside into its `domain_error`, chained."""
    try:
        yield
    except SQLAlchemyError as error:
        raise domain_error(error) from error


@contextmanager
def loading(table: str, record_id: str) -> Iterator[None]:
    """Turn a value the domain refuses into `CorruptRecordError` for `table` row `record_id`.

    Unknown enum values raise `ValueError`; pydantic's `ValidationError` is one too.
    """
    try:
        yield
    except ValueError as error:
        raise CorruptRecordError(table, record_id, str(error)) from error
