"""Progressive billing (docs/lifecycle.md sections 5, 7 and 8): billable as of, splitting a
gathering line, partial runs, undoing a split, the ledger's period, and the live preview, on
both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from chargeflow import App, FrozenClock, NoLinesToInvoiceError, NotFoundError, open_app
from chargeflow.domain.charge import UsageBasedCharge
from chargeflow.domain.periods import Period
from chargeflow.domain.runs import RealizationRun, RunType
from chargeflow.domain.statuses import ChargeStatus
from chargeflow.domain.timestamps import to_instant
from chargeflow.engines.ledger import DatabaseLedger
from chargeflow.persistence.sql import SqlDatabase
from tests.conftest import Snapshot
from tests.factories import CTI, FEATURE, charge, legacy_usage

S = ChargeStatus
MID = "2026-01-16T00:00:00Z"


def at(text: str) -> datetime:
    return to_instant(text)


def period(line: Any) -> tuple[datetime, datetime]:
    return (line.service_period.start, line.service_period.end)


def progressive(app: App, **profile: Any) -> str:
    """A customer billed progressively (and the feature); its id."""
    who = app.customers.create(
        name="Acme", currency="USD", collection_interval="P2D", progressive_billing=True, **profile
    )
    app.features.create(key=FEATURE)
    return who.id


def on_other_feature(app: App, customer_id: str, value: int) -> UsageBasedCharge:
    """A credit_then_invoice charge over January (unit 0.10) of the feature ``other``, with
    `value` used on 01-10: it meters none of the main feature's usage."""
    app.features.create(key="other")
    made = app.charges.create(
        customer_id=customer_id,
        feature_key="other",
        service_period=("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        settlement_mode="credit_then_invoice",
        price={"type": "unit", "amount": "0.10"},
    )
    app.usage.record(customer_id, "other", value=value, event_time="2026-01-10T00:00:00Z")
    return made


def used(app: App, customer_id: str, value: int = 10) -> UsageBasedCharge:
    """A credit_then_invoice charge over January (unit 0.10) with `value` used on 01-10."""
    made = charge(app, customer_id, CTI)
    app.usage.record(customer_id, FEATURE, value=value, event_time="2026-01-10T00:00:00Z")
    return made


def test_without_progressive_billing_nothing_is_billed_before_the_period_ends(
    app: App, clock: FrozenClock
) -> None:
    who = app.customers.create(name="Acme", currency="USD", collection_interval="P2D")
    app.features.create(key=FEATURE)
    used(app, who.id)
    clock.set(MID)
    with pytest.raises(NoLinesToInvoiceError, match="not billable before 2026-02-01T00:00:00Z"):
        app.billing.invoice_pending_lines(who.id)
    app.customers.update(who.id, progressive_billing=True)
    [invoice] = app.billing.invoice_pending_lines(who.id)
    assert period(invoice.lines[0]) == (at("2026-01-01T00:00:00Z"), at(MID))


def test_a_charge_with_a_current_run_stays_gathering_and_blocks_no_other_line(
    app: App, clock: FrozenClock
) -> None:
    who = progressive(app)
    busy = used(app, who)
    clock.set("2026-01-11T00:00:00Z")
    app.billing.invoice_pending_lines(who)  # busy's partial run is current until issued
    other = charge(app, who, CTI)
    clock.set(MID)
    result = app.billing.invoice_pending_lines(who)
    [line] = result.invoices[0].lines
    assert (line.charge_id, period(line)) == (other.id, (at("2026-01-01T00:00:00Z"), at(MID)))
    [left] = result.unbilled
    assert (left.charge_id, left.reason) == (busy.id, "an active realization run already exists")


def test_a_line_whose_charge_refuses_is_merged_back_whole_and_reported(
    app: App, clock: FrozenClock, database: SqlDatabase, snapshot: Snapshot
) -> None:
    who = progressive(app)
    refusing = charge(app, who, CTI)  # unit 0.10: a negative meter rates below zero
    fine = on_other_feature(app, who, 3)
    legacy_usage(database, who, "-50", "2026-01-05T00:00:00Z")
    clock.set(MID)
    result = app.billing.invoice_pending_lines(who)
    [line] = result.invoices[0].lines
    assert (line.charge_id, period(line)) == (fine.id, (at("2026-01-01T00:00:00Z"), at(MID)))
    [left] = result.unbilled
    assert left.charge_id == refusing.id
    assert left.reason.startswith("NegativeTotalError")
    gathering = {line.charge_id: line for line in app.billing.pending_lines(who)}
    assert period(gathering[refusing.id]) == (
        at("2026-01-01T00:00:00Z"),
        at("2026-02-01T00:00:00Z"),
    )
    assert period(gathering[fine.id]) == (at(MID), at("2026-02-01T00:00:00Z"))
    assert app.charges.get(refusing.id).runs == []

    clock.set("2026-01-17T00:00:00Z")  # only the refusing line is left to bill: all rolled back
    before = snapshot()
    with pytest.raises(NoLinesToInvoiceError, match="NegativeTotalError"):
        app.billing.invoice_pending_lines(who)
    assert snapshot() == before


class _Recording(DatabaseLedger):
    """The database ledger, remembering the period of each accrual it is asked for."""

    periods: ClassVar[list[Period]] = []

    def invoice_usage_accrued(
        self,
        charge: UsageBasedCharge,
        run: RealizationRun,
        amount: Decimal,
        service_period: Period,
        booked_at: datetime,
    ) -> str:
        self.periods.append(service_period)
        return super().invoice_usage_accrued(charge, run, amount, service_period, booked_at)


@pytest.fixture
def recording_app(database_url: str, clock: FrozenClock) -> Iterator[App]:
    _Recording.periods = []
    application = open_app(database_url, clock=clock, migrate=False, ledger=_Recording)
    yield application
    application.close()


def test_each_run_accrues_its_own_lines_period_on_the_ledger(
    recording_app: App, clock: FrozenClock
) -> None:
    app = recording_app
    who = progressive(app, auto_approve=True)
    made = used(app, who)
    for instant, usage in ((MID, 5), ("2026-02-01T00:00:00Z", 3)):
        clock.set(instant)
        app.usage.record(who, FEATURE, value=usage, event_time="2026-01-12T00:00:00Z")
        [invoice] = app.billing.invoice_pending_lines(who)
        assert invoice.collection_at is not None
        clock.set(invoice.collection_at)
        app.billing.advance_invoice(invoice.id)
    runs = app.charges.get(made.id).runs
    assert [run.type for run in runs] == [RunType.PARTIAL_INVOICE, RunType.FINAL_REALIZATION]
    assert [(p.start, p.end) for p in _Recording.periods] == [
        (at("2026-01-01T00:00:00Z"), at(MID)),
        (at(MID), at("2026-02-01T00:00:00Z")),
    ]
    assert [run.invoice_usage.booked_at for run in runs if run.invoice_usage] == [
        at(MID),
        at("2026-02-01T00:00:00Z"),
    ]


def test_the_preview_rates_every_gathering_line_live_and_writes_nothing(
    app: App, clock: FrozenClock, database: SqlDatabase, snapshot: Snapshot
) -> None:
    who = app.customers.create(name="Acme", currency="USD", collection_interval="P2D")
    app.features.create(key=FEATURE)
    made = on_other_feature(app, who.id, 5)
    refusing = charge(app, who.id, CTI)
    app.billing.add_line(
        who.id,
        engine="invoicing",
        name="Support",
        price={"type": "unit", "amount": "45.50"},
        quantity=2,
        service_period=("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
    )
    legacy_usage(database, who.id, "-20", "2026-01-05T00:00:00Z")
    clock.set(MID)
    before = snapshot()
    preview = app.billing.preview(who.id)
    assert snapshot() == before
    assert preview.as_of == at(MID)
    by_charge = {line.charge_id: line for line in preview.lines}
    # without progressive billing the whole line is rated, with a final run's cutoffs
    usage = by_charge[made.id]
    assert period(usage) == (at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z"))
    assert (usage.metered_quantity, usage.quantity, usage.totals.total) == (
        Decimal(5),
        Decimal(5),
        Decimal("0.50"),
    )
    assert by_charge[None].totals.total == Decimal("91.00")
    [unrated] = preview.unrated
    assert unrated.charge_id == refusing.id
    assert preview.totals.total == Decimal("91.50")
    assert app.charges.get(made.id).runs == []
    with pytest.raises(NotFoundError):
        app.billing.preview("no-such-customer")
