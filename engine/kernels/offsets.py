"""Offsets between class groups: product-group netting (grids) and spread credits (SPAN).

**Product-group offsets (SEC Rule 15c3-1a style).** Class groups of one margin set that
belong to the same product group are netted point by point. At each valuation point *j*,
with ``L_cj = max(-P&L_cj, 0)`` and ``G_cj = max(P&L_cj, 0)`` the loss and gain of class
group *c* (already netted 100% within the class group)::

    net_j = sum_c L_cj - rate x sum_c G_cj

The product group's netted loss is ``max(max_j net_j, 0)`` at its worst point; the
credit is the sum of its class groups' worst losses minus the netted loss (never negative:
each ``net_j`` is at most the sum of the class groups' worst losses), shared among them in
proportion to their losses; each class group's requirement is ``max(loss - its share,
minimum)`` (its minimum is its own, never offset), and the product group's is their sum. Its
credit as reported is the sum of its class groups' stand-alone requirements minus that.
Points are aligned by column (same direction and fraction of each class group's range); a
class group with fewer points contributes nothing past its last point. A class group with
no product group stands alone (requirement unchanged).

**Inter-commodity spread credits by key (SPAN style, ``credit each leg``).** Class groups of
one margin set and one key hedge each other when their worst scenarios move price in
opposite directions; each leg is credited the rate times the risk it matches
(:func:`leg_credits`).

**Inter-commodity spread credits between named class groups.** A table of rows (group a,
group b, rate) is applied in order. For each margin set holding both class groups, when
their worst scenarios move price in opposite directions (a hedge between positively related
products), the matched risk ``s = min(remaining risk a, remaining risk b)`` is consumed from
both and each leg gets a credit of ``rate x s``. A class group's requirement after credits
is ``max(scanning risk - credits, short option minimum)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from marginlex.engine.kernels.grouping import (
    FloatArray,
    IntArray,
    categorical,
    first_by_group,
    group_by_set_and_label,
    sum_by_group,
)
from marginlex.engine.kernels.text import as_text


class OffsetRate(BaseModel):
    """The fraction of gains that offsets losses within one product group."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_group: str
    rate: float = Field(ge=0.0, le=1.0)


class OffsetParams(BaseModel):
    """Product-group offset rates; product groups not listed get ``default_rate``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rates: tuple[OffsetRate, ...] = ()
    default_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class SpreadCredit(BaseModel):
    """One inter-commodity spread: class groups ``group_a`` and ``group_b`` at ``rate``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_a: str
    group_b: str
    rate: float = Field(ge=0.0, le=1.0)


@dataclass(frozen=True)
class OffsetResult:
    """Output of :func:`product_group_offsets`.

    Attributes:
        product_groups: one row per (margin set, product group), sorted: ``margin_set``,
            ``product_group``, ``standalone``, ``n_class_groups``, ``offset_rate``,
            ``worst_point``, ``losses_at_worst``, ``gains_at_worst``, ``netted_loss``,
            ``class_group_losses``, ``minimum``, ``class_group_requirements``,
            ``requirement``, ``credit``, ``minimum_binds``.
        class_group_product_group: for each class-group row, its product-group row.
        paired_credit: per class-group row, the requirement a DV01 pairing took off
            (:func:`leg_credits`), None without one.
        class_group_requirement: per class-group row, its requirement after every credit
            (:func:`leg_credits`, :func:`product_group_offsets`), None where not computed.
        class_group_credit: per class-group row, the credit a leg was given
            (:func:`leg_credits`: rate x ``class_group_matched``; a minimum may keep part of
            it from the requirement), None where credits are not per leg.
        class_group_matched: per class-group row, the scanning risk a leg matched
            (:func:`leg_credits`), None where credits are not per leg.
    """

    product_groups: pd.DataFrame
    class_group_product_group: IntArray
    paired_credit: FloatArray | None = None
    class_group_requirement: FloatArray | None = None
    class_group_credit: FloatArray | None = None
    class_group_matched: FloatArray | None = None


