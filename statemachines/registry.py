"""Every registered machine spec, and the bound machine of each.

Each spec is checked when this module is imported, so an ill-defined machine fails fast; each
spec is bound to `transitions` exactly once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.charge import SettlementMode, UsageBasedCharge
from domain.invoices import Invoice, InvoiceStatus, InvoiceTrigger
from domain.statuses import ChargeStatus
from domain.triggers import Trigger
from statemachines.actions import ChargeAction
from statemachines.binding import BoundMachine
from statemachines.checks import check_definition
from statemachines.credit_only import CREDIT_ONLY
from statemachines.credit_then_invoice import CREDIT_THEN_INVOICE
from statemachines.invoice import INVOICE, InvoiceAction
from statemachines.spec import MachineSpec

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
