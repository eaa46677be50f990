"""Refusing a downgrade that would lose facts the matching upgrade cannot rebuild.

A migration's ``downgrade()`` calls `refuse_if_rows` before it drops anything: if the query finds
rows, the downgrade raises `DowngradeRefusedError` naming them and the migration's transaction
rolls back, so nothing is lost silently.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from chargeflow.domain.errors import DowngradeRefusedError

_NAMED = 10
"""How many row ids a refusal names (and how many more it counts)."""


def refuse_if_rows(reason: str, query: str) -> None:
    """Raise `DowngradeRefusedError` when `query` (selecting one id column) returns rows."""
    ids = [str(row[0]) for row in op.get_bind().execute(text(query))]
    if ids:
        raise DowngradeRefusedError(reason, ids[:_NAMED], len(ids))
