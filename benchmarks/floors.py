"""The raw floors: the rows chargeflow writes for a piece of work, written straight through the
DB-API (`benchmarks.raw`) against the same schema, in three transaction shapes (`Shape`).

- ``per_charge`` (**tx per charge**, the issue's "same transactions"): every charge gets its
  own transaction per operation, one statement per row: a create inserts one charge (as
  `create` does; chargeflow's lifecycle creates with `create_many`, `batch` at a time); a sweep
  reads a page of due keys in one transaction, then visits each charge in its own (its row read,
  and locked on PostgreSQL, then its writes). Invoicing and collection are one transaction.
- ``same_shape`` (**chargeflow's shape**, as of the batched sweeps): one statement per row, with
  the transactions and savepoints chargeflow uses: a create is a transaction per `batch`
  charges (`create_many`; without unique references it takes no savepoint); a sweep claims a
  page of due charges per transaction (locked, ``SKIP LOCKED`` on PostgreSQL) and visits each
  inside its own savepoint; invoicing is one transaction with a savepoint per line; collection
  one transaction.
- ``batched``: one transaction per page of `batch` charges, read and locked with the columns the
  visits need, usage read once per distinct (customer, feature, period), every statement sent
  once with ``executemany`` (psycopg pipelines it); a create inserts `batch` charges per
  transaction; invoicing and collection are one transaction, with ``executemany``.

What a floor writes is the *net* rows chargeflow leaves for the same work, each row once in
its final form: the charge's state columns in one UPDATE per visit (however many transitions
it took), the run inserted once with its final values, one detailed line and one allocation per
run, every audit row. `benchmarks.statements` compares the floors' net rows with chargeflow's on
every run and prints any difference.

What a floor reads: the work list (the due page, the customer's gathering lines, the invoice's
lines), the rows it locks (charges; the invoice), and the metered usage wherever chargeflow
rates (realization, finalization, invoicing, collection).

Limits (what makes it a floor and not a billing engine): it never reads the customer, the
feature, the grants or the credit balance (the values are known from the set-up, `Facts`;
every run is assumed fully covered by the customer's one grant); it handles only what the
benchmarks do (credit_only charges from `created` to `final`, credit_then_invoice lines
invoiced and collected, unit prices, one detailed line per run, a two-decimal currency, a
customer without auto-approval); re-rating at finalization or collection writes the rated
values back without correcting allocations (the usage never changes in the benchmarks); it
checks no guard beyond the due times, takes no customer or credit lock, and keeps no
unique-reference check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from benchmarks import rows
from benchmarks.raw import Params, Raw
from benchmarks.rows import Facts, Rating, Record
from chargeflow import ChargeStatus, InvoiceStatus, LineStatus

S = ChargeStatus
I = InvoiceStatus  # noqa: E741 -- the invoice statuses, as S is the charge statuses

CHARGES = "charge_usage_based"
RUNS = "charge_usage_based_runs"
DETAILED_LINES = "charge_usage_based_run_detailed_lines"
ALLOCATIONS = "charge_usage_based_run_credit_allocations"
TRANSITIONS = "charge_transitions"
INVOICES = "billing_invoices"
LINES = "billing_invoice_lines"

Shape = Literal["per_charge", "same_shape", "batched"]


@cache
def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)``."""
    names = ", ".join(f'"{column}"' for column in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'


@cache
def update_sql(table: str, columns: tuple[str, ...]) -> str:
    """``UPDATE table SET column = ?, ... WHERE id = ?`` (the last column is the id)."""
    assignments = ", ".join(f'"{column}" = ?' for column in columns[:-1])
    return f'UPDATE "{table}" SET {assignments} WHERE "{columns[-1]}" = ?'


class Writes:
    """Rows waiting to be written, grouped by statement in first-seen order (parents are
    always added before their children, so this order keeps foreign keys satisfied)."""

    def __init__(self, raw: Raw) -> None:
        self._raw = raw
        self._pending: dict[str, list[tuple[object, ...]]] = {}

    def insert(self, table: str, record: Record) -> None:
        """Insert `record` into `table`."""
        sql = insert_sql(table, tuple(record))
        self._pending.setdefault(sql, []).append(self._raw.values(record.values()))

    def update(self, table: str, record: Record) -> None:
        """Update the row of `table` whose id is `record`'s last value."""
        sql = update_sql(table, tuple(record))
        self._pending.setdefault(sql, []).append(self._raw.values(record.values()))

    def extend(self, other: Writes) -> None:
        """Take on `other`'s pending rows, after this one's."""
        for sql, params in other._pending.items():
            self._pending.setdefault(sql, []).extend(params)

    def flush(self, *, batched: bool) -> None:
        """Send every pending row: ``executemany`` per statement, or one ``execute`` per row."""
        for sql, params in self._pending.items():
            if batched:
                self._raw.executemany(sql, params)
            else:
                for row in params:
                    self._raw.execute(sql, row)
        self._pending.clear()


def in_savepoint(raw: Raw, writes: Writes) -> None:
    """Send `writes` row by row inside a savepoint (released: nothing failed)."""
    raw.execute("SAVEPOINT floor")
    writes.flush(batched=False)
    raw.execute("RELEASE SAVEPOINT floor")


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """`items` `size` at a time."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def in_list(count: int) -> str:
    """``(?, ?, ...)`` for `count` values."""
    return f"({', '.join('?' * count)})"


class Usage:
    """Reads metered usage the way chargeflow rates it (events in the period, stored before
    the cutoff), summed in SQL on PostgreSQL and in Python on SQLite (decimals are text there);
    with `remember`, each distinct query is sent once."""

    def __init__(self, raw: Raw, *, remember: bool) -> None:
        self._raw = raw
        self._remember = remember
        self._seen: dict[Params, Decimal] = {}
        summed = "sum(value)" if raw.backend == "postgresql" else "value"
        self._sql = (
            f"SELECT {summed} FROM usage_events WHERE customer_id = ? AND feature_id = ?"
            " AND event_time >= ? AND event_time < ? AND stored_at < ?"
        )

    def quantity(
        self, customer_id: str, feature_id: str, start: datetime, end: datetime, cutoff: datetime
    ) -> Decimal:
        """The usage of `feature_id` by `customer_id` in [start, end) stored before `cutoff`."""
        params = (customer_id, feature_id, *self._raw.values((start, end, cutoff)))
        if self._remember and params in self._seen:
            return self._seen[params]
        found = sum(
            (self._raw.decimal(value) for (value,) in self._raw.query(self._sql, params)),
            Decimal(0),
        )
        if self._remember:
            self._seen[params] = found
        return found


class Balances:
    """Grants' running ``remaining`` amounts, when the schema has them (chargeflow keeps them
    since its credit-balances migration): each grant read once per transaction, drawn down in
    Python (decimals are text on SQLite), and written back by `write`."""

    def __init__(self, raw: Raw) -> None:
        self._raw = raw
        self.kept = "remaining" in raw.columns("credit_grants")
        self._remaining: dict[str, Decimal] = {}
        self._moved: set[str] = set()

    def draw(self, grant_id: str, amount: Decimal) -> None:
        """Allocate `amount` of `grant_id`."""
        if not self.kept:
            return
        if grant_id not in self._remaining:
            [(stored,)] = self._raw.query(
                "SELECT remaining FROM credit_grants WHERE id = ?", (grant_id,)
            )
            self._remaining[grant_id] = self._raw.decimal(stored)
        self._remaining[grant_id] -= amount
        self._moved.add(grant_id)

    def write(self, writes: Writes) -> None:
        """Add the grants drawn on since the last write to `writes`."""
        for grant_id in sorted(self._moved):
            writes.update("credit_grants", {"remaining": self._remaining[grant_id], "id": grant_id})
        self._moved.clear()


_CHARGE_COLUMNS = (
    "id, status, customer_id, feature_id, service_period_from, service_period_to, price,"
    " current_realization_run_id"
)
_DUE = "advance_after IS NOT NULL AND advance_after <= ?"
_KEY_ORDER = " ORDER BY advance_after, id LIMIT ?"


class ChargeFloor:
    """Creates credit_only charges and sweeps them to `final`, in one `Shape`."""

    def __init__(self, raw: Raw, facts: Facts, *, shape: Shape, batch: int = 500) -> None:
        self.raw = raw
        self.facts = facts
        self.shape = shape
        self.batch = batch

    def create(
        self, count: int, *, period: tuple[datetime, datetime], price: str, now: datetime
    ) -> list[str]:
        """Insert `count` charges in `created`, over the customers in turn; their ids."""
        customers = self.facts.customers
        records = [
            rows.charge(
                self.facts,
                customers[i % len(customers)].id,
                period,
                mode="credit_only",
                price=price,
                now=now,
            )
            for i in range(count)
        ]
        batched = self.shape == "batched"
        writes = Writes(self.raw)
        for chunk in chunks(records, 1 if self.shape == "per_charge" else self.batch):
            self.raw.begin()
            for record in chunk:
                writes.insert(CHARGES, record)
            writes.flush(batched=batched)
            self.raw.commit()
        return [str(record["id"]) for record in records]

    def sweep(self, now: datetime) -> int:
        """Advance every charge due at `now` as far as it goes; how many moved."""
        if self.shape == "per_charge":
            return self._sweep_per_charge(now)
        return self._sweep_claiming(now)

    def _page(self, columns: str, now: datetime, after: Params | None, lock: str) -> list[Any]:
        where, params = _DUE, [self.raw.value(now)]
        if after is not None:
            where += " AND (advance_after, id) > (?, ?)"
            params.extend(after)
        sql = f"SELECT {columns} FROM {CHARGES} WHERE {where}{_KEY_ORDER}{lock}"
        return self.raw.query(sql, [*params, self.batch])

    def _sweep_per_charge(self, now: datetime) -> int:
        moved, after = 0, None
        read = f"SELECT {_CHARGE_COLUMNS} FROM {CHARGES} WHERE id = ?{self.raw.lock}"
        while True:
            self.raw.begin()
            keys = self._page("advance_after, id", now, after, "")
            self.raw.commit()
            for _, charge_id in keys:
                self.raw.begin()
                writes, usage = Writes(self.raw), Usage(self.raw, remember=False)
                balances = Balances(self.raw)
                [charge] = self.raw.query(read, (charge_id,))
                moved += self._advance(charge, now, writes, (usage, balances))
                balances.write(writes)
                writes.flush(batched=False)
                self.raw.commit()
            if len(keys) < self.batch:
                return moved
            after = tuple(keys[-1])

    def _sweep_claiming(self, now: datetime) -> int:
        """A page claimed per transaction: visits in savepoints (`same_shape`), or all of the
        page's writes sent with ``executemany`` (`batched`)."""
        moved, after = 0, None
        batched = self.shape == "batched"
        while True:
            self.raw.begin()
            page = self._page(f"advance_after, {_CHARGE_COLUMNS}", now, after, self.raw.claim)
            writes, usage = Writes(self.raw), Usage(self.raw, remember=batched)
            balances = Balances(self.raw)
            for charge in page:
                if not batched:
                    self.raw.execute("SAVEPOINT floor")
                moved += self._advance(charge[1:], now, writes, (usage, balances))
                if not batched:
                    balances.write(writes)
                    writes.flush(batched=False)
                    self.raw.execute("RELEASE SAVEPOINT floor")
            balances.write(writes)
            writes.flush(batched=True)
            self.raw.commit()
            if len(page) < self.batch:
                return moved
            after = (page[-1][0], page[-1][1])

    def _advance(
        self, charge: Sequence[Any], now: datetime, writes: Writes, reads: tuple[Usage, Balances]
    ) -> bool:
        """Plan one charge's visit into `writes`: as many steps as `now` allows, each row
        written once in its final form (the grants drawn on are left in `reads`' balances)."""
        usage, balances = reads
        charge_id, status_text, customer_id, feature_id, start, end, price, run_id = charge
        status, start, end = S(status_text), self.raw.instant(start), self.raw.instant(end)
        unit = Decimal(json.loads(price)["amount"])
        audit: list[Record] = []
        advance_after: datetime | None = None
        realized: list[tuple[str, Record]] = []

        def step(source: ChargeStatus, dest: ChargeStatus) -> ChargeStatus:
            audit.append(rows.charge_transition(charge_id, source, dest, now))
            return dest

        def rated() -> Rating:
            cutoff = rows.collection_end(end)
            return Rating(usage.quantity(customer_id, feature_id, start, end, cutoff), unit)

        if status is S.CREATED and now >= start:
            status = step(S.CREATED, S.ACTIVE)
            feature_id, advance_after = self.facts.feature_id, end
        if status is S.ACTIVE and now >= end:
            rating = rated()
            new_run = rows.run(charge_id, feature_id, end, rating, now=now, no_fiat=False)
            run_id = str(new_run["id"])
            grant = self.facts.grant_of(customer_id)
            balances.draw(grant, rating.amount)
            realized = [
                (RUNS, new_run),
                (DETAILED_LINES, rows.detailed_line(run_id, rating)),
                (
                    ALLOCATIONS,
                    rows.allocation(
                        run_id, charge_id, grant, rating.amount, booked_at=end, now=now
                    ),
                ),
            ]
            step(S.ACTIVE, S.REALIZATION_STARTED)
            status = step(S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION)
            advance_after = rows.collected_at(end)
        if status is S.REALIZATION_WAITING_FOR_COLLECTION and now >= rows.collected_at(end):
            rerated = rows.rated_run(run_id, rated(), no_fiat=True)
            if realized:  # realized in this same visit: insert the run as it ends up
                realized[0][1].update(rerated)
            else:
                writes.update(RUNS, rerated)
            step(S.REALIZATION_WAITING_FOR_COLLECTION, S.REALIZATION_PROCESSING)
            step(S.REALIZATION_PROCESSING, S.REALIZATION_COMPLETED)
            status = step(S.REALIZATION_COMPLETED, S.FINAL)
            advance_after, run_id = None, None
        if not audit:
            return False
        for table, record in realized:
            writes.insert(table, record)
        state = rows.charge_state(
            charge_id, status, advance_after=advance_after, run_id=run_id, feature_id=feature_id
        )
        writes.update(CHARGES, state)
        for record in audit:
            writes.insert(TRANSITIONS, record)
        return True


