"""Books: read a book folder, validate every cell at once, and hand out a typed :class:`Book`.

``schema`` is the data contract as column specifications; ``parse`` turns raw columns into
typed ones; ``checks`` and ``validate`` find every problem (``problems`` records them by file,
row and column); ``derive`` adds the derived columns; ``load`` gives the :class:`Book` and the
embedded demo book (``demo_book/``); ``columns`` holds fast id lookups. Takes a folder path;
hands a validated Book to the graph. Must not import the graph, plans, phases or the audit trail.
"""
