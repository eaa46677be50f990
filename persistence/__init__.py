"""Storage: the ports (repository and unit-of-work protocols, in domain types) and the SQL
adapter that implements them. This package imports `domain` only."""
