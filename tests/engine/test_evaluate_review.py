"""Regression tests from the evaluator review: every Treasury bucket, class-group credit
keys that do not depend on account names, rulebook effective dates, and the run command's
table, JSON and ``--out`` handling. Figures are worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from _evaluate_books import AS_OF, decision, make_book, run
from rich.console import Console
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.cli.run_output import decision_table

# (days from 2026-06-30 to maturity, SEC rate, CFTC rate, SEC schedule row). Each bound is
# read on the calendar from the as-of date (decision 48): 3 months is 2026-09-30 (92 days), 6
# months 2026-12-30 (183), 9 months 2027-03-30 (273), 1 year 2027-06-30 (365), and past 29
# February 2028 the years are a day longer: 2 years 731 days, 3 years 1,096, 5 years 1,826,
# 10 years 3,653 (three 29 Februaries), 15 years 5,479, 20 years 7,305, 25 years 9,131. A
# lot exactly on an SEC bound (`under`) takes the longer bucket; on a CME bound (`up to`,
# issue 14) the shorter: 1 year is 1%, 3 years 2%, 5 years 3%, 10 years 4.5%. The day
# before a bound is inside it under both (730, 1,095, ... were N x 365 days, on the bound,
# when a year was 365 days).
BUCKETS = [
    (45, 0.0, 0.01, "under 3 months"),
    (91, 0.0, 0.01, "under 3 months"),  # a day short of 3 months
    (92, 0.005, 0.01, "under 6 months"),  # 3 months to the day
    (150, 0.005, 0.01, "under 6 months"),
    (200, 0.0075, 0.01, "under 9 months"),
    (300, 0.01, 0.01, "under 12 months"),
    (364, 0.01, 0.01, "under 12 months"),
    (365, 0.015, 0.01, "under 2 years"),  # 1 year to the day: SEC the longer, CME up to 1 y
    (500, 0.015, 0.02, "under 2 years"),
    (730, 0.015, 0.02, "under 2 years"),  # a day short of 2 years (was 2.0 y: 2%)
    (731, 0.02, 0.02, "under 3 years"),  # 2 years to the day
    (900, 0.02, 0.02, "under 3 years"),
    (1095, 0.02, 0.02, "under 3 years"),  # a day short of 3 years (was 3.0 y: SEC 3%)
    (1096, 0.03, 0.02, "under 5 years"),  # 3 years to the day: CME up to 3 y
    (1500, 0.03, 0.03, "under 5 years"),
    (1825, 0.03, 0.03, "under 5 years"),  # a day short of 5 years (was 5.0 y: SEC 4%)
    (1826, 0.04, 0.03, "under 10 years"),  # 5 years to the day: CME up to 5 y
    (3000, 0.04, 0.045, "under 10 years"),
    (3650, 0.04, 0.045, "under 10 years"),  # 3 days short of 10 years (was 10.0 y: 4.5%)
    (3653, 0.045, 0.045, "under 15 years"),  # 10 years to the day: CME up to 10 y
    (4500, 0.045, 0.06, "under 15 years"),
    (5475, 0.045, 0.06, "under 15 years"),  # (was 15.0 y: SEC 5%)
    (5479, 0.05, 0.06, "under 20 years"),  # 15 years to the day
    (6500, 0.05, 0.06, "under 20 years"),
    (7300, 0.05, 0.06, "under 20 years"),  # (was 20.0 y: SEC 5.5%)
    (7305, 0.055, 0.06, "under 25 years"),  # 20 years to the day
    (8500, 0.055, 0.06, "under 25 years"),
    (9125, 0.055, 0.06, "under 25 years"),  # (was 25.0 y: SEC 6%)
    (9131, 0.06, 0.06, "otherwise"),  # 25 years to the day
    (10950, 0.06, 0.06, "otherwise"),
]


def _treasury_lots() -> str:
    rows = []
    for number, (days, *_) in enumerate(BUCKETS):
        maturity = (AS_OF + dt.timedelta(days=days)).isoformat()
        rows.append(f"L{number:02d},P1,UST_NOTE,100000,{maturity},")
    return "\n".join(rows)


@pytest.mark.parametrize("rulebook", ["sec", "cftc", "harmonized"])
def test_treasury_haircut_of_every_bucket_and_boundary(tmp_path: Path, rulebook: str) -> None:
    regime, kind = ("CFTC", "futures") if rulebook == "cftc" else ("SEC", "margin")
    book = make_book(tmp_path, f"P1,ECHO,BDF1,{regime},{kind},customer,", "", _treasury_lots())
    ev = run(book, rulebook)
    lots = ev.frames["lots"].set_index("lot_id")
    for number, (days, sec, cftc, row) in enumerate(BUCKETS):
        # harmonized: the more conservative (larger) of the SEC and CFTC haircuts.
        rate = {"sec": sec, "cftc": cftc, "harmonized": max(sec, cftc)}[rulebook]
        lot = lots.loc[f"L{number:02d}"]
        assert lot["haircut_rate"] == pytest.approx(rate), (days, rulebook)
        assert lot["value"] == pytest.approx(100000 * (1 - rate)), (days, rulebook)
        if rulebook == "sec":
            assert lot["haircut_row"] == row, days
    total = sum(
        100000 * (1 - {"sec": s, "cftc": c, "harmonized": max(s, c)}[rulebook])
        for _, s, c, _ in BUCKETS
    )
    assert decision(ev, "ms:P1")["value"] == pytest.approx(round(total, 2))


# ECHO's cross-margin account X1 is short 57 ZN (class group UST_10Y) and long 20 ZF
# (class group UST_5Y, 20 x 1,000 x 100.00 = 2,000,000, scan 2%, no DV01 and no
# deliverable); it takes in the 5,000 notes (UST_10Y) of ECHO's SEC account. The CME-FICC
# DV01 pairing splits the set by clearing house: UST_10Y@CME (ZN, 125,970), UST_5Y@CME (ZF,
# 40,000), UST_10Y@FICC (the notes, 98,500). It pairs ZN's -3,990 of DV01 with the notes'
# +4,000 at 80% first: ZN 125,970 - 100,776 = 25,194, notes 98,500 - 78,603 = 19,897. ZF
# (no DV01) is not paired. The cftc rulebook's per-leg spread credit between the
# ust_future class groups (30%) then sees ZN's risk left unmatched by the pairing, none:
# the matched risk is min(0, 40,000) = 0 and ZF keeps 40,000. Requirement 25,194 + 40,000 +
# 19,897 = 85,091. (Before the pairing: one UST_10Y class group netting ZN and the notes,
# 27,470, credited 30% against ZF: 50,988.) The class groups' credit keys come from their
# own positions, so naming the SEC account S1 or Z1 changes nothing.
ZF = "ZF_2609,ust_future,,UST_5Y,,1000,100.00,2026-09-30,,,,0.02,"


@pytest.mark.parametrize("sec_account", ["S1", "Z1"])
def test_class_group_credit_key_does_not_depend_on_account_names(
    tmp_path: Path, sec_account: str
) -> None:
    book = make_book(
        tmp_path,
        "X1,ECHO,BDF1,CFTC,cross_margin,customer,cross_margin\n"
        f"{sec_account},ECHO,BDF1,SEC,margin,customer,",
        f"X1,ZN_2609,-57\nX1,ZF_2609,20\n{sec_account},UST_2035_08,5000",
        "L1,X1,USD,300000,,",
        ZF,
    )
    ev = run(book, "cftc")
    d = decision(ev, "ms:X1")
    assert d["takes_in_from"] == sec_account
    assert d["maintenance"] == 85091.0
    offsets = ev.frames["offsets"].set_index("product_group")
    spread = offsets.loc["ust_future"]
    assert spread["n_class_groups"] == 2 and spread["credit"] == pytest.approx(0.0)
    paired = offsets.loc["CME intermediate with FICC intermediate"]
    assert paired["credit"] == pytest.approx(179_379.0)


def test_run_refuses_an_as_of_before_the_rulebook_takes_effect() -> None:
    result = CliRunner().invoke(app, ["run", "-r", "sec", "--as-of", "2025-06-30"])
    assert result.exit_code == 1
    assert "rulebook `sec` is in force from 2026-01-01, not on 2025-06-30" in result.output


def test_run_refuses_an_out_that_is_a_file_before_evaluating(tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_text("not a folder")
    result = CliRunner().invoke(app, ["run", "-r", "sec", "--out", str(target)])
    assert result.exit_code == 1
    assert f"error: --out {target} is a file, not a folder: give a folder path" in result.output
    assert "Traceback" not in result.output and target.read_text() == "not a folder"


def test_run_refuses_a_rulebooks_out_folder_that_is_a_file_before_writing(tmp_path: Path) -> None:
    """sec and cftc were written, then harmonized failed: the run was half written."""
    (tmp_path / "harmonized").write_text("not a folder")
    result = CliRunner().invoke(app, ["run", "--out", str(tmp_path)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert f"error: --out {tmp_path}: {tmp_path / 'harmonized'} is a file, not a folder" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["harmonized"]


def test_a_disk_full_mid_write_leaves_no_partial_out_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that filled while positions.csv was written left it at 12,288 of its 20,670
    bytes, and no run.json: a folder that read as a run's output. It is now written in a
    sibling folder and renamed into place only when whole; an earlier run's folder stays."""
    import errno  # noqa: PLC0415
    import os  # noqa: PLC0415

    import pandas as pd  # noqa: PLC0415

    out = tmp_path / "out"
    first = CliRunner().invoke(app, ["run", "-r", "sec", "--out", str(out), "--out-format", "csv"])
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in (out / "sec").iterdir()}
    real = pd.DataFrame.to_csv
    written: list[str] = []

    def full(frame: pd.DataFrame, target: object, *args: object, **kwargs: object) -> object:
        written.append(str(target))
        if len(written) == 2:  # the second file: cut short, as a full disk does
            Path(str(target)).write_bytes(b"account_id,")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(frame, target, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    for where in (out, tmp_path / "new" / "out"):
        written.clear()
        args = ["run", "-r", "sec", "--out", str(where), "--out-format", "csv"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1
        assert f"error: --out {where}: cannot write {where / 'sec'}: No space left on device" in (
            " ".join(result.output.split())
        )
    assert sorted(p.name for p in out.iterdir()) == ["sec"]  # no partial folder beside it
    assert {p.name: p.read_bytes() for p in (out / "sec").iterdir()} == before
    assert not (tmp_path / "new").exists()  # the folders the failed write made are gone


def test_a_rulebook_folder_that_is_a_symlink_is_written_through(tmp_path: Path) -> None:
    """A symlinked out/sec was renamed aside and replaced by a folder, and the aside link
    (rmtree refuses links) was left behind as out/.sec.<hex>.old."""
    out, target = tmp_path / "out", tmp_path / "kept" / "sec-results"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("an earlier run's")
    out.mkdir()
    (out / "sec").symlink_to(target, target_is_directory=True)
    result = CliRunner().invoke(app, ["run", "-r", "sec", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["sec"] and (out / "sec").is_symlink()
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["sec-results"]
    assert (target / "run.json").is_file() and not (target / "stale.txt").exists()


def test_default_decision_table_fits_80_columns_and_wide_shows_paths() -> None:
    import marginlex  # noqa: PLC0415 - the front door

    ev = marginlex.evaluate("sec")
    console = Console(width=80, record=True)
    console.print(decision_table(ev))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert not any("…" in line for line in lines)  # nothing cut off
    wide = Console(width=250, record=True)
    wide.print(decision_table(ev, wide=True))
    text = wide.export_text()
    assert "sec_customer_collateral: A10_HOTEL_MGN -> L15 -> H_BD1" in text
    assert "no: pm_account, uncovered_options, pm_agreement, min_equity" in text


def test_json_names_the_rules_and_the_breach_path() -> None:
    result = CliRunner().invoke(app, ["run", "--json", "-r", "cftc", "-r", "sec"])
    doc = json.loads(result.stdout)
    fox = next(r for r in doc["cftc"]["decisions"] if r["id"] == "cftc:ms:A08_FOX_FUT")
    assert (fox["method_rule_id"], fox["initial_rule_id"]) == ("cftc_span", "cftc_initial")
    # Digital assets capped at 40% of initial (231,000): 92,400; value 60,000 + 92,400 =
    # 152,400, below maintenance (210,000): the call restores initial, 231,000 - 152,400.
    assert (fox["equity"], fox["value"], fox["call"]) == (270000.0, 152400.0, 78600.0)
    hotel = next(r for r in doc["sec"]["decisions"] if r["id"] == "sec:ms:A10_HOTEL_MGN")
    assert hotel["segregation_paths"] == [
        {
            "rule_id": "sec_customer_collateral",
            "account_id": "A10_HOTEL_MGN",
            "path": "A10_HOTEL_MGN -> L15 -> H_BD1",
            "detail": "lot L15 pledged to H_BD1",
        }
    ]


def test_digital_assets_in_a_securities_account_sec_versus_harmonized(tmp_path: Path) -> None:
    # An SEC margin account: 100 ABC (5,000, strategy-based 25% = 1,250), $1,000 cash and
    # $10,000 of BTC. SEC: digital assets are not eligible collateral in a securities
    # account, value 0: 1,000 + 5,000 = 6,000. Harmonized takes the pilot's assets in futures
    # accounts only (issue 14's decision; docs/domain-decisions.md): the BTC lot of a
    # securities account is refused there too (a 100% haircut), value 6,000 as under SEC.
    book = make_book(
        tmp_path,
        "P1,HOTEL,BD1,SEC,margin,customer,",
        "P1,ABC,100",
        "L1,P1,USD,1000,,\nL2,P1,BTC,10000,,",
    )
    sec = run(book, "sec")
    lot = sec.frames["lots"].set_index("lot_id").loc["L2"]
    assert (lot["rule_id"], lot["value"]) == ("sec_digital_assets", 0.0)
    assert lot["reason"] == "digital assets are not eligible collateral in a securities account"
    assert decision(sec, "ms:P1")["value"] == 6000.0
    harmonized = run(book, "harmonized")
    lot = harmonized.frames["lots"].set_index("lot_id").loc["L2"]
    assert (lot["haircut_rate"], lot["value"]) == (1.0, 0.0)
    d = decision(harmonized, "ms:P1")
    assert (d["maintenance"], d["value"]) == (1250.0, 6000.0)


def test_eligibility_trace_shows_every_input_of_a_compound_requirement() -> None:
    import marginlex  # noqa: PLC0415 - the front door

    # FOX is not approved for uncovered options but is an eligible contract participant:
    # harmonized's qualified_owner passes through owner.ecp, which tested_value (the first
    # field only) does not show.
    frame = marginlex.evaluate("harmonized").frames["eligibility"]
    row = frame[
        (frame["account_id"] == "A08_FOX_FUT") & (frame["requirement"] == "qualified_owner")
    ]
    assert row["passed"].tolist() == [True] and row["tested_value"].tolist() == ["none"]
    assert row["inputs"].tolist() == [
        "owner.options_approval=none; account.equity=270000.0; owner.ecp=True"
    ]


def test_a_ledger_file_a_failed_run_created_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that filled while a new ledger's schema was written left a 0-byte file: the
    next command met it as a ledger. The run removes the file it created and could not
    make a ledger of; a file that was there before is left alone."""
    from marginlex.audit.ledger import store  # noqa: PLC0415

    def full(_conn: object) -> None:
        raise store.LedgerError("cannot write: database or disk is full")

    monkeypatch.setattr(store, "_bring_to_head", full)
    ledger = tmp_path / "new.db"
    result = CliRunner().invoke(app, ["run", "-r", "sec", "--ledger", str(ledger)])
    assert result.exit_code == 1
    assert "error: nothing recorded: cannot write: database or disk is full" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    ledger.write_bytes(b"")  # there before the run: not the run's to remove
    result = CliRunner().invoke(app, ["run", "-r", "sec", "--ledger", str(ledger)])
    assert result.exit_code == 1 and ledger.exists()


def test_a_failed_run_leaves_a_ledger_another_run_is_creating(tmp_path: Path) -> None:
    """Two runs create one new ledger at once; one fails while the other is mid-transaction
    (its journal beside the still 0-byte file): the failed run removes nothing, the file and
    the journal are the other run's. A 0-byte file alone (the failed run's schema rolled
    back) goes; a file holding bytes (a ledger, or anything else) stays."""
    from marginlex.cli.run_command import _remove_unrecorded  # noqa: PLC0415

    ledger, journal = tmp_path / "new.db", tmp_path / "new.db-journal"
    ledger.write_bytes(b"")
    journal.write_bytes(b"the other run's transaction")
    _remove_unrecorded(ledger)
    assert ledger.exists() and journal.exists()
    journal.unlink()
    _remove_unrecorded(ledger)
    assert not ledger.exists()
    ledger.write_bytes(b"not a ledger, but someone's bytes")
    _remove_unrecorded(ledger)
    assert ledger.exists()
