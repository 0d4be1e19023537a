"""The what-if search: for one decision, the smallest changes that alter it, each verified.

- **Ineligible**: for each failed requirement, the change its condition names
  (:mod:`marginlex.engine.whatif.eligibility`), re-evaluated: does the requirement pass, and
  does the change expose a failure the set did not have? With several failures, all their
  changes together too.
- **Call**: the cash deposit that clears it (the call, topped up until the re-evaluated call
  is 0); per class group, in order of its requirement at its worst scenario (under the
  strategy-based fallback, the sum of its positions' charges), the smallest cut
  of all its positions (whole percents, closed at the mark) that clears the call alone; for
  collateral a cap scaled down, the smallest amount of it to replace with cash.
- **Segregation breach**: each edge of each breach path (a pledge, a re-pledge relation) whose
  removal ends that path; for an account carried by a firm of a kind the rule does not allow
  (its own ``carrier_id``, no edge to remove), the account moved to the book's first firm of
  an allowed kind.

Amounts are searched by bisection, and the line reports the amount whose evaluation cleared.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable

import pandas as pd

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.ids import PATH_SEPARATOR
from marginlex.engine.book.load import Book
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.whatif import edits
from marginlex.engine.whatif.eligibility import Fix, fixes
from marginlex.engine.whatif.evaluator import SetEvaluator, outcome
from marginlex.engine.whatif.model import ChangeKind, Counterfactual, Outcome, WhatIf

MAX_CLASS_GROUPS = 3
MAX_ALTERNATIVES = 3
_BISECT_STEPS = 24


def what_if(book: Book, rulebook: ResolvedRulebook, as_of: dt.date, margin_set_id: str) -> WhatIf:
    """Every verified counterfactual for the decision of ``margin_set_id`` under ``rulebook``.

    Raises:
        marginlex.engine.whatif.evaluator.SetNotFoundError: the rulebook makes no decision
            for that set on this book.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> from marginlex.engine.book.load import load_demo_book
    >>> book = load_demo_book()
    >>> found = what_if(book, load_rulebook("sec"), book.as_of, "ms:A02_BOB_PM")
    >>> found.lines[0].change
    'deposit 30,348.00 USD in A02_BOB_PM'
    """
    ev = SetEvaluator(book, rulebook, as_of, margin_set_id)
    before = outcome(ev.base, ev.anchor)
    lines: list[Counterfactual] = []
    if not before.eligible:
        lines += _eligibility(ev, before)
    if before.call > 0:
        lines += _call(ev, before)
    if before.segregation_violations:
        lines += _breaches(ev, before)
    return WhatIf(
        rulebook_id=rulebook.id,
        margin_set_id=margin_set_id,
        before=before,
        lines=tuple(lines),
        evaluations=ev.evaluations,
    )


def _exposes(before: Outcome, after: Outcome) -> tuple[str, ...]:
    return tuple(f for f in after.failed_requirements if f not in before.failed_requirements)


def _requirement(ev: SetEvaluator, rule_id: str, name: str) -> m.Requirement | None:
    for step in ev.plan.steps:  # a few dozen steps
        if step.rule_id == rule_id and isinstance(step.statement, m.Eligibility):
            return next((r for r in step.statement.requirements if r.name == name), None)
    return None


def _eligibility(ev: SetEvaluator, before: Outcome) -> list[Counterfactual]:
    rows = ev.trace("eligibility")
    failed = rows[rows["applies"].astype(bool) & ~rows["passed"].astype(bool)]
    lines, firsts = [], []
    for _, row in failed.iterrows():  # the set's failed requirements, a handful
        rule_id, name, account = (
            str(row["rule_id"]),
            str(row["requirement"]),
            str(row["account_id"]),
        )
        req = _requirement(ev, rule_id, name)
        found = fixes(req.condition, ev.book, ev.plan, account) if req is not None else []
        base = {"rule_id": rule_id, "citation": str(row["citation"]), "target": name}
        if not found:
            text = f"no automatic change passes it ({row['reason']}; now {row['inputs']})"
            lines.append(
                Counterfactual(
                    kind=ChangeKind.NO_FIX, change=text, clears=False, outcome=None, **base
                )
            )
        for fix in found[:MAX_ALTERNATIVES]:
            after = ev.decide(fix.edit(ev.book))
            clears = name not in after.failed_requirements
            lines.append(
                Counterfactual(
                    kind=fix.kind,
                    change=fix.text,
                    amount=fix.amount,
                    clears=clears,
                    outcome=after,
                    exposes=_exposes(before, after),
                    **base,
                )
            )
        if found:
            firsts.append(found[0])
    if len(firsts) > 1:
        rules = failed.drop_duplicates("rule_id")
        lines.append(_together(ev, before, firsts, rules[["rule_id", "citation"]].astype("str")))
    return lines


def _together(
    ev: SetEvaluator, before: Outcome, parts: list[Fix], rules: pd.DataFrame
) -> Counterfactual:
    """Every failed requirement's first change at once: does the set become eligible?"""
    changed = ev.book
    for fix in parts:  # one change per failed requirement
        changed = fix.edit(changed)
    after = ev.decide(changed)
    return Counterfactual(
        kind=ChangeKind.SET_FIELD,
        rule_id=";".join(rules["rule_id"]),
        citation="; ".join(rules["citation"]),
        target=";".join(before.failed_requirements),
        change="all of the above together: " + "; ".join(f.text for f in parts),
        clears=after.eligible,
        outcome=after,
        exposes=_exposes(before, after),
    )


