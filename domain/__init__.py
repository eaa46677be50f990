"""The pure model of chargeflow: charges, runs, money, time, statuses, triggers and errors.

This package owns the vocabulary every other layer speaks. It must not import anything of ours,
nor any I/O library (no SQL, no `transitions`): it is validated data and pure functions only.
"""
