"""Scope, eligibility and margin-set steps of an evaluation (whole columns per rule).

- Scope: an account is decided when any scope rule in force holds for it (every account
  when the rulebook has no scope rule).
- Eligibility: each requirement holds, or its ``when`` does not apply; a rule passes when
  all its requirements do; an account is eligible when every eligibility rule passes.
- Margin sets: ``sets merge account where X by owner and carrier`` joins the matching
  in-scope accounts of one owner at one carrier; ``sets account where A takes in position
  where P`` moves the same owner's matching positions held at the same carrier into the
  anchor's set (17 CFR / CFTC cross-margining order); ``sets position where P goes to
  account where A by owner and carrier`` is its other side, in the other regime's rulebook:
  the matching positions of an owner@carrier with an account matching A are left out of
  this rulebook's sets (one position, one decision); ``sets each account alone`` adds no
  edge. Sets are formed by :func:`marginlex.engine.graph.margin_sets.form_margin_sets`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Subject
from marginlex.dsl.model.walk import walk
from marginlex.engine.book.columns import index_in, to_arrow
from marginlex.engine.evaluation import FRAME_COLUMNS, GIVES_UP, TAKES_IN
from marginlex.engine.graph.margin_sets import form_margin_sets
from marginlex.engine.kernels.text import as_text, from_arrow
from marginlex.engine.phases.shortfall import shortfall
from marginlex.engine.phases.state import IntArray, RunState, constant, empty_frame, stack_frames
from marginlex.engine.plan.expressions import (
    FieldTexts,
    mask,
    read_texts,
    requirement_reads,
    shown_value,
)
from marginlex.engine.plan.steps import Step, StepKind

MAX_REQUIREMENTS = 62  # failed requirements are kept as bits of an int64 per account


def run_scope(state: RunState) -> None:
    """Mark the accounts the rulebook decides."""
    accounts = state.ctx.accounts
    steps = state.plan.active(StepKind.SCOPE)
    scoped = np.zeros(accounts.n, dtype=bool) if steps else np.ones(accounts.n, dtype=bool)
    for step in steps:
        assert isinstance(step.statement, m.Scope)
        scoped |= mask(step.statement.where, accounts, state.plan)
    state.in_scope = scoped


def run_eligibility(state: RunState) -> None:
    """Evaluate every requirement of every eligibility rule, in rulebook order.

    A requirement reading ``account.merged_regimes`` (the regimes of the other accounts
    the rulebook's ``sets merge`` statements join with the account) is evaluated after the
    rule's other requirements, on the sets their candidates would form: the accounts that
    pass them, then again on the sets of the accounts it leaves, until it refuses none.
    Each pass only refuses, so there are at most as many passes as accounts; with the
    shipped rulebooks two at most (docs/language.md, "Merged regimes").
    """
    accounts = state.ctx.accounts
    state.eligible = np.ones(accounts.n, dtype=bool)
    state.failed_mask = np.zeros(accounts.n, dtype=np.int64)
    rows: list[pd.DataFrame] = []
    memo: FieldTexts = {}  # the account fields' texts, shown by many requirements
    for step in state.plan.active(StepKind.ELIGIBILITY):
        rule = step.statement
        assert isinstance(rule, m.Eligibility)
        outcomes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        later = [n for n, req in enumerate(rule.requirements) if reads_merged(req)]
        passed_all = np.ones(accounts.n, dtype=bool)
        for number, req in enumerate(rule.requirements):
            if number not in later:
                outcomes[number] = _outcome(state, req)
                passed_all &= outcomes[number][1]
        while later:  # to a fixed point: the accounts left are those eligible
            accounts.merged = _merged_groups(state, rule.id, passed_all)
            for number in later:
                outcomes[number] = _outcome(state, rule.requirements[number])
            left = passed_all.copy()
            for number in later:
                left &= outcomes[number][1]
            if np.array_equal(left, passed_all):
                break
            passed_all = left
        for number, req in enumerate(rule.requirements):
            applies, passed = outcomes[number]
            bit = _bit(state, req.name)
            state.failed_mask |= np.where(passed, 0, np.int64(1) << bit)
            reason = step.reasons[number] if step.reasons else req.reason
            if state.trace:
                rows.append(_eligibility_rows(state, (step, req), reason, (applies, passed), memo))
        accounts.merged = None
        accounts.eligible[rule.id] = passed_all
        state.eligible &= passed_all
    frame = stack_frames(rows) if rows else None
    state.frames["eligibility"] = (
        frame if frame is not None else empty_frame(FRAME_COLUMNS["eligibility"])
    )


def _outcome(state: RunState, req: m.Requirement) -> tuple[np.ndarray, np.ndarray]:
    """(applies, passed) per account: the condition holds or its ``when`` does not apply."""
    applies = mask(req.when, state.ctx.accounts, state.plan)
    holds = mask(req.condition, state.ctx.accounts, state.plan)
    return applies, holds | ~applies


def reads_merged(node: m.Node) -> bool:
    """Does a statement or requirement (a condition, a ``when``) read
    ``account.merged_regimes``?"""
    return any(
        isinstance(n, m.FieldRef) and n.subject is Subject.ACCOUNT and n.name == "merged_regimes"
        for n in walk(node)
    )


def _merged_groups(state: RunState, rule_id: str, candidates: np.ndarray) -> np.ndarray:
    """Per account, the merged set the ``sets merge`` statements form when the accounts
    eligible under ``rule_id`` are ``candidates`` (a code; -1: merged with none)."""
    accounts = state.ctx.accounts
    accounts.eligible[rule_id] = candidates  # what `eligible(rule_id)` reads meanwhile
    pairs = [
        _merge_pairs(state, step, step.statement.rule.where)
        for step in state.plan.active(StepKind.MARGIN_SETS)
        if isinstance(step.statement, m.Offset) and isinstance(step.statement.rule, m.MergeAccounts)
    ]
    del accounts.eligible[rule_id]
    group = np.full(accounts.n, -1, dtype=np.int64)
    edges = pd.concat(pairs, ignore_index=True) if pairs else None
    if edges is None or not len(edges):
        return group
    # the accounts that take part in a merge, as run_margin_sets forms their sets
    joined = pd.unique(pd.concat([edges["account_a"], edges["account_b"]]).to_numpy())
    sets = form_margin_sets(pd.Index(joined), edges)
    rows = index_in(pd.Series(sets.membership.index), state.account_ids)
    group[rows] = pd.factorize(sets.membership["margin_set_id"])[0]
    return group


def _bit(state: RunState, name: str) -> int:
    if name not in state.failed_names:
        if len(state.failed_names) >= MAX_REQUIREMENTS:
            raise ValueError(f"more than {MAX_REQUIREMENTS} eligibility requirements")
        state.failed_names.append(name)
    return state.failed_names.index(name)


def _eligibility_rows(
    state: RunState,
    where: tuple[Step, m.Requirement],
    reason: str,
    outcome: tuple[np.ndarray, np.ndarray],
    memo: FieldTexts,
) -> pd.DataFrame:
    """Trace rows (account × requirement) for the in-scope accounts; set ids come later.

    ``reason`` is the ``because`` text as rendered for the plan; ``outcome`` is (applies,
    passed) per account; ``shortfall`` is how far a failed minimum was missed (NaN: none).
    """
    step, req = where
    applies, passed = outcome
    keep = state.in_scope
    n = int(keep.sum())
    missed = shortfall(req.condition, state.ctx.accounts, state.plan)
    missed = np.where(applies & ~passed, missed, np.nan)
    accounts, plan = state.ctx.accounts, state.plan
    reads = requirement_reads(req.condition, req.when)
    texts = [to_arrow(t[keep]) for t in read_texts(req.condition, req.when, accounts, plan, memo)]
    return pd.DataFrame(
        {
            "account_id": state.account_ids[keep].reset_index(drop=True),
            **state.step_columns(step, n),
            "requirement": constant(n, req.name),
            "applies": applies[keep],
            "passed": passed[keep],
            # texts stay Arrow columns (no round trip through Python objects)
            "tested_value": shown_value(req.condition, state.ctx.accounts, memo)[keep].reset_index(
                drop=True
            ),
            "reason": constant(n, reason),
            "inputs": _inputs(reads, texts, n),
            "tested_values": _tested_values(texts, n),
            "shortfall": missed[keep],
        }
    )


def _tested_values(texts: list[pa.Array], n: int) -> pd.Series:
    """The value of each read of a requirement (``texts``: one array of ``n`` rows per read)
    as one Arrow list per row."""
    k = len(texts)
    values = pa.concat_arrays(texts) if texts else pa.array([], pa.large_string())
    # read-major (every row's first read, then every row's second) to row-major
    order = np.arange(k, dtype=np.int64)[None, :] * n + np.arange(n, dtype=np.int64)[:, None]
    offsets = np.arange(n + 1, dtype=np.int64) * k
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), values.take(pa.array(order.ravel())))
    return pd.Series(pd.arrays.ArrowExtensionArray(lists))


def _inputs(reads: list[str], texts: list[pa.Array], n: int) -> pd.Series:
    """The same reads for people, one text per row:
    ``owner.ecp=True; account.equity=144000.0; when account.holds(sbs)=False``."""
    if not texts:
        return from_arrow(pa.array([""] * n, pa.large_string()))
    parts: list[pa.Array | pa.Scalar] = []
    for number, (read, text) in enumerate(zip(reads, texts, strict=True)):  # a few
        parts += [pa.scalar(("; " if number else "") + read + "=", pa.large_string()), text]
    return from_arrow(pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string())))


def _owner_carrier(state: RunState) -> pd.Series:
    acc = state.ctx.accounts.own[Subject.ACCOUNT]
    return (as_text(acc["owner_id"]) + "@" + as_text(acc["carrier_id"])).reset_index(drop=True)


def _merge_pairs(state: RunState, step: Step, where: m.Expr) -> pd.DataFrame:
    """Chain the matching accounts of each owner@carrier: a path joins them all."""
    hit = mask(where, state.ctx.accounts, state.plan) & state.in_scope
    frame = pd.DataFrame(
        {"key": _owner_carrier(state)[hit].to_numpy(), "account": state.account_ids[hit].to_numpy()}
    )
    frame = frame.sort_values(["key", "account"], kind="stable").reset_index(drop=True)
    same = frame["key"].to_numpy()[1:] == frame["key"].to_numpy()[:-1]
    acc = frame["account"].to_numpy()
    return pd.DataFrame(
        {
            "account_a": acc[:-1][same] if len(acc) else acc,
            "account_b": acc[1:][same] if len(acc) else acc,
            "reason": f"{step.rule_id}: same owner and carrier",
        }
    )


def run_margin_sets(state: RunState) -> None:
    """Form the margin sets of the in-scope accounts and place positions and lots."""
    pairs: list[pd.DataFrame] = [pd.DataFrame(columns=["account_a", "account_b", "reason"])]
    takes: list[Step] = []
    for step in state.plan.active(StepKind.MARGIN_SETS):
        assert isinstance(step.statement, m.Offset)
        rule = step.statement.rule
        if isinstance(rule, m.MergeAccounts):
            pairs.append(_merge_pairs(state, step, rule.where))
        elif isinstance(rule, m.TakeIn | m.GiveUp):
            takes.append(step)
    ids = state.account_ids
    merged = pd.concat(pairs, ignore_index=True)
    # An account no rule merges is a set of its own, ``ms:<account id>`` (as the kernel
    # names it): only accounts that take part in a merge go through form_margin_sets.
    set_of = ("ms:" + as_text(ids)).to_numpy(str)
    edges = pd.DataFrame(columns=["margin_set_id", "account_a", "account_b", "reason"])
    if len(merged):
        joined = pd.unique(pd.concat([merged["account_a"], merged["account_b"]]).to_numpy())
        sets = form_margin_sets(pd.Index(joined), merged)
        rows = index_in(pd.Series(sets.membership.index), ids)
        set_of = set_of.astype(object)
        set_of[rows] = sets.membership["margin_set_id"].to_numpy(dtype=object)
        set_of = set_of.astype(str)
        edges = sets.edges
    state.set_ids = np.unique(set_of[state.in_scope])
    state.account_set = np.where(state.in_scope, np.searchsorted(state.set_ids, set_of), -1).astype(
        np.int64
    )
    pos_acct = state.ctx.positions.links[0].index
    state.position_set = state.account_set[pos_acct]
    state.joined_by = np.zeros(state.ctx.positions.n, dtype=np.int64)
    given: list[pd.DataFrame] = []
    for step in takes:
        assert isinstance(step.statement, m.Offset)
        if isinstance(step.statement.rule, m.GiveUp):
            given.append(_give_up(state, step, step.statement.rule))
        else:
            _take_in(state, step)
    lot_margined = index_in(state.graph.lot_columns()["margined_account_id"], ids)
    state.lot_set = np.where(lot_margined >= 0, state.account_set[lot_margined], -1)
    _set_frames(state, edges, given)


def _take_in(state: RunState, step: Step) -> None:
    """Move the same owner's matching positions at the anchor's carrier into its set."""
    assert isinstance(step.statement, m.Offset) and isinstance(step.statement.rule, m.TakeIn)
    rule = step.statement.rule
    anchor = mask(rule.anchor, state.ctx.accounts, state.plan) & state.in_scope
    keys = _owner_carrier(state)
    # The anchor with the smallest set code of each owner@carrier takes the positions in.
    anchors = pd.DataFrame({"key": keys[anchor].to_numpy(), "set": state.account_set[anchor]})
    target = anchors.groupby("key", sort=True)["set"].min()
    if target.empty:
        return
    pos_acct = state.ctx.positions.links[0].index
    wanted = mask(rule.positions, state.ctx.positions, state.plan)
    found = index_in(keys, pd.Series(target.index))[pos_acct]  # per account, then gathered
    to_set = np.where(found >= 0, target.to_numpy()[np.maximum(found, 0)], -1)
    move = wanted & (to_set >= 0) & ~anchor[pos_acct] & (state.position_set != to_set)
    state.position_set = np.where(move, to_set, state.position_set)
    state.joined_rules.append(step.rule_id)
    state.joined_by = np.where(move, len(state.joined_rules) - 1, state.joined_by)


def _give_up(state: RunState, step: Step, rule: m.GiveUp) -> pd.DataFrame:
    """Leave out of every set the matching positions of an owner@carrier with an anchor.

    The anchor is read over every account of the book, in this rulebook's scope or not:
    it is the other regime's account whose set takes the positions in. An anchor keeps
    its own positions. Returns the trace rows: each set that left positions out, with the
    account that held them (role ``gives_up_positions``).
    """
    anchor = mask(rule.anchor, state.ctx.accounts, state.plan)
    keys = _owner_carrier(state).to_numpy()
    pos_acct = state.ctx.positions.links[0].index
    wanted = mask(rule.positions, state.ctx.positions, state.plan)
    anchored = index_in(pd.Series(keys[pos_acct]), pd.Series(np.unique(keys[anchor]))) >= 0
    leave = wanted & anchored & ~anchor[pos_acct] & (state.position_set >= 0)
    rows = pd.DataFrame(
        {
            "margin_set_id": state.set_column(state.position_set[leave]),
            "account_id": state.account_ids.to_numpy()[pos_acct[leave]],
            "role": GIVES_UP,
            "rule_id": step.rule_id,
        }
    ).drop_duplicates()
    state.position_set = np.where(leave, -1, state.position_set)
    return rows


def _set_frames(state: RunState, edges: pd.DataFrame, given: list[pd.DataFrame]) -> None:
    scoped = state.account_set >= 0
    codes = state.account_set[scoped]
    moved = state.joined_by > 0
    pos = state.ctx.positions
    takers = pd.DataFrame(
        {
            "margin_set_id": state.set_column(state.position_set[moved]),
            "account_id": pos.own[Subject.POSITION]["account_id"][moved].to_numpy(),
            "role": TAKES_IN,
            "rule_id": np.asarray(state.joined_rules, dtype=object)[state.joined_by[moved]],
        }
    ).drop_duplicates()
    members = pd.DataFrame(
        {
            "margin_set_id": state.set_column(codes),
            "account_id": state.account_ids[scoped].reset_index(drop=True),
            "role": constant(len(codes), "member"),
            **_formed_by(state, codes, takers),
        }
    )
    others = pd.concat([takers, *given], ignore_index=True)
    others["citation"] = others["rule_id"].map(_citations(state)).fillna("").astype("str")
    state.frames["sets"] = pd.concat([members, others], ignore_index=True)
    reason = as_text(edges["reason"])
    rule_id = reason.str.split(":", n=1).str[0]
    state.frames["set_edges"] = pd.DataFrame(
        {
            "margin_set_id": edges["margin_set_id"].to_numpy(),
            "account_a": edges["account_a"].to_numpy(),
            "account_b": edges["account_b"].to_numpy(),
            "reason": reason.to_numpy(),
            "rule_id": rule_id.to_numpy(),
            "citation": rule_id.map(_citations(state)).fillna("").astype("str").to_numpy(),
        }
    )


def _formed_by(state: RunState, codes: IntArray, takers: pd.DataFrame) -> dict[str, pd.Categorical]:
    """The ``rule_id`` and ``citation`` of each member row: the rule that formed its set.

    A set of several accounts was merged by the margin-set rule; a set of one account that
    took in another account's positions was formed by the rule that took them in; a set of
    one account that nothing joined was formed by no rule (empty: the trace's ``rule_id``
    is null), though a merging rule may have looked at it and left it alone; under a rule
    that sets each account alone (``sets each account alone``), by that rule.
    """
    size = np.bincount(codes, minlength=state.n_sets)
    merging = _member_rule(state)
    took = takers.drop_duplicates("margin_set_id").set_index("margin_set_id")["rule_id"]
    set_ids = pd.Series(state.set_column(codes), dtype="str")
    mapped = set_ids.map(took.astype("str")).astype(object)
    rule = mapped.where(mapped.notna(), "").to_numpy(dtype=object)
    if isinstance(getattr(merging.statement, "rule", None), m.Separate):
        rule = np.where(rule == "", merging.rule_id, rule)  # `sets each account alone`
    rule = np.where(size[codes] > 1, merging.rule_id, rule)
    rule_id = pd.Series(rule, dtype="str")
    return {
        "rule_id": pd.Categorical(rule_id),
        "citation": pd.Categorical(rule_id.map(_citations(state)).astype(object).fillna("")),
    }


def _member_rule(state: RunState) -> Step:
    """The rule that formed the sets (the first margin-set rule; for the trace)."""
    steps = state.plan.active(StepKind.MARGIN_SETS)
    if steps:
        return steps[0]
    return Step(
        rule_id="",
        kind=StepKind.MARGIN_SETS,
        citation="",
        status=None,
        effective_from=None,
        effective_until=None,
        in_force=True,
        origin="",
        statement=m.Offset(id="", rule=m.Separate()),
    )


def _citations(state: RunState) -> pd.Series:
    # A text series, not a dict: mapping through an empty dict (a plan without steps) would
    # give floats, so the frames' dtypes would depend on steps of other phases.
    return pd.Series({s.rule_id: s.citation for s in state.plan.steps}, dtype="str")
