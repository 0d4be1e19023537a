"""Alembic's environment: run the revisions on the connection the caller passes in."""

from __future__ import annotations

from alembic import context


def run_migrations() -> None:
    """Run the revisions in the caller's connection and transaction."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic's context exists only while Alembic runs this file; a plain import (doctest
# collection, the layout tests) must not run anything.
if hasattr(context, "config"):
    run_migrations()
