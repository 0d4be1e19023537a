"""The ledger: runs and hash-chained decisions on SQLite or PostgreSQL.

``tables`` and ``store`` (the storage interface, one transaction per run), ``chain`` (what an
entry commits to), ``records`` (what is stored and handed back), ``recorded_inputs`` (rulebook
bundles and the book blob), ``record`` and ``fork_pool`` (recording a run with workers),
``read`` (and ``read_only``, for surfaces that must not write), ``verify``, ``replay`` and
``replay_run`` (re-evaluating a recorded run), ``default`` (the ledger in the user's data
folder, the demo book recorded once), ``origin`` (who ran a run), ``keys`` and
``checkpoints`` (signed heads kept outside the ledger), ``roles`` (a PostgreSQL ledger that
refuses edits), ``schema`` and ``migrations`` (Alembic). Takes
traces and evaluations; hands out stored decisions and verification reports. Must not import
explain or the command line.
"""
