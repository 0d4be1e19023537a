"""Haircut and concentration steps: every lot's value, with the schedule row that set it.

Lots take the first schedule of the rulebook's haircut policy whose ``where`` holds
(``ResolvedRulebook.haircut_policy``: schedules a ``more conservative of`` names are not
applied on their own). A ``more conservative of`` takes, per lot, the largest haircut of
the named schedules whose ``where`` holds (an ineligible outcome counts as 100%, so it
wins); written by regime (``{a, b} and {c, d}``), a lot that no schedule of one regime
selects is refused there, a 100% haircut: ineligible. A lot no schedule matches is
ineligible. Each schedule is run by
:func:`marginlex.engine.kernels.haircuts.apply_haircuts`; concentration limits by
:func:`marginlex.engine.kernels.haircuts.apply_concentration_cap` against the set's maintenance
requirement.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.expressions import Subject
from marginlex.engine.book.columns import index_in
from marginlex.engine.kernels.haircuts import (
    AssetBuckets,
    AssetRate,
    BucketSchedule,
    ConcentrationCap,
    Exclusion,
    HaircutSchedule,
    LotStatus,
    apply_concentration_cap,
    apply_haircuts,
)
from marginlex.engine.kernels.money import round_cents
from marginlex.engine.kernels.text import as_text
from marginlex.engine.phases.margin import initial_multiple
from marginlex.engine.phases.state import BoolArray, FloatArray, IntArray, RunState
from marginlex.engine.plan.citations import row_notes, statement_note
from marginlex.engine.plan.expressions import mask
from marginlex.engine.plan.steps import Plan, Step, StepKind

NO_SCHEDULE = "no haircut schedule of the rulebook applies to this asset"
_CAPPED = "__capped__"


def _buckets(plan: Plan, body: m.MaturityBuckets) -> BucketSchedule:
    """The kernel's bucket schedule of a ``by residual_maturity`` table, its bounds read on
    the calendar from the as-of date (:meth:`~marginlex.engine.plan.steps.Plan.from_as_of`)."""
    bounded = [b for b in body.buckets if b.upper is not None]
    return BucketSchedule(
        boundaries=tuple(b.upper.base for b in bounded if b.upper is not None),
        rates=tuple(
            plan.value(b.outcome.value) for b in body.buckets if isinstance(b.outcome, m.Rate)
        ),
        inclusive=tuple(b.inclusive for b in bounded),
        calendar=tuple(plan.from_as_of(b.upper) for b in bounded if b.upper is not None),
    )


def _kernel_schedule(plan: Plan, h: m.Haircut, assets: list[str]) -> HaircutSchedule:
    """The kernel schedule for one DSL body, over the assets present."""
    body = h.body
    if isinstance(body, m.MaturityBuckets):
        return HaircutSchedule(
            name=h.id,
            buckets=(AssetBuckets(assets=tuple(assets), schedule=_buckets(plan, body)),),
        )
    rows: list[tuple[str | None, m.Rate | m.Ineligible]] = (
        [(r.asset.name if r.asset else None, r.outcome) for r in body.rows]
        if isinstance(body, m.AssetTable)
        else [(None, body.outcome)]  # type: ignore[union-attr]
    )
    listed = {a for a, _ in rows if a is not None}
    flat, excluded, unlisted = [], [], NO_SCHEDULE
    for asset, outcome in rows:
        covered = (asset,) if asset else tuple(a for a in assets if a not in listed)
        if isinstance(outcome, m.Rate):
            flat.append(AssetRate(assets=covered, rate=plan.value(outcome.value)))
        elif asset:
            excluded.append(Exclusion(assets=covered, reason=outcome.reason))
        else:
            unlisted = outcome.reason
    return HaircutSchedule(
        name=h.id, flat=tuple(flat), excluded=tuple(excluded), unlisted_reason=unlisted
    )


def _row_index(plan: Plan, h: m.Haircut, lots: pd.DataFrame) -> IntArray:
    """The schedule row each lot falls in, as an index into the body's rows (-1: none)."""
    body = h.body
    if isinstance(body, m.MaturityBuckets):
        years = lots["maturity_years"].to_numpy(np.float64)
        idx = _buckets(plan, body).bucket_of(years)
        return np.where(np.isnan(years), -1, idx).astype(np.int64)
    if isinstance(body, m.AssetTable):
        names = [r.asset.name if r.asset else None for r in body.rows]
        other = names.index(None) if None in names else -1
        listed = pd.Index([n for n in names if n is not None])
        where = index_in(lots["asset"], listed)
        rows = np.asarray([i for i, n in enumerate(names) if n is not None] + [other])
        return rows[np.where(where < 0, len(listed), where)].astype(np.int64)
    return np.zeros(len(lots), dtype=np.int64)


