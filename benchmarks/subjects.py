"""What is measured, behind one interface: chargeflow and its floors doing the same work.

A subject owns a fresh database set up through the API (`benchmarks.scenarios`), and runs the
reference lifecycle's operations (``create``, then the three sweeps) or the invoicing ones
(``invoice``, ``collect``) by name. Each operation checks that it did all of its work (every
charge advanced), so a figure is never the time of doing less.

Before invoicing is measured, every implementation first invoices and collects a one-line
invoice of another customer (not measured), so that no figure includes a cold connection's or
a cold statement cache's first use, which would dwarf a one-line invoice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from benchmarks.databases import fresh_database
from benchmarks.floors import BillingFloor, ChargeFloor, Shape
from benchmarks.raw import Raw, connect
from benchmarks.rows import Facts
from benchmarks.scenarios import (
    World,
    collect,
    create_charges,
    invoice,
    open_world,
    require_advanced,
    sweep,
)
from benchmarks.settings import (
    COLLECT_AT,
    CREDIT_ONLY_PRICE,
    IDLE_AT,
    INVOICE_AT,
    INVOICED_PRICE,
    PERIOD,
    SETUP_AT,
    SWEEPS,
    instant,
)

CHARGEFLOW = "chargeflow"
PER_CHARGE = "floor: tx/charge"
SAME_SHAPE = "floor: same shape"
BATCHED = "floor: batched"
SHAPE_OF: dict[str, Shape] = {
    PER_CHARGE: "per_charge",
    SAME_SHAPE: "same_shape",
    BATCHED: "batched",
}
"""Each floor's `benchmarks.floors.Shape`."""
LIFECYCLE_IMPLEMENTATIONS = (CHARGEFLOW, PER_CHARGE, SAME_SHAPE, BATCHED)
BILLING_IMPLEMENTATIONS = (CHARGEFLOW, SAME_SHAPE, BATCHED)
"""Invoicing and collection are one transaction each, whatever the shape: a transaction per
charge has no meaning there."""
LEGEND = (
    "floors: tx/charge = a transaction per charge, a statement per row; same shape = "
    "chargeflow's transactions and savepoints, a statement per row; batched = a transaction "
    "per 500 charges (per invoice), executemany"
)

LIFECYCLE = ("create", *(label for label, _ in SWEEPS))
"""The reference lifecycle's operations, in order."""
BILLING = ("invoice", "collect")
"""The invoicing benchmark's operations, in order."""
IDLE = "idle sweep"
"""After collection: a due sweep while every charge waits for the invoice's approval (nothing
can move; ideally nothing is visited)."""
_SWEEP_AT = dict(SWEEPS)


@dataclass
class Subject:
    """One implementation on its own database, sized for `count` charges (or lines) of
    `customer_id`: chargeflow through `world`, or a floor through `raw`."""

    implementation: str
    url: str
    facts: Facts
    count: int
    batch: int
    customer_id: str
    world: World | None = None
    raw: Raw | None = None
    invoice_id: str = ""

    def run(self, operation: str) -> None:
        """Do `operation` over every charge (or line)."""
        if self.world is not None:
            self._chargeflow(self.world, operation)
        elif self.raw is not None:
            self._floor(self.raw, operation)

    def warm_up(self, customer_id: str) -> None:
        """Invoice and collect `customer_id`'s lines, unmeasured."""
        measured, self.customer_id = self.customer_id, customer_id
        try:
            for operation in BILLING:
                self.run(operation)
        finally:
            self.customer_id, self.invoice_id = measured, ""

    def _chargeflow(self, world: World, operation: str) -> None:
        if operation == "create":
            create_charges(world, self.count, per_call=self.batch)
        elif operation == "invoice":
            self.invoice_id = invoice(world, self.customer_id)
        elif operation == "collect":
            collect(world, self.invoice_id)
        elif operation == IDLE:
            require_advanced(sweep(world, IDLE_AT, self.batch), 0, f"chargeflow {IDLE}")
        else:
            report = sweep(world, _SWEEP_AT[operation], self.batch)
            require_advanced(report, self.count, f"chargeflow {operation}")

    def _floor(self, raw: Raw, operation: str) -> None:
        shape = SHAPE_OF[self.implementation]
        if operation == "invoice":
            billing = BillingFloor(raw, self.facts, shape=shape)
            self.invoice_id = billing.invoice(self.customer_id, instant(INVOICE_AT))
        elif operation == "collect":
            BillingFloor(raw, self.facts, shape=shape).collect(self.invoice_id, instant(COLLECT_AT))
        elif operation == "create":
            period = (instant(PERIOD[0]), instant(PERIOD[1]))
            ChargeFloor(raw, self.facts, shape=shape, batch=self.batch).create(
                self.count, period=period, price=CREDIT_ONLY_PRICE, now=instant(SETUP_AT)
            )
        else:
            floor = ChargeFloor(raw, self.facts, shape=shape, batch=self.batch)
            moved = floor.sweep(instant(IDLE_AT if operation == IDLE else _SWEEP_AT[operation]))
            if moved != (0 if operation == IDLE else self.count):
                raise RuntimeError(f"{self.implementation} {operation}: moved {moved}")


@contextmanager
def lifecycle_subject(
    implementation: str, backend: str, count: int, batch: int
) -> Iterator[Subject]:
    """`implementation` on a fresh database with one customer, ready to create `count`
    credit_only charges."""
    with fresh_database(backend) as url:
        world = open_world(url)
        measured = world.facts.customers[0].id
        with _opened(Subject(implementation, url, world.facts, count, batch, measured), world) as s:
            yield s


@contextmanager
def billing_subject(implementation: str, backend: str, lines: int, batch: int) -> Iterator[Subject]:
    """`implementation` on a fresh database where one customer has `lines` credit_then_invoice
    charges, activated (created and swept through the API), each with its gathering line;
    warmed up on another customer's one-line invoice."""
    with fresh_database(backend) as url:
        world = open_world(url, customers=2)
        measured, spare = world.facts.customers
        for customer, count in ((measured, lines), (spare, 1)):
            create_charges(
                world,
                count,
                mode="credit_then_invoice",
                price=INVOICED_PRICE,
                customers=[customer],
            )
        require_advanced(sweep(world, SWEEPS[0][1], batch), lines + 1, "activating the lines")
        subject = Subject(implementation, url, world.facts, lines, batch, measured.id)
        with _opened(subject, world) as opened:
            opened.warm_up(spare.id)
            yield opened


@contextmanager
def _opened(subject: Subject, world: World) -> Iterator[Subject]:
    """`subject` with chargeflow's world, or (the world closed) a floor's connection."""
    if subject.implementation == CHARGEFLOW:
        subject.world = world
        try:
            yield subject
        finally:
            world.close()
        return
    world.close()
    subject.raw = connect(subject.url)
    try:
        yield subject
    finally:
        subject.raw.close()
