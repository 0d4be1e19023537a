"""marginlex: rules-as-code for portfolio margin and cross-margining.

The package is a thin front door. The pipeline stages live in
:mod:`marginlex.dsl` (rulebook language), :mod:`marginlex.engine` (books, graph,
evaluation) and :mod:`marginlex.audit` (traces and the ledger).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("marginlex")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = ["__version__"]
