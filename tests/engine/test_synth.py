"""Synthetic books: deterministic bytes, valid, and holding what the rulebooks need."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.synth.generate import synth_book

N = 600


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Book:
    meta, frames = synth_book(N, 11)
    return load_book(write_book(meta, frames, tmp_path_factory.mktemp("synth")))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_same_bytes(fmt: str, tmp_path: Path) -> None:
    for name in ("a", "b"):
        meta, frames = synth_book(N, 5)
        write_book(meta, frames, tmp_path / name, fmt)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    meta, frames = synth_book(N, 6)
    write_book(meta, frames, tmp_path / "c", fmt)
    assert _bytes(tmp_path / "c")[f"positions.{fmt}"] != _bytes(tmp_path / "a")[f"positions.{fmt}"]


def test_csv_and_parquet_synth_load_to_the_same_hash(tmp_path: Path) -> None:
    meta, frames = synth_book(N, 5)
    csv = load_book(write_book(meta, frames, tmp_path / "csv", "csv"))
    pq = load_book(write_book(meta, frames, tmp_path / "pq", "parquet"))
    assert csv.sha256 == pq.sha256


def test_cli_synth_writes_a_valid_book(tmp_path: Path) -> None:
    out = tmp_path / "book"
    result = CliRunner().invoke(
        app, ["synth", "--accounts", "200", "--seed", "3", "--out", str(out), "--format", "parquet"]
    )
    assert result.exit_code == 0, result.output
    assert load_book(out).accounts.shape[0] == 200
    again = tmp_path / "again"
    CliRunner().invoke(
        app,
        ["synth", "--accounts", "200", "--seed", "3", "--out", str(again), "--format", "parquet"],
    )
    assert _bytes(out) == _bytes(again)


def test_sizes(book: Book) -> None:
    assert len(book.accounts) == N
    per_account = len(book.positions) / N
    assert 8.0 <= per_account <= 12.0
    assert 1.7 <= len(book.collateral) / N <= 2.3
    assert not book.warnings


def test_parties_and_accounts_cover_the_contract(book: Book) -> None:
    assert set(book.parties["kind"].astype("str")) == {
        "individual",
        "institution",
        "broker_dealer",
        "fcm",
        "bd_fcm",
        "clearing_agency",
        "dco",
    }
    assert book.parties["ecp"].any()
    assert set(book.parties["options_approval"].astype("str")) == {"none", "covered", "uncovered"}
    assert set(book.accounts["kind"].astype("str")) >= {
        "cash",
        "margin",
        "portfolio_margin",
        "futures",
        "cross_margin",
    }
    assert set(book.accounts["origin"].astype("str")) == {"customer", "house"}
    assert set(book.relations["relation"].astype("str")) >= {"member_of", "affiliate_of"}


def test_instruments_and_collateral_cover_the_products(book: Book) -> None:
    assert set(book.positions["product"].astype("str")) >= {
        "stock",
        "etf",
        "equity_option",
        "index_option",
        "index_future",
        "ust_note",
        "ust_future",
        "crypto_future",
    }
    assets = set(book.collateral["asset"].astype("str"))
    assert assets >= {"USD", "UST_BILL", "UST_NOTE", "STOCK", "MMF", "BTC", "ETH", "USDC", "SOL"}
    assert (book.collateral["market_value"] < 0).any()  # debit balances


def test_cross_regime_hedges_and_treasury_cross_margin(book: Book) -> None:
    pos = book.positions.merge(book.accounts[["account_id", "owner_id", "carrier_id", "regime"]])
    spy = pos[(pos["instrument_id"] == "SPY") & (pos["regime"] == "SEC")]
    es = pos[pos["instrument_id"].str.startswith("ES_") & (pos["quantity"] < 0)]
    hedged = set(spy["owner_id"] + "@" + spy["carrier_id"]) & set(
        es["owner_id"] + "@" + es["carrier_id"]
    )
    assert hedged
    cols = AccountGraph(book).account_columns()
    xm = cols[
        (cols["kind"] == "cross_margin")
        & cols["carrier_member_of_dco"]
        & cols["carrier_member_of_clearing_agency"]
        & (cols["carrier_kind"] == "bd_fcm")
    ]
    zn = pos[pos["instrument_id"].str.startswith("ZN_") & pos["account_id"].isin(xm.index)]
    notes = pos[pos["instrument_id"].str.startswith("UST_N10Y") & (pos["regime"] == "SEC")]
    assert set(zn["owner_id"]) & set(notes["owner_id"])


def test_an_etf_is_its_own_class_group_in_its_index_product_group(book: Book) -> None:
    """An ETF and its index are different underlyings (docs/domain-decisions.md): one product
    group, where the product-group credit applies, never one class group netting 100%."""
    ins = book.instruments.set_index("instrument_id")
    for etf, future in (("SPY", "ES_"), ("QQQ", "NQ_"), ("IWM", "RTY_")):
        fut = ins[ins.index.str.startswith(future)]
        assert ins.at[etf, "class_group"] == etf
        assert (fut["class_group"] != etf).all()
        assert (fut["index_class"] == ins.at[etf, "index_class"]).all()
        options = ins[ins["underlying"] == etf]
        assert len(options) and (options["class_group"] == etf).all()


def test_planted_breaches_and_ineligible_owners(book: Book) -> None:
    g = AccountGraph(book)
    assert g.lot_columns()["customer_to_house"].sum() >= 1
    cols = g.account_columns()
    sec_at_fcm = (cols["regime"] == "SEC") & (cols["carrier_kind"] == "fcm")
    assert sec_at_fcm.sum() >= 1
    pm = cols[cols["kind"] == "portfolio_margin"]
    assert (pm["owner_options_approval"] != "uncovered").any()
    assert (pm["equity"] < 100_000).any()


def test_too_few_accounts_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 20"):
        synth_book(5, 1)


def test_some_owners_are_affiliated_with_their_carrier(book: Book) -> None:
    cols = AccountGraph(book).account_columns()
    assert cols["owner_affiliate_of_carrier"].any()
    assert cols["is_guaranteed"].any()


def test_cli_synth_onto_an_existing_file_says_so_without_a_traceback(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["synth", "--accounts", "20", "--seed", "1", "--out", str(taken)]
    )
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert " ".join(result.output.split()) == (
        f"error: cannot write the book to {taken}: it is a file, not a folder: give a folder "
        "for --out (made if absent)"
    )


def test_a_small_book_without_an_institution_has_no_guarantor(tmp_path: Path) -> None:
    # Seed 5289 draws a guaranteed individual in a 20-account book with no institution to
    # guarantee it: synth once failed there ("All arrays must be of the same length").
    meta, frames = synth_book(20, 5289)
    kinds = frames["parties"]["kind"].astype("str")
    assert "institution" not in set(kinds) and "individual" in set(kinds)
    assert "guarantees" not in set(frames["relations"]["relation"].astype("str"))
    assert len(load_book(write_book(meta, frames, tmp_path / "b")).accounts) == 20


def test_cli_synth_does_not_write_over_a_book_unless_forced(tmp_path: Path) -> None:
    """A folder holding a book (say one edited by hand) is refused, byte for byte kept;
    ``--force`` replaces its book files, in either format, and leaves other files."""
    book = tmp_path / "book"
    first = ["synth", "--accounts", "20", "--seed", "1", "--out", str(book)]
    assert CliRunner().invoke(app, first).exit_code == 0
    (book / "NOTES.txt").write_text("kept", encoding="utf-8")
    before = _bytes(book)
    again = ["synth", "--accounts", "30", "--seed", "2", "--out", str(book), "--format", "parquet"]
    refused = CliRunner().invoke(app, again)
    assert refused.exit_code == 1
    said = " ".join(refused.output.split())
    assert f"cannot write the book to {book}: the folder is not empty" in said
    assert "--force to replace the book files" in said
    assert _bytes(book) == before
    forced = CliRunner().invoke(app, [*again, "--force"])
    assert forced.exit_code == 0, forced.output
    assert len(load_book(book).accounts) == 30  # no table left in both formats
    assert not list(book.glob("*.csv"))
    assert (book / "NOTES.txt").read_text(encoding="utf-8") == "kept"


def test_cli_synth_names_the_option_of_a_negative_seed(tmp_path: Path) -> None:
    # numpy's "expected non-negative integer" did not say which value was wrong
    done = CliRunner().invoke(
        app, ["synth", "--accounts", "20", "--seed", "-1", "--out", str(tmp_path / "b")]
    )
    assert done.exit_code == 2
    assert "Invalid value for '--seed'" in done.output
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("partitions", [[], ["--partitions", "4", "--format", "parquet"]])
def test_cli_synth_says_a_book_too_big_for_memory(tmp_path: Path, partitions: list[str]) -> None:
    # 10**20 accounts once ended in numpy's MemoryError traceback ("142. PiB for an array")
    out = tmp_path / "b"
    args = ["synth", "--accounts", str(10**20), "--seed", "1", "--out", str(out), *partitions]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 1
    said = " ".join(done.output.split())
    assert "error: not enough memory to make 100,000,000,000,000,000,000 accounts" in said
    assert "more --partitions with --format parquet" in said
    assert "Traceback" not in said and not out.exists()


def test_a_book_past_the_memory_a_book_may_take_is_refused_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """synth --accounts 999999999999 grew past 16 GB before anything refused it: each
    partition's need (4 KB an account) is checked against the memory a book may take."""
    from marginlex.engine.synth import generate  # noqa: PLC0415 - the limit it reads

    monkeypatch.setattr(generate, "book_memory_limit", lambda: 900_000)
    whole = CliRunner().invoke(
        app, ["synth", "--accounts", "1000", "--seed", "1", "--out", str(tmp_path / "a")]
    )
    assert whole.exit_code == 1
    assert whole.stderr == (
        "error: not enough memory to make 1,000 accounts (each partition is made whole in "
        "memory): ask for fewer accounts, or more --partitions with --format parquet\n"
    )
    assert not (tmp_path / "a").exists()
    args = ["--format", "parquet", "--partitions", "5", "--out", str(tmp_path / "b")]
    split = CliRunner().invoke(app, ["synth", "--accounts", "1000", "--seed", "1", *args])
    assert split.exit_code == 0, split.output  # 200 accounts a partition: 800 KB
