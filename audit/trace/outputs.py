"""Step outputs of each trace, column-wise: eligibility, segregation, offsets, collateral.

Each builder turns one trace frame into a JSON fragment per row, then joins the fragments
per (margin set, rule) with :func:`~marginlex.audit.trace.fragments.group_join`: the frames are
grouped once, never filtered per decision.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from marginlex.audit.trace import fragments as j
from marginlex.audit.trace import layout as tl
from marginlex.dsl.model import rulebook as m
from marginlex.engine.book.ids import PATH_SEPARATOR
from marginlex.engine.kernels.text import from_arrow
from marginlex.engine.plan.expressions import requirement_reads
from marginlex.engine.plan.steps import Plan, StepKind

IntArray = npt.NDArray[np.int64]


def tested_ids(plan: Plan) -> dict[tuple[str, str], list[str]]:
    """What each eligibility requirement reads, in the order of the frame's ``tested_values``:
    (rule id, requirement) -> ``["account.kind", "when account.holds(sbs)"]``."""
    out: dict[tuple[str, str], list[str]] = {}
    for step in plan.active(StepKind.ELIGIBILITY):
        assert isinstance(step.statement, m.Eligibility)
        for req in step.statement.requirements:
            out[(step.rule_id, req.name)] = requirement_reads(req.condition, req.when)
    return out


def requirement_notes(plan: Plan) -> dict[tuple[str, str], tuple[str, str]]:
    """Each eligibility requirement's own citation and evidence as JSON (``null`` where it
    has none: it is its statement's), by (rule id, requirement)."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for step in plan.active(StepKind.ELIGIBILITY):
        assert isinstance(step.statement, m.Eligibility)
        for req in step.statement.requirements:
            note = req.note
            cite = note.citation.text if note is not None and note.citation else None
            status = note.status.value if note is not None and note.status else None
            out[(step.rule_id, req.name)] = (
                "null" if cite is None else j.text(cite),
                "null" if status is None else _LETTER.get(status, '"I"'),
            )
    return out


def eligibility_rows(frame: pd.DataFrame, plan: Plan) -> j.Col:
    """One requirement check per (account, requirement) row."""
    ids = tested_ids(plan)
    notes = requirement_notes(plan)
    # The field each check tests, and its own citation, are looked up per distinct
    # (rule, requirement), not per row.
    rule, rules = pd.factorize(frame["rule_id"])
    name, names = pd.factorize(frame["requirement"])
    _, first, pair = np.unique(
        rule.astype(np.int64) * (len(names) + 1) + name, return_index=True, return_inverse=True
    )
    pairs = pair.reshape(-1)
    keys = [
        (str(rules[rule[i]]), str(names[name[i]])) if min(rule[i], name[i]) >= 0 else ("", "")
        for i in first.tolist()
    ]
    own = [notes.get(k, ("null", "null")) for k in keys]  # a pair or two per rule
    citation = j.Coded(pairs, [c for c, _ in own])
    evidence = j.Coded(pairs, [e for _, e in own])
    tested = _tested(frame, pairs, [ids.get(k, []) for k in keys])
    return j.concat(
        '{"applies":',
        j.bools(frame["applies"].to_numpy(dtype=bool)),
        ',"citation":',
        citation,
        ',"evidence":',
        evidence,
        ',"name":',
        j.strings(frame["requirement"]),
        ',"passed":',
        j.bools(frame["passed"].to_numpy(dtype=bool)),
        ',"reason":',
        j.strings(frame["reason"]),
        ',"shortfall":',
        j.money(frame["shortfall"].to_numpy(np.float64), null_for_nan=True),
        ',"tested":[',
        tested,
        "]}",
    )


