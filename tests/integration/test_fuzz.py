"""Fuzzing the public API: bad input gets a clear, typed error and changes nothing.

Each test sets up one world through the facade (a USD customer with collection interval P2D,
the feature ``api_requests``, a credit_only and a credit_then_invoice charge over January 2026,
5.00 of credit and 10 units of usage in mid-January), then calls ONE public operation per
generated input. The arguments of a call are good ones but for a few drawn wild (wrong types,
malformed text, extreme amounts and instants...), so that refusals are met one argument at a
time and successes move the world into its later states. Either the operation succeeds (what
it stored is within the documented bounds, and the snapshot of every table is taken again), or
it raises a subclass of `ChargeflowError` and every table is exactly as it was. Any other
exception (a bare `ValueError`, `TypeError`, `KeyError`, `OverflowError`, `UnicodeError`,
pydantic's `ValidationError`, a driver error...) fails the test, as does a refusal that changed
a row. An unknown id must be refused with `NotFoundError`.

`STATS` counts the calls made, the successes, the refusals and the untyped errors met, over
every test of this module.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Context, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from chargeflow import (
    AdvanceReport,
    App,
    ChargeflowError,
    DeletePolicy,
    FrozenClock,
    InvalidInputError,
    LineEngineType,
    NotFoundError,
    Period,
    SettlementMode,
    Trigger,
    UnitPrice,
)
from tests.conftest import Snapshot

STATS: Counter[str] = Counter()
"""``calls``, ``succeeded``, ``refused`` and ``untyped`` over every test of this module."""

FEATURE = "api_requests"
PERIOD = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
UNIT_1 = {"type": "unit", "amount": "1.00"}
UNIT_010 = {"type": "unit", "amount": "0.10"}

Tables = dict[str, list[tuple[object, ...]]]
Strategy = st.SearchStrategy[Any]


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Hypothesis settings for a test whose examples share one world (a function-scoped
    fixture, on purpose)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- the world --------------------------------------------------------------------------------


class UntypedError(AssertionError):
    """An operation raised something that is not a `ChargeflowError`."""


_WIDE = Context(prec=200)
_LIMIT = Decimal(10) ** 15
_NINE_PLACES = Decimal("1E-9")


def out_of_bounds(value: object, path: str = "") -> list[str]:
    """What in `value` (what an operation accepted and returned) breaks the documented bounds
    of stored input: amounts of at most 15 digits before the point and 9 after it, instants in
    UTC, in whole seconds, within the years 1970-9998. Checked without chargeflow's helpers."""
    if isinstance(value, BaseModel):
        return out_of_bounds(value.model_dump(), path)
    if isinstance(value, dict):
        return [bad for key, item in value.items() for bad in out_of_bounds(item, f"{path}.{key}")]
    if isinstance(value, list | tuple):
        return [bad for i, item in enumerate(value) for bad in out_of_bounds(item, f"{path}[{i}]")]
    if isinstance(value, Decimal):
        within = value.is_finite() and abs(value) < _LIMIT
        if not (within and value == value.quantize(_NINE_PLACES, context=_WIDE)):
            return [f"{path} = {value!r}"]
    if isinstance(value, datetime):
        in_utc = value.utcoffset() == timedelta(0) and value.microsecond == 0
        if not (in_utc and 1970 <= value.year <= 9998):
            return [f"{path} = {value!r}"]
    return []


