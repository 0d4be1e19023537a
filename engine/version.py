"""The engine's version: what every recorded run and trace says made its decisions."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    ENGINE_VERSION = version("marginlex")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    ENGINE_VERSION = "0.0.0"