def _tested(frame: pd.DataFrame, pairs: IntArray, reads: list[list[str]]) -> list[str]:
    """Each row's ``tested`` list (without brackets): one ``InputValue`` per read of its
    requirement (``reads``, by the row's code in ``pairs``; a blank book cell is ``""``), its
    id ``<read>[<account>]`` (``""`` for a row without an account)."""
    lists = pa.array(frame["tested_values"], pa.large_list(pa.large_string()))
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy().astype(np.int64)
    parent = np.repeat(np.arange(len(frame), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    position = np.arange(len(parent), dtype=np.int64) - starts[parent]
    counts = np.array([len(r) for r in reads], dtype=np.int64)
    if (position >= counts[pairs[parent]]).any():
        raise ValueError("an eligibility row holds more values than its requirement reads")
    base = np.concatenate([[0], np.cumsum(counts)])[:-1]
    field = j.inner([text for r in reads for text in r])
    field_part = j.Coded(field.codes[base[pairs[parent]] + position], field.texts)
    value = from_arrow(pc.list_flatten(lists)).fillna("")
    account = frame["account_id"].iloc[parent].reset_index(drop=True)
    shown = j.strings(value)
    element = j.concat(
        '{"id":"', field_part, "[", j.inner(account), ']","unit":null,"value":', shown, "}"
    )
    missing = account.isna().to_numpy(dtype=bool)
    if missing.any():  # with no account the id is empty (a missing string is written "")
        blank = j.concat('{"id":"","unit":null,"value":', shown, "}")
        element = [b if m else t for t, b, m in zip(element, blank, missing.tolist(), strict=True)]
    return j.group_join(element, parent, len(frame))


def eligibility_output(
    frame: pd.DataFrame,
    codes: IntArray,
    rows: j.Col,
    rule_id: str,
    *,
    fallback: npt.NDArray[np.object_],
    n: int,
) -> tuple[tl.Pieces, npt.NDArray[np.bool_]]:
    """Per set, the output of one eligibility rule (laid out; none where the set has no
    rows), and where the set has rows."""
    mine = frame["rule_id"].astype("str").to_numpy() == rule_id
    c = np.where(mine, codes, -1)
    count = np.bincount(c[c >= 0], minlength=n)
    failed = np.bincount(c[c >= 0], weights=~frame["passed"].to_numpy(bool)[c >= 0], minlength=n)
    eligible = failed == 0
    fb = j.nullable_strings(pd.Series(np.where(eligible, "", fallback), dtype="str"))
    out = tl.layout(
        [
            '{"eligible":',
            j.bools(eligible),
            ',"fallback":',
            fb,
            ',"requirements":[',
            tl.grouped(rows, c, n),
            '],"type":"eligibility"}',
        ],
        n,
    )
    return out.only(count > 0), count > 0


def segregation_rows(frame: pd.DataFrame) -> j.Col:
    """One violation per row: the rule, its citation, the path it breaks."""
    paths = j.strings(frame["path"])
    path = j.Coded(paths.codes, [p.replace(PATH_SEPARATOR, '","') for p in paths.texts])
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
) -> tl.Pieces:
    """Per set, the output of one segregation rule (every set: no violation is a pass)."""
    mine = frame["rule_id"].astype("str").to_numpy() == rule_id
    violations = tl.grouped(rows, np.where(mine, codes, -1), n)
    return tl.layout(['{"type":"segregation","violations":[', violations, "]}"], n)


def offset_groups(
    offsets: pd.DataFrame,
    off_codes: IntArray,
    positions: pd.DataFrame,
    pos_codes: IntArray,
    keys: pd.Series,
) -> tuple[list[str], pd.Series]:
    """The class groups each offset row joined (those of its set whose key is its group), as
    JSON, and the first of them by name (missing where it joined none)."""
    # Keyed per distinct instrument; class groups as codes in name order (sorted as names).
    instrument, instruments = pd.factorize(positions["instrument_id"])
    group_of = np.append(keys.reindex(instruments).to_numpy(dtype=object), np.nan)
    class_group, names = pd.factorize(positions["class_group"], sort=True)
    pos = pd.DataFrame(
        {
            "set": pos_codes,
            "product_group": group_of[instrument],
            "class_group": np.where(class_group < 0, len(names), class_group),
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
    texts = j.Coded(hits["class_group"].to_numpy(np.intp), [*j.strings(names).texts, '""'])
    first = hits.drop_duplicates("row")  # sorted by class group within each row
    named = np.asarray([*names, None], dtype=object)[first["class_group"].to_numpy()]
    leads = pd.Series(named, index=first["row"].to_numpy()).reindex(range(len(offsets)))
    return j.group_join(texts, hits["row"].to_numpy(np.int64), len(offsets)), leads


def offset_rows(offsets: pd.DataFrame, groups: list[str], worst: npt.NDArray[np.object_]) -> j.Col:
    """One offset credit per row of the ``offsets`` frame (a DV01 pairing's credit on its
    class groups ``null`` where it gave none)."""
    paired = offsets["paired_credit"].to_numpy(np.float64)
    first, second = _pairing_legs(offsets)
    return j.concat(
        '{"class_group_requirements":',
        j.money(offsets["class_group_requirements"].to_numpy(np.float64)),
        ',"credit":',
        j.money(offsets["credit"].to_numpy(np.float64)),
        first,
        ',"gains":',
        j.money(offsets["gains_at_worst"].to_numpy(np.float64), null_for_nan=True),
        ',"groups":[',
        groups,
        '],"losses":',
        j.money(offsets["losses_at_worst"].to_numpy(np.float64), null_for_nan=True),
        ',"paired_credit":',
        j.money(np.where(paired > 0, paired, np.nan), null_for_nan=True),
        ',"product_group":',
        j.nullable_strings(offsets["product_group"]),
        ',"rate":',
        j.floats(offsets["offset_rate"].to_numpy(np.float64)),
        ',"requirement":',
        j.money(offsets["requirement"].to_numpy(np.float64)),
        second,
        ',"worst_point":',
        j.nullable_strings(pd.Series(worst, dtype="str")),
        "}",
    )


def _pairing_legs(offsets: pd.DataFrame) -> tuple[j.Col, j.Col]:
    """A DV01 pairing's row's own fields, in their sorted places (``dv01_matched`` and the
    first leg's after ``credit``, the second leg's after ``requirement``); nothing on the
    rows of other offsets, which have no DV01."""
    pairs = ~np.isnan(offsets["dv01_matched"].to_numpy(np.float64))

    def col(name: str) -> npt.NDArray[np.float64]:
        return offsets[name].to_numpy(np.float64)

    first = j.concat(
        ',"dv01_matched":',
        j.floats(col("dv01_matched")),
        ',"first_credit":',
        j.money(col("first_credit")),
        ',"first_risk_per_dv01":',
        j.floats(col("first_risk_per_dv01")),
    )
    second = j.concat(
        ',"second_credit":',
        j.money(col("second_credit")),
        ',"second_risk_per_dv01":',
        j.floats(col("second_risk_per_dv01")),
    )
    return j.where(pairs, first, ""), j.where(pairs, second, "")


def total_output(
    rows: j.Col,
    codes: IntArray,
    mine: npt.NDArray[np.bool_],
    *,
    amounts: npt.NDArray[np.float64],
    n: int,
    keys: tuple[str, str, str],
    lead: tl.Layout = "",
) -> tuple[tl.Pieces, npt.NDArray[np.bool_]]:
    """Per set, ``{<lead>"<list>":[rows],"<total>":sum,"type":...}`` (laid out; none where
    the set has no rows), and where the set has rows. ``lead``: the fields sorted before
    the list, each with its comma."""
    c = np.where(mine, codes, -1)
    listed, total, kind = keys
    out = tl.layout(
        [
            "{",
            lead,
            f'"{listed}":[',
            tl.grouped(rows, c, n),
            f'],"{total}":',
            j.money(j.group_sum(amounts, c, n)),
            f',"type":"{kind}"}}',
        ],
        n,
    )
    present = np.bincount(c[c >= 0], minlength=n) > 0
    return out.only(present), present


_LETTER = {"verified": '"V"', "secondary": '"S"', "illustrative": '"I"'}


def evidence_letters(words: pd.Series) -> j.Coded:
    """Status words (``secondary``) as JSON evidence tags (``"S"``); a row and statement
    that say nothing count as illustrative, as a step does.

    >>> evidence_letters(pd.Series(["secondary", "", "verified"])).col()
    ['"S"', '"I"', '"V"']
    """
    codes, uniques = pd.factorize(words.astype("str").fillna(""))
    return j.Coded(codes, [_LETTER.get(str(u), '"I"') for u in uniques])


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
    candidates = j.Coded(codes, [_candidates(*str(k).split("\x1f")) for k in uniques])
    capped = lots["cap_rule_id"].astype("str").fillna("") != ""
    eligible = lots["status"].astype("str").to_numpy() == "eligible"
    reason = lots["reason"].astype("str").where(~eligible, "")
    cap = {
        c: j.money(np.where(capped, lots[c].to_numpy(np.float64), np.nan), null_for_nan=True)
        for c in ("cap_amount", "cap_base", "capped_value")
    }
    return j.concat(
        '{"account_id":',
        j.strings(lots["account_id"]),
        ',"asset":',
        j.strings(lots["asset"]),
        ',"candidates":[',
        candidates,
        '],"cap_amount":',
        cap["cap_amount"],
        ',"cap_applied":',
        j.bools(capped.to_numpy()),
        ',"cap_base":',
        cap["cap_base"],
        ',"cap_limit":',
        j.floats(np.where(capped, lots["cap_limit"].to_numpy(np.float64), np.nan)),
        ',"cap_of":',
        j.nullable_strings(lots["cap_of"].astype("str").where(capped, "")),
        ',"cap_rule_id":',
        j.nullable_strings(lots["cap_rule_id"]),
        ',"cap_scale":',
        j.floats(np.where(capped, lots["cap_scale"].to_numpy(np.float64), np.nan)),
        ',"capped_value":',
        cap["capped_value"],
        ',"citation":',
        j.strings(lots["citation"]),
        ',"eligible":',
        j.bools(eligible),
        ',"evidence":',
        evidence_letters(lots["evidence"]),
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


def clearing_split_json(split: pd.DataFrame, codes: IntArray, n: int) -> j.Col:
    """Per set, ``"clearing_split":{...},`` from the ``clearing_split`` frame's rows
    (``null`` for a set without one), to lead its pairing's offsets output."""
    out = np.full(n, '"clearing_split":null,', dtype=object)
    if split.empty:
        return out.tolist()

    def house(side: str) -> j.Col:
        return j.concat(
            '{"dv01":',
            j.floats(split[f"{side}_dv01"].to_numpy(np.float64)),
            ',"house":',
            j.strings(split[f"{side}_house"]),
            ',"requirement":',
            j.money(split[f"{side}_requirement"].to_numpy(np.float64)),
            "}",
        )

    rows = j.concat(
        '"clearing_split":{"carrier_requirement":',
        j.money(split["carrier_requirement"].to_numpy(np.float64)),
        ',"dv01_paired":',
        j.floats(split["dv01_paired"].to_numpy(np.float64)),
        ',"houses":[',
        house("first"),
        ",",
        house("second"),
        '],"initial":',
        j.money(split["initial"].to_numpy(np.float64)),
        "},",
    )
    keep = codes >= 0
    out[codes[keep]] = j.objects(rows)[keep]
    return out.tolist()
