"""Plans: a resolved rulebook compiled to an ordered tuple of whole-column steps.

``compile`` turns a :class:`~marginlex.dsl.resolve.ResolvedRulebook` and a date into a
:class:`~marginlex.engine.plan.steps.Plan`; ``context`` builds the row frames expressions run
over; ``expressions`` evaluates the expression AST over whole columns. Takes model nodes from
:mod:`marginlex.dsl`; hands plans to the phases. Must not import phases, variants or the audit
trail.
"""
