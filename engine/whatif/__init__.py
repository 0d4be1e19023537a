"""Counterfactuals: the smallest changes to a book that alter one decision, each verified.

``model`` (the typed result), ``edits`` (changed copies of a book: a deposit, reduced
positions, collateral swapped for cash, a field set, an agreement signed, an edge removed),
``evaluator`` (re-deciding one margin set on the part of the book it depends on),
``eligibility`` (what would pass each failed requirement, read from its condition) and
``search`` (calls, eligibility, segregation breaches). Takes a book, a resolved rulebook and
a margin set id; hands out a :class:`~marginlex.engine.whatif.model.WhatIf`. Must not import
the audit trail (``marginlex explain --what-if`` reads the recorded inputs and calls this).
"""
