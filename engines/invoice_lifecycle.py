"""Standard invoices as the driver sees them: the invoice machine, its actions, and how a
transition is persisted (the invoice header) and audited (an invoice transition record)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chargeflow.domain.effects import InvoiceEffect
from chargeflow.domain.errors import InvalidInputError
from chargeflow.domain.history import InvoiceTransition
from chargeflow.domain.invoices import Invoice, InvoiceStatus, InvoiceTrigger
from chargeflow.domain.triggers import TriggerArgument
from chargeflow.engines.invoice_actions import INVOICE_ACTIONS
from chargeflow.engines.operation import Operation
from chargeflow.statemachines.invoice import InvoiceAction
from chargeflow.statemachines.registry import INVOICE_MACHINE, InvoiceMachine


class InvoiceLifecycle:
    """The `Lifecycle` of standard invoices."""

    def machine(self, invoice: Invoice) -> InvoiceMachine:
        """The invoice machine."""
        return INVOICE_MACHINE

    def status(self, invoice: Invoice) -> InvoiceStatus:
        """The invoice's status; `InvalidInputError` for a gathering invoice (it has none)."""
        if invoice.status is None:
            raise InvalidInputError(f"invoice {invoice.id!r} is a gathering invoice")
        return invoice.status

    def perform(
        self,
        op: Operation,
        invoice: Invoice,
        trigger: InvoiceTrigger,
        action: InvoiceAction,
        argument: TriggerArgument | None,
    ) -> Sequence[InvoiceEffect]:
        """Run an invoice action (`engines.invoice_actions`); invoices produce no effects."""
        INVOICE_ACTIONS[action](op, invoice)
        return ()

    def audit(self, invoice: Invoice, argument: TriggerArgument | None) -> dict[str, str]:
        """The argument's fields as text (invoice triggers take none)."""
        return argument.audit() if argument is not None else {}

    def moved(
        self,
        op: Operation,
        invoice: Invoice,
        transition: tuple[InvoiceStatus, InvoiceTrigger, InvoiceStatus],
        audit: Mapping[str, str],
    ) -> None:
        """Store the new status with the invoice header, and audit the move."""
        invoice.status = transition[2]
        op.uow.invoices.save(invoice)
        op.uow.history.record_invoice(
            op.transition_record(InvoiceTransition, invoice.id, transition, audit)
        )


INVOICES = InvoiceLifecycle()
"""The one invoice lifecycle the driver is handed."""
