"""The typed rulebook model: what one ``.mlx`` file says, as frozen pydantic nodes.

Holds the domain vocabulary (``domain``: the book contract's enums that rules name), the
expression AST (``expressions``), the fields expressions can name (``fields``), the statements
(``rulebook``) and the parts below them (``bodies``). Takes nothing in; every other stage of
the language hands these nodes on. Must not import lark, the parser, or any other package of
marginlex (it is the bottom of the pipeline).
"""
