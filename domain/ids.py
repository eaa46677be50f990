"""Record identifiers: ULIDs (sortable by creation time, safe to generate anywhere), and the
rule for finding a record from the end of its id.

`python-ulid` generates them; keeping the one call here means every table uses the same form.
Tables show ids shortened to their last characters (``…7K3QX9A1``), so a user may give such a
tail instead of the whole id: `id_suffix` says which tail a text stands for; the engines look it
up (docs/lifecycle.md, "Choices where the specification is silent").
"""

from __future__ import annotations

from enum import StrEnum

from ulid import ULID

from chargeflow.domain.errors import InvalidInputError

SUFFIX_MIN_LENGTH = 4
"""The shortest tail of an id that is looked up (shorter text must be a whole id)."""

_ELLIPSES = ("…", "...")


class IdKind(StrEnum):
    """The kinds of record an id can be resolved for."""

    CUSTOMER = "customer"
    CHARGE = "charge"
    INVOICE = "invoice"
    LINE = "line"


_KINDS = tuple(kind.value for kind in IdKind)


def new_id() -> str:
    """A fresh ULID as its 26-character canonical string."""
    return str(ULID())


def id_kind(value: object) -> IdKind:
    """`value` (an `IdKind` or its name) as an `IdKind`; `InvalidInputError` naming the kinds
    otherwise."""
    if isinstance(value, str) and value in _KINDS:
        return IdKind(value)
    raise InvalidInputError(f"unknown id kind {value!r}: expected one of {', '.join(_KINDS)}")


def id_suffix(text: str) -> str | None:
    """The tail of an id `text` stands for, upper-cased (ids are upper-case ULIDs), without a
    leading ``…`` or ``...`` (a shortened id copied from a table); None when what remains is
    shorter than `SUFFIX_MIN_LENGTH` characters (only a whole id can then be meant)."""
    for ellipsis in _ELLIPSES:
        if text.startswith(ellipsis):
            text = text.removeprefix(ellipsis)
            break
    return text.upper() if len(text) >= SUFFIX_MIN_LENGTH else None
