"""The charge use cases: create, read, advance, fire a trigger, delete (docs/lifecycle.md
sections 2-6). Each takes an `Operation` first and works within its one unit of work, holding
the charge's lock; `ChargeSweeps` runs the operations that visit many charges, one unit of work
per charge, so one failing charge neither blocks nor undoes the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from chargeflow.domain.charge import ChargeIntent, SettlementMode, UsageBasedCharge
from chargeflow.domain.customer import Customer
from chargeflow.domain.errors import (
    ChargeflowError,
    ConflictError,
    InvalidInputError,
    InvalidTriggerArgumentError,
    NotFoundError,
    TriggerNotPermittedError,
)
from chargeflow.domain.history import ChargeTransition
from chargeflow.domain.text import lookup_id, storable
from chargeflow.domain.timestamps import to_instant
from chargeflow.domain.triggers import (
    BILLING_TRIGGERS,
    TRIGGER_ARGUMENTS,
    DeletePolicy,
    Trigger,
    TriggerArgument,
)
from chargeflow.domain.validation import build
from chargeflow.engines import charge_lifecycle, driver
from chargeflow.engines.charge_lifecycle import CHARGES
from chargeflow.engines.gathering import add_charge_line
from chargeflow.engines.operation import Operation, Operations
from chargeflow.engines.period_changes import refuse_while_billing_advances
from chargeflow.engines.sweeps import AdvanceReport, Sweep, sweep
from chargeflow.persistence.ports import StoredCharge
from chargeflow.statemachines.charge_guards import INTERNAL_COLLECTION_PERIOD
from chargeflow.statemachines.registry import CHARGE_SPECS


def create_charge(
    op: Operation,
    *,
    customer_id: str,
    feature_key: str,
    service_period: Any,
    settlement_mode: SettlementMode | str,
    price: Any,
    name: str | None = None,
    invoice_at: Any = None,
    unique_reference_id: str | None = None,
) -> UsageBasedCharge:
    """Create a charge in `created`, activated (`advance_after` is the start of its service
    period, so the due sweep picks it up then). A credit_then_invoice charge gets its gathering
    line, and a credit_only charge is advanced at once, both in the same unit of work.

    With `unique_reference_id`, a charge the customer already has under that reference is
    returned as it is, and nothing is created (a retry never duplicates, even when two creates
    race: the unique index decides).

    Raises `InvalidInputError` for an invalid intent, `NotFoundError` for an unknown customer
    or feature key.
    """
    [made] = create_charges(
        op,
        [
            {
                "customer_id": customer_id,
                "feature_key": feature_key,
                "service_period": service_period,
                "settlement_mode": settlement_mode,
                "price": price,
                "name": name,
                "invoice_at": invoice_at,
                "unique_reference_id": unique_reference_id,
            }
        ],
    )
    return made


CREATE_ARGUMENTS = frozenset(
    {
        "customer_id",
        "feature_key",
        "service_period",
        "settlement_mode",
        "price",
        "name",
        "invoice_at",
        "unique_reference_id",
    }
)
"""The keyword arguments of `create_charge`: what each intent of `create_charges` may name."""
REQUIRED_ARGUMENTS = ("customer_id", "feature_key", "service_period", "settlement_mode", "price")
MAX_INTENTS = 100_000
"""The most charges one `create_charges` creates (one unit of work holds them all)."""


def create_charges(op: Operation, intents: Sequence[object]) -> list[UsageBasedCharge]:
    """Create a charge for each of `intents` (each a mapping of `create_charge`'s keyword
    arguments), in order, in the operation's one unit of work: all of them, or none.

    Each is created as `create_charge` creates one; the references already stored are looked up
    together, and the new charges are inserted in one statement. A `unique_reference_id` the
    customer already has returns that charge, also when an earlier intent of the same call made
    it or another transaction inserted it meanwhile.
    Raises `InvalidInputError` for more than `MAX_INTENTS` intents or an intent that is not a
    mapping of those arguments, and the first refused intent's own error (`InvalidInputError`,
    `NotFoundError`) with a note naming its position; nothing is created then.
    """
    if len(intents) > MAX_INTENTS:
        raise InvalidInputError(f"at most {MAX_INTENTS:,} charges can be created at once")
    given: list[dict[str, Any]] = []
    for position, intent in enumerate(intents):
        with _refused_at(position, len(intents)):
            given.append(_create_arguments(intent))
    known = op.uow.charges.by_references(
        {key for arguments in given if (key := _reference_key(arguments)) is not None}
    )
    existing = {charge.id for charge in known.values()}
    made: list[UsageBasedCharge] = []
    for position, arguments in enumerate(given):
        with _refused_at(position, len(intents)):
            made.append(_prepared(op, arguments, known))
    fresh = {charge.id: charge for charge in made if charge.id not in existing}
    stored = _stored(op, list(fresh.values()))
    for charge_id, charge in stored.items():
        if charge.id != charge_id:  # another transaction's charge: settled there
            continue
        if charge.intent.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE:
            add_charge_line(op, charge)
        else:
            charge_lifecycle.advance(op, charge)
    return [stored.get(charge.id, charge) for charge in made]


@contextmanager
def _refused_at(position: int, count: int) -> Iterator[None]:
    """Note on a refusal raised inside which intent of `count` it refused."""
    try:
        yield
    except ChargeflowError as error:
        error.add_note(f"refused: intent {position} of {count} (counting from 0)")
        raise


def _reference_key(arguments: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (customer id, unique reference) `arguments` name, if they name a reference."""
    reference = arguments.get("unique_reference_id")
    return None if reference is None else (arguments["customer_id"], reference)