class Swallowed(logging.Handler):
    """The errors chargeflow logged rather than raised: a due sweep and an invoicing run go on
    past a charge that failed, logging an unexpected (untyped) error."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def untyped_since(self, mark: int) -> list[BaseException]:
        """The untyped exceptions logged since `mark` records."""
        return [
            record.exc_info[1]
            for record in self.records[mark:]
            if record.exc_info and not isinstance(record.exc_info[1], ChargeflowError | None)
        ]


@dataclass(frozen=True)
class Ref:
    """A real id of the world, resolved when the operation is called."""

    name: str


CUSTOMER = Ref("customer")
CREDIT_ONLY = Ref("credit_only")
CREDIT_THEN_INVOICE = Ref("credit_then_invoice")
LATEST_CHARGE = Ref("latest_charge")  # the customer's newest charge
LINE = Ref("line")  # the credit_then_invoice charge's line, gathering or standard
INVOICE = Ref("invoice")  # the customer's newest standard invoice


@dataclass(repr=False)
class World:
    """The world of one test, and the table snapshot the next refusal must leave unchanged."""

    app: App
    clock: FrozenClock
    snapshot: Snapshot
    ids: dict[str, str]
    logged: Swallowed
    before: Tables = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"World({self.ids})"

    def resolve(self, value: Any) -> Any:
        """`value`, each `Ref` in it (also inside tuples, lists and dicts) replaced by its id."""
        if isinstance(value, Ref):
            return self._id(value.name)
        if isinstance(value, tuple):
            return tuple(self.resolve(item) for item in value)
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        return value

    def _id(self, name: str) -> str:
        customer = self.ids["customer"]
        if name == "latest_charge":
            return self.app.charges.list(customer)[-1].id
        if name == "invoice":
            invoices = self.app.billing.list_invoices(customer)
            return invoices[-1].id if invoices else "no-invoice"
        if name == "line":
            charge_id = self.ids["credit_then_invoice"]
            lines = [
                *self.app.billing.pending_lines(customer),
                *(line for invoice in self.app.billing.list_invoices() for line in invoice.lines),
            ]
            return next((line.id for line in lines if line.charge_id == charge_id), "no-line")
        return self.ids[name]

    def known_ids(self) -> set[str]:
        """Every id and feature key the world holds (an unknown id must hit none)."""
        known = set(self.ids.values()) | {FEATURE}
        known |= {charge.id for charge in self.app.charges.list()}
        known |= {line.id for line in self.app.billing.pending_lines(self.ids["customer"])}
        for invoice in self.app.billing.list_invoices():
            known |= {invoice.id, *(line.id for line in invoice.lines)}
        return known

    def attempt(
        self,
        what: str,
        operation: Callable[[], object],
        *,
        stored: Callable[[Any], object] | None = None,
    ) -> ChargeflowError | None:
        """Call `operation`: it succeeds (the snapshot is taken again) or raises a
        `ChargeflowError` and changes nothing; the refusal, if any. `stored` picks, from what a
        success returns, the input the operation stored: it must be within the documented
        bounds."""
        STATS["calls"] += 1
        mark = len(self.logged.records)
        try:
            result = operation()
        except ChargeflowError as error:
            refusal: ChargeflowError | None = error
        except Exception as error:
            STATS["untyped"] += 1
            raise UntypedError(f"{what} raised {_described(error)}") from error
        else:
            refusal = None
        if refusal is not None:
            STATS["refused"] += 1
            after = self.snapshot()
            changed = sorted(name for name in after if after[name] != self.before.get(name))
            assert not changed, f"{what} refused ({refusal!r}) but changed tables {changed}"
            return refusal
        swallowed = self.logged.untyped_since(mark)
        if isinstance(result, AdvanceReport):
            swallowed += [
                error for error in result.failed.values() if not isinstance(error, ChargeflowError)
            ]
        if swallowed:
            STATS["untyped"] += 1
            raise UntypedError(f"{what} swallowed {_described(swallowed[0])}") from swallowed[0]
        STATS["succeeded"] += 1
        self.before = self.snapshot()
        if stored is not None:
            bad = out_of_bounds(stored(result))
            assert not bad, f"{what} accepted input beyond the documented bounds: {bad}"
        return None

    def attempt_unknown(self, what: str, operation: Callable[[], object], unknown: str) -> None:
        """`attempt` a call valid in every way but the `unknown` id: `NotFoundError`; or, for
        an id no record could ever have (a NUL, a lone surrogate) given where a new record is
        described, `InvalidInputError`."""
        refusal = self.attempt(what, operation)
        expected: tuple[type[ChargeflowError], ...] = (NotFoundError,)
        if not _storable(unknown):
            expected = (NotFoundError, InvalidInputError)
        assert isinstance(refusal, expected), (
            f"{what} with the unknown id {unknown!r}: expected {expected}, got {refusal!r}"
        )


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _described(error: BaseException) -> str:
    return f"an untyped {type(error).__module__}.{type(error).__name__}: {str(error)[:500]}"


@pytest.fixture
def world(app: App, clock: FrozenClock, snapshot: Snapshot) -> Iterator[World]:
    """The worked examples' world, built once per test through the facade."""
    acme = app.customers.create(name="Acme", currency="USD", collection_interval="P2D")
    app.features.create(key=FEATURE)
    credit_only = app.charges.create(
        customer_id=acme.id,
        feature_key=FEATURE,
        service_period=PERIOD,
        settlement_mode="credit_only",
        price=UNIT_1,
    )
    credit_then_invoice = app.charges.create(
        customer_id=acme.id,
        feature_key=FEATURE,
        service_period=PERIOD,
        settlement_mode="credit_then_invoice",
        price=UNIT_010,
    )
    app.credits.grant(acme.id, amount="5.00")
    app.usage.record(acme.id, FEATURE, value=10, event_time="2026-01-15T00:00:00Z")
    ids = {
        "customer": acme.id,
        "credit_only": credit_only.id,
        "credit_then_invoice": credit_then_invoice.id,
    }
    logged = Swallowed()
    logger = logging.getLogger("chargeflow")
    logger.addHandler(logged)
    try:
        yield World(app, clock, snapshot, ids, logged, snapshot())
    finally:
        logger.removeHandler(logged)


def mostly_good(good: Mapping[str, Strategy], wild: Mapping[str, Strategy]) -> Strategy:
    """Keyword arguments, each drawn from `good` but for up to three drawn from `wild` (which
    shrink towards none, so a failing example names the arguments that matter)."""
    names = sorted(good)
    return st.sets(st.sampled_from(names), max_size=3).flatmap(
        lambda chosen: st.fixed_dictionaries(
            {name: (wild if name in chosen else good)[name] for name in names}
        )
    )


# --- wild values ------------------------------------------------------------------------------