def _row_notes(h: m.Haircut, index: IntArray) -> Columns:
    """The citation and status of each lot's row (the schedule's own where the row has none)."""
    body = h.body
    if isinstance(body, m.MaturityBuckets):
        notes = [b.note for b in body.buckets]
    elif isinstance(body, m.AssetTable):
        notes = [r.note for r in body.rows]
    else:
        notes = [getattr(body, "note", None)]
    return row_notes(h, notes, index)


def _row_labels(h: m.Haircut, index: IntArray) -> np.ndarray:
    """The schedule row each lot falls in, as the rulebook writes it."""
    body = h.body
    if isinstance(body, m.MaturityBuckets):
        names = [b.label for b in body.buckets]
    elif isinstance(body, m.AssetTable):
        names = [r.asset.name if r.asset else "otherwise" for r in body.rows]
        # An asset no row lists is shown as falling to `otherwise`, written or not.
        return np.asarray([*names, "otherwise"], dtype=object)[np.where(index < 0, -1, index)]
    else:
        names = ["flat"]
    return np.asarray([*names, ""], dtype=object)[np.where(index < 0, len(names), index)]


Columns = dict[str, np.ndarray]
TEXT = (
    "rule_id",
    "citation",
    "evidence",
    "schedule",
    "haircut_row",
    "candidates",
    "status",
    "reason",
)


def _apply_one(plan: Plan, h: m.Haircut, lots: pd.DataFrame) -> Columns:
    """One schedule on some lots: per-lot arrays (text columns as object arrays)."""
    assets = sorted(as_text(lots["asset"]).unique().tolist())
    out = apply_haircuts(lots, _kernel_schedule(plan, h, assets))
    index = _row_index(plan, h, lots)
    return {
        **_row_notes(h, index),
        "schedule": np.full(len(lots), h.id, dtype=object),
        "haircut_row": _row_labels(h, index),
        "haircut_rate": out["haircut_rate"].to_numpy(np.float64),
        "status": _category_texts(out["status"]),
        "reason": _category_texts(out["reason"]),
        "value_after_haircut": out["value"].to_numpy(np.float64),
    }


def _category_texts(values: pd.Series) -> np.ndarray:
    """A categorical column's texts as an object array (missing: NaN), taken by code from
    its few categories rather than converted row by row."""
    texts = np.asarray([*values.cat.categories.astype("str"), np.nan], dtype=object)
    return texts[values.cat.codes.to_numpy(np.int64)]  # code -1: the NaN at the end


def _lot_frame(state: RunState) -> pd.DataFrame:
    own = state.ctx.lots.own[Subject.COLLATERAL]
    return pd.DataFrame(
        {
            "asset": as_text(own["asset"]),
            "market_value": own["market_value"].to_numpy(np.float64),
            "maturity_years": own["residual_maturity"].to_numpy(np.float64),
        }
    )


def _candidates(rates: list[np.ndarray], names: tuple[m.Symbol, ...], n: int) -> np.ndarray:
    """``sec_treasuries=1.5%;cftc_treasuries=2.0%``: every schedule that applied, per lot.

    Written once per distinct combination of rates (a schedule has a few rates, a book
    many lots), each rate as ``astype("str")`` writes it rounded to 4 places.
    """
    if not rates:
        return np.full(n, "", dtype=object)
    combo = np.zeros(n, dtype=np.int64)  # the combination's number, digit by schedule
    for r in rates:  # by bits, as astype would write them apart
        digit, seen = pd.factorize(np.asarray(r, np.float64).view(np.int64))
        combo = combo * len(seen) + digit
    _, first, codes = np.unique(combo, return_index=True, return_inverse=True)
    texts = [
        ";".join(
            f"{name.name}={float(np.round(r[row] * 100, 4))}%"
            for r, name in zip(rates, names, strict=True)
            if r[row] >= 0
        )
        for row in first  # one lot of each combination, not every lot
    ]
    return np.asarray(texts, dtype=object)[codes]


