"""The margin-set part of each trace: accounts, owner, carrier, and the edges that joined it.

Edges come from the ``sets`` and ``set_edges`` frames and the book's accounts: a merged set
names each pair of accounts the rule joined (same owner, same carrier) and each account's
owner and carrier; a Treasury cross-margin set names the account whose positions it takes in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.audit.trace import fragments as j
from marginlex.audit.trace.model import EdgeRelation
from marginlex.engine.book.load import Book
from marginlex.engine.evaluation import GIVES_UP, TAKES_IN, Evaluation
from marginlex.engine.plan.steps import StepKind

IntArray = npt.NDArray[np.int64]


def _edges(
    codes: IntArray, src: pd.Series, dst: pd.Series, relation: EdgeRelation, reason: pd.Series
) -> tuple[IntArray, j.Col]:
    frag = j.concat(
        '{"dst":',
        j.strings(dst),
        ',"reason":',
        j.strings(reason),
        f',"relation":"{relation.value}","src":',
        j.strings(src),
        "}",
    )
    return codes, frag


def _first_per_set(codes: IntArray, n: int) -> IntArray:
    """The first row of each set in ``codes`` (-1 when the set has none)."""
    first = np.full(n, -1, dtype=np.int64)
    rows = np.arange(len(codes))[::-1]
    ok = codes[::-1] >= 0
    first[codes[::-1][ok]] = rows[ok]
    return first


def margin_set_json(
    ev: Evaluation, book: Book, index: pd.Index, codes_of: Callable[[str], IntArray]
) -> tuple[j.Col, j.Col]:
    """Per set: the ``margin_set`` JSON, and its account ids as a canonical JSON list."""
    n = len(index)
    sets = ev.frames["sets"]
    set_codes = codes_of("sets")
    role = sets["role"].astype("str").to_numpy()
    member = role == "member"
    # a `gives_up_positions` row names an account already a member: listed once
    listed = np.where(role == GIVES_UP, -1, set_codes)
    accounts = sets["account_id"].astype("str").reset_index(drop=True)
    account_ids = j.concat("[", j.group_join(j.strings(accounts), listed, n), "]")
    anchor = ev.decisions["account_ids"].astype("str").str.replace(";.*", "", regex=True)  # first
    book_accounts = book.accounts.set_index("account_id")
    owner = anchor.map(book_accounts["owner_id"]).astype("str").fillna("")
    carrier = anchor.map(book_accounts["carrier_id"]).astype("str").fillna("")
    first = _first_per_set(np.where(member, set_codes, -1), n)
    has = first >= 0
    rule = sets["rule_id"].astype("str").to_numpy(dtype=object)
    cite = sets["citation"].astype("str").to_numpy(dtype=object)
    rule_ids = pd.Series(np.where(has, rule[np.clip(first, 0, None)], ""), dtype="str")
    citations = pd.Series(np.where(has, cite[np.clip(first, 0, None)], ""), dtype="str")
    # a set no rule formed (one account): the merging rule that looked at it and left it
    # alone, as trace schema 1.4 named it in `rule_id` (kept to write such a trace again)
    merging = ev.plan.active(StepKind.MARGIN_SETS)
    alone = (rule_ids == "").to_numpy() & bool(merging)
    left_by = np.where(alone, merging[0].rule_id if merging else "", "")
    left_cite = np.where(alone, merging[0].citation if merging else "", "")
    edges = _edge_fragments(
        ev,
        sets,
        set_codes,
        member,
        anchor=anchor,
        book_accounts=book_accounts,
        n=n,
        codes_of=codes_of,
    )
    return (
        j.concat(
            '{"account_ids":',
            account_ids,
            ',"carrier_id":',
            j.strings(carrier),
            ',"citation":',
            j.nullable_strings(citations),
            ',"edges":[',
            edges,
            '],"id":',
            j.strings(pd.Series(index.to_numpy(), dtype="str")),
            ',"left_alone_by":',
            j.nullable_strings(pd.Series(left_by, dtype="str")),
            ',"left_alone_citation":',
            j.nullable_strings(pd.Series(left_cite, dtype="str")),
            ',"owner_id":',
            j.strings(owner),
            ',"rule_id":',
            j.nullable_strings(rule_ids),
            "}",
        ),
        account_ids,
    )


def _edge_fragments(
    ev: Evaluation,
    sets: pd.DataFrame,
    set_codes: IntArray,
    member: npt.NDArray[np.bool_],
    *,
    anchor: pd.Series,
    book_accounts: pd.DataFrame,
    n: int,
    codes_of: Callable[[str], IntArray],
) -> list[str]:
    parts: list[tuple[IntArray, j.Col]] = []
    size = np.bincount(set_codes[member & (set_codes >= 0)], minlength=n)
    merged = member & (set_codes >= 0) & (size[np.clip(set_codes, 0, None)] > 1)
    acc = sets["account_id"].astype("str").reset_index(drop=True)[merged].reset_index(drop=True)
    mcodes = set_codes[merged]
    rule = sets["rule_id"].astype("str").reset_index(drop=True)[merged].reset_index(drop=True)
    for relation, column in (
        (EdgeRelation.OWNED_BY, "owner_id"),
        (EdgeRelation.CARRIED_BY, "carrier_id"),
    ):
        dst = acc.map(book_accounts[column]).astype("str").fillna("")
        reason = rule + f": the account's {column.removesuffix('_id')}"
        parts.append(_edges(mcodes, acc, dst, relation, reason))
    pairs = ev.frames["set_edges"]
    pcodes = codes_of("set_edges")
    for relation in (EdgeRelation.SAME_OWNER, EdgeRelation.SAME_CARRIER):
        parts.append(
            _edges(
                pcodes,
                pairs["account_a"].astype("str"),
                pairs["account_b"].astype("str"),
                relation,
                pairs["reason"].astype("str"),
            )
        )
    taken = (sets["role"].astype("str").to_numpy() == TAKES_IN) & (set_codes >= 0)
    tcodes = set_codes[taken]
    src = pd.Series(anchor.to_numpy(dtype=object)[tcodes], dtype="str")
    dst = sets["account_id"].astype("str").reset_index(drop=True)[taken].reset_index(drop=True)
    reason = sets["rule_id"].astype("str").reset_index(drop=True)[taken].reset_index(drop=True)
    parts.append(
        _edges(tcodes, src, dst, EdgeRelation.TAKES_IN, reason + ": takes in its positions")
    )
    codes = np.concatenate([c for c, _ in parts])
    frags = [f for _, part in parts for f in part]
    return j.group_join(frags, codes, n)