JUNK: Strategy = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30]),
    st.floats(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(object()),
)
"""Values of the wrong type for about any parameter."""

NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfffy",
        "[bold]x[/]",
        "[/]",
        "[red]Acme[/red] \\[x]",
        "Ünïcødé ✓ 名前 🚀",
        "\u202eevil",
        "x" * 256,
        "x" * 5_000,
        "'; DROP TABLE customers; --",
        "%s %(x)s {0}",
    ]
)
"""Strings that have broken software before: NUL, lone surrogates, markup, very long text."""

TEXTS: Strategy = st.one_of(NASTY_TEXT, st.text(max_size=40))
NAMES: Strategy = st.one_of(TEXTS, JUNK)

CURRENCIES: Strategy = st.one_of(
    st.sampled_from(["usd", "Usd", "XAU", "XXX", "XDR", "ZZZ", "US", "USDD", "", " USD", "840"]),
    st.sampled_from(["\x00", "ÜSD", "\ud800SD"]),
    st.text(max_size=4),
    JUNK,
)

DURATIONS: Strategy = st.one_of(
    st.sampled_from(
        [
            "P101Y",
            "P1201M",
            "P36526D",
            "-P1D",
            "-PT1S",
            "P-1D",
            "P99999999D",
            "P999999999999Y",
            "PT99999999999999999999H",
            "P1.5D",
            "P0.5Y",
            "P1,5D",
            "PT0.000001S",
            "P",
            "PT",
            "",
            "2D",
            "P2",
            "1 day",
            "P2D ",
            "p2d",
            "P0003-00-00T00:00:00",
            "\x00",
            "\ud800",
        ]
    ),
    st.from_regex(
        r"-?P(\d{1,12}Y)?(\d{1,12}M)?(\d{1,12}W)?(\d{1,12}D)?(T(\d{1,12}H)?(\d{1,12}M)?(\d{1,12}S)?)?",
        fullmatch=True,
    ),
    st.text(max_size=12),
    st.timedeltas(),
    JUNK,
)

AMOUNTS: Strategy = st.one_of(
    st.sampled_from(
        [
            "0.001",
            "0.000000001",
            "0.0000000001",
            "-1",
            "-0.01",
            "1E+26",
            "1e-10",
            "1E+15",
            "999999999999999",
            "999999999999999.999999999",
            "1000000000000000",
            "12345678901234567890",
            "-12345678901234567890",
            "00000000000000000001",
            "1E+999999999",
            "1E-999999999",
            "1E-1000027",
            "1E+999999999999999999",
            "1E-999999999999999999",
            "1E+9999999999999999999999",
            "NaN",
            "-NaN",
            "sNaN",
            "Infinity",
            "-Infinity",
            "inf",
            "",
            " ",
            " 1 ",
            "1_000",
            "1,000",
            "\uff11\uff12",  # fullwidth digits
            "\u0663",  # an Arabic-Indic three
            "0x10",
            "1/2",
            "abc",
            "\x00",
        ]
    ),
    st.sampled_from(
        [Decimal("1E-1000027"), Decimal("-0"), Decimal("0E+1000"), Decimal("sNaN"), 10**5000]
    ),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.from_regex(r"-?\d{1,22}(\.\d{1,12})?", fullmatch=True),
    st.integers(),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, 10**100, -(10**100)]),
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=10),
    JUNK,
)

_OFFSETS = st.integers(min_value=-1439, max_value=1439).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_ZONES: Strategy = st.one_of(st.just(UTC), _OFFSETS)

TIMESTAMPS: Strategy = st.one_of(
    st.sampled_from(
        [
            "2026-01-15T00:00:00",
            "2026-01-15",
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-01:00",
            "9999-12-31T23:59:59Z",
            "9999-01-01T00:00:00Z",
            "9998-12-31T23:59:59Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00+01:00",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-01-15T24:00:00Z",
            "2026-01-15T00:00:00+24:00",
            "2026-01-15T00:00:00+23:59:59.999999",
            "2026-W03-4T00:00:00Z",
            "20260115T000000Z",
            "2026-01-15 00:00:00Z",
            "2026-01-15T00:00:00Z\n",
            "now",
            "garbage",
            "",
            "\x00",
            "\ud800",
        ]
    ),
    st.datetimes(timezones=_ZONES),
    st.datetimes(timezones=st.none()),
    st.datetimes(timezones=_ZONES).map(datetime.isoformat),
    st.datetimes(timezones=st.none()).map(datetime.isoformat),
    st.text(max_size=25),
    st.dates(),
    st.integers(),
    st.none(),
    JUNK,
)

PERIODS: Strategy = st.one_of(
    st.just(PERIOD[::-1]),
    st.tuples(TIMESTAMPS, TIMESTAMPS),
    st.lists(TIMESTAMPS, max_size=3),
    st.fixed_dictionaries(
        {"from": TIMESTAMPS, "to": TIMESTAMPS}, optional={"extra": st.integers()}
    ),
    st.fixed_dictionaries({"start": st.just(PERIOD[0]), "end": st.just(PERIOD[1])}),
    st.sets(st.sampled_from(PERIOD), max_size=2),
    TEXTS,
    JUNK,
)

