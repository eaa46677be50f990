"""Prices as the tables store them: JSON text in the ``price`` column of charges and invoice
lines, read back through the domain's price adapter.

A stored price is parsed once per distinct text: prices are frozen, so every row that stores
the same text shares one `Price` (an invoice's lines and their charges usually have a handful of
prices between them, and each parse builds and validates a model).
"""

from __future__ import annotations

from functools import lru_cache

from chargeflow.domain.prices import PRICE_ADAPTER, Price


@lru_cache(maxsize=1024)
def stored_price(text: str) -> Price:
    """The price stored as `text`; a validation error for text that is not one."""
    return PRICE_ADAPTER.validate_json(text)
