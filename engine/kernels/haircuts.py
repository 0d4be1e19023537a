"""Collateral haircuts: flat rates, maturity buckets, exclusions, the more conservative of
two schedules, and concentration caps.

A lot's value after haircut is ``market_value - rate x |market_value|``. An ineligible lot
(excluded by the schedule, not in it, or a bucketed asset without a maturity) is valued at 0,
or at its market value when that is negative (a debit still counts), with a status and a
reason. A lot exactly on a boundary takes the longer bucket, unless the boundary is
inclusive (``up to 1 year``): then it takes the bucket the boundary closes.
"""

from __future__ import annotations

import itertools
from enum import StrEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from marginlex.engine.kernels.grouping import FloatArray, IntArray, categorical
from marginlex.engine.kernels.text import as_text


class LotStatus(StrEnum):
    """Why a lot counts or does not."""

    ELIGIBLE = "eligible"
    EXCLUDED = "excluded"
    NOT_IN_SCHEDULE = "not_in_schedule"
    NO_MATURITY = "no_maturity"


class BucketSchedule(BaseModel):
    """Rates by residual maturity: ``rates[i]`` applies from ``boundaries[i-1]`` to
    ``boundaries[i]``, in years; the last rate has no upper bound. A boundary is exclusive
    (``under``: a lot on it takes the next bucket) unless ``inclusive`` marks it (``up
    to``: a lot on it stays in the bucket it closes); ``inclusive`` empty means none is.
    ``calendar``, when given, is where each boundary falls in years of 365 days from the
    as-of date read on the calendar (``1 year``: 366 days across a 29 February): lots are
    bucketed by it, rows still labelled by ``boundaries`` as written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    boundaries: tuple[float, ...]
    rates: tuple[float, ...]
    inclusive: tuple[bool, ...] = ()
    calendar: tuple[float, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> BucketSchedule:
        if len(self.rates) != len(self.boundaries) + 1:
            raise ValueError("a bucket schedule needs one more rate than boundaries")
        if list(self.boundaries) != sorted(set(self.boundaries)):
            raise ValueError("bucket boundaries must be strictly increasing")
        if self.inclusive and len(self.inclusive) != len(self.boundaries):
            raise ValueError("`inclusive` needs one flag per boundary")
        if self.calendar and len(self.calendar) != len(self.boundaries):
            raise ValueError("`calendar` needs one date per boundary")
        return self

    def bucket_of(self, years: FloatArray) -> IntArray:
        """The bucket number of each residual maturity (NaN falls in bucket 0).

        >>> s = BucketSchedule(boundaries=(1.0, 3.0), rates=(0.01, 0.02, 0.03),
        ...                    inclusive=(True, False))
        >>> s.bucket_of(np.array([0.5, 1.0, 1.5, 3.0])).tolist()
        [0, 0, 1, 2]

        On the calendar, from 2027-06-30: 1 year is 2028-06-30, 366 days; 3 years 1,096:

        >>> s.model_copy(update={"calendar": (366 / 365, 1096 / 365)}).bucket_of(
        ...     np.array([366 / 365, 367 / 365, 1095 / 365, 1096 / 365])).tolist()
        [0, 1, 1, 2]
        """
        bounds = np.asarray(self.calendar or self.boundaries, dtype=np.float64)
        inclusive = np.asarray(self.inclusive or [False] * len(bounds), dtype=bool)
        with np.errstate(invalid="ignore"):
            past = (years[:, None] > bounds[None, :]) | (
                (years[:, None] == bounds[None, :]) & ~inclusive[None, :]
            )
        return np.asarray(past.sum(axis=1), dtype=np.int64)

    def labels(self) -> list[str]:
        """Row labels, e.g. ``under 0.25y``, ``0.25y to under 0.5y``, ``25y and over``."""
        edges = [f"{b:g}y" for b in self.boundaries]
        if not edges:
            return ["any maturity"]
        words = ["up to" if i else "under" for i in self.inclusive or [False] * len(edges)]
        middle = [
            f"{lo} to {word} {hi}"
            for (lo, hi), word in zip(itertools.pairwise(edges), words[1:], strict=True)
        ]
        last = f"over {edges[-1]}" if words[-1] == "up to" else f"{edges[-1]} and over"
        return [f"{words[0]} {edges[0]}", *middle, last]


class AssetRate(BaseModel):
    """A flat haircut rate for some assets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    assets: tuple[str, ...]
    rate: float = Field(ge=0.0, le=1.0)