_PRICE_TYPES: Strategy = st.one_of(
    st.sampled_from(["unit", "flat", "package", "tiered_volume", "tiered_graduated"]),
    st.sampled_from(["", "UNIT", "per_unit", "tiered", "dynamic"]),
    JUNK,
)
_BOUNDS: Strategy = st.one_of(st.none(), st.integers(min_value=-2, max_value=30), AMOUNTS)
WILD_TIER = st.fixed_dictionaries(
    {"up_to": _BOUNDS},
    optional={"unit_amount": AMOUNTS, "flat_amount": AMOUNTS, "price": AMOUNTS},
)
WILD_TIERS: Strategy = st.one_of(
    st.lists(WILD_TIER, max_size=4),
    st.lists(WILD_TIER, max_size=3).map(lambda tiers: [*tiers, {"up_to": None}]),
    st.just([{"up_to": 20, "unit_amount": "2"}, {"up_to": 10}, {"up_to": None}]),
    st.just([{"up_to": None}, {"up_to": 10}]),
    st.just([{"up_to": 10}, {"up_to": 10}, {"up_to": None}]),
    st.lists(JUNK, max_size=2),
    JUNK,
)

PRICES: Strategy = st.one_of(
    st.fixed_dictionaries(
        {"type": _PRICE_TYPES},
        optional={"amount": AMOUNTS, "quantity_per_package": AMOUNTS, "tiers": WILD_TIERS},
    ),
    st.fixed_dictionaries({}, optional={"amount": AMOUNTS, "tiers": WILD_TIERS}),
    st.sampled_from(['{"type": "unit", "amount": "1"}', "unit", [UNIT_1], (UNIT_1,)]),
    JUNK,
)

MODES: Strategy = st.one_of(
    st.sampled_from(["CREDIT_ONLY", "credit-only", "invoice", "", " credit_only", "\x00"]),
    JUNK,
)


def wild_ids() -> Strategy:
    """Ids that may not be what the parameter asks for: real ids of any kind, random or
    malformed text, values of the wrong type."""
    return st.one_of(
        st.sampled_from([CUSTOMER, CREDIT_ONLY, CREDIT_THEN_INVOICE, LINE, INVOICE]),
        st.sampled_from(["", " ", "nope", "01J00000000000000000000000", "\x00", "\ud800"]),
        st.text(max_size=30),
        JUNK,
    )


FEATURE_KEYS: Strategy = st.one_of(
    st.sampled_from(["API_REQUESTS", "api_requests ", "", " ", "\x00", "\ud800"]),
    TEXTS,
    JUNK,
)

TRIGGERS: Strategy = st.one_of(
    st.sampled_from(["nope", "", "NEXT", "Delete", " next", "\x00"]),
    JUNK,
)

POLICIES: Strategy = st.one_of(
    st.sampled_from(["CORRECT", "Ignore", "", " ", "refund", "delete", "\x00", "\ud800"]),
    TEXTS,
    JUNK,
)

ARGUMENTS = st.dictionaries(
    # `self`, `charge_id` and `trigger` are fire's own parameters: Python refuses them before
    # the call reaches chargeflow
    st.one_of(
        st.sampled_from(["policy", "line_id", "foo", "", "line id", "Policy"]), st.text(max_size=6)
    ).filter(lambda key: key not in ("self", "charge_id", "trigger")),
    st.one_of(
        st.sampled_from(["correct", "ignore", "", " ", "\x00"]),
        st.just(LINE),
        wild_ids(),
        POLICIES,
    ),
    max_size=3,
)

BATCH_SIZES: Strategy = st.one_of(
    st.sampled_from([0, -1, 1, 2, 500, 1.5, "3", True, False, None, Decimal(2)]),
    st.sampled_from([2**31, 2**63 - 1, 2**63, 2**64, 10**30, -(10**30), -(10**5000)]),
    st.integers(),
    JUNK,
)

ENGINES: Strategy = st.one_of(
    st.sampled_from(["charge_usagebased", LineEngineType.CHARGE_USAGEBASED]),
    st.sampled_from(["", "INVOICING", "usage", "nope", "\x00"]),
    JUNK,
)

# --- good values ------------------------------------------------------------------------------

CLOCKS = st.sampled_from(
    [
        "2025-12-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "2026-01-15T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-02-01T12:00:00Z",
        "2026-02-03T00:01:00Z",
        "2026-06-01T00:00:00Z",
    ]
)
"""Instants the world's clock is set to before an operation (the clock is no user input)."""

GOOD_INSTANTS: Strategy = st.one_of(
    st.sampled_from(
        [
            "2025-12-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-01-15T00:00:00+01:00",
            "2026-01-31T23:59:59Z",
            "2026-02-01T00:00:00Z",
            "2026-02-01T12:00:00.999999Z",
            "2026-02-03T00:01:00-23:59",
            "1970-01-01T00:00:00Z",
            "9998-12-31T23:59:59Z",
        ]
    ),
    st.datetimes(
        min_value=datetime(2025, 11, 1),  # noqa: DTZ001 -- bounds of a zoned range
        max_value=datetime(2026, 4, 1),  # noqa: DTZ001
        timezones=_ZONES,
    ),
)
"""Instants mostly around the world's charges, as text or aware datetimes."""

