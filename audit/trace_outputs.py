"""Step outputs of each trace, column-wise: eligibility, segregation, offsets, collateral.

Each builder turns one trace frame into a JSON fragment per row, then joins the fragments
per (margin set, rule) with :func:`~marginlex.audit.trace_json.group_join`: the frames are
grouped once, never filtered per decision.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.audit import trace_json as j
from marginlex.dsl import model as m
from marginlex.engine.expr_eval import first_field
from marginlex.engine.plan import Plan, StepKind

IntArray = npt.NDArray[np.int64]


def tested_ids(plan: Plan) -> dict[tuple[str, str], str]:
    """What each eligibility requirement tests: (rule id, requirement) -> ``account.kind``."""
    out: dict[tuple[str, str], str] = {}
    for step in plan.active(StepKind.ELIGIBILITY):
        assert isinstance(step.statement, m.Eligibility)
        for req in step.statement.requirements:
            ref = first_field(req.condition)
            out[(step.rule_id, req.name)] = (
                f"{ref.subject.value}.{ref.name}" if ref is not None else req.name
            )
    return out


def eligibility_rows(frame: pd.DataFrame, plan: Plan) -> j.Col:
    """One requirement check per (account, requirement) row."""
    ids = tested_ids(plan)
    rule, name = frame["rule_id"].astype("str"), frame["requirement"].astype("str")
    # Mapped per distinct (rule, requirement): a few dozen, not one lookup per row.
    pair = (rule + "\x1f" + name).reset_index(drop=True)
    by_pair = {f"{r}\x1f{q}": v for (r, q), v in ids.items()}
    field = pair.map(by_pair).fillna("").astype("str")
    tested_id = field + "[" + frame["account_id"].astype("str").reset_index(drop=True) + "]"
    value = frame["tested_value"].astype("str").fillna("").reset_index(drop=True)
    tested = j.concat(
        '{"id":', j.strings(tested_id), ',"unit":null,"value":', j.strings(value), "}"
    )
    tested = j.where((value != "").to_numpy(dtype=bool), tested, "")
    return j.concat(
        '{"applies":',
        j.bools(frame["applies"].to_numpy(dtype=bool)),
        ',"name":',
        j.strings(name),
        ',"passed":',
        j.bools(frame["passed"].to_numpy(dtype=bool)),
        ',"reason":',
        j.strings(frame["reason"]),
        ',"tested":[',
        tested,
        "]}",
    )


def eligibility_output(
    frame: pd.DataFrame,
    codes: IntArray,
    rows: j.Col,
    rule_id: str,
    *,
    fallback: npt.NDArray[np.object_],
    n: int,
) -> j.Col:
    """Per set, the output of one eligibility rule (null where the set has no rows)."""
    mine = frame["rule_id"].astype("str").to_numpy() == rule_id
    c = np.where(mine, codes, -1)
    count = np.bincount(c[c >= 0], minlength=n)
    failed = np.bincount(c[c >= 0], weights=~frame["passed"].to_numpy(bool)[c >= 0], minlength=n)
    eligible = failed == 0
    fb = j.nullable_strings(pd.Series(np.where(eligible, "", fallback), dtype="str"))
    out = j.concat(
        '{"eligible":',
        j.bools(eligible),
        ',"fallback":',
        fb,
        ',"requirements":[',
        j.group_join(rows, c, n),
        '],"type":"eligibility"}',
    )
    return j.where(count > 0, out)


def segregation_rows(frame: pd.DataFrame) -> j.Col:
    """One violation per row: the rule, its citation, the path it breaks."""
    path = [str(p).replace(" -> ", '","') for p in j.strings(frame["path"])]
    message = frame["constraint"].astype("str") + ": " + frame["detail"].astype("str")
    return j.concat(
        '{"citation":',
        j.strings(frame["citation"]),
        ',"constraint_id":',
        j.strings(frame["rule_id"]),
        ',"message":',
        j.strings(message),
        ',"path":[',
        path,
        "]}",
    )


def segregation_output(
    frame: pd.DataFrame, codes: IntArray, rows: j.Col, rule_id: str, n: int
) -> j.Col:
    """Per set, the output of one segregation rule (every set: no violation is a pass)."""
    mine = frame["rule_id"].astype("str").to_numpy() == rule_id
    joined = j.group_join(rows, np.where(mine, codes, -1), n)
    return j.concat('{"type":"segregation","violations":[', joined, "]}")


def offset_groups(
    offsets: pd.DataFrame,
    off_codes: IntArray,
    positions: pd.DataFrame,
    pos_codes: IntArray,
    keys: pd.Series,
) -> list[str]:
    """The class groups each offset row joined: those of its set whose key is its group."""
    pos = pd.DataFrame(
        {
            "set": pos_codes,
            "product_group": positions["instrument_id"].astype("str").map(keys).to_numpy(),
            "class_group": positions["class_group"].astype("str").to_numpy(),
        }
    ).drop_duplicates()
    rows = pd.DataFrame(
        {
            "row": np.arange(len(offsets)),
            "set": off_codes,
            "product_group": offsets["product_group"].astype("str").to_numpy(),
        }
    )
    hits = rows.merge(pos, on=["set", "product_group"]).sort_values(["row", "class_group"])
    return j.group_join(
        j.strings(hits["class_group"]), hits["row"].to_numpy(np.int64), len(offsets)
    )


def offset_rows(offsets: pd.DataFrame, groups: list[str], worst: npt.NDArray[np.object_]) -> j.Col:
    """One offset credit per row of the ``offsets`` frame."""
    return j.concat(
        '{"credit":',
        j.money(offsets["credit"].to_numpy(np.float64)),
        ',"gains":',
        j.money(offsets["gains_at_worst"].to_numpy(np.float64), null_for_nan=True),
        ',"groups":[',
        groups,
        '],"losses":',
        j.money(offsets["losses_at_worst"].to_numpy(np.float64), null_for_nan=True),
        ',"product_group":',
        j.nullable_strings(offsets["product_group"]),
        ',"rate":',
        j.floats(offsets["offset_rate"].to_numpy(np.float64)),
        ',"worst_point":',
        j.nullable_strings(pd.Series(worst, dtype="str")),
        "}",
    )


def total_output(
    rows: j.Col,
    codes: IntArray,
    mine: npt.NDArray[np.bool_],
    *,
    amounts: npt.NDArray[np.float64],
    n: int,
    keys: tuple[str, str, str],
) -> j.Col:
    """Per set, ``{"<list>":[rows],"<total>":sum,"type":...}``; null where the set has none."""
    c = np.where(mine, codes, -1)
    listed, total, kind = keys
    out = j.concat(
        f'{{"{listed}":[',
        j.group_join(rows, c, n),
        f'],"{total}":',
        j.money(j.group_sum(amounts, c, n)),
        f',"type":"{kind}"}}',
    )
    return j.where(np.bincount(c[c >= 0], minlength=n) > 0, out)


def _candidates(text: str, winner: str, row: str) -> str:
    """``sec_x=1.5%;cftc_y=2.0%`` as JSON candidates (the winner's row is traced)."""
    out = []
    for part in filter(None, text.split(";")):
        rule, _, rate = part.partition("=")
        fraction = float(rate.rstrip("%")) / 100.0
        shown = row if rule == winner else ""
        out.append(
            f'{{"rate":{j.float_text(fraction)},"row":{j.text(shown)},"rule_id":{j.text(rule)}}}'
        )
    return ",".join(out)


def lot_rows(lots: pd.DataFrame, maturity: pd.Series) -> j.Col:
    """One lot per row: haircut row and rate, schedule winner, cap, values."""
    winner = lots["schedule"].astype("str").fillna("")
    row = lots["haircut_row"].astype("str").fillna("")
    key = lots["candidates"].astype("str").fillna("") + "\x1f" + winner + "\x1f" + row
    codes, uniques = pd.factorize(key)
    cands = [_candidates(*str(k).split("\x1f")) for k in uniques]
    candidates: j.Col = np.asarray(cands, dtype=object)[codes].tolist()
    capped = lots["cap_rule_id"].astype("str").fillna("") != ""
    eligible = lots["status"].astype("str").to_numpy() == "eligible"
    reason = lots["reason"].astype("str").where(~eligible, "")
    return j.concat(
        '{"account_id":',
        j.strings(lots["account_id"]),
        ',"asset":',
        j.strings(lots["asset"]),
        ',"candidates":[',
        candidates,
        '],"cap_applied":',
        j.bools(capped.to_numpy()),
        ',"cap_rule_id":',
        j.nullable_strings(lots["cap_rule_id"]),
        ',"cap_scale":',
        j.floats(np.where(capped, lots["cap_scale"].to_numpy(np.float64), np.nan)),
        ',"eligible":',
        j.bools(eligible),
        ',"haircut_rate":',
        j.floats(lots["haircut_rate"].to_numpy(np.float64)),
        ',"haircut_row":',
        j.nullable_strings(row),
        ',"ineligible_reason":',
        j.nullable_strings(reason),
        ',"lot_id":',
        j.strings(lots["lot_id"]),
        ',"market_value":',
        j.money(lots["market_value"].to_numpy(np.float64)),
        ',"maturity":',
        j.dates(lots["lot_id"].astype("str").map(maturity)),
        ',"schedule_rule_id":',
        j.nullable_strings(winner),
        ',"value":',
        j.money(lots["value"].to_numpy(np.float64)),
        ',"value_after_haircut":',
        j.money(lots["value_after_haircut"].to_numpy(np.float64), null_for_nan=True),
        "}",
    )
