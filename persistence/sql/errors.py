"""Database errors become domain errors here, at the persistence boundary (chained with
``from``), and a stored value the domain refuses becomes `CorruptRecordError`.

This module owns the translation only: it runs no query and knows no table.
"""

from __future__ import annotations

from types import TracebackType

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


class _Translation:
    """A context manager that raises, chained with ``from``, the domain error `translated`
    gives for an error raised inside it (None: the error goes through as it is). A class, not
    a @contextmanager generator: every statement and every loaded record enters one, and a
    generator costs several times more to enter and leave."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        translated = self.translated(error) if error is not None else None
        if translated is not None:
            raise translated from error

    def translated(self, error: BaseException) -> ChargeflowError | None:
        """The domain error `error` becomes, if any."""
        raise NotImplementedError


class database_errors(_Translation):  # noqa: N801 (used as a function, like contextlib.suppress)
    """Translate any `SQLAlchemyError` raised inside into its `domain_error`, chained."""

    __slots__ = ()

    def translated(self, error: BaseException) -> ChargeflowError | None:
        """`domain_error` of a database error."""
        return domain_error(error) if isinstance(error, SQLAlchemyError) else None


class loading(_Translation):  # noqa: N801 (used as a function, like contextlib.suppress)
    """Turn a value the domain refuses into `CorruptRecordError` for `table` row `record_id`.

    Unknown enum values raise `ValueError`; pydantic's `ValidationError` is one too.
    """

    __slots__ = ("_record_id", "_table")

    def __init__(self, table: str, record_id: str) -> None:
        self._table = table
        self._record_id = record_id

    def translated(self, error: BaseException) -> ChargeflowError | None:
        """`CorruptRecordError` for a refused value."""
        if isinstance(error, ValueError):
            return CorruptRecordError(self._table, self._record_id, str(error))
        return None
