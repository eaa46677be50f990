"""Statuses map to meta statuses; triggers and statuses are string enums."""

from __future__ import annotations

import pytest

from domain.invoices import InvoiceMetaStatus, InvoiceStatus, invoice_meta_status
from domain.statuses import ChargeStatus, MetaStatus, meta_status

EXPECTED_META = {
    ChargeStatus.CREATED: MetaStatus.CREATED,
    ChargeStatus.ACTIVE: MetaStatus.ACTIVE,
    ChargeStatus.FINAL_REALIZATION_STARTED: MetaStatus.ACTIVE,
    ChargeStatus.FINAL_REALIZATION_WAITING_FOR_COLLECTION: MetaStatus.ACTIVE,
    ChargeStatus.FINAL_REALIZATION_PROCESSING: MetaStatus.ACTIVE,
    ChargeStatus.FINAL_REALIZATION_COMPLETED: MetaStatus.ACTIVE,
    ChargeStatus.FINAL: MetaStatus.FINAL,
    ChargeStatus.DELETED: MetaStatus.DELETED,
}


@pytest.mark.parametrize("status", list(ChargeStatus))
def test_every_charge_status_maps_to_its_meta_status(status: ChargeStatus) -> None:
    assert meta_status(status) is EXPECTED_META[status]


@pytest.mark.parametrize("status", list(InvoiceStatus))
def test_every_invoice_status_is_a_draft(status: InvoiceStatus) -> None:
    assert invoice_meta_status(status) is InvoiceMetaStatus.DRAFT


def test_a_status_string_outside_the_table_is_not_a_status() -> None:
    with pytest.raises(ValueError, match=r"active\.final_realization\.exploded"):
        ChargeStatus("active.final_realization.exploded")
