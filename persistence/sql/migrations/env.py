"""The Alembic environment of chargeflow: runs the migrations on the connection it is given.

`persistence.sql.schema.migrate` hands over an open connection, already inside the
transaction the migration runs in, through ``config.attributes["connection"]`` (so an in-memory
SQLite database is migrated in place). This module must not create an engine of its own nor
import the table classes: migrations describe the schema by themselves.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from chargeflow.domain.errors import PersistenceError
from chargeflow.persistence.sql.schema import VERSION_TABLE


def run_migrations() -> None:
    """Run the pending migrations on the handed-over connection (batch mode on SQLite)."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise PersistenceError("migrations run through SqlDatabase.upgrade() and .downgrade()")
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