GOOD_PERIODS: Strategy = st.one_of(
    st.just(PERIOD),
    st.just((PERIOD[0], PERIOD[0])),
    st.builds(
        lambda start, length, text: (
            (start, start + length)
            if not text
            else (start.isoformat(), (start + length).isoformat())
        ),
        st.datetimes(
            min_value=datetime(2025, 11, 1),  # noqa: DTZ001 -- bounds of a zoned range
            max_value=datetime(2026, 4, 1),  # noqa: DTZ001
            timezones=_ZONES,
        ),
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=90)),
        st.booleans(),
    ),
    st.just(list(PERIOD)),
    st.just({"from": PERIOD[0], "to": PERIOD[1]}),
    st.just(Period.model_validate(PERIOD)),
    st.just(("2026-01-01T00:00:00Z", "9998-12-31T23:59:59Z")),
)

MONEY: Strategy = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**6), places=2),
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(["5.00", "0.01", "1", "999999999999999.99", "1E+2", "1.00E+1", "0.10"]),
)
"""Positive amounts in whole cents."""

UNIT_AMOUNTS: Strategy = st.one_of(
    st.decimals(min_value=0, max_value=1000, places=9),
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["0", "0.10", "0.000000001", "999999999999999.999999999", "1E+14"]),
)
"""Non-negative unit prices, finer than cents (as unit prices may be)."""

QUANTITIES: Strategy = st.one_of(
    st.integers(min_value=-5, max_value=1000),
    st.decimals(min_value=-10, max_value=10**6, places=3),
    st.sampled_from(["0", "1", "-1", "0.5", "999999999999999", "1E+14", "-0"]),
)
"""Usage values and line quantities (negative ones are corrections)."""

_GOOD_TIERS = st.lists(
    st.tuples(st.integers(min_value=1, max_value=100), UNIT_AMOUNTS, MONEY), max_size=3
).map(
    lambda rows: (
        [
            {"up_to": bound, "unit_amount": unit, "flat_amount": flat}
            for bound, unit, flat in sorted({row[0]: row for row in rows}.values())
        ]
        + [{"up_to": None, "unit_amount": "1"}]
    )
)

GOOD_PRICES: Strategy = st.one_of(
    st.fixed_dictionaries({"type": st.just("unit"), "amount": UNIT_AMOUNTS}),
    st.fixed_dictionaries({"type": st.just("flat"), "amount": MONEY}),
    st.fixed_dictionaries(
        {
            "type": st.just("package"),
            "amount": UNIT_AMOUNTS,
            "quantity_per_package": st.one_of(
                st.integers(min_value=1, max_value=1000), st.just("0.000000001")
            ),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["tiered_volume", "tiered_graduated"]), "tiers": _GOOD_TIERS}
    ),
    st.just(UnitPrice(amount=Decimal("0.50"))),
)

GOOD_TEXT: Strategy = st.one_of(st.just("Acme"), st.text(min_size=1, max_size=20))
GOOD_CURRENCIES = st.sampled_from(["USD", "EUR", "JPY", "BHD", "CLF", "GBP"])
GOOD_DURATIONS: Strategy = st.one_of(
    st.sampled_from(["PT0S", "P0D", "P2D", "PT1M", "P1M", "P1Y", "P1W", "P100Y", "P1200M"]),
    st.sampled_from(["P36524D", "P1Y2M3DT4H5M6S", "PT0.5S", "P99Y11M30D"]),
)
GOOD_MODES = st.sampled_from([*SettlementMode, "credit_only", "credit_then_invoice"])
GOOD_TRIGGERS = st.sampled_from([*Trigger, "next", "invoice_created", "collection_completed"])
GOOD_POLICIES = st.sampled_from([*DeletePolicy, "correct", "ignore"])
GOOD_ARGUMENTS = st.sampled_from(
    [{}, {"policy": "correct"}, {"policy": "ignore"}, {"line_id": LINE}]
)
GOOD_ENGINES = st.sampled_from(
    [LineEngineType.INVOICING, "invoicing", "charge_flatfee", "charge_creditpurchase"]
)
CHARGES = st.sampled_from([CREDIT_ONLY, CREDIT_THEN_INVOICE, LATEST_CHARGE])
MAYBE_INSTANT: Strategy = st.one_of(st.none(), GOOD_INSTANTS)

# --- the calls --------------------------------------------------------------------------------

