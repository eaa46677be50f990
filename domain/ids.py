"""Record identifiers: ULIDs (sortable by creation time, safe to generate anywhere).

`python-ulid` generates them; keeping the one call here means every table uses the same form.
"""

from __future__ import annotations

from ulid import ULID


def new_id() -> str:
    """A fresh ULID as its 26-character canonical string."""
    return str(ULID())
