"""The facade over ids: the record a whole id, or the tail of one copied from a table, names.
It only forwards to `engines.ids`."""

from __future__ import annotations

from chargeflow.domain.ids import IdKind, id_kind
from chargeflow.domain.text import lookup_id
from chargeflow.engines import ids
from chargeflow.engines.operation import Operations


class Ids:
    """Resolve the ids users give."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    def resolve(self, kind: IdKind | str, text: str) -> str:
        """The id of the `kind` (``customer``, ``charge``, ``invoice`` or ``line``) that `text`
        names: `text` if such a record has exactly that id, else the one id ending with `text`
        (case-insensitive, at least 4 characters, a leading ``…`` or ``...`` ignored).

        `NotFoundError` (kind, text) if none matches; `InvalidInputError` naming up to 5 of the
        ids when several do, or for an unknown kind."""
        kind = id_kind(kind)
        return self._operations.run(ids.resolve_id, kind, lookup_id(text, kind.value))
