"""Decision traces: the versioned record of one margin decision and why.

``model`` is the trace (:class:`~marginlex.audit.trace.model.DecisionTrace`, schema in
``schema.json``) and ``steps`` its parts; ``from_evaluation`` builds every trace of an
evaluation column-wise with ``sets``, ``outputs``, ``groups``, ``figures``, ``step_inputs``,
``fragments`` (canonical JSON per row) and ``layout``; ``money`` is the Decimal cents;
``dictionary`` the Zstandard dictionary traces are compressed with. Takes an
:class:`~marginlex.engine.evaluation.Evaluation`; hands out canonical trace bytes. Must not
import the ledger or explain.
"""
