"""The laws of the property catalogue, each a check of one generated book.

:func:`law_for` turns a property model (:mod:`marginlex.engine.variants.properties`) into a
function of a :class:`~marginlex.engine.variants.property_books.BookCut` and a drawn integer
(which account, how much) that returns a :class:`Violation` or None. Plans are compiled once
per property; a ``monotone`` law reuses the phases a raised figure cannot reach.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from marginlex.dsl.format.expressions import quantity
from marginlex.dsl.model.expressions import Quantity, Unit
from marginlex.dsl.model.rulebook import StatementKind
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import Book
from marginlex.engine.evaluate import evaluate_run
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.phases.reuse import reuse_from
from marginlex.engine.plan.compile import compile_plan
from marginlex.engine.plan.steps import Plan
from marginlex.engine.synth.generate import DEFAULT_AS_OF
from marginlex.engine.variants.decision_trace import render_trace
from marginlex.engine.variants.mutate import Mutant, _changed, _row_label, _walk, mutate
from marginlex.engine.variants.properties import (
    CollateralNeverCreatesCall,
    Dominates,
    FigureSet,
    HarmonizedBound,
    Monotone,
    PropertySpec,
    Violation,
)
from marginlex.engine.variants.property_books import BookCut, book_csv, cut_frames, load_cut

Law = Callable[[BookCut, int], Violation | None]
CENT = 0.005
ADDED_LOT = "LOT_ADDED"


def _plan(rulebook: ResolvedRulebook) -> Plan:
    return compile_plan(rulebook, DEFAULT_AS_OF)


def _raised(spec: Monotone, amount: float, unit: Unit) -> float:
    if unit is Unit.PERCENT:
        return min(100.0, amount + spec.points)
    return amount * spec.factor


def raised_figures(rulebook: ResolvedRulebook, spec: Monotone) -> list[Mutant]:
    """Each figure the property raises, as a one-figure mutant (rulebook order)."""
    out: list[Mutant] = []
    for number, s in enumerate(rulebook.statements):
        found: list[tuple[tuple[str | int, ...], Quantity]] = []
        if s.kind is StatementKind.HAIRCUT and spec.figures is FigureSet.HAIRCUTS:
            found = [(p, q) for p, q in _walk(s.body, ("body",)) if q.unit is Unit.PERCENT]
        elif s.kind is StatementKind.PARAMETER and (
            s.id in spec.parameters or (spec.figures is FigureSet.MINIMUMS and "min" in s.id)
        ):
            found = [(("value",), s.value)]
        for path, q in found:
            amount = _raised(spec, q.amount, q.unit)
            if amount == q.amount:
                continue
            out.append(
                Mutant(
                    rule_id=s.id,
                    row=_row_label(s, path),
                    figure=quantity(q),
                    mutation=f"raised → {quantity(_changed(q, amount))}",
                    statement=number,
                    paths=(path,),
                    amount=amount,
                    line=q.span.line,
                )
            )
    return out


def _violation(message: str, book: Book, shown: list[tuple[str, Evaluation, str]]) -> Violation:
    traces = tuple(f"{label}\n{render_trace(ev, set_id)}" for label, ev, set_id in shown)
    return Violation(message=message, book_csv=book_csv(book), traces=traces)


def _fell(before: pd.DataFrame, after: pd.DataFrame, column: str) -> pd.DataFrame:
    both = before.merge(after, on="margin_set_id", suffixes=("_a", "_b"))
    return both[both[f"{column}_b"] < both[f"{column}_a"] - CENT]


def _monotone(spec: Monotone, rulebook: ResolvedRulebook) -> Law:
    plan = _plan(rulebook)
    figures = [(f, _plan(mutate(rulebook, f))) for f in raised_figures(rulebook, spec)]
    if not figures:
        raise ValueError(f"property `{spec.name}`: no figure of {rulebook.id} to raise")

    def law(cut: BookCut, _pick: int) -> Violation | None:
        book = load_cut(cut)
        base, reuse = evaluate_run(plan, book, DEFAULT_AS_OF)
        for figure, raised in figures:
            ev, _ = evaluate_run(raised, book, DEFAULT_AS_OF, reuse=reuse_from(reuse, raised))
            for column in ("maintenance", "call"):
                fell = _fell(base.decisions, ev.decisions, column)
                if fell.empty:
                    continue
                row = fell.iloc[0]
                where = f"{figure.rule_id} {figure.row}".strip()
                message = (
                    f"raising {where} {figure.figure} ({figure.mutation}, line {figure.line}) "
                    f"lowered the {_name(column)} of {row['margin_set_id']} from "
                    f"{row[f'{column}_a']:,.2f} to {row[f'{column}_b']:,.2f}"
                )
                set_id = str(row["margin_set_id"])
                return _violation(
                    message, book, [("as written:", base, set_id), ("raised:", ev, set_id)]
                )
        return None

    return law


def _name(column: str) -> str:
    return "requirement" if column == "maintenance" else column


def _by_account(ev: Evaluation) -> pd.DataFrame:
    d = ev.decisions.assign(account_id=ev.decisions["account_ids"].str.split(";"))
    return d.explode("account_id")


def _with_cash(
    cut: BookCut, pick: int, spec: CollateralNeverCreatesCall
) -> tuple[Book, Book, str, float]:
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from marginlex.engine.book.load import load_book, write_book  # noqa: PLC0415

    meta, frames = cut_frames(cut)
    accounts = frames["accounts"]["account_id"]
    account = str(accounts.iloc[pick % len(accounts)])
    amount = round(spec.max_amount * ((pick % 1000) + 1) / 1000, 2)
    lot = pd.DataFrame(
        [{"lot_id": ADDED_LOT, "account_id": account, "asset": "USD", "market_value": amount}]
    )
    more = {**frames, "collateral": pd.concat([frames["collateral"], lot], ignore_index=True)}
    with tempfile.TemporaryDirectory() as tmp:
        write_book(meta, more, Path(tmp))
        after = load_book(tmp)
    return load_cut(cut), after, account, amount


def _collateral(spec: CollateralNeverCreatesCall, rulebook: ResolvedRulebook) -> Law:
    plan = _plan(rulebook)

    def law(cut: BookCut, pick: int) -> Violation | None:
        before_book, after_book, account, amount = _with_cash(cut, pick, spec)
        before = evaluate_run(plan, before_book, DEFAULT_AS_OF)[0]
        after = evaluate_run(plan, after_book, DEFAULT_AS_OF)[0]
        both = _by_account(before).merge(_by_account(after), on="account_id", suffixes=("_a", "_b"))
        grew = both[both["call_b"] > both["call_a"] + CENT]
        if grew.empty:
            return None
        row = grew.iloc[0]
        message = (
            f"adding {amount:,.2f} USD cash to {account} raised the call of "
            f"{row['account_id']} ({row['margin_set_id_b']}) from {row['call_a']:,.2f} "
            f"to {row['call_b']:,.2f}"
        )
        shown = [
            ("before:", before, str(row["margin_set_id_a"])),
            (f"with {ADDED_LOT}:", after, str(row["margin_set_id_b"])),
        ]
        return _violation(message, after_book, shown)

    return law


def _regime_sets(ev: Evaluation, prefix: str) -> pd.DataFrame:
    d = _by_account(ev)[["account_id", "margin_set_id", "eligible", "maintenance"]]
    d = d.astype({"maintenance": "float64"})
    return d.rename(columns={c: f"{prefix}_{c}" for c in d.columns if c != "account_id"})


def _bound(
    spec: HarmonizedBound, own: ResolvedRulebook, sec: ResolvedRulebook, cftc: ResolvedRulebook
) -> Law:
    plans = [_plan(own), _plan(sec), _plan(cftc)]

    def law(cut: BookCut, _pick: int) -> Violation | None:
        book = load_cut(cut)
        h, s, c = (evaluate_run(p, book, DEFAULT_AS_OF)[0] for p in plans)
        table = _by_account(h)[["account_id", "margin_set_id", "eligible", "maintenance"]]
        table = table.merge(_regime_sets(s, "sec"), on="account_id", how="left")
        table = table.merge(_regime_sets(c, "cftc"), on="account_id", how="left")
        table["both"] = table["sec_eligible"].eq(True) | table["cftc_eligible"].eq(True)
        ok = table.groupby("margin_set_id")["both"].all()
        sec_req = (
            table.drop_duplicates(["margin_set_id", "sec_margin_set_id"])
            .groupby("margin_set_id")["sec_maintenance"]
            .sum()
        )
        cftc_req = (
            table.drop_duplicates(["margin_set_id", "cftc_margin_set_id"])
            .groupby("margin_set_id")["cftc_maintenance"]
            .sum()
        )
        offsets = h.frames["offsets"]
        credits = offsets["credit"].astype("float64").groupby(offsets["margin_set_id"]).sum()
        sets = h.decisions.set_index("margin_set_id")
        sets = sets[sets["eligible"].eq(True) & ok.reindex(sets.index, fill_value=False)]
        floor = pd.concat([sec_req, cftc_req], axis=1).max(axis=1).reindex(sets.index)
        floor = floor - credits.reindex(sets.index, fill_value=0.0)
        below = sets[sets["maintenance"] < floor - CENT]
        if below.empty:
            return None
        set_id = str(below.index[0])
        first = table[table["margin_set_id"] == set_id].iloc[0]
        message = (
            f"{own.id} set {set_id} is eligible under both regimes and asks "
            f"{below['maintenance'].iloc[0]:,.2f}, below max(SEC {sec_req[set_id]:,.2f}, "
            f"CFTC {cftc_req[set_id]:,.2f}) less offset credits "
            f"{credits.get(set_id, 0.0):,.2f} = {floor[set_id]:,.2f}"
        )
        regime, other = (s, "sec") if pd.notna(first["sec_margin_set_id"]) else (c, "cftc")
        shown = [
            (f"{own.id}:", h, set_id),
            (f"{regime.rulebook_id}:", regime, str(first[f"{other}_margin_set_id"])),
        ]
        return _violation(message, book, shown)

    return law


def _dominates(spec: Dominates, own: ResolvedRulebook, over: ResolvedRulebook) -> Law:
    plans = (_plan(own), _plan(over))
    column = "maintenance" if spec.field == "requirement" else spec.field

    def law(cut: BookCut, _pick: int) -> Violation | None:
        book = load_cut(cut)
        a, b = (evaluate_run(p, book, DEFAULT_AS_OF)[0] for p in plans)
        both = a.decisions.merge(b.decisions, on="account_ids", suffixes=("_a", "_b"))
        below = both[both[f"{column}_a"] < both[f"{column}_b"] - CENT]
        if below.empty:
            return None
        row = below.iloc[0]
        message = (
            f"{own.id} asks {row[f'{column}_a']:,.2f} of {row['account_ids']} "
            f"({spec.field}), less than {over.id}'s {row[f'{column}_b']:,.2f}"
        )
        shown = [
            (f"{own.id}:", a, str(row["margin_set_id_a"])),
            (f"{over.id}:", b, str(row["margin_set_id_b"])),
        ]
        return _violation(message, book, shown)

    return law


def law_for(spec: PropertySpec, found: list[ResolvedRulebook]) -> Law:
    """The law of one property over its rulebooks (in :func:`rulebook_names` order)."""
    if isinstance(spec, Monotone):
        return _monotone(spec, found[0])
    if isinstance(spec, CollateralNeverCreatesCall):
        return _collateral(spec, found[0])
    if isinstance(spec, HarmonizedBound):
        return _bound(spec, *found)
    return _dominates(spec, *found)
