"""A CME-FICC cross-margined requirement traced to the cent (trace schema 1.4): the split
between the clearing houses and the carrying firm is in the trace and in `explain`, an
offset row in a DV01-paired set adds up with the pairing's credit shown, the risk a pairing
left unmatched is named, a concentration add-on shows its share, threshold and rate by their
parameter names, and an SEC decision's initial is said to be the maintenance by default (an
independent reviewer's cases XM1, XM3, XM5; figures by hand in the docstrings).

The books: cftc as of 2026-06-30, the shipped `cftc_span` scanning notes and futures at 2%,
`cftc_cme_ficc_pairing` pairing 80% within the intermediate bucket, `cftc_spread_credits` 30%
between Treasury futures, `cftc_initial` 110%. ZN7: 1,000 x 110, DV01 70, its deliverable a
7-year note; ZT3: 1,000 x 100, DV01 30, a 2-year deliverable; 1,000 NOTE7 at 100, DV01 0.07.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _evaluate_books import make_book, run
from typer.testing import CliRunner

from marginlex.audit.trace.model import SCHEMA_VERSION, DecisionTrace, as_version
from marginlex.cli import app
from marginlex.engine.kernels.money import round_cents

NOTES = (
    "NOTE7,ust_note,,,,1,100,2033-06-30,,,,,0.07\n"
    "ZN7,ust_future,NOTE7,,,1000,110,2026-09-21,,,,,70\n"
    "TWO3,ust_note,,,,1,100,2028-06-30,,,,,\n"
    "ZT3,ust_future,TWO3,,,1000,100,2026-09-30,,,,,30\n"
    "NOTE5,ust_note,,,,1,100,2031-06-30,,,,,0.03"
)
XM = "X{n},ECHO,BDF1,CFTC,cross_margin,customer,cross_margin\nS{n},ECHO,BDF1,SEC,margin,customer,"


def _book(tmp: Path, n: int, positions: str) -> Path:
    make_book(tmp, XM.format(n=n), positions, f"L{n},X{n},USD,10000,,", NOTES)
    return tmp / "book"


def _explain(book: Path, decision: str, rulebook: str, *more: str) -> str:
    args = ["explain", decision, "--rulebook", rulebook, "--book", str(book), *more]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _offsets(trace: dict[str, object], rule_id: str) -> dict[str, object]:
    steps = trace["steps"]
    assert isinstance(steps, list)
    (step,) = (s for s in steps if s["rule_id"] == rule_id)
    output = step["output"]
    assert isinstance(output, dict)
    return output


def _xm5(tmp: Path) -> Path:
    """Short 2 ZN7 (DV01 -140; CME scans 2 x 110,000 x 2% = 4,400), long 1 ZT3 (+30;
    2,000), 1,000 NOTE7 taken in (+70; FICC scans 2,000). The pairing matches 70 of ZN7's
    140: 2,200 of its risk and all of the notes', 4,200 in all, credit 80%: 3,360 (1,760 on
    CME's ZN7, 1,600 on FICC's notes). The spread between the futures sees what is left:
    ZN7 2,200 against ZT3 2,000, matched 2,000 each way, credit 30% x 2,000 x 2 = 1,200.
    CME: 4,400 + 2,000 - 1,760 - 1,200 = 3,440; FICC: 2,000 - 1,600 = 400; maintenance
    3,840, initial 110% = 4,224, of which the carrying firm's 4,224 - 3,440 - 400 = 384."""
    return _book(tmp, 5, "X5,ZN7,-2\nX5,ZT3,1\nS5,NOTE7,1000")


def test_the_clearing_split_is_in_the_trace_and_explained(tmp_path: Path) -> None:
    book = _xm5(tmp_path)
    trace = json.loads(_explain(book, "cftc:ms:X5", "cftc", "--format", "json"))
    assert trace["schema_version"] == SCHEMA_VERSION
    split = _offsets(trace, "cftc_cme_ficc_pairing")["clearing_split"]
    assert split == {
        "carrier_requirement": "384.00",
        "dv01_paired": 70.0,
        "houses": [
            {"dv01": -110.0, "house": "CME", "requirement": "3440.00"},
            {"dv01": 70.0, "house": "FICC", "requirement": "400.00"},
        ],
        "initial": "4224.00",
    }
    assert _offsets(trace, "cftc_spread_credits")["clearing_split"] is None
    text = _explain(book, "cftc:ms:X5", "cftc")
    assert (
        "Clearing split: CME 3,440.00 (the class groups of its side of the pairing, after "
        "credits; net DV01 -110)"
    ) in text
    assert (
        "carrying firm 384.00 = initial 4,224.00 - CME 3,440.00 - FICC 400.00 (its markup "
        "over the houses' requirements, and the set's positions outside the pairing)"
    ) in text


