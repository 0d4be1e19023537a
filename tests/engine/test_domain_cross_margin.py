"""Cash Treasuries taken into a CFTC Treasury cross-margin set are decided there only (issue
14, section 5: one position, one decision). The CFTC rulebook's `cftc_cross_margin_sets`
takes an owner's cash Treasuries at the carrier into the futures cross-margin set; the SEC
rulebook's `sec_treasury_give_up` (`sets position where ... goes to account where
... by owner and carrier`) leaves them out of the securities account's decision: neither
charged nor valued there."""

from __future__ import annotations

from pathlib import Path

from _evaluate_books import decision, make_book, run

# X1: Echo's CFTC cross-margin account at BDF1 (a bd_fcm member of FICC and CME), short 57
# ZN; S1: Echo's SEC margin account at the same carrier, long 5,000 10-year notes. S2: Carol's
# SEC margin account at BDF1, the same notes, but Carol has no futures account there.
ACCOUNTS = (
    "X1,ECHO,BDF1,CFTC,cross_margin,customer,cross_margin;subordination\n"
    "S1,ECHO,BDF1,SEC,margin,customer,cross_margin;subordination\n"
    "S2,CAROL,BDF1,SEC,margin,customer,"
)
POSITIONS = "X1,ZN_2609,-57\nS1,UST_2035_08,5000\nS2,UST_2035_08,5000"
COLLATERAL = "L1,X1,USD,300000,,\nL2,S1,USD,100000,,\nL3,S2,USD,100000,,"


def test_cross_margined_notes_are_charged_and_valued_in_one_decision(tmp_path: Path) -> None:
    """The notes: 5,000 x 10 x 98.50 = 4,925,000, 9.1 years to maturity.
    SEC, S1 (before the fix): 4% x 4,925,000 = 197,000 charged, value 100,000 + 4,925,000
      = 5,025,000. Now the notes go to X1's set: no position, requirement 0, value 100,000.
    SEC, S2: no futures account of Carol at BDF1, so its notes stay: 197,000, 5,025,000.
    CFTC, X1 with S1's notes: CME scans ZN 57 x 1,000 x 110.50 = 6,298,500 at 2% = 125,970,
      FICC the notes, 2% x 4,925,000 = 98,500; paired by DV01 (3,990 of 4,000) at 80%:
      125,970 - 100,776 + 98,500 - 78,603 = 45,091 (test_domain_cme_ficc.py); value
      300,000 + 4,925,000 = 5,225,000 (a future's market value is 0).
    So the notes' 4,925,000 is counted once, in X1's decision."""
    book = make_book(tmp_path, ACCOUNTS, POSITIONS, COLLATERAL)
    sec = run(book, "sec")
    s1 = decision(sec, "ms:S1")
    assert (s1["maintenance"], s1["value"], s1["n_positions"]) == (0.0, 100_000.0, 0)
    s2 = decision(sec, "ms:S2")
    assert (s2["maintenance"], s2["value"], s2["n_positions"]) == (197_000.0, 5_025_000.0, 1)
    cftc = run(book, "cftc")
    x1 = decision(cftc, "ms:X1")
    assert x1["takes_in_from"] == "S1"
    assert (x1["maintenance"], x1["value"], x1["n_positions"]) == (45_091.0, 5_225_000.0, 2)


def test_a_securities_account_without_an_eligible_futures_anchor_keeps_its_notes(
    tmp_path: Path,
) -> None:
    """The same accounts, but X1 has not signed the cross-margining agreement: no set takes
    the notes in under cftc, so the SEC decision keeps them, 4% x 4,925,000 = 197,000."""
    accounts = ACCOUNTS.replace("cross_margin,customer,cross_margin;", "cross_margin,customer,")
    book = make_book(tmp_path, accounts, POSITIONS, COLLATERAL)
    s1 = decision(run(book, "sec"), "ms:S1")
    assert (s1["maintenance"], s1["value"], s1["n_positions"]) == (197_000.0, 5_025_000.0, 1)
    assert decision(run(book, "cftc"), "ms:X1")["takes_in_from"] == ""


def test_harmonized_keeps_the_notes_in_the_merged_set(tmp_path: Path) -> None:
    """Harmonized removes both sides (one set per owner and carrier): X1 and S1 merge (ms:S1), the
    notes stay in that set; the grid's 7-year-and-over bucket is +/-6%: ZN 6% x 6,298,500 =
    377,910, the notes 6% x 4,925,000 = 295,500: 377,910 - 295,500 = 82,410."""
    book = make_book(tmp_path, ACCOUNTS, POSITIONS, COLLATERAL)
    merged = decision(run(book, "harmonized"), "ms:S1")
    assert (merged["maintenance"], merged["n_positions"]) == (82_410.0, 2)


def test_the_sec_trace_names_the_rule_that_left_the_notes_out(tmp_path: Path) -> None:
    """S1's set has a `gives_up_positions` row citing sec_treasury_give_up; X1 is not in it."""
    book = make_book(tmp_path, ACCOUNTS, POSITIONS, COLLATERAL)
    sets = run(book, "sec").frames["sets"]
    given = sets[sets["role"] == "gives_up_positions"]
    assert given[["margin_set_id", "account_id", "rule_id"]].astype(str).values.tolist() == [
        ["ms:S1", "S1", "sec_treasury_give_up"]
    ]
    assert decision(run(book, "sec"), "ms:S1")["account_ids"] == "S1"
