"""Parties, relations and accounts of a synthetic book.

See :mod:`marginlex.engine.synth.generate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CLEARING = (
    ("OCC", "Options Clearing Corporation", "clearing_agency"),
    ("FICC", "Fixed Income Clearing Corporation", "clearing_agency"),
    ("CME", "CME Clearing", "dco"),
    ("ICE", "ICE Clear US", "dco"),
)
FIRM_KINDS = np.array(["bd_fcm", "broker_dealer", "fcm"], dtype=object)
SINGLE_PROFILES = {"sec": 0.65, "cftc": 0.35}
MULTI_PROFILES = {"cross_regime": 0.30, "treasury_xm": 0.20, "sec": 0.35, "cftc": 0.15}
# Fixed account kinds of the first three accounts of hedging owners: (regime, kind).
HEDGE_LAYOUT = {
    "cross_regime": (("SEC", "portfolio_margin"), ("CFTC", "futures"), ("SEC", "margin")),
    "treasury_xm": (("CFTC", "cross_margin"), ("SEC", "margin"), ("CFTC", "futures")),
}


@dataclass(frozen=True)
class Firms:
    """Clearing organisations and carriers (parties), their relations, their house accounts."""

    parties: pd.DataFrame
    relations: pd.DataFrame
    house: pd.DataFrame
    kind: pd.Series  # carrier id -> kind


@dataclass(frozen=True)
class People:
    """Customers (parties), their accounts (with a ``profile`` column) and hedge pairs."""

    parties: pd.DataFrame
    accounts: pd.DataFrame
    relations: pd.DataFrame
    hedges: pd.DataFrame  # sec_row, cftc_row (rows of accounts), treasury (bool)


def _party_frame(
    ids: object, names: object, kinds: object, ecp: object, approval: object
) -> pd.DataFrame:
    return pd.DataFrame(
        {"party_id": ids, "name": names, "kind": kinds, "ecp": ecp, "options_approval": approval}
    )


def make_firms(n_accounts: int, rng: np.random.Generator) -> Firms:
    """Clearing organisations, carriers with memberships and affiliations, house accounts."""
    n = max(6, n_accounts // 5000)
    kinds = np.concatenate([FIRM_KINDS, rng.choice(FIRM_KINDS, n - 3, p=[0.4, 0.35, 0.25])])
    ids = np.array([f"F{i:03d}" for i in range(1, n + 1)], dtype=object)
    names = [f"Carrier {i} ({k})" for i, k in zip(ids, kinds, strict=True)]
    clearing = _party_frame(
        [c[0] for c in CLEARING], [c[1] for c in CLEARING], [c[2] for c in CLEARING], True, "none"
    )
    parties = pd.concat(
        [clearing, _party_frame(ids, names, kinds, True, "none")], ignore_index=True
    )
    extra = rng.random(n) < 0.5
    is_bdf, is_bd, is_fcm = kinds == "bd_fcm", kinds == "broker_dealer", kinds == "fcm"
    links = [
        (ids[is_bdf | is_bd], "OCC"),
        (ids[is_bdf | is_fcm], "CME"),
        (ids[(is_bdf & ((rng.random(n) < 0.8) | (np.arange(n) == 0))) | (is_bd & extra)], "FICC"),
        (ids[is_fcm & extra], "ICE"),
    ]
    member = [pd.DataFrame({"src": s, "dst": d, "relation": "member_of"}) for s, d in links]
    fcms = ids[is_fcm]
    # The first broker-dealer (row 1) is always affiliated, so every book has one.
    aff = ids[is_bd & ((rng.random(n) < 0.5) | (np.arange(n) == 1))]
    affiliates = pd.DataFrame(
        {"src": aff, "dst": rng.choice(fcms, aff.size), "relation": "affiliate_of"}
    )
    return Firms(
        parties=parties,
        relations=pd.concat([*member, affiliates], ignore_index=True),
        house=_house_accounts(ids, kinds),
        kind=pd.Series(kinds, index=ids),
    )


def _house_accounts(ids: np.ndarray, kinds: np.ndarray) -> pd.DataFrame:
    sec = np.isin(kinds, ["bd_fcm", "broker_dealer"])
    cftc = np.isin(kinds, ["bd_fcm", "fcm"])
    parts = [
        pd.DataFrame(
            {
                "account_id": [f"H{c}S" for c in ids[sec]],
                "owner_id": ids[sec],
                "carrier_id": ids[sec],
                "regime": "SEC",
                "kind": "margin",
            }
        ),
        pd.DataFrame(
            {
                "account_id": [f"H{c}F" for c in ids[cftc]],
                "owner_id": ids[cftc],
                "carrier_id": ids[cftc],
                "regime": "CFTC",
                "kind": "futures",
            }
        ),
    ]
    house = pd.concat(parts, ignore_index=True)
    return house.assign(origin="house", agreements="", profile="house")


def _owner_sizes(n_accounts: int, rng: np.random.Generator) -> np.ndarray:
    sizes = rng.choice([1, 2, 3], n_accounts, p=[0.6, 0.3, 0.1])
    cs = np.cumsum(sizes)
    last = int(np.searchsorted(cs, n_accounts))
    sizes = sizes[: last + 1].copy()
    sizes[-1] = n_accounts - (cs[last - 1] if last > 0 else 0)
    return sizes


def _owners(sizes: np.ndarray, rng: np.random.Generator, tag: str = "") -> pd.DataFrame:
    n = sizes.size
    width = max(6, len(str(n)))
    inst = rng.random(n) < 0.3
    approval = np.where(
        inst,
        rng.choice(["none", "covered", "uncovered"], n, p=[0.2, 0.2, 0.6]),
        rng.choice(["none", "covered", "uncovered"], n, p=[0.3, 0.35, 0.35]),
    )
    ecp = np.where(inst, rng.random(n) < 0.6, rng.random(n) < 0.03)
    num = np.arange(1, n + 1)
    single = rng.choice(list(SINGLE_PROFILES), n, p=list(SINGLE_PROFILES.values()))
    multi = rng.choice(list(MULTI_PROFILES), n, p=list(MULTI_PROFILES.values()))
    return pd.DataFrame(
        {
            "party_id": [f"C{tag}{i:0{width}d}" for i in num],
            "name": [
                f"{'Institution' if k else 'Individual'} {i}"
                for i, k in zip(num, inst, strict=True)
            ],
            "kind": np.where(inst, "institution", "individual"),
            "ecp": ecp,
            "options_approval": approval,
            "profile": np.where(sizes == 1, single, multi),
        }
    )


def draw_customers(
    n_accounts: int, firms: Firms, rng: np.random.Generator, tag: str = ""
) -> People:
    """Customers with one to three accounts each, at one carrier that suits their profile
    (``tag`` follows the first letter of their ids: a partition's customers, say)."""
    sizes = _owner_sizes(n_accounts, rng)
    owners = _owners(sizes, rng, tag)
    carrier = _pick_carriers(owners["profile"].to_numpy(), firms, rng)
    owner_row = np.repeat(np.arange(sizes.size), sizes)
    j = np.arange(n_accounts) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    profile = owners["profile"].to_numpy()[owner_row]
    regime, kind = _regime_kind(profile, j, rng)
    acct_carrier = carrier[owner_row]
    # Planted breach: a few securities accounts carried by an FCM.
    wrong = np.flatnonzero(regime == "SEC")
    wrong = rng.choice(wrong, max(1, wrong.size // 1000), replace=False)
    fcms = firms.kind.index[firms.kind == "fcm"].to_numpy()
    acct_carrier[wrong] = rng.choice(fcms, wrong.size)
    width = max(6, len(str(n_accounts)))
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{tag}{i:0{width}d}" for i in range(1, n_accounts + 1)],
            "owner_id": owners["party_id"].to_numpy()[owner_row],
            "carrier_id": acct_carrier,
            "regime": regime,
            "kind": kind,
            "origin": "customer",
            "agreements": _agreements(profile, kind, j, rng),
            "profile": profile,
        }
    )
    return People(
        parties=owners.drop(columns="profile"),
        accounts=accounts,
        relations=pd.concat(
            [_guarantees(owners, rng), _affiliates(owners, carrier, rng)], ignore_index=True
        ),
        hedges=_hedges(profile, j),
    )


def _pick_carriers(profile: np.ndarray, firms: Firms, rng: np.random.Generator) -> np.ndarray:
    kind = firms.kind
    pools = {
        "sec": kind.index[kind.isin(["broker_dealer", "bd_fcm"])].to_numpy(),
        "cftc": kind.index[kind.isin(["fcm", "bd_fcm"])].to_numpy(),
        "cross_regime": kind.index[kind == "bd_fcm"].to_numpy(),
        "treasury_xm": kind.index[kind == "bd_fcm"].to_numpy(),
    }
    out = np.empty(profile.size, dtype=object)
    for name, pool in pools.items():
        m = profile == name
        out[m] = rng.choice(pool, int(m.sum()))
    return out


def _regime_kind(
    profile: np.ndarray, j: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n = profile.size
    regime = np.where(profile == "cftc", "CFTC", "SEC").astype(object)
    kind = np.where(
        profile == "cftc",
        rng.choice(["futures", "cleared_swaps", "cross_margin"], n, p=[0.8, 0.1, 0.1]),
        rng.choice(["cash", "margin", "portfolio_margin"], n, p=[0.2, 0.45, 0.35]),
    )
    kind = kind.astype(object)
    for name, layout in HEDGE_LAYOUT.items():
        for pos, (reg, knd) in enumerate(layout):
            m = (profile == name) & (j == pos)
            regime[m], kind[m] = reg, knd
    return regime, kind


def _agreements(
    profile: np.ndarray, kind: np.ndarray, j: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    n = profile.size
    hedge = np.isin(profile, list(HEDGE_LAYOUT)) & (j < 2)
    pm = (kind == "portfolio_margin") & (rng.random(n) < 0.9)
    xm = (hedge & (rng.random(n) < 0.9)) | ((kind == "cross_margin") & (rng.random(n) < 0.9))
    sub = hedge & (rng.random(n) < 0.85)
    text = (
        np.where(pm, "portfolio_margin;", "").astype(object)
        + np.where(xm, "cross_margin;", "")
        + np.where(sub, "subordination;", "")
    )
    return pd.Series(text, dtype="str").str.rstrip(";").to_numpy()


def _guarantees(owners: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    indiv = owners["party_id"][owners["kind"] == "individual"].to_numpy()
    inst = owners["party_id"][owners["kind"] == "institution"].to_numpy()
    picked = indiv[rng.random(indiv.size) < 0.005]
    if not inst.size:  # a small book may have no institution to be the guarantor
        picked = picked[:0]
    src = rng.choice(inst, picked.size) if inst.size else np.array([], dtype=object)
    return pd.DataFrame({"src": src, "dst": picked, "relation": "guarantees"})


def _affiliates(
    owners: pd.DataFrame, carrier: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """A few institutions affiliated with the firm that carries their accounts."""
    picked = (owners["kind"].to_numpy() == "institution") & (rng.random(len(owners)) < 0.01)
    return pd.DataFrame(
        {
            "src": owners["party_id"].to_numpy()[picked],
            "dst": carrier[picked],
            "relation": "affiliate_of",
        }
    )


def _hedges(profile: np.ndarray, j: np.ndarray) -> pd.DataFrame:
    first = np.flatnonzero(np.isin(profile, list(HEDGE_LAYOUT)) & (j == 0))
    treasury = profile[first] == "treasury_xm"
    # cross_regime: SEC account first; treasury_xm: the futures account first.
    return pd.DataFrame(
        {
            "sec_row": np.where(treasury, first + 1, first),
            "cftc_row": np.where(treasury, first, first + 1),
            "treasury": treasury,
        }
    )
