"""Row coverage of rulebook tests: which table rows, range rows and buckets decided something.

A rule can be exercised while most of its table is not: one lot in the 2-year bucket
exercises a schedule of twelve buckets. Each row is an item of its own, named
``rule_id[row]`` as the trace names it, and is **exercised** when some test's trace shows
it deciding:

- a haircut bucket or asset row (``under 9 months``, ``UST_BILL``, ``otherwise``): a lot
  whose ``schedule`` is the rule and whose ``haircut_row`` is the row (under ``more
  conservative of``, the row of the schedule that won);
- a range row of a scenario grid or SPAN scan, or a row of ``rates`` (``row 2``,
  ``row 4 (otherwise)``): a position of the rule whose ``range_row`` is the row;
- a credit row (``broad``): an offset row of the rule for that product group holding two
  class groups or more (something to offset).

Rows of the strategy-based fallback are not traced one by one (its legs are finer than its
rows), so they are not listed; their figures are checked by ``marginlex test --mutate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pandas as pd

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.evaluation import Evaluation

#: (trace frame, column naming the rule, column naming the row)
_WHERE = {
    "haircut": ("lots", "schedule", "haircut_row"),
    "range": ("positions", "rule_id", "range_row"),
    "credit": ("offsets", "rule_id", "product_group"),
}


def _bucket(b: m.Bucket) -> str:
    return b.label


def table_rows(s: m.Statement) -> Iterator[tuple[str, str]]:
    """(where, row label) of each row of a statement's table, labelled as the trace does.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> sec = {s.id: s for s in load_rulebook("sec").statements}
    >>> list(table_rows(sec["sec_portfolio_margin"]))[-1]
    ('range', 'row 3 (otherwise)')
    """
    if isinstance(s, m.Haircut) and isinstance(s.body, m.MaturityBuckets):
        yield from (("haircut", _bucket(b)) for b in s.body.buckets)
    elif isinstance(s, m.Haircut) and isinstance(s.body, m.AssetTable):
        yield from (("haircut", r.asset.name if r.asset else "otherwise") for r in s.body.rows)
    elif isinstance(s, m.Margin) and isinstance(s.method, m.ScenarioGrid | m.SpanScan | m.Rates):
        rows = s.method.rows if isinstance(s.method, m.Rates) else s.method.ranges
        for i, r in enumerate(rows):
            otherwise = getattr(r, "when", None) is None
            yield "range", f"row {i + 1}" + (" (otherwise)" if otherwise else "")
    elif isinstance(s, m.Offset) and isinstance(s.rule, m.ClassGroupCredit):
        yield from (("credit", r.left.name) for r in s.rule.rows)
    elif isinstance(s, m.Offset) and isinstance(s.rule, m.Dv01Pairing):
        first, second = s.rule.first_house.name, s.rule.second_house.name
        for r in s.rule.rows:
            yield "credit", f"{first} {r.first.name} with {second} {r.second.name}"


def _seen(evaluations: Iterable[Evaluation]) -> dict[str, set[tuple[str, str]]]:
    """Per kind of row, the (rule, row) pairs some trace shows deciding."""
    seen: dict[str, set[tuple[str, str]]] = {k: set() for k in _WHERE}
    for e in evaluations:
        for kind, (name, rule_col, row_col) in _WHERE.items():
            frame = e.frames[name]
            if kind == "credit":
                frame = frame[frame["n_class_groups"].to_numpy() > 1]
            pairs = pd.DataFrame(
                {"rule": frame[rule_col].astype("str"), "row": frame[row_col].astype("str")}
            ).drop_duplicates()
            seen[kind] |= set(zip(pairs["rule"], pairs["row"], strict=True))
    return seen


def row_coverage(
    rulebook: ResolvedRulebook, evaluations: Iterable[Evaluation]
) -> list[tuple[str, str, bool]]:
    """(rule id, row label, exercised) for every table row of the rulebook, in order."""
    seen = _seen(evaluations)
    statements = dict((s.id, s) for s in rulebook.statements).values()
    return [
        (s.id, row, (s.id, row) in seen[kind]) for s in statements for kind, row in table_rows(s)
    ]