def test_the_split_frame_is_to_the_cent(tmp_path: Path) -> None:
    """XM2: short 1 ZT3 (DV01 -30, a 2-year deliverable: short bucket; 2,000) against 1,000
    NOTE5 (+30, intermediate; 2,000): 50% between neighbouring buckets, 1,000 each way;
    CME 1,000, FICC 1,000, initial 2,200, carrier 200 (in float64 999.9999999999999 and
    200.00000000000023 before)."""
    ev = run(
        make_book(tmp_path, XM.format(n=2), "X2,ZT3,-1\nS2,NOTE5,1000", "L2,X2,USD,10000,,", NOTES),
        "cftc",
    )
    frame = ev.frames["clearing_split"]
    money = ["first_requirement", "second_requirement", "initial", "carrier_requirement"]
    values = frame[money].to_numpy(np.float64)
    assert (values == round_cents(values)).all(), values
    assert values.tolist() == [[1000.0, 1000.0, 2200.0, 200.0]]


def test_a_spread_row_in_a_paired_set_adds_up(tmp_path: Path) -> None:
    """XM5's `cftc_spread_credits` row: 6,400 of class groups less the pairing's 1,760 on
    them less its own 1,200 is 3,440 (the row said requirement 3,440 beside credit 1,200 on
    6,400)."""
    book = _xm5(tmp_path)
    ev = run(
        make_book(
            tmp_path / "again",
            XM.format(n=5),
            "X5,ZN7,-2\nX5,ZT3,1\nS5,NOTE7,1000",
            "L5,X5,USD,10000,,",
            NOTES,
        ),
        "cftc",
    )
    offsets = ev.frames["offsets"]
    row = offsets[offsets["rule_id"].astype("str") == "cftc_spread_credits"].iloc[0]
    assert (row["class_group_requirements"], row["paired_credit"], row["credit"]) == (
        6400.0,
        1760.0,
        1200.0,
    )
    assert row["requirement"] == row["netted_loss"] == 3440.0
    trace = json.loads(_explain(book, "cftc:ms:X5", "cftc", "--format", "json"))
    (offset,) = _offsets(trace, "cftc_spread_credits")["offsets"]
    assert (
        offset["class_group_requirements"],
        offset["paired_credit"],
        offset["credit"],
        offset["requirement"],
    ) == ("6400.00", "1760.00", "1200.00", "3440.00")
    text = _explain(book, "cftc:ms:X5", "cftc")
    assert (
        "class groups' requirements 6,400.00 - DV01 pairing credit 1,760.00 - credit 1,200.00"
        " = requirement 3,440.00"
    ) in text


def test_a_fully_paired_leg_adds_up(tmp_path: Path) -> None:
    """XM1: short 1 ZN7 (-70; 2,200) against 1,000 NOTE7 (+70; 2,000): all matched, 80%:
    1,760 off CME's 2,200, 1,600 off FICC's 2,000; no spread (the row said requirement 440
    beside credit 0 on 2,200)."""
    book = _book(tmp_path, 1, "X1,ZN7,-1\nS1,NOTE7,1000")
    text = _explain(book, "cftc:ms:X1", "cftc")
    assert (
        "class groups' requirements 2,200.00 - DV01 pairing credit 1,760.00 - credit 0.00"
        " = requirement 440.00"
    ) in text


def test_the_risk_a_pairing_left_is_named(tmp_path: Path) -> None:
    """XM3: short 2 ZN7 (-140; 4,400) against 1,000 NOTE7 (+70): the pairing matches half
    of ZN7's risk; 2,200 is left unmatched for the spread credits."""
    book = _book(tmp_path, 3, "X3,ZN7,-2\nS3,NOTE7,1000")
    text = _explain(book, "cftc:ms:X3", "cftc")
    assert "risk left unmatched after DV01 pairing 2,200.00" in text
    assert "legs' risk 2,200.00" not in text


