"""The one exception tree of chargeflow.

Every refused operation raises one of these; context is kept as attributes, and the message
repeats it so a log line alone is enough to act on::

    ChargeflowError
    ├── InvalidInputError                  bad input: validation failed, nothing was changed
    │   └── InvalidCurrencyError
    ├── NotFoundError                      (kind, id)
    ├── ConflictError                      a uniqueness rule would be broken
    ├── CorruptRecordError                 a stored row cannot be loaded (unknown status, mode...)
    ├── PersistenceError                   a database error, translated at the persistence boundary
    │   ├── DowngradeRefusedError          a downgrade would lose facts (reason, row ids)
    │   └── LockBusyError                  a sweep met a lock another transaction holds (retried)
    ├── ChargeError                        (charge_id, status, trigger): a refused charge operation
    │   │                        (`subject` says "invoice" when the machine is an invoice's)
    │   ├── TransitionRefusedError
    │   │   ├── TriggerNotPermittedError   the trigger has no transition from the status
    │   │   │   └── RetryAfterBillingAdvancesError  a period change while billing is issuing
    │   │   └── GuardFailedError           a transition exists but its guard does not pass (guard)
    │   ├── InvalidTriggerArgumentError    e.g. an empty or unknown line id, a missing delete policy
    │   ├── InvalidPeriodChangeError       extend / shrink to an end the rules refuse
    │   ├── CurrentRunExistsError          a second current realization run
    │   ├── NoCurrentRunError              an action needs the current run and there is none
    │   ├── NegativeTotalError             the rated total is negative (amount)
    │   ├── AmountOutOfRangeError          the rated total has over 15 digits (amount)
    │   ├── CreditAllocationMismatchError  the ledger over- or under-allocated (asked, got)
    │   ├── LedgerError                    the ledger answered without a reference
    │   └── InsufficientFundsError         a correction beyond what remains (asked, remaining)
    ├── BillingError                       a refused billing operation
    │   ├── NoLinesToInvoiceError          (customer_id, as_of, left): nothing could be invoiced
    │   ├── InvalidLineError               (line_id): a line an engine cannot bill as given
    │   ├── PaymentAlreadyAuthorizedError  (invoice_id): the payment was authorized already
    │   └── PaymentAlreadySettledError     (invoice_id): the payment was settled already
    ├── MachineDefinitionError             a machine spec breaks a definition rule
    └── UnappliedEffectsError              a bug: invoice effects were left unapplied

Database errors are translated with ``raise ... from`` so the driver's error stays attached.
Never log and swallow one of these: raise it, or report it to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal


class ChargeflowError(Exception):
    """Root of every error chargeflow raises on purpose."""


class InvalidInputError(ChargeflowError, ValueError):
    """Input failed validation; nothing was changed.

    It is also a `ValueError`, so pydantic validators may raise it and have it collected.
    """


class InvalidCurrencyError(InvalidInputError):
    """A currency code that is not an ISO 4217 currency with minor units."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown currency {code!r}: expected an ISO 4217 code such as 'USD'")
        self.code = code


class NotFoundError(ChargeflowError):
    """A referenced record does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class ConflictError(ChargeflowError):
    """The operation would break a uniqueness rule (for example a feature key in use)."""


class CorruptRecordError(ChargeflowError):
    """A stored record holds a value this version cannot load (unknown status, mode, price)."""

    def __init__(self, table: str, record_id: str, detail: str) -> None:
        super().__init__(f"{table} row {record_id!r} cannot be loaded: {detail}")
        self.table = table
        self.record_id = record_id
        self.detail = detail


class PersistenceError(ChargeflowError):
    """A database error, translated at the persistence boundary (the cause is chained)."""


class LockBusyError(PersistenceError):
    """A unit of work that must not wait (a sweep's) met a lock another transaction holds:
    the item is left for the next sweep. Raised only to sweeps, which never report it."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is held by another transaction")
        self.what = what


class SchemaNotReadyError(PersistenceError):
    """The database does not hold chargeflow's schema at the latest revision (or does not
    exist): nothing was created or changed. ``chargeflow db upgrade`` (or `open_app` with
    ``migrate=True``) brings it there."""

    def __init__(self, where: str, revision: str | None, head: str) -> None:
        self.revision, self.head = revision, head
        found = f"is at revision {revision}, not {head}" if revision else "has no chargeflow schema"
        super().__init__(f"{where} {found}: run `chargeflow db upgrade` first")


class DowngradeRefusedError(PersistenceError):
    """A schema downgrade would drop facts the upgrade cannot rebuild; nothing was changed."""

    def __init__(self, reason: str, row_ids: list[str], count: int) -> None:
        more = f" and {count - len(row_ids)} more" if count > len(row_ids) else ""
        super().__init__(
            f"cannot downgrade: {reason} (rows {', '.join(row_ids)}{more}); "
            "they cannot be kept in the older schema"
        )
        self.reason = reason
        self.row_ids = row_ids
        self.count = count


class UnappliedEffectsError(ChargeflowError):
    """An operation tried to advance or commit while invoice effects it produced were still
    unapplied: a bug in the engine, never the caller's fault. Nothing was committed."""

    def __init__(self, effects: list[object]) -> None:
        super().__init__(f"invoice effects left unapplied: {effects!r}")
        self.effects = effects


class MachineDefinitionError(ChargeflowError):
    """A machine spec breaks one of the definition rules."""

    def __init__(self, machine: str, problems: list[str]) -> None:
        super().__init__(f"machine {machine!r} is ill-defined: " + "; ".join(problems))
        self.machine = machine
        self.problems = problems