class AssetBuckets(BaseModel):
    """A maturity-bucket schedule for some assets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    assets: tuple[str, ...]
    schedule: BucketSchedule


class Exclusion(BaseModel):
    """Assets that are not eligible, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    assets: tuple[str, ...]
    reason: str


class HaircutSchedule(BaseModel):
    """One rulebook's collateral schedule (the name appears in the trace)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    flat: tuple[AssetRate, ...] = ()
    buckets: tuple[AssetBuckets, ...] = ()
    excluded: tuple[Exclusion, ...] = ()
    unlisted_reason: str = "asset not in the haircut schedule"


class ConcentrationCap(BaseModel):
    """Assets that together count for at most ``fraction`` of the requirement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    assets: tuple[str, ...]
    fraction: float = Field(ge=0.0)


def _rows(schedule: HaircutSchedule) -> tuple[list[str], list[float], dict[str, int]]:
    """Row labels, rates and, per flat asset, its row number."""
    labels: list[str] = []
    rates: list[float] = []
    flat_row: dict[str, int] = {}
    for entry in schedule.flat:
        for asset in entry.assets:
            flat_row[asset] = len(labels)
            labels.append(f"{asset} flat")
            rates.append(entry.rate)
    return labels, rates, flat_row


def apply_haircuts(lots: pd.DataFrame, schedule: HaircutSchedule) -> pd.DataFrame:
    """Haircut every lot under one schedule.

    Args:
        lots: ``asset``, ``market_value`` and ``maturity_years`` (residual maturity in
            years, NaN where none) per lot.
        schedule: the schedule.

    Returns:
        Per lot, aligned with ``lots``: ``haircut_rate``, ``haircut_row`` (categorical
        label of the schedule row used), ``status`` (categorical :class:`LotStatus`),
        ``reason`` (categorical text, empty when eligible), ``value``.

    >>> lots = pd.DataFrame({"asset": ["UST_NOTE", "SOL"], "market_value": [100.0, 50.0],
    ...                      "maturity_years": [1.0, float("nan")]})
    >>> s = HaircutSchedule(name="sec", buckets=(AssetBuckets(assets=("UST_NOTE",),
    ...     schedule=BucketSchedule(boundaries=(1.0,), rates=(0.01, 0.015))),))
    >>> apply_haircuts(lots, s)[["haircut_rate", "value"]].to_numpy().tolist()
    [[0.015, 98.5], [1.0, 0.0]]
    """
    labels, rates, flat_row = _rows(schedule)
    # Assets as codes of their distinct names: each test is one per name, not per lot.
    codes, uniques = pd.factorize(as_text(lots["asset"]))
    names = [str(n) for n in uniques]

    def among(assets: tuple[str, ...]) -> np.ndarray:
        hits = np.array([n in assets for n in names] + [False])
        return np.asarray(hits[codes], dtype=bool)

    row = np.array([flat_row.get(n, -1) for n in names] + [-1], dtype=np.int64)[codes]
    years = lots["maturity_years"].to_numpy(np.float64)
    no_maturity = np.zeros(len(lots), dtype=bool)
    for entry in schedule.buckets:  # schedule rows, not lots
        mask = among(entry.assets)
        bucket = entry.schedule.bucket_of(years)
        has = mask & ~np.isnan(years)
        row = np.where(has, len(labels) + bucket, row)
        no_maturity |= mask & np.isnan(years)
        labels += [f"{'/'.join(entry.assets)} {lab}" for lab in entry.schedule.labels()]
        rates += list(entry.schedule.rates)
    # Codes follow LotStatus order: 0 eligible, 1 excluded, 2 not in schedule, 3 no maturity.
    status = np.where(row >= 0, 0, np.where(no_maturity, 3, 2))
    reason_text = ["", schedule.unlisted_reason, "no maturity for a maturity-bucket asset"]
    reason_code = np.where(status == 0, 0, status - 1)
    for number, exclusion in enumerate(schedule.excluded):  # schedule rows, not lots
        mask = among(exclusion.assets)
        status = np.where(mask, 1, status)
        reason_code = np.where(mask, len(reason_text) + number, reason_code)
    reason_text += [exclusion.reason for exclusion in schedule.excluded]
    eligible = status == 0
    row = np.where(eligible, row, -1)
    rate = np.where(eligible, np.asarray([*rates, 1.0])[row], 1.0)
    market = lots["market_value"].to_numpy(np.float64)
    return pd.DataFrame(
        {
            "haircut_rate": rate,
            "haircut_row": categorical(np.where(eligible, row, -1), _unique(labels)),
            "status": categorical(status, [s.value for s in LotStatus]),
            "reason": _categorical_text(reason_code, reason_text),
            "value": np.where(eligible, market - rate * np.abs(market), np.minimum(market, 0.0)),
        },
        index=lots.index,
    )