CUSTOMER_CREATE = mostly_good(
    {"name": GOOD_TEXT, "currency": GOOD_CURRENCIES, "collection_interval": GOOD_DURATIONS},
    {"name": NAMES, "currency": CURRENCIES, "collection_interval": DURATIONS},
)
FEATURE_CREATE = mostly_good(
    {"key": GOOD_TEXT, "name": st.one_of(st.none(), GOOD_TEXT)},
    {"key": FEATURE_KEYS, "name": NAMES},
)
CREDIT_GRANT = mostly_good(
    {"customer_id": st.just(CUSTOMER), "amount": MONEY, "granted_at": MAYBE_INSTANT},
    {"customer_id": wild_ids(), "amount": AMOUNTS, "granted_at": TIMESTAMPS},
)
USAGE_RECORD = mostly_good(
    {
        "customer_id": st.just(CUSTOMER),
        "feature_key": st.just(FEATURE),
        "value": QUANTITIES,
        "event_time": GOOD_INSTANTS,
        "stored_at": MAYBE_INSTANT,
    },
    {
        "customer_id": wild_ids(),
        "feature_key": FEATURE_KEYS,
        "value": AMOUNTS,
        "event_time": TIMESTAMPS,
        "stored_at": TIMESTAMPS,
    },
)
CHARGE_CREATE = mostly_good(
    {
        "customer_id": st.just(CUSTOMER),
        "feature_key": st.just(FEATURE),
        "service_period": GOOD_PERIODS,
        "settlement_mode": GOOD_MODES,
        "price": GOOD_PRICES,
        "name": st.one_of(st.none(), GOOD_TEXT),
        "invoice_at": MAYBE_INSTANT,
        "unique_reference_id": st.one_of(st.none(), st.sampled_from(["ref-1", "ref-2"])),
    },
    {
        "customer_id": wild_ids(),
        "feature_key": FEATURE_KEYS,
        "service_period": PERIODS,
        "settlement_mode": MODES,
        "price": PRICES,
        "name": NAMES,
        "invoice_at": TIMESTAMPS,
        "unique_reference_id": NAMES,
    },
)
CHARGE_FIRE = mostly_good(
    {"charge_id": CHARGES, "trigger": GOOD_TRIGGERS, "arguments": GOOD_ARGUMENTS},
    {"charge_id": wild_ids(), "trigger": TRIGGERS, "arguments": ARGUMENTS},
)
CHARGE_DELETE = mostly_good(
    {"charge_id": CHARGES, "policy": GOOD_POLICIES},
    {"charge_id": wild_ids(), "policy": POLICIES},
)
ADD_LINE = mostly_good(
    {
        "customer_id": st.just(CUSTOMER),
        "engine": GOOD_ENGINES,
        "name": GOOD_TEXT,
        "price": GOOD_PRICES,
        "service_period": GOOD_PERIODS,
        "quantity": QUANTITIES,
        "invoice_at": MAYBE_INSTANT,
    },
    {
        "customer_id": wild_ids(),
        "engine": ENGINES,
        "name": NAMES,
        "price": PRICES,
        "service_period": PERIODS,
        "quantity": AMOUNTS,
        "invoice_at": TIMESTAMPS,
    },
)
INVOICE_PENDING = mostly_good(
    {"customer_id": st.just(CUSTOMER), "as_of": MAYBE_INSTANT},
    {"customer_id": wild_ids(), "as_of": TIMESTAMPS},
)


def perform(world: World, operation: str, arguments: dict[str, Any]) -> None:
    """Call the facade's `operation` with `arguments` (their `Ref`s resolved) as one attempt."""
    app, kw = world.app, world.resolve(arguments)
    calls: dict[str, Callable[[], object]] = {
        "customers.create": lambda: app.customers.create(**kw),
        "features.create": lambda: app.features.create(**kw),
        "features.archive": lambda: app.features.archive(kw["key"]),
        "credits.grant": lambda: app.credits.grant(kw.pop("customer_id"), **kw),
        "usage.record": lambda: app.usage.record(
            kw.pop("customer_id"), kw.pop("feature_key"), **kw
        ),
        "charges.create": lambda: app.charges.create(**kw),
        "charges.fire": lambda: app.charges.fire(kw["charge_id"], kw["trigger"], **kw["arguments"]),
        "charges.delete": lambda: app.charges.delete(kw["charge_id"], policy=kw["policy"]),
        "charges.advance": lambda: app.charges.advance(kw["charge_id"]),
        "charges.advance_due": lambda: app.charges.advance_due(batch_size=kw["batch_size"]),
        "billing.add_line": lambda: app.billing.add_line(kw.pop("customer_id"), **kw),
        "billing.invoice_pending_lines": lambda: app.billing.invoice_pending_lines(**kw),
        "billing.advance_invoice": lambda: app.billing.advance_invoice(kw["invoice_id"]),
        "billing.approve_invoice": lambda: app.billing.approve_invoice(kw["invoice_id"]),
        "billing.record_payment": lambda: app.billing.record_payment(kw["invoice_id"], kw["event"]),
        "billing.advance_due": lambda: app.billing.advance_due(batch_size=kw["batch_size"]),
        "customers.update": lambda: app.customers.update(kw.pop("customer_id"), **kw),
    }
    world.attempt(
        f"{operation}({_shown(arguments)})", calls[operation], stored=STORED_INPUT.get(operation)
    )


def _whole(result: Any) -> object:
    return result


def _intent(result: Any) -> object:
    return result.intent  # not its runs: a run's meter value may sum beyond one input's bounds