def _more_conservative(
    state: RunState, by_id: dict[str, Step], h: m.Haircut, lots: pd.DataFrame, hit: BoolArray
) -> Columns:
    """The lots' haircuts under ``more conservative of``: each lot the highest rate of the
    schedules that select it; a lot a regime refuses (none of its schedules selects it)
    100%, cited by the combining statement, whose rule the refusal is (not by the row of the
    regime that accepted it)."""
    combo = h.body
    assert isinstance(combo, m.MoreConservative)
    parts, rates = [], []
    for name in combo.schedules:  # the named schedules, a handful
        named = by_id[name.name].statement
        assert isinstance(named, m.Haircut)
        applies = mask(named.where, state.ctx.lots, state.plan)[hit]
        part = _apply_one(state.plan, named, lots)
        parts.append(part)
        rates.append(np.where(applies, part["haircut_rate"], -1.0))
    stacked = np.vstack(rates)
    winner = np.argmax(stacked, axis=0)  # first schedule wins a tie
    rows = np.arange(len(lots))
    out = {col: np.stack([p[col] for p in parts])[winner, rows] for col in parts[0]}
    out["candidates"] = (
        _candidates(rates, combo.schedules, len(lots))
        if state.trace
        else np.full(len(lots), "", dtype=object)
    )
    none = stacked.max(axis=0, initial=-1.0) < 0
    reason = np.where(none, NO_SCHEDULE, _refusals(combo, stacked))
    refused = reason != ""
    citation, evidence = statement_note(h)  # the combining statement's own
    for col, text in (
        ("schedule", ""),
        ("haircut_row", ""),
        ("reason", reason),
        ("status", LotStatus.NOT_IN_SCHEDULE.value),
        ("citation", citation),
        ("evidence", evidence),
    ):
        out[col] = np.where(refused, text, out[col])
    out["haircut_rate"] = np.where(refused, 1.0, out["haircut_rate"])
    market = lots["market_value"].to_numpy(np.float64)
    out["value_after_haircut"] = np.where(
        refused, np.minimum(market, 0.0), out["value_after_haircut"]
    )
    return out


def _refusals(combo: m.MoreConservative, stacked: FloatArray) -> np.ndarray:
    """Per lot, why a regime refuses it ('' where none does): no schedule of a regime's
    group selects the lot (``more conservative of {a, b} and {c, d}``)."""
    reason = np.full(stacked.shape[1], "", dtype=object)
    regimes = np.asarray(combo.regimes, dtype=np.int64)
    for number, group in enumerate(combo.groups()):  # a regime or two, not lots
        selects = (stacked[regimes == number] >= 0).any(axis=0)
        names = ", ".join(s.name for s in group)
        text = f"refused under {{{names}}}: that regime does not accept the asset (100%)"
        reason = np.where(~selects & (reason == ""), text, reason)
    return reason


def run_haircuts(state: RunState) -> pd.DataFrame:
    """Haircut every lot of a decided margin set; return the per-lot frame (lot rows)."""
    steps = state.plan.active(StepKind.HAIRCUT)
    by_id = {s.rule_id: s for s in steps}
    bodies = [getattr(s.statement, "body", None) for s in steps]
    named = {n.name for b in bodies if isinstance(b, m.MoreConservative) for n in b.schedules}
    lots = _lot_frame(state)
    n = len(lots)
    result: Columns = {col: np.full(n, "", dtype=object) for col in TEXT}
    result["status"][:] = LotStatus.NOT_IN_SCHEDULE.value
    result["reason"][:] = NO_SCHEDULE
    result["haircut_rate"] = np.ones(n)
    result["value_after_haircut"] = np.minimum(lots["market_value"].to_numpy(np.float64), 0.0)
    taken = state.lot_set < 0
    for step in (s for s in steps if s.rule_id not in named):
        h = step.statement
        assert isinstance(h, m.Haircut)
        hit = mask(h.where, state.ctx.lots, state.plan) & ~taken
        if not hit.any():
            continue
        taken |= hit
        sub = lots[hit]
        if isinstance(h.body, m.MoreConservative):
            out = _more_conservative(state, by_id, h, sub, hit)
        else:
            out = _apply_one(state.plan, h, sub)
        out["rule_id"] = np.full(len(sub), step.rule_id, dtype=object)
        for col, values in out.items():  # a dozen columns
            result[col][hit] = values
    _not_counted(state, result)
    return pd.DataFrame(  # the text columns hold a few distinct texts each
        {col: as_text(v) if v.dtype == object else v for col, v in result.items()}
    ).set_axis(lots.index)


