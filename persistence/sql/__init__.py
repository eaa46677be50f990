"""The SQL adapter of the persistence ports: SQLite and PostgreSQL through SQLAlchemy/SQLModel.

`SqlDatabase` is the entry point: it opens units of work whose repositories implement every
port of `persistence.ports`, and it migrates the schema with Alembic. Nothing outside
`chargeflow` (the application shell) and the tests should import from here.
"""

from chargeflow.persistence.sql.database import SqlDatabase
from chargeflow.persistence.sql.schema import Revision, revisions

__all__ = ["Revision", "SqlDatabase", "revisions"]