def _unique(labels: list[str]) -> list[str]:
    # Categories must be unique; a repeated asset label gets its row number appended.
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def _categorical_text(codes: IntArray, texts: list[str]) -> pd.Categorical:
    categories, inverse = np.unique(np.asarray(texts, dtype=str), return_inverse=True)
    return categorical(inverse[codes], categories.tolist())


def more_conservative(
    first: pd.DataFrame, second: pd.DataFrame, names: tuple[str, str]
) -> pd.DataFrame:
    """Per lot, the more conservative (larger haircut) of two schedules' results.

    An ineligible lot counts as a 100% haircut, so it wins over any eligible rate. On a tie
    the first schedule wins.

    Args:
        first: :func:`apply_haircuts` output under the first schedule.
        second: the same lots under the second schedule (same index).
        names: the two schedules' names, recorded in the ``schedule`` column.

    Returns:
        The winning row per lot (same columns as :func:`apply_haircuts`, with
        ``haircut_row`` and ``reason`` as plain text categoricals) plus ``schedule``
        (categorical name of the winner), ``haircut_rate_first``, ``haircut_rate_second``.

    >>> a = pd.DataFrame({"haircut_rate": [0.01, 0.02], "value": [99.0, 98.0]})
    >>> b = pd.DataFrame({"haircut_rate": [0.015, 0.02], "value": [98.5, 98.0]})
    >>> more_conservative(a, b, ("sec", "cftc"))["schedule"].tolist()
    ['cftc', 'sec']
    """
    second_wins = second["haircut_rate"].to_numpy(np.float64) > first["haircut_rate"].to_numpy(
        np.float64
    )
    out = pd.DataFrame(index=first.index)
    for column in first.columns:
        a, b = first[column], second[column]
        if isinstance(a.dtype, pd.CategoricalDtype) or isinstance(b.dtype, pd.CategoricalDtype):
            text = np.where(second_wins, as_text(b).to_numpy(), as_text(a).to_numpy())
            out[column] = pd.Categorical(text)
        else:
            out[column] = np.where(second_wins, b.to_numpy(), a.to_numpy())
    out["schedule"] = categorical(second_wins.astype(np.int64), list(names))
    out["haircut_rate_first"] = first["haircut_rate"].to_numpy(np.float64)
    out["haircut_rate_second"] = second["haircut_rate"].to_numpy(np.float64)
    return out


def apply_concentration_cap(
    lots: pd.DataFrame, requirement: FloatArray, cap: ConcentrationCap
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Limit the capped assets of each margin set to ``fraction`` x its requirement.

    Where a margin set's capped lots (positive values after haircut) exceed the cap, every
    such lot is scaled by the same factor ``cap / capped value`` (pro rata).

    Args:
        lots: ``margin_set`` (code), ``asset`` and ``value`` (after haircut) per lot.
        requirement: requirement per margin set, indexed by margin set code.
        cap: the cap.

    Returns:
        (per lot: ``capped``, ``cap_scale``, ``value`` after the cap, ``value_removed``;
        per margin set (all codes): ``margin_set``, ``capped_value``, ``cap_amount``,
        ``cap_applied``, ``cap_scale``).
    """
    sets = lots["margin_set"].to_numpy(np.int64)
    value = lots["value"].to_numpy(np.float64)
    capped = as_text(lots["asset"]).isin(cap.assets).to_numpy(dtype=bool) & (value > 0)
    n_sets = len(requirement)
    capped_value = np.bincount(sets[capped], weights=value[capped], minlength=n_sets)
    cap_amount = cap.fraction * np.maximum(requirement, 0.0)
    over = capped_value > cap_amount
    scale = np.where(over, cap_amount / np.where(over, capped_value, 1.0), 1.0)
    lot_scale = np.ones(len(sets))
    lot_scale[capped] = scale[sets[capped]]  # only capped lots index sets (there may be none)
    per_lot = pd.DataFrame(
        {
            "capped": capped,
            "cap_scale": lot_scale,
            "value": value * lot_scale,
            "value_removed": value * (1.0 - lot_scale),
        },
        index=lots.index,
    )
    per_set = pd.DataFrame(
        {
            "margin_set": np.arange(n_sets, dtype=np.int64),
            "capped_value": capped_value,
            "cap_amount": cap_amount,
            "cap_applied": over,
            "cap_scale": scale,
        }
    )
    return per_lot, per_set