def _not_counted(state: RunState, result: Columns) -> None:
    """Lots a segregation constraint says are ``not counted there``: pledged to a forbidden
    account (the account whose margin they are), each is valued at nothing, its reason
    naming the account and the constraint (17 CFR 1.22); its rule stays the haircut's, so
    the value's trace lists it."""
    lots = state.graph.lot_columns()
    ids = state.account_ids
    own = index_in(lots["account_id"], ids)
    to = index_in(lots["margined_account_id"], ids)
    owner = as_text(state.ctx.accounts.own[Subject.ACCOUNT]["owner_id"]).to_numpy()
    pledged = lots["is_pledged"].to_numpy(bool) & (own >= 0) & (to >= 0)
    for step in state.plan.active(StepKind.SEGREGATION):  # a few constraints, not lots
        rule = getattr(step.statement, "constraint", None)
        if not isinstance(rule, m.CollateralFlow) or not rule.not_counted:
            continue
        src = mask(rule.source, state.ctx.accounts, state.plan)
        dst = mask(rule.target, state.ctx.accounts, state.plan)
        hit = pledged & src[own] & dst[to]
        if rule.other_owner:
            hit &= owner[own] != owner[to]
        whose = ", another owner's account" if rule.other_owner else ""
        to_account = as_text(lots["margined_account_id"][hit])
        citation, _ = statement_note(step.statement)
        # the lot stays under the haircut that valued it (the value's trace lists every lot),
        # its reason naming the segregation rule that takes it out
        reason = (
            "pledged to " + to_account + whose + f": not counted there ({step.rule_id}: {citation})"
        )
        result["status"][hit] = LotStatus.EXCLUDED.value
        result["reason"][hit] = reason.to_numpy(dtype=object)
        for col in ("schedule", "haircut_row", "candidates"):
            result[col][hit] = ""
        result["haircut_rate"][hit] = 1.0
        result["value_after_haircut"][hit] = 0.0


CAP_COLUMNS = ("cap_of", "cap_limit", "cap_base", "cap_amount", "capped_value")
"""Per lot a cap cut (NaN, or "" for ``cap_of``, elsewhere): the requirement the limit is of
(``initial`` or ``maintenance``), the limit, that requirement, the cap (limit x
requirement) and the set's capped lots' value after haircuts that the cap cut to it."""


def run_concentration(
    state: RunState,
    lots: pd.DataFrame,
    requirement: FloatArray,
) -> tuple[FloatArray, np.ndarray, FloatArray, pd.DataFrame]:
    """Apply concentration limits: (value per lot, cap rule per lot, cap scale per lot, and
    per lot the figures of the cap that cut it, :data:`CAP_COLUMNS`).

    ``requirement`` is each set's maintenance requirement; a limit ``of initial
    requirement`` is measured against :func:`initial_requirement` instead."""
    value = lots["value_after_haircut"].to_numpy(np.float64)
    rule = np.full(len(lots), "", dtype=object)
    scale = np.ones(len(lots))
    figures = {c: np.full(len(lots), np.nan) for c in CAP_COLUMNS[1:]}
    cap_of = np.full(len(lots), "", dtype=object)
    placed = state.lot_set >= 0
    if not placed.any():  # no lot in a margin set (a book this rulebook decides no set of)
        return value, rule, scale, pd.DataFrame({"cap_of": cap_of, **figures})
    sets: IntArray = np.where(placed, state.lot_set, 0)
    for step in state.plan.active(StepKind.CONCENTRATION):
        c = step.statement
        assert isinstance(c, m.Concentration)
        hit = mask(c.where, state.ctx.lots, state.plan) & placed
        frame = pd.DataFrame(
            {"margin_set": sets, "asset": np.where(hit, _CAPPED, ""), "value": value}
        )
        cap = ConcentrationCap(
            name=step.rule_id, assets=(_CAPPED,), fraction=state.plan.value(c.limit)
        )
        initial = c.of is m.ConcentrationBase.INITIAL
        base = initial_requirement(state, requirement) if initial else requirement
        per_lot, per_set = apply_concentration_cap(frame, base, cap)
        cut = per_lot["cap_scale"].to_numpy(np.float64) < 1.0
        value = per_lot["value"].to_numpy(np.float64)
        rule = np.where(cut, step.rule_id, rule)
        scale = scale * per_lot["cap_scale"].to_numpy(np.float64)
        cap_of = np.where(cut, "initial" if initial else "maintenance", cap_of)
        shown = {
            "cap_limit": np.full(len(sets), cap.fraction),
            "cap_base": base[sets],
            "cap_amount": per_set["cap_amount"].to_numpy(np.float64)[sets],
            "capped_value": per_set["capped_value"].to_numpy(np.float64)[sets],
        }
        figures = {c: np.where(cut, shown[c], figures[c]) for c in CAP_COLUMNS[1:]}
    return value, rule, scale, pd.DataFrame({"cap_of": cap_of, **figures})


def initial_requirement(state: RunState, maintenance: FloatArray) -> FloatArray:
    """Each set's initial requirement, as its decision reports it: maintenance × the initial
    multiple of the rule that applies, to the cent; the maintenance where none applies."""
    multiple, _, _ = initial_multiple(state)
    kept = np.maximum(maintenance, 0.0)
    return np.asarray(
        np.where(np.isnan(multiple), kept, round_cents(kept * multiple)), dtype=np.float64
    )
