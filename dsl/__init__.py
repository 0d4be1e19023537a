"""marginlex.dsl: the rulebook language (grammar, parser, model, checks, formatter).

Only this package imports lark; everything downstream sees typed model nodes.
"""
