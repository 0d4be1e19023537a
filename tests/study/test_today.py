"""Today's regimes side by side (``compare --today sec+cftc``) against the harmonized proposal.

Per account, from ``marginlex run`` on the demo book (requirement, USD; every account is
decided by exactly one of the two rulebooks, the one of its regime):

| account | regime | sec | cftc | today | harmonized |
|---|---|---|---|---|---|
| A01_ALICE_PM | SEC | 21,053.37 | - | 21,053.37 | 21,053.37 |
| A02_BOB_PM | SEC | 9,848.00 | - | 9,848.00 | 9,848.00 |
| A03_CAROL_PM | SEC | 25,000.00 | - | 25,000.00 | 25,000.00 |
| A04_DELTA_PM | SEC | 480,000.00 | - | 480,000.00 | 48,000.00 (DELTA's set) |
| A05_DELTA_FUT | CFTC | - | 420,000.00 | 420,000.00 | 0 (merged into A04) |
| A06_ECHO_XM | CFTC | - | 45,091.00 | 45,091.00 | 82,410.00 (ECHO's set) |
| A07_ECHO_SEC | SEC | 0 (given up) | - | 0 | 0 (merged into A06) |
| A08_FOX_FUT | CFTC | - | 210,000.00 | 210,000.00 | 210,000.00 |
| A09_GOLF_FUT | CFTC | - | 57,000.00 | 57,000.00 | 57,000.00 |
| A10_HOTEL_MGN | SEC | 6,250.00 | - | 6,250.00 | 6,250.00 |
| A11_INDIA_PM | SEC | 750.00 | - | 750.00 | 750.00 |
| A12_JULIET_PM | SEC | 117,012.39 | - | 117,012.39 | 117,012.39 |
| A13_KILO_MGN | SEC | 2,500.00 | - | 2,500.00 | 2,500.00 |
| A16_NOVA_CASH | SEC | 100,000.00 | - | 100,000.00 | 100,000.00 (cash account, 12 CFR 220.8) |
| H_BD1 | SEC | 75,000.00 | - | 75,000.00 | 75,000.00 (15c3-1, house) |
| H_BDF1 | CFTC | - | 105,000.00 | 105,000.00 | 105,000.00 |
| H_FCM1 | CFTC | - | 6,630.00 | 6,630.00 | 6,630.00 |

Today: 837,413.76 (sec) + 843,721.00 (cftc) = 1,681,134.76; harmonized 866,453.76; freed
814,681.00 = DELTA 900,000 - 48,000 = 852,000, ECHO 45,091 (CME-FICC DV01 pairing) - 82,410
= -37,319 (H_BD1, a house account, takes the 15c3-1 haircuts under both: 75,000). By firm:
BDF1 852,000 - 37,319 = 814,681, alone; share 100%, Herfindahl 100^2 = 10,000. Calls: FOX
78,600 and GOLF 52,700 (GOLF's 50 perpetuals add 15,000 to its 42,000) and NOVA 50,000 (the
whole debit of a cash account) under both, none created.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import load_demo_book
from marginlex.engine.variants.compare import compare
from marginlex.engine.variants.study.study import PairStudy, impact_study
from marginlex.engine.variants.study.today import today_accounts

IDS = ("sec", "cftc", "harmonized")


@pytest.fixture(scope="module")
def today() -> PairStudy:
    book = load_demo_book()
    rulebooks = [load_rulebook(i) for i in IDS]
    result = compare(rulebooks, book, with_attribution=False, keep_evaluations=True)
    study = impact_study(result, rulebooks, book, today=(rulebooks[0], rulebooks[1]))
    assert [(p.from_id, p.to_id) for p in study.pairs] == [
        ("sec", "cftc"),
        ("sec", "harmonized"),
        ("sec+cftc", "harmonized"),
    ]
    return study.pairs[-1]


def test_totals_by_hand(today: PairStudy) -> None:
    assert (today.requirement_from, today.requirement_to) == (1681134.76, 866453.76)
    assert today.freed == 814681.0
    assert (today.call_delta, today.calls_created, today.calls_removed) == (0.0, 0, 0)
    assert today.shapley is None and today.rules == () and "counted once" in today.note


def test_accounts_by_hand(today: PairStudy) -> None:
    got = {
        r.account_id: (r.requirement_a / 100, r.requirement_b / 100)
        for r in today.accounts.itertuples()
        if r.requirement_delta
    }
    assert got == {
        "A04_DELTA_PM": (480000.0, 48000.0),
        "A05_DELTA_FUT": (420000.0, 0.0),
        "A06_ECHO_XM": (45091.0, 82410.0),
    }


def test_firms_and_concentration_by_hand(today: PairStudy) -> None:
    firms = next(t for t in today.segments if t.dimension.value == "carrying firm")
    assert [(r.segment, r.freed) for r in firms.rows if r.freed] == [
        ("BDF1", 814681.0),
    ]
    b = today.benefit
    assert (b.firms, b.top_firm, b.top_share, b.hhi) == (1, "BDF1", 100.0, 10000.0)
    paths = next(t for t in today.segments if t.dimension.value == "eligibility path")
    # H_BD1, a house account, is ineligible under both (15c3-1 haircuts, 75,000 each): it frees
    # nothing; DELTA's and ECHO's sets are eligible under both.
    assert {r.segment: r.freed for r in paths.rows} == {
        "eligible → eligible": 814681.0,
        "ineligible → eligible": 0.0,
        "ineligible → ineligible": 0.0,
    }


def test_an_account_both_decide_counts_under_its_regime() -> None:
    book = load_demo_book()
    ids = book.accounts["account_id"].astype("str")
    rows = []
    for label, amount in (("sec", 100), ("cftc", 7)):  # every account decided by both
        rows.append(
            pd.DataFrame(
                {
                    "account_id": ids.to_numpy(str),
                    "rulebook_id": label,
                    "decided": True,
                    "margin_set_id": "ms:" + ids,
                    "anchor": True,
                    "status": "ok",
                    "requirement": amount,
                    "value": 0,
                    "call": 0,
                }
            )
        )
    combined = today_accounts(pd.concat(rows, ignore_index=True), book, "sec", "cftc")
    assert len(combined) == len(ids) and (combined["rulebook_id"] == "sec+cftc").all()
    sec_accounts = int((book.accounts["regime"].astype("str") == "SEC").sum())  # 13
    assert sec_accounts == 13
    assert int(combined["requirement"].sum()) == 13 * 100 + 6 * 7


def test_cli_today(tmp_path: Path) -> None:
    page = tmp_path / "study.html"
    args = ["compare", "-r", "sec", "-r", "cftc", "-r", "harmonized", "--study", str(page)]
    out = CliRunner().invoke(
        app, [*args, "--today", "sec+cftc", "--no-attribution", "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    pairs = json.loads(out.stdout)["study"]["pairs"]
    last = pairs[-1]
    assert (last["from_id"], last["to_id"], last["freed"]) == ("sec+cftc", "harmonized", 814681.0)
    assert "sec+cftc" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--today", "sec"], "--today sec: give two compared rulebooks as SEC+CFTC"),
        (["--today", "sec+cftc2"], "--today sec+cftc2: give two compared rulebooks"),
    ],
)
def test_cli_today_bad(tmp_path: Path, extra: list[str], message: str) -> None:
    args = ["compare", "-r", "sec", "-r", "cftc", "-r", "harmonized"]
    out = CliRunner().invoke(app, [*args, "--study", str(tmp_path / "s.html"), *extra])
    assert out.exit_code == 2
    assert message in " ".join(out.output.split())


def test_cli_today_needs_a_study() -> None:
    out = CliRunner().invoke(app, ["compare", "-r", "sec", "-r", "cftc", "--today", "sec+cftc"])
    assert out.exit_code == 2
    assert "--today needs --study FILE.html" in out.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # numpy's "expected non-negative integer", after the whole comparison had run
        (
            ["--seed", "-5"],
            "Invalid value for '--seed': Input should be greater than or equal to 0",
        ),
        # 10**17 orders ran until killed (one past the cap here, so a regression ends)
        (["--shapley-samples", "10001"], "Input should be less than or equal to 10000"),
    ],
)
def test_cli_study_sampling_out_of_range(tmp_path: Path, extra: list[str], message: str) -> None:
    study = tmp_path / "s.html"
    out = CliRunner().invoke(
        app, ["compare", "-r", "sec", "-r", "harmonized", "--study", str(study), *extra]
    )
    assert out.exit_code == 2
    assert message in " ".join(out.output.replace("│", " ").split())
    assert not study.exists()
