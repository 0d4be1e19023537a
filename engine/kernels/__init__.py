"""Margin kernels: the vectorized arithmetic of margin, each a function of arrays.

``pricing`` (Black-Scholes), ``scenarios`` (portfolio-margin grids), ``span`` (SPAN scans),
``strategy`` (strategy-based margin), ``offsets`` (product-group and spread credits),
``haircuts`` (collateral), ``money`` (half-up cents), ``grouping`` (integer-coded group-bys),
``text`` (text columns made by code) and ``csv_cells`` (CSV cells no spreadsheet runs).
Takes arrays and frames; hands arrays back. Must not import the model, plans, phases, the graph
or the audit trail: a kernel knows numbers, not rules.
"""
