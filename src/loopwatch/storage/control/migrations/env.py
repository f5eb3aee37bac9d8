"""Alembic's environment: migrate the connection the control plane hands over (never a URL of its own)."""

from __future__ import annotations

from alembic import context

from loopwatch.storage.control.tables import metadata


def run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic executes this file with its context set up; imported otherwise (a doctest
# collector walking the package), it does nothing.
if hasattr(context, "config"):
    run()