class BillingFloor:
    """Invoices a customer's gathering usage-based lines and collects the invoice, each in one
    transaction: one statement per row (in a savepoint per line when invoicing in
    ``same_shape``), or ``executemany`` when ``batched``."""

    def __init__(self, raw: Raw, facts: Facts, *, shape: Shape) -> None:
        self.raw = raw
        self.facts = facts
        self.shape = shape
        self.batched = shape == "batched"

    def _lock_charges(self, charge_ids: Sequence[str], columns: str) -> dict[str, Sequence[Any]]:
        sql = (
            f"SELECT id, {columns} FROM {CHARGES} WHERE id IN {in_list(len(charge_ids))}"
            f" ORDER BY id{self.raw.lock}"
        )
        return {row[0]: row[1:] for row in self.raw.query(sql, charge_ids)}

    def _rating(
        self, usage: Usage, customer_id: str, feature_id: str, line: Sequence[Any]
    ) -> tuple[datetime, datetime, Rating]:
        """A line's period and its rating ((start, end, price) are the line's last columns)."""
        start, end = self.raw.instant(line[-3]), self.raw.instant(line[-2])
        cutoff = rows.collection_end(end)
        quantity = usage.quantity(customer_id, feature_id, start, end, cutoff)
        return start, end, Rating(quantity, Decimal(json.loads(line[-1])["amount"]))

    def invoice(self, customer_id: str, now: datetime) -> str:
        """Move the customer's gathering lines due by `now` onto a new standard invoice, with a
        run, detailed line, allocation and two audit rows per line; the invoice id."""
        self.raw.begin()
        grant = self.facts.grant_of(customer_id)
        lines = self.raw.query(
            "SELECT id, charge_id, service_period_from, service_period_to, price"
            f" FROM {LINES} WHERE customer_id = ? AND status = ? AND deleted_at IS NULL"
            " AND invoice_at <= ? ORDER BY id",
            (customer_id, LineStatus.GATHERING.value, self.raw.value(now)),
        )
        charges = self._lock_charges([line[1] for line in lines], "feature_id")
        usage = Usage(self.raw, remember=self.batched)
        balances = Balances(self.raw)
        invoice_id = rows.new_id()
        per_line: list[Writes] = []
        amount = credits = Decimal(0)
        collection_at = now
        for line in lines:
            line_id, charge_id = line[0], line[1]
            [feature_id] = charges[charge_id]
            start, end, rating = self._rating(usage, customer_id, feature_id, line)
            ids = (line_id, charge_id, feature_id, invoice_id, grant)
            per_line.append(self._invoiced(ids, end, rating, now))
            balances.draw(grant, rating.amount)
            if not self.batched:  # each line's savepoint writes the grant, as chargeflow does
                balances.write(per_line[-1])
            per_line[-1].insert(
                TRANSITIONS,
                rows.charge_transition(
                    charge_id,
                    S.ACTIVE,
                    S.REALIZATION_STARTED,
                    now,
                    trigger="invoice_created",
                    arguments=rows.invoice_created_arguments(line_id, invoice_id, (start, end)),
                ),
            )
            per_line[-1].insert(
                TRANSITIONS,
                rows.charge_transition(
                    charge_id, S.REALIZATION_STARTED, S.REALIZATION_WAITING_FOR_COLLECTION, now
                ),
            )
            amount, credits = amount + rating.amount, credits + rating.amount
            collection_at = max(collection_at, rows.collected_at(end))
        invoice = Writes(self.raw)
        invoice.insert(
            INVOICES,
            rows.standard_invoice(
                invoice_id,
                customer_id,
                self.facts.currency,
                (amount, credits, amount - credits),
                collection_at=collection_at,
                now=now,
            ),
        )
        invoice.flush(batched=False)
        if self.batched:
            per_line.append(Writes(self.raw))
            balances.write(per_line[-1])
        self._write(per_line)
        self.raw.commit()
        return invoice_id

    def _invoiced(
        self,
        ids: tuple[str, str, str, str, str],
        end: datetime,
        rating: Rating,
        now: datetime,
    ) -> Writes:
        """One line's rows but its audit: the line moved, its run, detailed line, allocation,
        and the charge's new state; `ids` are the line's, charge's, feature's, invoice's and
        grant's."""
        line_id, charge_id, feature_id, invoice_id, grant = ids
        run = rows.run(
            charge_id,
            feature_id,
            end,
            rating,
            now=now,
            no_fiat=False,
            line_id=line_id,
            invoice_id=invoice_id,
        )
        run_id = str(run["id"])
        credit = rows.allocation(run_id, charge_id, grant, rating.amount, booked_at=end, now=now)
        writes = Writes(self.raw)
        writes.update(
            LINES, rows.invoiced_line(line_id, invoice_id, rating, str(credit["id"]), end)
        )
        writes.insert(RUNS, run)
        writes.insert(DETAILED_LINES, rows.detailed_line(run_id, rating))
        writes.insert(ALLOCATIONS, credit)
        state = rows.charge_state(
            charge_id,
            S.REALIZATION_WAITING_FOR_COLLECTION,
            advance_after=rows.collected_at(end),
            run_id=run_id,
            feature_id=feature_id,
        )
        writes.update(CHARGES, state)
        return writes

    def _write(self, per_line: list[Writes]) -> None:
        """Each line's writes: in a savepoint each (``same_shape``), else all together."""
        if self.shape == "same_shape":
            for writes in per_line:
                in_savepoint(self.raw, writes)
            return
        together = Writes(self.raw)
        for writes in per_line:
            together.extend(writes)
        together.flush(batched=self.batched)

    def collect(self, invoice_id: str, now: datetime) -> int:
        """Complete the invoice's collection: re-rate each line's run, move each charge to
        `processing`, and the invoice to manual approval, with the audit rows; its lines."""
        self.raw.begin()
        [(customer_id,)] = self.raw.query(
            f"SELECT customer_id FROM {INVOICES} WHERE id = ?{self.raw.lock}", (invoice_id,)
        )
        lines = self.raw.query(
            "SELECT charge_id, service_period_from, service_period_to, price"
            f" FROM {LINES} WHERE invoice_id = ? AND deleted_at IS NULL ORDER BY id",
            (invoice_id,),
        )
        charges = self._lock_charges(
            [line[0] for line in lines], "feature_id, current_realization_run_id"
        )
        usage = Usage(self.raw, remember=self.batched)
        writes = Writes(self.raw)
        audit: list[Record] = []
        for line in lines:
            charge_id = line[0]
            feature_id, run_id = charges[charge_id]
            _, end, rating = self._rating(usage, customer_id, feature_id, line)
            no_fiat = rating.amount - rating.amount == 0
            writes.update(RUNS, rows.rated_run(run_id, rating, no_fiat=no_fiat))
            state = rows.charge_state(
                charge_id,
                S.REALIZATION_PROCESSING,
                advance_after=rows.collected_at(end),
                run_id=run_id,
                feature_id=feature_id,
            )
            writes.update(CHARGES, state)
            audit.append(
                rows.charge_transition(
                    charge_id,
                    S.REALIZATION_WAITING_FOR_COLLECTION,
                    S.REALIZATION_PROCESSING,
                    now,
                    trigger="collection_completed",
                )
            )
        writes.update(INVOICES, {"status": I.DRAFT_MANUAL_APPROVAL_NEEDED.value, "id": invoice_id})
        steps = (
            (I.DRAFT_CREATED, I.DRAFT_WAITING_FOR_COLLECTION),
            (I.DRAFT_WAITING_FOR_COLLECTION, I.DRAFT_COLLECTING),
            (I.DRAFT_COLLECTING, I.DRAFT_MANUAL_APPROVAL_NEEDED),
        )
        audit.extend(rows.invoice_transition(invoice_id, a, b, now) for a, b in steps)
        for record in audit:
            writes.insert(TRANSITIONS, record)
        writes.flush(batched=self.batched)
        self.raw.commit()
        return len(lines)
