"""The auditor's console: ``marginlex serve``, a read-only web application over the ledger.

Takes a ledger (SQLite or PostgreSQL) and hands pages to a browser: runs, decisions, the
explain tree, account history, recorded rulebooks, verify. It reads through
:mod:`marginlex.audit` and never writes to the ledger it serves. It must not be imported by
``dsl``, ``engine`` or ``audit``; the command line imports it inside ``serve`` only.

``app`` (the factory), ``security``, ``state``, ``render`` (templates, tables as CSV),
``queries`` (read models), ``pages/`` (one router per page), ``trees``, ``compare``,
``replay_one``, ``plots``, ``verify_jobs``; ``templates/`` and ``static/`` ship as package
data.
"""