def product_group_offsets(
    groups: pd.DataFrame, group_pnl: FloatArray, product_group: pd.Series, params: OffsetParams
) -> OffsetResult:
    """Net class groups within product groups, point by point.

    Args:
        groups: class-group rows as returned by
            :func:`marginlex.engine.kernels.scenarios.scenario_grid` (``margin_set``,
            ``class_group``, ``n_points``, ``loss``, ``minimum``, ``requirement``).
        group_pnl: the matching (class groups, K) P&L matrix.
        product_group: product group label per class-group row (missing: stands alone).
        params: offset rates.

    Returns:
        Product-group rows and the class-group -> product-group mapping.
    """
    key, label_codes, labels, rate_of_key = _product_group_keys(groups, product_group, params)
    index = group_by_set_and_label(groups["margin_set"].to_numpy(), pd.Series(key))
    size, codes = index.size, index.codes
    loss_matrix, gain_matrix = _losses_and_gains(group_pnl, groups["n_points"].to_numpy(np.int64))
    losses = sum_by_group(codes, loss_matrix, size)
    gains = sum_by_group(codes, gain_matrix, size)
    group_key = first_by_group(codes, key, size).astype(np.int64)
    pg_standalone = group_key >= len(rate_of_key)
    # Stand-alone keys (>= P) read the trailing 0: no offset within a single class group.
    rate = np.append(rate_of_key, 0.0)[np.minimum(group_key, len(rate_of_key))]
    pg_label = categorical(first_by_group(codes, label_codes, size), labels)
    net = losses - rate[:, None] * gains
    worst = np.argmax(net, axis=1) if size else np.zeros(0, np.int64)
    rows = np.arange(size)
    charges = _charges(groups)
    netted = np.maximum(net[rows, worst], 0.0) + sum_by_group(codes, charges, size)
    minimum = sum_by_group(codes, groups["minimum"].to_numpy(np.float64), size)
    standalone_req = sum_by_group(codes, groups["requirement"].to_numpy(np.float64), size)
    after = _after_credit(groups, charges, codes, netted)
    requirement = sum_by_group(codes, after, size)
    frame = pd.DataFrame(
        {
            "margin_set": index.margin_set,
            "product_group": pg_label,
            "standalone": pg_standalone,
            "n_class_groups": np.bincount(codes, minlength=size).astype(np.int64),
            "offset_rate": rate,
            "worst_point": worst.astype(np.int64),
            "losses_at_worst": losses[rows, worst],
            "gains_at_worst": gains[rows, worst],
            "netted_loss": netted,
            "class_group_losses": sum_by_group(codes, groups["loss"].to_numpy(np.float64), size),
            "minimum": minimum,
            "class_group_requirements": standalone_req,
            "requirement": requirement,
            "credit": np.maximum(standalone_req - requirement, 0.0),
            "paired_credit": np.zeros(size),
            "minimum_binds": requirement > netted + 0.005,  # by more than rounding: a cent
        }
    )
    return OffsetResult(
        product_groups=frame, class_group_product_group=codes, class_group_requirement=after
    )


def _after_credit(
    groups: pd.DataFrame, charges: FloatArray, codes: IntArray, netted: FloatArray
) -> FloatArray:
    """Per class group, its requirement after its product group's credit: ``max(loss -
    credit, minimum)``, the credit (the class groups' worst losses less the netted loss)
    shared in proportion to each one's risk (its loss less its charges, which are never
    netted). The minimum is the class group's own and is not offset: a class group whose
    loss is below its minimum keeps the minimum, whatever the others lose."""
    loss = groups["loss"].to_numpy(np.float64)
    risk = np.maximum(loss - charges, 0.0)
    size = len(netted)
    total_risk = sum_by_group(codes, risk, size)
    credit = np.maximum(sum_by_group(codes, loss, size) - netted, 0.0)
    share = np.divide(risk, total_risk[codes], out=np.zeros_like(risk), where=total_risk[codes] > 0)
    after: FloatArray = np.maximum(
        loss - credit[codes] * share, groups["minimum"].to_numpy(np.float64)
    )
    return after


def _charges(groups: pd.DataFrame) -> FloatArray:
    """Per class group, SPAN charges included in ``loss`` (calendar spreads, delivery month):
    added after the credits, never netted against gains."""
    if "charges" not in groups.columns:
        return np.zeros(len(groups))
    return groups["charges"].to_numpy(np.float64)


def _losses_and_gains(group_pnl: FloatArray, n_points: IntArray) -> tuple[FloatArray, FloatArray]:
    """Points-major (K, G) loss and gain matrices; points past a group's count are 0."""
    pnl = np.array(group_pnl.T, order="C")  # a copy: the caller's matrix stays intact
    if len(n_points) and int(n_points.min()) < pnl.shape[0]:
        pnl[np.arange(pnl.shape[0])[:, None] >= n_points[None, :]] = 0.0
    losses = np.maximum(np.negative(pnl), 0.0)
    gains = np.add(pnl, losses, out=pnl)  # P&L = gain - loss, so gain = P&L + loss
    return losses, gains