STORED_INPUT: dict[str, Callable[[Any], object]] = {
    "customers.create": _whole,
    "features.create": _whole,
    "credits.grant": _whole,
    "usage.record": _whole,
    "charges.create": _intent,
    "billing.add_line": _whole,
}
"""Where, in what each operation that stores user input returns, that input is."""


def _shown(value: object) -> str:
    """`repr(value)`, cut short; a value holding an int too long to print (10**5000) is only
    described."""
    try:
        return repr(value)[:2000]
    except ValueError:  # int to str beyond sys.get_int_max_str_digits()
        return "<a value holding an int too long to print>"


# --- one operation per example ----------------------------------------------------------------


@fuzz(150)
@given(arguments=CUSTOMER_CREATE)
def test_customers_create(world: World, arguments: dict[str, Any]) -> None:
    perform(world, "customers.create", arguments)


@fuzz(100)
@given(
    operation=st.sampled_from(["features.create", "features.archive"]),
    arguments=st.one_of(FEATURE_CREATE, st.fixed_dictionaries({"key": st.just(FEATURE)})),
)
@example(operation="features.archive", arguments={"key": "\ud800"})
def test_features_create_and_archive(
    world: World, operation: str, arguments: dict[str, Any]
) -> None:
    if operation == "features.archive":
        arguments = {"key": arguments["key"]}
    perform(world, operation, arguments)


@fuzz(150)
@given(arguments=CREDIT_GRANT)
@example(arguments={"customer_id": CUSTOMER, "amount": "1E-1000027", "granted_at": None})
def test_credits_grant(world: World, arguments: dict[str, Any]) -> None:
    perform(world, "credits.grant", arguments)


@fuzz(150)
@given(clock=CLOCKS, arguments=USAGE_RECORD)
def test_usage_record(world: World, clock: str, arguments: dict[str, Any]) -> None:
    world.clock.set(clock)
    perform(world, "usage.record", arguments)


@fuzz(200)
@given(clock=CLOCKS, arguments=CHARGE_CREATE)
def test_charges_create(world: World, clock: str, arguments: dict[str, Any]) -> None:
    world.clock.set(clock)
    perform(world, "charges.create", arguments)


@fuzz(200)
@given(clock=CLOCKS, arguments=CHARGE_FIRE)
@example(clock=PERIOD[0], arguments={"charge_id": None, "trigger": "next", "arguments": {}})
def test_charges_fire(world: World, clock: str, arguments: dict[str, Any]) -> None:
    world.clock.set(clock)
    perform(world, "charges.fire", arguments)


@fuzz(100)
@given(clock=CLOCKS, arguments=CHARGE_DELETE)
def test_charges_delete(world: World, clock: str, arguments: dict[str, Any]) -> None:
    world.clock.set(clock)
    perform(world, "charges.delete", arguments)


@fuzz(60)
@given(clock=CLOCKS, batch_size=BATCH_SIZES)
@example(clock=PERIOD[0], batch_size=2**63)
@example(clock=PERIOD[0], batch_size=-(10**5000))
def test_charges_advance_due(world: World, clock: str, batch_size: Any) -> None:
    world.clock.set(clock)
    perform(world, "charges.advance_due", {"batch_size": batch_size})


@fuzz(150)
@given(clock=CLOCKS, arguments=ADD_LINE)
def test_billing_add_line(world: World, clock: str, arguments: dict[str, Any]) -> None:
    world.clock.set(clock)
    perform(world, "billing.add_line", arguments)


@fuzz(100)
@given(clock=CLOCKS, arguments=INVOICE_PENDING)
def test_billing_invoice_pending_lines(world: World, clock: str, arguments: dict[str, Any]) -> None:
    world.clock.set(clock)
    perform(world, "billing.invoice_pending_lines", arguments)


# --- any operation, to reach deeper states ------------------------------------------------------

OPERATIONS = st.one_of(
    st.tuples(st.just("credits.grant"), CREDIT_GRANT),
    st.tuples(st.just("usage.record"), USAGE_RECORD),
    st.tuples(st.just("charges.create"), CHARGE_CREATE),
    st.tuples(st.just("charges.fire"), CHARGE_FIRE),
    st.tuples(st.just("charges.delete"), CHARGE_DELETE),
    st.tuples(st.just("charges.advance"), st.fixed_dictionaries({"charge_id": CHARGES})),
    st.tuples(st.just("charges.advance_due"), st.fixed_dictionaries({"batch_size": BATCH_SIZES})),
    st.tuples(st.just("billing.add_line"), ADD_LINE),
    st.tuples(st.just("billing.invoice_pending_lines"), INVOICE_PENDING),
    st.tuples(
        st.just("billing.advance_invoice"), st.fixed_dictionaries({"invoice_id": st.just(INVOICE)})
    ),
    st.tuples(
        st.just("billing.approve_invoice"), st.fixed_dictionaries({"invoice_id": st.just(INVOICE)})
    ),
    st.tuples(
        st.just("billing.record_payment"),
        st.fixed_dictionaries(
            {
                "invoice_id": st.just(INVOICE),
                "event": st.sampled_from(["authorized", "paid", "refunded", "", None, 1]),
            }
        ),
    ),
    st.tuples(st.just("billing.advance_due"), st.fixed_dictionaries({"batch_size": BATCH_SIZES})),
    st.tuples(
        st.just("customers.update"),
        st.fixed_dictionaries(
            {
                "customer_id": st.just(CUSTOMER),
                "progressive_billing": st.one_of(st.none(), st.booleans(), st.just("yes")),
                "auto_approve": st.one_of(st.none(), st.booleans(), st.integers()),
            }
        ),
    ),
)


