"""The figures of each trace, column-wise: the amounts, and the rule and citation behind each.

Each figure's sources are the rules of its kind present in the set (the book format where
none is); the combinations of rules are few, so each is written once, not once per set.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.audit.trace import fragments as j
from marginlex.dsl.model import rulebook as m
from marginlex.engine.plan.steps import Step, StepKind

_BOOK = {
    "equity": "book format: collateral + position market value",
    "value": "book format: position market value, no collateral",
    "excess": "book format: value - requirement",
    "call": "book format: a negative excess is a call",
}


def _source(figure: str, rule_id: str, citation: str) -> str:
    cite, rule = j.text(citation), j.text(rule_id)
    return f'{{"citation":{cite},"figure":"{figure}","rule_id":{rule}}}'


def figures_json(d: pd.DataFrame, sources: j.Coded, raised: npt.NDArray[np.float64]) -> j.Col:
    """The decision figures (``d``: the evaluation's decisions) and their sources;
    ``raised``: the ``minimum equity`` that raised each set's requirement (NaN: none)."""
    maintenance = d["maintenance"].to_numpy(np.float64)
    initial = d["initial"].to_numpy(np.float64)
    return j.concat(
        '{"call":',
        j.money(d["call"].to_numpy(np.float64)),
        ',"equity":',
        j.money(d["equity"].to_numpy(np.float64)),
        ',"excess":',
        j.money(d["excess"].to_numpy(np.float64)),
        ',"initial":',
        j.money(np.where(np.isnan(initial), maintenance, initial)),
        ',"maintenance":',
        j.money(maintenance),
        ',"minimum_equity":',
        j.money(raised, null_for_nan=True),
        ',"sources":[',
        sources,
        '],"status":',
        j.strings(d["status"]),
        ',"value":',
        j.money(d["value"].to_numpy(np.float64)),
        "}",
    )


def figure_sources(
    d: pd.DataFrame,
    steps: list[Step],
    present: dict[str, npt.NDArray[np.bool_]],
    method: npt.NDArray[np.object_],
) -> j.Coded:
    """The sources of every figure; written once per combination of rules that occurs.

    Args:
        d: the evaluation's decisions (the rule of the initial margin).
        steps: the rules in force, in plan order.
        present: for each rule that has an output, the sets where it has one.
        method: each set's margin method rule.
    """
    equity, excess = (_source(f, "book", _BOOK[f]) for f in ("equity", "excess"))
    value = _sources("value", (StepKind.HAIRCUT, StepKind.CONCENTRATION), steps, present, len(d))
    book_value = _source("value", "book", _BOOK["value"])
    value = j.Coded(value.codes, [t or book_value for t in value.texts])
    parts = [
        value,
        _sources(
            "maintenance",
            (
                StepKind.MARGIN,
                StepKind.OFFSET,
                StepKind.CONCENTRATION_ADD_ON,
                StepKind.MINIMUM_EQUITY,
            ),
            steps,
            present,
            len(d),
        ),
    ]
    parts.append(_initial_sources(d, steps, method))
    call = _call_sources(d, steps)
    combos, codes = j.unique_rows(np.stack([p.codes for p in [*parts, call]], axis=1))
    texts = [
        ",".join(
            filter(
                None,
                [
                    equity,
                    *(p.texts[k] for p, k in zip(parts, row[:-1], strict=True)),
                    excess,
                    call.texts[row[-1]],
                ],
            )
        )
        for row in combos.tolist()
    ]
    return j.Coded(codes.reshape(-1), texts)


def _sources(
    figure: str,
    kinds: tuple[StepKind, ...],
    steps: list[Step],
    present: dict[str, npt.NDArray[np.bool_]],
    n: int,
) -> j.Coded:
    """The sources of a figure: the rules of those kinds present in each set."""
    frags, masks = [], []
    for step in steps:  # rules, not rows
        where = present.get(step.rule_id)
        if step.kind in kinds and where is not None:
            frags.append(_source(figure, step.rule_id, step.citation))
            masks.append(where)
    if not frags:
        return j.Coded(np.zeros(n, dtype=np.intp), [""])
    combos, codes = j.unique_rows(np.stack(masks, axis=1))
    texts = [",".join(f for f, on in zip(frags, row, strict=True) if on) for row in combos.tolist()]
    return j.Coded(codes.reshape(-1), texts)


def _initial_sources(
    d: pd.DataFrame, steps: list[Step], method: npt.NDArray[np.object_]
) -> j.Coded:
    by_id = {s.rule_id: s for s in steps}
    rule = d["initial_rule_id"].astype("str").fillna("").to_numpy(dtype=object)
    codes, rules = pd.factorize(np.where(rule == "", method, rule))
    texts = [
        _source("initial", r, by_id[r].citation) if r in by_id else ""
        for r in map(str, np.asarray(rules, dtype=object).tolist())
    ]
    return j.Coded(np.where(codes < 0, len(texts), codes), [*texts, ""])


def _call_sources(d: pd.DataFrame, steps: list[Step]) -> j.Coded:
    """The call's source: the initial rule where it says ``calls restore initial`` (the
    call is initial - value), else the book format (a negative excess is a call)."""
    book = _source("call", "book", _BOOK["call"])
    restoring = {
        s.rule_id: s
        for s in steps
        if isinstance(s.statement, m.Margin)
        and isinstance(s.statement.method, m.InitialMultiple)
        and s.statement.method.calls_restore_initial
    }
    rule = d["initial_rule_id"].astype("str").fillna("").to_numpy(dtype=object)
    names = sorted(restoring)
    codes = np.zeros(len(d), dtype=np.intp)
    for number, name in enumerate(names, start=1):  # a rule or two, not sets
        codes[rule == name] = number
    texts = [book] + [
        _source("call", n, f"{restoring[n].citation}: below maintenance, a call restores initial")
        for n in names
    ]
    return j.Coded(codes, texts)