def _product_group_keys(
    groups: pd.DataFrame, product_group: pd.Series, params: OffsetParams
) -> tuple[IntArray, IntArray, list[str], FloatArray]:
    """Integer product-group key per class-group row, its display label, and rate per key.

    Keys ``0 .. P-1`` are product groups; a class group without one gets ``P + its class
    group code``, so it stands alone even if a product group bears the same name.
    """
    named = product_group.where(as_text(product_group) != "")
    pg_codes, pg_uniques = pd.factorize(named, sort=True, use_na_sentinel=True)
    cg_codes, cg_uniques = pd.factorize(groups["class_group"], sort=True)
    standalone = pg_codes < 0
    key = np.where(standalone, len(pg_uniques) + cg_codes, pg_codes).astype(np.int64)
    all_labels = pd.Index([str(x) for x in pg_uniques] + [str(x) for x in cg_uniques])
    labels = all_labels.unique()
    label_codes = labels.get_indexer(all_labels)[key].astype(np.int64)
    table = {r.product_group: r.rate for r in params.rates}
    rate_of_key = np.array(
        [table.get(str(x), params.default_rate) for x in pg_uniques], dtype=np.float64
    )
    return key, label_codes, [str(x) for x in labels], rate_of_key


def leg_credits(
    groups: pd.DataFrame,
    product_group: pd.Series,
    params: OffsetParams,
    spreads: tuple[FloatArray, FloatArray] | None = None,
    paired: tuple[FloatArray, FloatArray] | None = None,
) -> OffsetResult:
    """SPAN inter-commodity spread credits by key: each leg credited rate x matched risk.

    Within one margin set, the class groups of one key (a product group with a rate) whose
    worst scenario moves price up (``direction`` +1) hedge those whose worst moves it down
    (-1). The matched risk is ``m = min(S_up, S_down)``, the smaller side's total scanning
    risk; a class group of a side with total ``S`` matches ``risk x m / S`` of its own risk
    and is credited ``rate`` times that. Its requirement is ``max(risk - credit, minimum)``.
    Two equal legs of risk R at 50% are charged R(1 - 50%) each: R in all, where netting
    point by point (:func:`product_group_offsets`) charges R - 50% x R = R/2.

    Args:
        groups: SPAN class-group rows (``margin_set``, ``class_group``, ``loss`` (the
            scanning risk), ``direction``, ``minimum``, ``requirement``).
        product_group: the credit key per class-group row (missing: stands alone).
        params: the rate per key.
        spreads: per class group, the credit and the risk matched, when spreads between
            keys formed them (:func:`marginlex.engine.kernels.span_spreads.priority_spreads`);
            the rows then stand for the keys, ``offset_rate`` is credit / matched risk.
        paired: per class group, the credit and the risk matched by a clearing-house DV01
            pairing taken before these credits
            (:func:`marginlex.engine.phases.pairing.pairing_credits`): the spreads here see
            only the risk it left, and its credit lowers the requirement too, but is not
            in the rows' ``credit`` (the pairing has rows of its own); the requirement each
            class group's pairing credit took off is ``paired_credit`` (per class group in
            the result, per row in the frame: a row's ``requirement`` is its
            ``class_group_requirements`` less ``paired_credit`` less ``credit``).

    Returns:
        One row per (margin set, key), columns as :func:`product_group_offsets` returns:
        ``worst_point`` is -1 (each leg is credited at its own worst scenario),
        ``losses_at_worst`` the legs' scanning risk (what a DV01 pairing left unmatched),
        ``gains_at_worst`` the matched risk ``m``, ``netted_loss`` the loss less the credits
        (the pairing's too), ``paired_credit`` the pairing's credit on the row's class groups.
    """
    key, label_codes, labels, rate_of_key = _product_group_keys(groups, product_group, params)
    index = group_by_set_and_label(groups["margin_set"].to_numpy(), pd.Series(key))
    size, codes = index.size, index.codes
    group_key = first_by_group(codes, key, size).astype(np.int64)
    rate = np.append(rate_of_key, 0.0)[np.minimum(group_key, len(rate_of_key))]
    loss = groups["loss"].to_numpy(np.float64)
    risk = loss - _charges(groups)  # credits are a share of scanning risk, not of charges
    if paired is not None:
        risk = np.maximum(risk - paired[1], 0.0)
    direction = groups["direction"].to_numpy(np.float64)
    up = sum_by_group(codes, np.where(direction > 0, risk, 0.0), size)
    down = sum_by_group(codes, np.where(direction < 0, risk, 0.0), size)
    matched = np.minimum(up, down)
    side = np.where(direction > 0, up[codes], np.where(direction < 0, down[codes], 0.0))
    share = np.divide(matched[codes], side, out=np.zeros(len(risk)), where=side > 0)
    credit = rate[codes] * risk * share
    matched_risk = risk * share
    if spreads is not None:
        credit, matched_risk = spreads
        matched = sum_by_group(codes, matched_risk, size)
        total = sum_by_group(codes, credit, size)
        rate = np.divide(total, matched, out=np.zeros(size), where=matched > 0)
    minimum = groups["minimum"].to_numpy(np.float64)
    after = np.maximum(loss - credit, minimum)
    paired_credit = None
    if paired is not None:
        with_pairing = np.maximum(loss - credit - paired[0], minimum)
        paired_credit = after - with_pairing
        after = with_pairing
    requirement = sum_by_group(codes, after, size)
    before = sum_by_group(codes, groups["requirement"].to_numpy(np.float64), size)
    total_minimum = sum_by_group(codes, minimum, size)
    pair_credit = _sum(codes, paired_credit, size)
    # the pairing's credit is in the requirement, so in what was netted too
    netted = sum_by_group(codes, loss - credit - (paired[0] if paired is not None else 0.0), size)
    frame = pd.DataFrame(
        {
            "margin_set": index.margin_set,
            "product_group": categorical(first_by_group(codes, label_codes, size), labels),
            "standalone": group_key >= len(rate_of_key),
            "n_class_groups": np.bincount(codes, minlength=size).astype(np.int64),
            "offset_rate": rate,
            "worst_point": np.full(size, -1, dtype=np.int64),
            "losses_at_worst": sum_by_group(codes, risk, size),
            "gains_at_worst": matched,
            "netted_loss": netted,
            "class_group_losses": sum_by_group(codes, risk, size),
            "minimum": total_minimum,
            "class_group_requirements": before,
            "requirement": requirement,
            "credit": np.maximum(before - requirement - pair_credit, 0.0),
            "paired_credit": pair_credit,
            "minimum_binds": total_minimum > netted,
        }
    )
    return OffsetResult(
        product_groups=frame,
        class_group_product_group=codes,
        paired_credit=paired_credit,
        class_group_requirement=after,
        class_group_credit=credit,
        class_group_matched=matched_risk,
    )


