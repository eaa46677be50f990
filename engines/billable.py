"""Which part of a usage-based gathering line is billable as of an instant, and splitting the
line there (docs/lifecycle.md section 8, "Billable as of" and progressive billing).

Without progressive billing a usage line is billed whole, once its service period has ended
and its `invoice_at` has come. With it, the part of the period before `as_of` is billable as
soon as `as_of` is past the period's start: invoicing splits the line at `as_of`, bills
``[start, as_of)`` and leaves ``[as_of, end)`` gathering. A tiered volume price is billed
whole even then: its rating of a larger quantity can be lower, so a later run could owe less
than nothing.
"""

from __future__ import annotations

from datetime import datetime

from chargeflow.domain.customer import Customer
from chargeflow.domain.ids import new_id
from chargeflow.domain.invoices import InvoiceLine
from chargeflow.domain.periods import Period
from chargeflow.domain.prices import TieredVolumePrice
from chargeflow.domain.timestamps import format_instant


def billed_in_parts(customer: Customer, line: InvoiceLine) -> bool:
    """Whether `line` may be billed a part at a time: the customer bills progressively and
    the line's price is not a tiered volume price."""
    return customer.progressive_billing and not isinstance(line.price, TieredVolumePrice)


def billable_end(customer: Customer, line: InvoiceLine, as_of: datetime) -> datetime | str:
    """The end of the part of `line` billable at `as_of` (``[start, end)`` is billed), or why
    no part is."""
    period = line.service_period
    if billed_in_parts(customer, line):
        if as_of <= period.start:
            return f"nothing of its period is billable before {format_instant(period.start)}"
        return min(as_of, period.end)
    whole_from = max(period.end, line.invoice_at)
    if as_of < whole_from:
        return f"not billable before {format_instant(whole_from)}"
    return period.end


def preview_end(customer: Customer, line: InvoiceLine, as_of: datetime) -> datetime:
    """The end of the part of `line` a preview at `as_of` rates, billable now or not: the
    whole line, or with progressive billing the part before `as_of` (empty before the start)."""
    period = line.service_period
    if billed_in_parts(customer, line):
        return min(max(as_of, period.start), period.end)
    return period.end


def billed_part(line: InvoiceLine, end: datetime, now: datetime) -> InvoiceLine:
    """The part ``[start, end)`` of `line` split off it to be billed (`end` inside its period):
    a new line, invoiced at `end`."""
    return line.model_copy(
        update={
            "id": new_id(),
            "service_period": Period(start=line.service_period.start, end=end),
            "invoice_at": end,
            "created_at": now,
        }
    )


def rest_of(line: InvoiceLine, end: datetime) -> InvoiceLine:
    """What stays gathering of `line` once ``[start, end)`` is split off: ``[end, to)``, with
    the line's id."""
    return line.model_copy(
        update={"service_period": Period(start=end, end=line.service_period.end)}
    )
