"""The JSON rendering of a comparison (``marginlex compare --json``), schema ``compare-v1``.

Top level: ``schema``, ``book`` (name, sha256, as_of), ``baseline``, ``allocation`` (how set
figures reach accounts), ``rulebooks`` (totals per rulebook), ``comparisons`` (one per
rulebook after the baseline: counts, deltas, largest changes, attribution with its steps
and, per changed account, the contribution of each step), ``accounts`` (per account: the
figures under each rulebook and the deltas from the baseline) and ``sets`` (sets that
coincide with the baseline's). Money is in USD, rounded to the cent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from marginlex.engine.variants.attribution import Attribution
from marginlex.engine.variants.compare import CompareResult
from marginlex.engine.variants.figures import MEASURES

SCHEMA = "marginlex-compare-v1"
ALLOCATION = (
    "a margin set's requirement, value and call are allocated in full to its anchor account "
    "(the smallest account id of the set, which the set id names); other members show 0"
)


def _usd(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for col in columns:
        out[col] = out[col].astype("int64") / 100.0
    return out


def _attribution(a: Attribution, paired: pd.DataFrame) -> dict[str, Any]:
    contrib = _usd(a.contributions, list(MEASURES))
    per_account: dict[str, list[dict[str, Any]]] = {}
    for row in contrib.to_dict("records"):  # rendering: one row per (account, step) moved
        per_account.setdefault(str(row["account_id"]), []).append(
            {
                "rules": str(row["rules"]).split("+"),
                **{m: round(float(row[m]), 2) for m in MEASURES},
            }
        )
    deltas = _usd(paired.set_index("account_id"), [f"{m}_delta" for m in MEASURES])
    table: dict[Any, dict[Any, Any]] = deltas[[f"{m}_delta" for m in MEASURES]].to_dict("index")
    accounts = [
        {
            "account_id": account_id,
            **{f"{m}_delta": round(float(table[account_id][f"{m}_delta"]), 2) for m in MEASURES},
            "contributions": rows,
        }
        for account_id, rows in sorted(per_account.items())
    ]
    return {
        "method": a.method,
        "non_operative": list(a.non_operative),
        "changed_accounts": a.changed_accounts,
        "evaluated_accounts": a.evaluated_accounts,
        "steps": [
            {
                "rules": list(s.rules),
                "rows": [{"rule": sid, "row": key} for sid, key in s.rows],
                "requirement": s.requirement,
                "value": s.value,
                "call": s.call,
            }
            for s in a.steps
        ],
        "accounts": accounts,
    }


def _figures(frame: pd.DataFrame) -> list[dict[str, Any]]:
    money = {m: (frame[m].to_numpy(np.int64) / 100.0).tolist() for m in MEASURES}
    return [
        {
            "decided": d,
            "margin_set_id": s,
            "anchor": a,
            "status": st,
            "requirement": r,
            "value": v,
            "call": c,
        }
        for d, s, a, st, r, v, c in zip(
            frame["decided"].tolist(),
            frame["margin_set_id"].tolist(),
            frame["anchor"].tolist(),
            frame["status"].tolist(),
            money["requirement"],
            money["value"],
            money["call"],
            strict=True,
        )
    ]


def _deltas(paired: pd.DataFrame) -> list[dict[str, float]]:
    cols = [
        (m, (paired[f"{m}_delta"].to_numpy(np.int64) / 100.0).tolist())
        for m in (*MEASURES, "excess")
    ]
    return [
        dict(zip((c for c, _ in cols), row, strict=True))
        for row in zip(*(v for _, v in cols), strict=True)
    ]


def _accounts(result: CompareResult) -> list[dict[str, Any]]:
    """Per account, figures under each rulebook and deltas (columns zipped: 100k accounts)."""
    frames = {
        t.rulebook_id: result.accounts[result.accounts["rulebook_id"] == t.rulebook_id]
        for t in result.totals
    }
    ids = frames[result.baseline]["account_id"].tolist()
    figures = {rb: _figures(f) for rb, f in frames.items()}
    deltas = {c.to_id: _deltas(result.account_deltas(c.to_id)) for c in result.comparisons}
    return [
        {
            "account_id": account_id,
            "figures": {rb: rows[i] for rb, rows in figures.items()},
            "deltas": {rb: rows[i] for rb, rows in deltas.items()},
        }
        for i, account_id in enumerate(ids)
    ]


def _sets(result: CompareResult) -> list[dict[str, Any]]:
    if result.sets.empty:
        return []
    cols = [f"{m}_{s}" for m in MEASURES for s in ("a", "b", "delta")]
    frame = _usd(result.sets, cols)
    return [
        {
            "margin_set_id": r["margin_set_id"],
            "account_ids": str(r["account_ids"]).split(";"),
            "rulebook_id": r["rulebook_id"],
            **{
                m: {
                    "baseline": round(float(r[f"{m}_a"]), 2),
                    "other": round(float(r[f"{m}_b"]), 2),
                    "delta": round(float(r[f"{m}_delta"]), 2),
                }
                for m in MEASURES
            },
        }
        for r in frame.to_dict("records")  # rendering
    ]


def compare_json(result: CompareResult) -> dict[str, Any]:
    """The comparison as a JSON-ready dict (schema :data:`SCHEMA`)."""
    comparisons = []
    for c in result.comparisons:
        body = c.model_dump(exclude={"attribution"})
        body["largest_changes"] = [m.model_dump() for m in c.largest_changes]
        if c.attribution is not None:
            body["attribution"] = _attribution(c.attribution, result.account_deltas(c.to_id))
        comparisons.append(body)
    return {
        "schema": SCHEMA,
        "book": {
            "name": result.book_name,
            "sha256": result.book_sha256,
            "as_of": result.as_of.isoformat(),
        },
        "baseline": result.baseline,
        "allocation": ALLOCATION,
        "rulebooks": [t.model_dump() for t in result.totals],
        "comparisons": comparisons,
        "accounts": _accounts(result),
        "sets": _sets(result),
    }
