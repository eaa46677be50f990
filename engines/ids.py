"""Resolving the id a user gives, whole or as its tail, to the one record id it names (a use
case taking an `Operation` first).

The rule is `domain.ids`' (`id_suffix`); the lookup is one statement on the kind's table, through
the repository that holds that kind.
"""

from __future__ import annotations

from collections.abc import Callable

from chargeflow.domain.errors import InvalidInputError, NotFoundError
from chargeflow.domain.ids import IdKind, id_suffix
from chargeflow.engines.operation import Operation
from chargeflow.persistence.ports import UnitOfWork

CANDIDATES_SHOWN = 5
"""How many of the ids an ambiguous text matches the error names."""

_Lookup = Callable[[str, str | None, int], list[str]]

_LOOKUPS: dict[IdKind, Callable[[UnitOfWork], _Lookup]] = {
    IdKind.CUSTOMER: lambda uow: uow.customers.ids_matching,
    IdKind.CHARGE: lambda uow: uow.charges.ids_matching,
    IdKind.INVOICE: lambda uow: uow.invoices.ids_matching,
    IdKind.LINE: lambda uow: uow.invoices.line_ids_matching,
}


def resolve_id(op: Operation, kind: IdKind, text: str) -> str:
    """The id of the record of `kind` that `text` names: `text` itself when a record of that
    kind has exactly that id; otherwise, when `text` (without a leading ``…`` or ``...``) has at
    least `domain.ids.SUFFIX_MIN_LENGTH` characters, the one id ending with it, compared
    case-insensitively. One statement.

    Raises `InvalidInputError` naming up to `CANDIDATES_SHOWN` of them when several ids end
    with `text`; `NotFoundError` (kind, text) when none does (or `text` is too short to be
    looked up by its tail and is no id)."""
    ids = _LOOKUPS[kind](op.uow)(text, id_suffix(text), CANDIDATES_SHOWN + 1)
    if not ids:
        raise NotFoundError(kind.value, text)
    if ids[0] == text or len(ids) == 1:
        return ids[0]
    shown = ", ".join(ids[:CANDIDATES_SHOWN]) + (", …" if len(ids) > CANDIDATES_SHOWN else "")
    raise InvalidInputError(f"ambiguous: {kind.value} {text!r} matches {shown}")
