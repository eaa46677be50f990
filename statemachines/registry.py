"""Every registered machine spec, and the bound machine of each.

Each spec is checked when this module is imported, so an ill-defined machine fails fast; each
spec is bound to `transitions` exactly once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chargeflow.domain.charge import SettlementMode, UsageBasedCharge
from chargeflow.domain.invoices import Invoice, InvoiceStatus, InvoiceTrigger
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.triggers import Trigger
from chargeflow.statemachines.actions import ChargeAction
from chargeflow.statemachines.binding import BoundMachine
from chargeflow.statemachines.checks import check_definition
from chargeflow.statemachines.credit_only import CREDIT_ONLY
from chargeflow.statemachines.credit_then_invoice import CREDIT_THEN_INVOICE
from chargeflow.statemachines.invoice import INVOICE, InvoiceAction
from chargeflow.statemachines.spec import MachineSpec

ChargeSpec = MachineSpec[ChargeStatus, Trigger, ChargeAction, UsageBasedCharge]
ChargeMachine = BoundMachine[ChargeStatus, Trigger, ChargeAction, UsageBasedCharge]
InvoiceMachine = BoundMachine[InvoiceStatus, InvoiceTrigger, InvoiceAction, Invoice]

CHARGE_SPECS: Mapping[SettlementMode, ChargeSpec] = {
    SettlementMode.CREDIT_ONLY: CREDIT_ONLY,
    SettlementMode.CREDIT_THEN_INVOICE: CREDIT_THEN_INVOICE,
}

SPECS: tuple[MachineSpec[Any, Any, Any, Any], ...] = (*CHARGE_SPECS.values(), INVOICE)
"""Every registered spec: the definition checks and the diagrams walk this."""

for _spec in SPECS:
    check_definition(_spec)


def _charge_id(charge: UsageBasedCharge) -> str:
    return charge.id


def _invoice_id(invoice: Invoice) -> str:
    return invoice.id


CHARGE_MACHINES: Mapping[SettlementMode, ChargeMachine] = {
    mode: BoundMachine(spec, _charge_id, "charge") for mode, spec in CHARGE_SPECS.items()
}
INVOICE_MACHINE: InvoiceMachine = BoundMachine(INVOICE, _invoice_id, "invoice")
