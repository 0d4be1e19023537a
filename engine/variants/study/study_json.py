"""The JSON rendering of an impact study: the ``study`` key of ``compare --format json``.

Schema ``marginlex-study-v1``: ``pairs`` (per rulebook pair: totals, ``segments`` by
dimension with the changed accounts of each row, ``concentration`` of the benefit and the
burden across carrying firms, ``shapley`` with each player's value, standard error when
sampled, and per account contributions, ``rules`` with citations), ``scenarios`` (calls
created or removed per scenario and pair) and ``accounts`` (every account a figure names,
with its owner, party kind, account kind and carrier). Money is in USD, to the cent.
"""

from __future__ import annotations

from typing import Any

from marginlex.engine.variants.figures import MEASURES
from marginlex.engine.variants.study.shapley import Shapley
from marginlex.engine.variants.study.study import PairStudy, Study

SCHEMA = "marginlex-study-v1"


def _shapley(s: Shapley) -> dict[str, Any]:
    per_account: dict[str, list[dict[str, Any]]] = {}
    for row in s.contributions.to_dict("records"):  # rendering: one row per (account, player)
        per_account.setdefault(str(row["account_id"]), []).append(
            {"rules": str(row["rules"]).split("+"), **{m: int(row[m]) / 100 for m in MEASURES}}
        )
    return {
        **s.model_dump(mode="json", exclude={"contributions", "players"}),
        "players": [p.model_dump(mode="json") for p in s.players],
        "accounts": [{"account_id": k, "contributions": v} for k, v in sorted(per_account.items())],
    }


def _pair(p: PairStudy) -> dict[str, Any]:
    return {
        **p.model_dump(
            mode="json", exclude={"accounts", "shapley", "segments", "benefit", "burden"}
        ),
        "segments": {
            t.dimension.value: [r.model_dump(mode="json") for r in t.rows] for t in p.segments
        },
        "concentration": {"benefit": p.benefit.model_dump(), "burden": p.burden.model_dump()},
        "shapley": _shapley(p.shapley) if p.shapley is not None else None,
    }


def study_json(study: Study) -> dict[str, Any]:
    """The study as a JSON-ready dict (schema :data:`SCHEMA`)."""
    return {
        "schema": SCHEMA,
        "baseline": study.baseline,
        "pairs": [_pair(p) for p in study.pairs],
        "scenarios": [
            {**c.model_dump(mode="json"), "call_delta": c.call_delta} for c in study.scenario_calls
        ],
        "accounts": study.directory.to_dict("records"),
    }
