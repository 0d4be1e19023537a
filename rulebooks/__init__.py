"""The shipped rulebooks (``*.mlx``): ``sec``, ``cftc`` and ``harmonized``.

Load one with :func:`marginlex.dsl.load_rulebook` by its id.
"""