@fuzz(250)
@given(clock=CLOCKS, operation=OPERATIONS)
# A line of negative quantity is accepted, then invoicing it (the next example: explicit
# examples run first, in this order, in the test's one world) must not fail untyped.
@example(
    clock=PERIOD[1],
    operation=(
        "billing.add_line",
        {
            "customer_id": CUSTOMER,
            "engine": "invoicing",
            "name": "refund",
            "price": UNIT_1,
            "service_period": PERIOD,
            "quantity": -5,
            "invoice_at": None,
        },
    ),
)
@example(
    clock=PERIOD[1],
    operation=("billing.invoice_pending_lines", {"customer_id": CUSTOMER, "as_of": None}),
)
def test_any_operation(world: World, clock: str, operation: tuple[str, dict[str, Any]]) -> None:
    world.clock.set(clock)
    perform(world, *operation)


# --- unknown ids --------------------------------------------------------------------------------

VALID_CALLS: dict[str, Callable[[World, str], object]] = {
    "customers.get": lambda w, unknown: w.app.customers.get(unknown),
    "features.get": lambda w, unknown: w.app.features.get(unknown),
    "features.archive": lambda w, unknown: w.app.features.archive(unknown),
    "credits.grant": lambda w, unknown: w.app.credits.grant(unknown, amount="1.00"),
    "credits.balance": lambda w, unknown: w.app.credits.balance(unknown),
    "usage.record (customer)": lambda w, unknown: w.app.usage.record(
        unknown, FEATURE, value=1, event_time="2026-01-15T00:00:00Z"
    ),
    "usage.record (feature)": lambda w, unknown: w.app.usage.record(
        w.ids["customer"], unknown, value=1, event_time="2026-01-15T00:00:00Z"
    ),
    "charges.create (customer)": lambda w, unknown: w.app.charges.create(
        customer_id=unknown,
        feature_key=FEATURE,
        service_period=PERIOD,
        settlement_mode="credit_only",
        price=UNIT_1,
    ),
    "charges.create (feature)": lambda w, unknown: w.app.charges.create(
        customer_id=w.ids["customer"],
        feature_key=unknown,
        service_period=PERIOD,
        settlement_mode="credit_then_invoice",
        price=UNIT_010,
    ),
    "charges.get": lambda w, unknown: w.app.charges.get(unknown),
    "charges.history": lambda w, unknown: w.app.charges.history(unknown),
    "charges.advance": lambda w, unknown: w.app.charges.advance(unknown),
    "charges.advance (customer)": lambda w, unknown: w.app.charges.advance(customer_id=unknown),
    "charges.fire": lambda w, unknown: w.app.charges.fire(unknown, "next"),
    "charges.delete": lambda w, unknown: w.app.charges.delete(unknown, policy="ignore"),
    "billing.add_line": lambda w, unknown: w.app.billing.add_line(
        unknown, engine="invoicing", name="setup", price=UNIT_1, service_period=PERIOD
    ),
    "billing.pending_lines": lambda w, unknown: w.app.billing.pending_lines(unknown),
    "billing.invoice_pending_lines": lambda w, unknown: w.app.billing.invoice_pending_lines(
        unknown
    ),
    "billing.advance_invoice": lambda w, unknown: w.app.billing.advance_invoice(unknown),
    "billing.get_invoice": lambda w, unknown: w.app.billing.get_invoice(unknown),
    "billing.history": lambda w, unknown: w.app.billing.history(unknown),
    "billing.approve_invoice": lambda w, unknown: w.app.billing.approve_invoice(unknown),
    "billing.record_payment": lambda w, unknown: w.app.billing.record_payment(unknown, "paid"),
    "customers.update": lambda w, unknown: w.app.customers.update(unknown, auto_approve=True),
}
"""Calls valid in every way but one id or key, which is unknown."""


@fuzz(150)
@given(
    clock=CLOCKS,
    call=st.sampled_from(sorted(VALID_CALLS)),
    unknown=st.one_of(
        st.text(min_size=1, max_size=30),
        st.sampled_from([" ", "nope", "01J00000000000000000000000", "\x00", "x" * 300]),
    ),
)
@example(clock=PERIOD[0], call="billing.pending_lines", unknown="nope")
@example(clock=PERIOD[0], call="charges.get", unknown="\x00")
def test_unknown_ids_are_not_found(world: World, clock: str, call: str, unknown: str) -> None:
    world.clock.set(clock)
    if unknown not in world.known_ids():
        world.attempt_unknown(call, lambda: VALID_CALLS[call](world, unknown), unknown)
