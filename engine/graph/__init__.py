"""The account graph: parties, accounts, lots and the columns rules join on.

``account_graph`` builds the graph (networkx) from a Book; ``accounts`` and ``lots`` compute
its per-account and per-lot columns; ``margin_sets`` decides which accounts are margined
together. Takes a :class:`~marginlex.engine.book.load.Book`; hands columns to the phases.
Must not import plans, phases, variants or the audit trail.
"""
