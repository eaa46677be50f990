"""The mechanics and orchestration: the charge driver (fire, activate, advance until stable),
rating, credit allocation, runs, and the operations on charges.

Engines never choose a next status (the machines do) and never touch SQL (they go through
`persistence.ports`)."""
