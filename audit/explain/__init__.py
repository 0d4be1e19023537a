"""Explain: one recorded decision read top-down, a rule and citation on every line.

``tree`` builds the explanation from a trace; ``text`` and ``html`` (``templates/``) render it.
Takes a stored decision; hands out text or HTML. Must not import the ledger's writers or the
command line.
"""