def _bisect(lo: float, hi: float, clears: Callable[[float], bool], step: float) -> float:
    """The smallest amount in (lo, hi] that clears, to ``step`` (``clears(hi)`` holds)."""
    for _ in range(_BISECT_STEPS):  # bounded: at most 24 evaluations
        if hi - lo <= step:
            break
        mid = math.ceil((lo + hi) / 2 / step) * step
        if mid >= hi:
            break
        if clears(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _call(ev: SetEvaluator, before: Outcome) -> list[Counterfactual]:
    decision = ev.base.decisions.set_index("margin_set_id").loc[before.margin_set_id]
    method = str(decision["method_rule_id"])
    lines = [_deposit(ev, before, method)]
    lines += _reductions(ev, before)
    lines += _capped(ev, before)
    return lines


def _deposit(ev: SetEvaluator, before: Outcome, method: str) -> Counterfactual:
    amount, after = before.call, before
    for _ in range(4):  # the call, topped up if a deposit itself moves the requirement
        after = ev.decide(edits.deposit(ev.book, ev.anchor, amount))
        if after.call <= 0:
            break
        amount = round(amount + after.call, 2)
    return Counterfactual(
        kind=ChangeKind.DEPOSIT,
        rule_id=method,
        citation=ev.citation(method),
        target="call",
        change=f"deposit {amount:,.2f} USD in {ev.anchor}",
        amount=amount,
        clears=after.call <= 0,
        outcome=after,
    )


def _reductions(ev: SetEvaluator, before: Outcome) -> list[Counterfactual]:
    positions = ev.trace("positions")
    groups = ev.trace("class_groups")
    if groups.empty:  # a method without class groups (strategy-based): its positions' charges
        groups = _charged_groups(positions)
    groups = groups[groups["requirement"] > 0].sort_values(
        ["requirement", "class_group"], ascending=[False, True]
    )
    cuts = [
        _reduction(ev, g, positions[positions["class_group"] == g["class_group"]])
        for _, g in groups.head(MAX_CLASS_GROUPS).iterrows()  # at most three class groups
    ]
    # closing a hedge can raise the call (its gains offset another class group's losses):
    # a cut that leaves as large a call or larger answers nothing
    return [c for c in cuts if c.clears or (c.outcome is not None and c.outcome.call < before.call)]


def _charged_groups(positions: pd.DataFrame) -> pd.DataFrame:
    """Per class group, the sum of its positions' requirements and the rule that charged them,
    for a method that charges position by position (the strategy-based fallback).

    >>> rows = pd.DataFrame({"class_group": ["ABC", "ABC", "XYZ"], "requirement": [6250.0,
    ...     20020.0, 0.0], "rule_id": ["sb"] * 3, "citation": ["Reg T"] * 3})
    >>> _charged_groups(rows).to_dict("records")[0]
    {'class_group': 'ABC', 'requirement': 26270.0, 'rule_id': 'sb', 'citation': 'Reg T'}
    """
    return (
        positions.groupby("class_group", sort=True)
        .agg(
            requirement=("requirement", "sum"),
            rule_id=("rule_id", "first"),
            citation=("citation", "first"),
        )
        .reset_index()
    )


def _reduction(ev: SetEvaluator, group: pd.Series, held: pd.DataFrame) -> Counterfactual:
    """The smallest whole-percent cut of one class group's positions that clears the call."""
    accounts = held["account_id"].astype("str").unique().tolist()
    instruments = held["instrument_id"].astype("str").unique().tolist()
    results: dict[float, Outcome] = {}

    def cut(pct: float) -> Book:
        return edits.reduce_positions(ev.book, accounts, instruments, pct / 100)

    def clears(pct: float) -> bool:
        results[pct] = ev.decide(cut(pct))
        return results[pct].call <= 0

    base = {"rule_id": str(group["rule_id"]), "citation": str(group["citation"])}
    what = f"positions in class group {group['class_group']}"
    if not clears(100.0):
        text = f"closing all {what} leaves a call of {results[100.0].call:,.2f}"
        pct, cleared = 100.0, False
    else:
        pct, cleared = _bisect(0.0, 100.0, clears, 1.0), True
        moved = _quantities(ev.book, cut(pct), accounts, instruments)
        # each position is cut by whole units, rounded up: 41% of 10 contracts cuts 5, and
        # "by 41% (10 -> 5)" alone read as a contradiction
        text = (
            f"cut the {what} by {pct:g}%, rounded up to whole units ({moved}), closed at the mark"
        )
    return Counterfactual(
        kind=ChangeKind.REDUCE,
        target="call",
        change=text,
        amount=pct / 100,
        clears=cleared,
        outcome=results[pct],
        **base,
    )


def _quantities(book: Book, changed: Book, accounts: list[str], instruments: list[str]) -> str:
    """``ES_2609 10 -> 4 in A08_FOX_FUT`` for each position a cut changed."""

    def held(b: Book) -> pd.Series:
        pos = b.positions[
            b.positions["account_id"].isin(accounts)
            & b.positions["instrument_id"].isin(instruments)
        ]
        return pos.set_index(["instrument_id", "account_id"])["quantity"]

    was = held(book)
    now = held(changed).reindex(was.index, fill_value=0.0)
    return ", ".join(
        f"{i} {q:g} -> {n:g} in {a}" for (i, a), q, n in zip(was.index, was, now, strict=True)
    )


def _capped(ev: SetEvaluator, before: Outcome) -> list[Counterfactual]:
    lots = ev.trace("lots")
    capped = lots[(lots["cap_scale"] < 1.0) & (lots["cap_rule_id"].astype("str") != "")]
    if capped.empty:
        return []
    ids, rule = capped["lot_id"].astype("str").tolist(), str(capped["cap_rule_id"].iloc[0])
    total = float(capped["market_value"].sum())
    results: dict[float, Outcome] = {}

    def clears(x: float) -> bool:
        results[x] = ev.decide(edits.replace_with_cash(ev.book, ids, x))
        return results[x].call <= 0

    base = {
        "kind": ChangeKind.REPLACE_CAPPED,
        "rule_id": rule,
        "citation": ev.citation(rule),
        "target": "call",
    }
    if not clears(total):
        return [
            Counterfactual(
                change=f"replacing all capped collateral ({', '.join(ids)}, {total:,.2f}) "
                f"with cash leaves a call of {results[total].call:,.2f}",
                amount=total,
                clears=False,
                outcome=results[total],
                **base,
            )
        ]
    # While the cap binds, each dollar swapped for cash adds a dollar of value: the call
    # itself is the first guess, kept when a dollar less does not clear (two evaluations).
    guess = min(before.call, total)
    exact = guess > 1.0 and clears(guess) and not clears(guess - 1.0)
    x = guess if exact else _bisect(0.0, total, clears, 1.0)
    return [
        Counterfactual(
            change=f"replace {x:,.2f} USD of capped collateral ({', '.join(ids)}) with cash",
            amount=x,
            clears=True,
            outcome=results[x],
            **base,
        )
    ]


def _edges(path: str, book: Book) -> list[tuple[str, str]]:
    """The removable edges of a breach path: pledges and relations (not a lot's own account)."""
    nodes = path.split(PATH_SEPARATOR)
    own = set(
        zip(
            book.collateral["account_id"].astype("str"),
            book.collateral["lot_id"].astype("str"),
            strict=True,
        )
    )
    return [(u, v) for u, v in itertools.pairwise(nodes) if (u, v) not in own]


def _allowed_carriers(ev: SetEvaluator, rule_id: str) -> tuple[str, ...] | None:
    """The carrier kinds a ``must be carried by`` constraint allows (None: another rule)."""
    for step in ev.plan.steps:  # a few dozen
        statement = step.statement
        if (
            step.rule_id == rule_id
            and isinstance(statement, m.Segregation)
            and isinstance(statement.constraint, m.CarrierKinds)
        ):
            return tuple(sorted(k.name for k in statement.constraint.kinds))
    return None


def _carrier_move(
    ev: SetEvaluator, row: pd.Series, carrier: str, account: str, allowed: tuple[str, ...]
) -> Counterfactual:
    """The account moved to the first firm of the book (by id) of an allowed kind: the
    ``carrier -> account`` edge is the account's own ``carrier_id``, not a relation to remove."""
    kinds = ev.book.parties.set_index("party_id")["kind"].astype("str")
    base = {
        "rule_id": str(row["rule_id"]),
        "citation": str(row["citation"]),
        "target": str(row["path"]),
    }
    able = sorted(kinds.index[kinds.isin(allowed)].astype("str"))
    if not able:
        text = f"no firm in the book is a {' or '.join(allowed)} to carry {account}"
        return Counterfactual(
            kind=ChangeKind.NO_FIX, change=text, clears=False, outcome=None, **base
        )
    firm = able[0]
    after_ev = ev.evaluate(
        edits.set_value(
            ev.book, "accounts", "account_id", [account], column="carrier_id", value=firm
        )
    )
    seg = after_ev.frames["segregation"]
    still = seg[(seg["rule_id"] == row["rule_id"]) & (seg["account_id"].astype("str") == account)]
    return Counterfactual(
        kind=ChangeKind.MOVE_ACCOUNT,
        change=(
            f"move {account} to the carrier {firm}, a {kinds[firm]} ({carrier} is a "
            f"{kinds.get(carrier, 'party of no allowed kind')})"
        ),
        clears=still.empty,
        outcome=outcome(after_ev, ev.anchor),
        **base,
    )


def _breaches(ev: SetEvaluator, before: Outcome) -> list[Counterfactual]:
    rows = ev.trace("segregation").drop_duplicates(["rule_id", "path"])
    lots = set(ev.book.collateral["lot_id"].astype("str"))
    lines: list[Counterfactual] = []
    made: dict[tuple[str, str, str], int] = {}  # (path, u, v) -> its line: one per edge
    evaluated: dict[tuple[str, str], Evaluation] = {}  # each edge removed, evaluated once
    for _, row in rows.iterrows():  # the set's violations, a few
        path = str(row["path"])
        allowed = _allowed_carriers(ev, str(row["rule_id"]))
        if allowed is not None:  # its path is CARRIER -> ACCOUNT, the account's own carrier_id
            carrier, account = path.split(PATH_SEPARATOR)
            lines.append(_carrier_move(ev, row, carrier, account, allowed))
            continue
        for u, v in _edges(path, ev.book):
            if (u, v) not in evaluated:
                evaluated[u, v] = ev.evaluate(edits.remove_edge(ev.book, u, v))
            after_ev = evaluated[u, v]
            if (path, u, v) in made:  # the same path breaks another rule: one line, both cited
                k = made[path, u, v]
                lines[k] = _cited_too(lines[k], row, after_ev.frames["segregation"], u, v)
                continue
            made[path, u, v] = len(lines)
            after = outcome(after_ev, ev.anchor)
            what = (
                f"remove the pledge of lot {u} to {v}"
                if u in lots
                else f"remove the relation {u} -> {v}"
            )
            lines.append(
                Counterfactual(
                    kind=ChangeKind.REMOVE_EDGE,
                    rule_id=str(row["rule_id"]),
                    citation=str(row["citation"]),
                    target=path,
                    change=what,
                    clears=_ends(after_ev.frames["segregation"], row, path, (u, v)),
                    outcome=after,
                )
            )
    return lines


def _cited_too(
    line: Counterfactual, row: pd.Series, seg: pd.DataFrame, u: str, v: str
) -> Counterfactual:
    """A line that ends a path two rules find: both rules cited; it clears when it ends the
    path under both (``seg``: the segregation frame of the book without the edge)."""
    return line.model_copy(
        update={
            "rule_id": f"{line.rule_id};{row['rule_id']}",
            "citation": f"{line.citation}; {row['citation']}",
            "clears": line.clears and _ends(seg, row, line.target, (u, v)),
        }
    )


def _ends(seg: pd.DataFrame, row: pd.Series, path: str, edge: tuple[str, str]) -> bool:
    """Whether the book without ``edge`` (its segregation frame ``seg``) no longer breaks
    ``row``'s rule by that edge, nor by the same path."""
    mine = seg["rule_id"] == row["rule_id"]
    paths = seg["path"].astype("str")
    by_edge = paths.str.contains(PATH_SEPARATOR.join(edge), regex=False)
    return not (mine & by_edge).any() and not (mine & (paths == path)).any()