def _prepared(
    op: Operation,
    arguments: dict[str, Any],
    known: dict[tuple[str, str], UsageBasedCharge],
) -> UsageBasedCharge:
    """The charge `arguments` ask for: the charge `known` holds under its unique reference
    (stored, or made earlier in this call), else a new one, validated and activated (and
    added to `known` under its reference, if it has one)."""
    key = _reference_key(arguments)
    if key is not None and key in known:
        return known[key]
    customer = op.customer(arguments["customer_id"])
    intent = build(ChargeIntent, **arguments, currency=customer.currency)
    if op.live_feature_id(intent.feature_key) is None:
        raise NotFoundError("feature", intent.feature_key)
    _require_collection_end_in_range(customer, intent)
    charge = UsageBasedCharge(intent=intent, created_at=op.now)
    driver.activate(op, CHARGES, charge, Trigger.NEXT)
    if key is not None:
        known[key] = charge
    return charge


def _stored(op: Operation, charges: list[UsageBasedCharge]) -> dict[str, UsageBasedCharge]:
    """Insert the new `charges` (one statement); by id, each inserted charge, or for one whose
    unique reference another transaction took since it was looked up, that transaction's
    charge (which is not settled again)."""
    referenced = any(charge.intent.unique_reference_id is not None for charge in charges)
    if not referenced:
        op.uow.charges.add_many(charges)
        return {charge.id: charge for charge in charges}
    try:  # a savepoint keeps the unit of work usable after a refused insert (PostgreSQL
        # aborts it otherwise); only a unique reference can lose a race to recover from
        with op.uow.savepoint():
            op.uow.charges.add_many(charges)
        return {charge.id: charge for charge in charges}
    except ConflictError:
        if len(charges) == 1:
            intent = charges[0].intent
            key = (intent.customer_id, intent.unique_reference_id or "")
            raced = op.uow.charges.by_references([key]).get(key)
            if raced is None:
                raise
            return {charges[0].id: raced}
    stored: dict[str, UsageBasedCharge] = {}
    for charge in charges:  # the race lost: one at a time, to find which
        stored.update(_stored(op, [charge]))
    return stored


def _create_arguments(intent: object) -> dict[str, Any]:
    """`intent` as `create_charge`'s keyword arguments, its customer id and unique reference
    checked; `InvalidInputError` if it is not a mapping of them with the required ones."""
    if not isinstance(intent, Mapping):
        raise InvalidInputError(f"an intent must be a mapping, not {type(intent).__name__}")
    unknown = sorted(str(key) for key in intent if key not in CREATE_ARGUMENTS)
    if unknown:
        raise InvalidInputError(f"an intent has unknown arguments: {', '.join(unknown)}")
    missing = [name for name in REQUIRED_ARGUMENTS if name not in intent]
    if missing:
        raise InvalidInputError(f"an intent is missing: {', '.join(missing)}")
    arguments = {str(key): value for key, value in intent.items()}
    arguments["customer_id"] = lookup_id(arguments["customer_id"], "customer")
    if arguments.get("unique_reference_id") is not None:
        arguments["unique_reference_id"] = _reference(arguments["unique_reference_id"])
    return arguments


