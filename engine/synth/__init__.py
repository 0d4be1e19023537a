"""Synthetic books: deterministic books of any size (``marginlex synth``).

``generate`` writes the book; ``instruments``, ``parties`` and ``positions`` build its frames.
Same ``(n_accounts, seed)`` gives the same bytes. Takes a size and a seed; hands out book
frames in the book contract of :mod:`marginlex.engine.book`. Must not import the graph, plans,
phases or the audit trail.
"""
