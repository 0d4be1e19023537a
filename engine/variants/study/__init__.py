"""Impact studies: what a comment letter cites about a comparison (``compare --study``).

``segments`` (collateral freed or required and calls, by party kind, account kind,
eligibility path and carrying firm; how concentrated the benefit is), ``shapley`` (an
attribution that does not depend on the order rules are switched; ``sampling`` its random
orders, ``coalitions`` the hybrids evaluated from the run sharing the most phases),
``today`` (today's regimes side by side as a baseline), ``stress_calls`` (calls
created or removed under each stress scenario, per rulebook pair), ``study`` (the typed
study of a :class:`~marginlex.engine.variants.compare.CompareResult`), ``study_json`` and
``report`` (JSON and one self-contained HTML page with SVG plots). Takes a comparison, its
rulebooks, the book and scenarios; hands out a
:class:`~marginlex.engine.variants.study.study.Study`. Must not import the audit trail.
"""