def test_a_concentration_add_on_shows_its_share_threshold_and_rate(tmp_path: Path) -> None:
    """2,000 KLM at 100 (200,000) and 50,000 cash: equity 250,000; KLM is 80% of it, above
    `pm_concentration_share` 70%: 5% (`pm_concentration_rate`) x 200,000 = 10,000."""
    make_book(
        tmp_path,
        "P1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        "P1,KLM,2000",
        "L1,P1,USD,50000,,",
        extra_instruments="KLM,stock,,KLM,,1,100.00,,,,,,",
    )
    book = tmp_path / "book"
    trace = json.loads(_explain(book, "sec:ms:P1", "sec", "--format", "json"))
    steps = trace["steps"]
    (group,) = [g for s in steps if s["kind"] == "margin" for g in s["output"]["groups"]]
    assert group["concentration"] == {
        "class_group_value": "200000.00",
        "equity": "250000.00",
        "rate": {"id": "param.pm_concentration_rate", "unit": "fraction", "value": 0.05},
        "rule_id": "sec_pm_concentration",
        # the parameter as the plan holds it (70% read as a float), as the step's inputs
        "share": {
            "id": "param.pm_concentration_share",
            "unit": "fraction",
            "value": pytest.approx(0.7),
        },
    }
    text = _explain(book, "sec:ms:P1", "sec")
    assert (
        "Concentration add-on 10,000.00 on class group KLM = rate 5% "
        "(param.pm_concentration_rate) x class group value 200,000.00"
    ) in text
    assert (
        "the class group is 80% of equity 250,000.00, above the threshold 70% "
        "(param.pm_concentration_share) of equity"
    ) in text


def test_an_sec_initial_is_the_maintenance_by_default(tmp_path: Path) -> None:
    """The securities rulebook states no initial requirement: initial = maintenance, and
    explain does not cite the margin rule for it."""
    make_book(
        tmp_path,
        "P1,ALICE,BD1,SEC,portfolio_margin,customer,portfolio_margin",
        "P1,KLM,100",
        "L1,P1,USD,50000,,",
        extra_instruments="KLM,stock,,KLM,,1,100.00,,,,,,",
    )
    text = _explain(tmp_path / "book", "sec:ms:P1", "sec")
    (line,) = [t for t in text.splitlines() if "── initial " in t]
    assert "no initial rule of rulebook sec applies to this set: initial = maintenance" in line
    assert "sec_portfolio_margin" not in line
    assert "(= maintenance: no initial rule applies to this set)" in text


def test_a_1_4_trace_made_as_1_3_has_none_of_the_new_fields(tmp_path: Path) -> None:
    """Replay of a 1.3 ledger re-makes its traces as 1.3 wrote them: without the split, the
    offsets' added figures and the add-on's basis, and the model writes them back byte for
    byte."""
    book = _xm5(tmp_path)
    body = _explain(book, "cftc:ms:X5", "cftc", "--format", "json")
    fresh = DecisionTrace.model_validate_json(body).canonical()
    old = as_version(fresh, "1.3")
    for field in ("clearing_split", "paired_credit", "class_group_requirements", "concentration"):
        assert f'"{field}"' not in old.decode()
    assert DecisionTrace.model_validate_json(old).canonical() == old


def test_a_house_futures_initial_does_not_say_the_rulebook_states_none() -> None:
    """cftc states an initial rule (`cftc_initial`) that leaves out house accounts: explain
    said "rulebook cftc states no initial requirement" of the FCM's own account."""
    demo = Path(__file__).parents[2] / "engine" / "book" / "demo_book"
    text = _explain(demo, "cftc:ms:H_FCM1", "cftc")
    (line,) = [t for t in text.splitlines() if "── initial " in t]
    assert "no initial rule of rulebook cftc applies to this set" in line
    assert "states no initial requirement" not in text


def test_a_concentration_line_on_a_negative_equity_reads_as_a_sentence() -> None:
    """A reviewer found "the class group is of value, equity X being nil or negative, above
    the threshold": the line now says why any value is above the threshold."""
    from decimal import Decimal  # noqa: PLC0415

    from marginlex.audit.explain.amounts import add_on_text  # noqa: PLC0415
    from marginlex.audit.trace.model import InputValue  # noqa: PLC0415
    from marginlex.audit.trace.steps import ClassGroupTrace, ConcentrationTrace  # noqa: PLC0415

    rate = InputValue.model_construct(id="param.pm_concentration_rate", value=0.05)
    share = InputValue.model_construct(id="param.pm_concentration_share", value=0.7)
    c = ConcentrationTrace.model_construct(
        class_group_value=Decimal("1000.00"), equity=Decimal("-5.00"), rate=rate, share=share
    )
    group = ClassGroupTrace.model_construct(
        add_on=Decimal("50.00"), class_group="KLM", concentration=c
    )
    text = add_on_text(group)
    assert "equity -5.00 is nil or negative: any value is above the threshold 70%" in text
    assert "is of value" not in text
