"""Check: passes of one shape, run in order, each collecting every diagnostic it finds.

Takes a parsed rulebook and its resolution; hands out
:class:`~marginlex.dsl.diagnostics.Diagnostic` lists. ``passes`` holds the ordered tuple of
passes, ``expressions`` names and types, ``tables`` table values and shapes, ``runner`` files
and folders end to end. Must not import the engine or the audit trail.
"""
