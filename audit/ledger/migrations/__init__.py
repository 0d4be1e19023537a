"""Alembic migrations of the ledger schema: ``versions/`` holds one revision a step, the
first the schema of marginlex 0.1 (``0001_baseline``); ``env.py`` runs them on the
connection :mod:`marginlex.audit.ledger.schema` hands it. Imports only sqlalchemy and alembic.
"""
