"""Lifecycles as data: one spec per settlement mode, the single binding of a spec to
`transitions`, and the definition checks every registered spec must pass.

This package decides which status follows which; it performs no mechanics (rating, credits,
SQL). Actions are named here and implemented by `engines`.
"""