def _reference(value: object) -> str:
    """A unique reference as given: text that can be stored, else `InvalidInputError`."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError("unique_reference_id must be a non-empty string")
    return storable(value)


def _require_collection_end_in_range(customer: Customer, intent: ChargeIntent) -> None:
    """Refuse, at create, a period whose collection would end beyond the last instant chargeflow
    can hold (rather than accepting the charge and failing when it is realized)."""
    to_instant(
        customer.collection_period_end(intent.service_period.end) + INTERNAL_COLLECTION_PERIOD
    )


def get_charge(op: Operation, charge_id: str) -> UsageBasedCharge:
    """The charge with its runs; `NotFoundError`."""
    return op.uow.charges.get(charge_id)


def list_charges(op: Operation, customer_id: str | None = None) -> list[UsageBasedCharge]:
    """Every charge, or one customer's, oldest first."""
    return op.uow.charges.list(customer_id)


def charge_history(op: Operation, charge_id: str) -> list[ChargeTransition]:
    """The charge's transitions from the audit log, oldest first; `NotFoundError`."""
    op.uow.charges.get(charge_id)
    return op.uow.history.for_charge(charge_id)


def advance_charge(op: Operation, charge_id: str) -> UsageBasedCharge | None:
    """Advance one charge until stable; the charge if it moved, else None."""
    charge = op.uow.charges.get(charge_id, lock=True)
    return charge if charge_lifecycle.advance(op, charge) else None


BILLING_LOCKED = frozenset({Trigger.DELETE, Trigger.EXTEND, Trigger.SHRINK})
"""Triggers that change a credit_then_invoice charge's invoice lines: fired under the customer's
billing lock and the locks of the charge's invoices, taken before the charge's own lock (the
lock order of docs/lifecycle.md 7)."""


def fire_trigger(
    op: Operation, charge_id: str, trigger: Trigger | str, arguments: Mapping[str, object]
) -> UsageBasedCharge:
    """Fire one trigger at a charge, its `arguments` validated into the trigger's typed argument
    first (no advance afterwards, the effects applied); the charge as it now stands.

    Raises `TriggerNotPermittedError` for an unknown trigger or one only billing fires
    (`invoice_created`, `collection_completed`, `invoice_issued`: they carry the invoice's
    facts), `InvalidTriggerArgumentError` for a missing, extra or malformed argument,
    `GuardFailedError`, `RetryAfterBillingAdvancesError` for a period change while billing is
    issuing the charge, or the typed error of an action; then nothing has changed.
    """
    charge = op.uow.charges.get(charge_id)
    known = _trigger(charge, trigger)
    if known in BILLING_TRIGGERS:
        raise TriggerNotPermittedError(
            charge.id, charge.state.status, known, "only billing fires it, with the invoice's facts"
        )
    argument = _argument(charge, known, arguments)
    refuse_while_billing_advances(charge, known)
    if (
        known in BILLING_LOCKED
        and charge.intent.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE
    ):
        _lock_billing_of(op, charge)
    charge = op.uow.charges.get(charge_id, lock=True)
    charge_lifecycle.fire(op, charge, known, argument)
    return charge


def _lock_billing_of(op: Operation, charge: UsageBasedCharge) -> None:
    """Take the locks billing takes before a charge's: its customer's billing lock, then the
    rows of the invoices its runs are on, by ascending id. The runs are read again under the
    billing lock, which no invoicing can pass, so no invoice escapes the lock."""
    op.uow.customers.lock_billing(charge.intent.customer_id)
    runs = op.uow.charges.get(charge.id).live_runs()
    for invoice_id in sorted({run.invoice_id for run in runs if run.invoice_id is not None}):
        op.uow.invoices.get(invoice_id, lock=True)


def delete_charge(op: Operation, charge_id: str, policy: DeletePolicy | str) -> UsageBasedCharge:
    """Fire `delete` with the credit refund `policy` (`correct` or `ignore`)."""
    return fire_trigger(op, charge_id, Trigger.DELETE, {"policy": policy})


def extend_charge(op: Operation, charge_id: str, to: datetime | str) -> UsageBasedCharge:
    """Fire `extend`: the service period now ends at the later `to` (docs/lifecycle.md 11)."""
    return fire_trigger(op, charge_id, Trigger.EXTEND, {"to": to})


def shrink_charge(op: Operation, charge_id: str, to: datetime | str) -> UsageBasedCharge:
    """Fire `shrink`: the service period now ends at the earlier `to` (docs/lifecycle.md 11)."""
    return fire_trigger(op, charge_id, Trigger.SHRINK, {"to": to})


