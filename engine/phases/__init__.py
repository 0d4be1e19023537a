"""Evaluation phases: one module per phase of :func:`marginlex.engine.evaluate.evaluate`.

In order: ``sets`` (scope, eligibility, margin sets), ``segregation``, ``collateral``
(haircuts and concentration), ``margin`` (one method per set), ``offsets``, ``decision`` (the
arithmetic of excess and call). ``state`` is what the phases thread through; ``reuse`` re-runs
only the phases a variant changes. Takes a plan, the book and the graph; hands out decisions
and trace frames. Must not import variants or the audit trail.
"""
