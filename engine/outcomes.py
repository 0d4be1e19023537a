"""Outcome enums shared by the evaluator, the trace and the ledger."""

from __future__ import annotations

from enum import StrEnum


class DecisionStatus(StrEnum):
    """The status of one margin decision.

    ``OK``: value covers the requirement. ``CALL``: value falls short, a call of the
    shortfall is issued. ``BREACH``: a segregation constraint is violated; the figures are
    still computed, but the set may not be margined as formed until the breach is cured.
    """

    OK = "ok"
    CALL = "call"
    BREACH = "breach"


class MethodKind(StrEnum):
    """Which margin method produced a class group's requirement."""

    SCENARIO_GRID = "scenario_grid"
    SPAN_SCAN = "span_scan"
    STRATEGY_BASED = "strategy_based"


class FileFormat(StrEnum):
    """How ``run --out`` writes frames: Parquet (typed, columnar) or CSV (for spreadsheets)."""

    PARQUET = "parquet"
    CSV = "csv"