def _sum(codes: IntArray, values: FloatArray | None, size: int) -> FloatArray:
    return np.zeros(size) if values is None else sum_by_group(codes, values, size)


@dataclass(frozen=True)
class SpreadResult:
    """Output of :func:`spread_credits`.

    Attributes:
        groups: the SPAN class-group rows with ``spread_credit``, ``requirement_before_credit``
            and ``requirement`` (after credits) columns.
        spreads: one row per spread formed: ``margin_set``, ``group_a``, ``group_b``,
            ``rate``, ``spread_risk`` (matched risk), ``credit_each``.
    """

    groups: pd.DataFrame
    spreads: pd.DataFrame


def spread_credits(groups: pd.DataFrame, table: tuple[SpreadCredit, ...]) -> SpreadResult:
    """Apply inter-commodity spread credits between SPAN class groups, in table order.

    Args:
        groups: rows from :func:`marginlex.engine.kernels.span.span_scan` (``margin_set``,
            ``class_group``, ``scanning_risk``, ``short_option_minimum``, ``direction``),
            sorted by margin set as that function returns them.
        table: spread rows in priority order.

    Returns:
        Class groups with credits applied and the spreads formed.
    """
    sets = groups["margin_set"].to_numpy(np.int64)
    labels = as_text(groups["class_group"]).to_numpy()
    direction = groups["direction"].to_numpy(np.float64)
    risk = groups["scanning_risk"].to_numpy(np.float64)
    remaining = risk.copy()
    credit = np.zeros(len(groups))
    formed: list[pd.DataFrame] = []
    for row in table:  # parameter rows of the rulebook's spread table, not accounts
        ia, ib = np.flatnonzero(labels == row.group_a), np.flatnonzero(labels == row.group_b)
        _, xa, xb = np.intersect1d(sets[ia], sets[ib], assume_unique=True, return_indices=True)
        ia, ib = ia[xa], ib[xb]
        hedged = direction[ia] * direction[ib] < 0
        matched = np.where(hedged, np.minimum(remaining[ia], remaining[ib]), 0.0)
        remaining[ia] -= matched
        remaining[ib] -= matched
        credit[ia] += row.rate * matched
        credit[ib] += row.rate * matched
        keep = matched > 0
        formed.append(
            pd.DataFrame(
                {
                    "margin_set": sets[ia][keep],
                    "group_a": row.group_a,
                    "group_b": row.group_b,
                    "rate": row.rate,
                    "spread_risk": matched[keep],
                    "credit_each": row.rate * matched[keep],
                }
            )
        )
    out = groups.copy()
    out["requirement_before_credit"] = groups["requirement"].to_numpy(np.float64)
    out["spread_credit"] = credit
    minimum = groups["short_option_minimum"].to_numpy(np.float64)
    out["requirement"] = np.maximum(risk - credit, minimum)
    spreads = pd.concat(formed, ignore_index=True) if formed else _empty_spreads()
    return SpreadResult(groups=out, spreads=spreads)


def _empty_spreads() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "margin_set": np.zeros(0, np.int64),
            "group_a": pd.Series([], dtype="str"),
            "group_b": pd.Series([], dtype="str"),
            "rate": np.zeros(0),
            "spread_risk": np.zeros(0),
            "credit_each": np.zeros(0),
        }
    )
