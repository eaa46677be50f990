"""Statuses map to meta statuses; triggers and statuses are string enums."""

from __future__ import annotations

import pytest

from chargeflow.domain.invoices import InvoiceMetaStatus, InvoiceStatus, invoice_meta_status
from chargeflow.domain.statuses import ChargeStatus, MetaStatus, meta_status

EXPECTED_META = {
    ChargeStatus.CREATED: MetaStatus.CREATED,
    ChargeStatus.ACTIVE: MetaStatus.ACTIVE,
    ChargeStatus.REALIZATION_STARTED: MetaStatus.ACTIVE,
    ChargeStatus.REALIZATION_WAITING_FOR_COLLECTION: MetaStatus.ACTIVE,
    ChargeStatus.REALIZATION_PROCESSING: MetaStatus.ACTIVE,
    ChargeStatus.REALIZATION_ISSUING: MetaStatus.ACTIVE,
    ChargeStatus.REALIZATION_COMPLETED: MetaStatus.ACTIVE,
    ChargeStatus.AWAITING_PAYMENT_SETTLEMENT: MetaStatus.ACTIVE,
    ChargeStatus.FINAL: MetaStatus.FINAL,
    ChargeStatus.DELETED: MetaStatus.DELETED,
}


@pytest.mark.parametrize("status", list(ChargeStatus))
def test_every_charge_status_maps_to_its_meta_status(status: ChargeStatus) -> None:
    assert meta_status(status) is EXPECTED_META[status]


INVOICE_META = {
    InvoiceStatus.DRAFT_CREATED: InvoiceMetaStatus.DRAFT,
    InvoiceStatus.DRAFT_WAITING_FOR_COLLECTION: InvoiceMetaStatus.DRAFT,
    InvoiceStatus.DRAFT_COLLECTING: InvoiceMetaStatus.DRAFT,
    InvoiceStatus.DRAFT_MANUAL_APPROVAL_NEEDED: InvoiceMetaStatus.DRAFT,
    InvoiceStatus.ISSUING: InvoiceMetaStatus.ISSUING,
    InvoiceStatus.PAYMENT_PENDING: InvoiceMetaStatus.PAYMENT_PROCESSING,
    InvoiceStatus.PAYMENT_AUTHORIZED: InvoiceMetaStatus.PAYMENT_PROCESSING,
    InvoiceStatus.PAID: InvoiceMetaStatus.PAID,
}


@pytest.mark.parametrize("status", list(InvoiceStatus))
def test_every_invoice_status_maps_to_its_meta_status(status: InvoiceStatus) -> None:
    assert invoice_meta_status(status) is INVOICE_META[status]


def test_a_status_string_outside_the_table_is_not_a_status() -> None:
    with pytest.raises(ValueError, match=r"active\.final_realization\.completed"):
        ChargeStatus("active.final_realization.completed")  # a status of version 1
