"""Format: the canonical layout of a rulebook (``marginlex fmt``), comments kept, idempotent.

Takes model nodes and the source text; hands out canonical text. ``formatter`` has one handler
per node type; ``expressions``, ``methods`` and ``lines`` render the parts below statements.
Must not import the checks, the engine or the audit trail.
"""
