"""The language server (``marginlex lsp``): pygls handlers over the one rulebook model.

Takes an editor's text and hands back what ``marginlex check`` says of it (the same codes,
places and hints), quick fixes where a hint names the fix, hover, definitions across
``extends``, references, the outline, completion and ``fmt``. ``analysis`` parses and checks
a text with :mod:`marginlex.dsl`, ``positions`` converts spans to LSP ranges, ``fixes``,
``hover``, ``navigate`` and ``complete`` answer one kind of request each, ``server`` wires
them to the protocol. Holds no rule logic; must not be imported by ``dsl``, ``engine`` or
``audit``.
"""