class ChargeError(ChargeflowError):
    """A refused operation on one charge; carries the charge id, the status the refused
    transition started from and the trigger, as plain strings (enum members are accepted)."""

    reason = "charge operation refused"

    def __init__(
        self,
        charge_id: str,
        status: str,
        trigger: str | None = None,
        detail: str | None = None,
        *,
        subject: str = "charge",
    ) -> None:
        status, trigger = str(status), None if trigger is None else str(trigger)
        message = f"{self.reason}: {subject} {charge_id!r} in status {status!r}"
        if trigger is not None:
            message += f", trigger {trigger!r}"
        if detail:
            message += f": {detail}"
        super().__init__(message)
        self.charge_id = charge_id
        self.subject = subject
        self.status = status
        self.trigger = trigger
        self.detail = detail


class TransitionRefusedError(ChargeError):
    """The machine refused the trigger."""

    reason = "transition refused"


class TriggerNotPermittedError(TransitionRefusedError):
    """The trigger has no transition from the charge's current status."""

    reason = "trigger not permitted"


class RetryAfterBillingAdvancesError(TriggerNotPermittedError):
    """A period change reached a credit_then_invoice charge while billing is issuing its run
    (`…issuing`, `…completed`): nothing changed; retry once billing has moved it on."""

    reason = "retry after billing advances"


class GuardFailedError(TransitionRefusedError):
    """A transition exists for the trigger, but its guard does not pass now."""

    reason = "guard failed"

    def __init__(
        self, charge_id: str, status: str, trigger: str, guard: str, *, subject: str = "charge"
    ) -> None:
        super().__init__(
            charge_id, status, trigger, f"guard {guard!r} does not pass", subject=subject
        )
        self.guard = guard


class InvalidTriggerArgumentError(ChargeError):
    """The trigger's argument is missing or invalid (an empty line id, no delete policy...)."""

    reason = "invalid trigger argument"


class InvalidPeriodChangeError(ChargeError):
    """`extend` to an end not after the current one, `shrink` to an end not strictly inside the
    period, or a shrink that would cut an invoiced run: nothing changed."""

    reason = "invalid period change"


class CurrentRunExistsError(ChargeError):
    """The charge already has a current realization run."""

    reason = "current realization run already exists"


class NoCurrentRunError(ChargeError):
    """An action needs the charge's current realization run and there is none."""

    reason = "no current realization run"


class NegativeTotalError(ChargeError):
    """Rating produced a negative total."""

    reason = "charge total is negative"

    def __init__(self, charge_id: str, status: str, trigger: str | None, amount: Decimal) -> None:
        super().__init__(charge_id, status, trigger, f"rated amount {amount}")
        self.amount = amount


class AmountOutOfRangeError(ChargeError):
    """Rating produced an amount with more than 15 digits before the point."""

    reason = "charge total is out of range"

    def __init__(self, charge_id: str, status: str, trigger: str | None, amount: Decimal) -> None:
        super().__init__(charge_id, status, trigger, f"rated amount {amount}")
        self.amount = amount


class CreditAllocationMismatchError(ChargeError):
    """The credit source allocated more than asked, or less than asked in exact mode."""

    reason = "credit allocations do not match total"

    def __init__(
        self, charge_id: str, status: str, trigger: str | None, asked: Decimal, got: Decimal
    ) -> None:
        super().__init__(charge_id, status, trigger, f"asked {asked}, allocated {got}")
        self.asked = asked
        self.got = got


class LedgerError(ChargeError):
    """The ledger gave an answer the engine cannot record (an empty reference)."""

    reason = "invalid ledger answer"


class InsufficientFundsError(ChargeError):
    """A correction asks for more than the allocations it names still hold."""

    reason = "insufficient funds"

    def __init__(
        self, charge_id: str, status: str, trigger: str | None, asked: Decimal, remaining: Decimal
    ) -> None:
        super().__init__(charge_id, status, trigger, f"asked {asked}, remaining {remaining}")
        self.asked = asked
        self.remaining = remaining


class BillingError(ChargeflowError):
    """A refused billing operation."""


class NoLinesToInvoiceError(BillingError):
    """No gathering line of the customer could be invoiced at `as_of`; `left` names each line
    left behind and why (as ``"line L (charge C): reason"``)."""

    def __init__(self, customer_id: str, as_of: str, left: Sequence[str] = ()) -> None:
        message = f"no lines to invoice for customer {customer_id!r} as of {as_of}"
        if left:
            message += "; left behind: " + "; ".join(left)
        super().__init__(message)
        self.customer_id = customer_id
        self.as_of = as_of
        self.left = tuple(left)


class PaymentAlreadyAuthorizedError(BillingError):
    """A payment is recorded as authorized twice (invoice `invoice_id`, or one of its runs)."""

    def __init__(self, invoice_id: str, detail: str = "") -> None:
        message = f"payment already authorized: invoice {invoice_id!r}"
        super().__init__(message + (f": {detail}" if detail else ""))
        self.invoice_id = invoice_id


class PaymentAlreadySettledError(BillingError):
    """A payment is recorded as paid twice (invoice `invoice_id`, or one of its runs)."""

    def __init__(self, invoice_id: str, detail: str = "") -> None:
        message = f"payment already settled: invoice {invoice_id!r}"
        super().__init__(message + (f": {detail}" if detail else ""))
        self.invoice_id = invoice_id


class InvalidLineError(BillingError):
    """A line that cannot be billed as given (no charge id, a duplicate charge, ids changed)."""

    def __init__(self, line_id: str, detail: str) -> None:
        super().__init__(f"invalid invoice line {line_id!r}: {detail}")
        self.line_id = line_id
        self.detail = detail