def _trigger(charge: UsageBasedCharge, trigger: Trigger | str) -> Trigger:
    try:
        return Trigger(trigger)
    except ValueError as error:
        raise TriggerNotPermittedError(
            charge.id, charge.state.status, str(trigger), "unknown trigger"
        ) from error


def _argument(
    charge: UsageBasedCharge, trigger: Trigger, arguments: Mapping[str, object]
) -> TriggerArgument | None:
    """The typed argument of `trigger` built from `arguments`; `InvalidTriggerArgumentError`
    naming each missing, extra or malformed field."""
    model = TRIGGER_ARGUMENTS[trigger]
    if model is None:
        if arguments:
            raise InvalidTriggerArgumentError(
                charge.id,
                charge.state.status,
                trigger,
                f"{trigger.value} takes no argument, got {', '.join(sorted(arguments))}",
            )
        return None
    try:
        return model.model_validate(dict(arguments))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])} {_message(trigger, issue)}"
            for issue in error.errors()
        )
        raise InvalidTriggerArgumentError(
            charge.id, charge.state.status, trigger, problems
        ) from error


def _message(trigger: Trigger, issue: Any) -> str:
    """What is wrong with one field, as the end of a sentence that starts with its name."""
    if issue["type"] == "missing":
        return "is required"
    if issue["type"] == "extra_forbidden":
        return f"is not an argument of {trigger.value}"
    error = issue.get("ctx", {}).get("error")
    return str(error) if issue["type"] == "value_error" and error else str(issue["msg"]).lower()


IDLE = frozenset(
    (mode, status) for mode, spec in CHARGE_SPECS.items() for status in spec.never_continued()
)
"""The (settlement mode, status) pairs in which advancing does nothing (a credit_then_invoice
charge waiting for its collection or its issue, which only billing fires): the due sweep does
not claim such charges, however long they wait."""


def _claim_due_charges(
    op: Operation, now: datetime, after: tuple[datetime, str] | None, limit: int
) -> list[tuple[tuple[datetime, str], StoredCharge]]:
    """A page of due charges, claimed (locked) and read with their runs in a fixed number of
    queries; each is built when its turn comes, in its own savepoint (a charge that does not
    load fails alone, and the page holds rows, not every charge built at once)."""
    keys = op.uow.charges.claim_due(now, after, limit, idle=IDLE)
    read = {stored.id: stored for stored in op.uow.charges.read_many([key[1] for key in keys])}
    return [(key, read[key[1]]) for key in keys if key[1] in read]


def _advance_stored(op: Operation, stored: StoredCharge) -> bool:
    """Build a claimed charge and advance it until stable; whether it moved."""
    return charge_lifecycle.advance(op, stored.build())


DUE_CHARGES = Sweep[tuple[datetime, str], StoredCharge](
    kind="charge",
    claim=_claim_due_charges,
    handle=_advance_stored,
    ident=lambda stored: stored.id,
)
"""The due charges: claimed by `advance_after`, each advanced until stable."""


class ChargeSweeps:
    """The charge operations that visit many charges, each charge in its own unit of work."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    def advance_customer(self, customer_id: str) -> list[UsageBasedCharge]:
        """Advance each of the customer's charges that are not deleted; those that moved."""
        with self._operations() as op:
            op.uow.customers.get(customer_id)
            charge_ids = op.uow.charges.ids_for_customer(customer_id)
        now = self._operations.clock.now()
        moved = [self._advance(charge_id, now) for charge_id in charge_ids]
        return [charge for charge in moved if charge is not None]

    def advance_due(
        self,
        batch_size: int = 500,
        visited: Callable[[str], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> AdvanceReport:
        """Advance every charge whose `advance_after` has come, a batch per unit of work and
        each charge in its own savepoint (`engines.sweeps`): a charge that fails, whatever the
        error, is rolled back, logged and reported in `failed`, and the sweep goes on.
        `visited` is called with each charge id once its batch is committed (for progress
        displays); `stop()` ends the sweep after the batch in flight."""
        return sweep(
            self._operations, DUE_CHARGES, batch_size=batch_size, visited=visited, stop=stop
        )

    def _advance(self, charge_id: str, now: datetime) -> UsageBasedCharge | None:
        with self._operations(now) as op:
            return advance_charge(op, charge_id)
