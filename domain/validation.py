"""Building domain models from user input, with one error type for every validation failure."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chargeflow.domain.errors import InvalidInputError

M = TypeVar("M", bound=BaseModel)


def build(model: type[M], **fields: Any) -> M:
    """`model(**fields)`, raising `InvalidInputError` (naming each bad field) if it is invalid."""
    return validated(model, fields)


def validated(model: type[M], data: object) -> M:
    """`data` validated as `model`, raising `InvalidInputError` (naming each bad field)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or model.__name__}: {issue['msg']}"
            for issue in error.errors()
        )
        raise InvalidInputError(f"invalid {model.__name__}: {problems}") from error
