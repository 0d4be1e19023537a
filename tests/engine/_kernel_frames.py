"""Frame builders and an independent scalar Black-Scholes for the kernel tests."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

NAN = float("nan")

_POSITION_DEFAULTS: dict[str, Any] = {
    "margin_set": 0,
    "account_id": "A1",
    "instrument_id": "XYZ",
    "underlying": NAN,
    "class_group": "XYZ",
    "product": "stock",
    "index_class": NAN,
    "quantity": 0.0,
    "multiplier": 1.0,
    "price": 100.0,
    "is_option": False,
    "is_call": False,
    "is_contract": False,
    "underlying_price": NAN,
    "strike": NAN,
    "implied_vol": NAN,
    "t": NAN,
    "range_up": 0.15,
    "range_down": 0.15,
    "n_points": 10,
    "scan_range": NAN,
}


def positions(*rows: dict[str, Any]) -> pd.DataFrame:
    """A positions frame: each row overrides the defaults (a long-nothing stock)."""
    frame = pd.DataFrame([{**_POSITION_DEFAULTS, **row} for row in rows])
    for col in (
        "underlying",
        "index_class",
        "class_group",
        "account_id",
        "instrument_id",
        "product",
    ):
        frame[col] = frame[col].astype("str")
    return frame


def option(**row: Any) -> dict[str, Any]:
    """An option row: is_option, is_contract and multiplier 100 unless overridden."""
    return {"is_option": True, "is_contract": True, "multiplier": 100.0, **row}


def norm_cdf(x: float) -> float:
    """Standard normal CDF through math.erf (independent of scipy)."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def bs_scalar(
    spot: float, strike: float, t: float, vol: float, call: bool, rate: float = 0.0
) -> float:
    """Textbook Black-Scholes, one option at a time."""
    if t <= 0 or vol <= 0:
        return max(spot - strike, 0.0) if call else max(strike - spot, 0.0)
    st = vol * math.sqrt(t)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * t) / st
    d2 = d1 - st
    disc = strike * math.exp(-rate * t)
    if call:
        return spot * norm_cdf(d1) - disc * norm_cdf(d2)
    return disc * norm_cdf(-d2) - spot * norm_cdf(-d1)


def as_float_list(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
