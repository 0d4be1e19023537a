"""The book's limits (``engine/book/limits.py``) and the faults the fuzzers found (issue 15).

The planted books are folders of ``tests/data/books`` (``huge_figures``, ``repledge_chain``,
``several_files_broken``), checked line by line by ``test_book_validation.py``; these tests
add what a folder cannot show: a limit's figure, memory, and the run that writes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.engine.book import limits, memory
from marginlex.engine.book.load import validate_book

BOOKS = Path(__file__).parents[1] / "data" / "books"


def _lines(folder: Path) -> list[str]:
    return [p.render() for p in validate_book(folder)]


def test_a_quantity_of_1e308_is_rejected_at_validate_and_writes_no_ledger(tmp_path: Path) -> None:
    found = _lines(BOOKS / "huge_figures")
    assert found[2] == (
        "positions.csv:2: quantity: quantity 1e+308 x price x multiplier 100 is a market "
        "value of more than 1.8e+308 USD (float64's limit), over the limit of "
        "1,000,000,000,000,000 USD (the ledger holds NUMERIC(18,2))"
    )
    # 1.5e14 contracts x 1.74 x 100 = 2.61e16 USD: finite, but not a NUMERIC(18,2)
    assert "market value of 2.61e+16 USD" in found[3]
    ledger = tmp_path / "ledger.db"
    ran = CliRunner().invoke(app, ["run", str(BOOKS / "huge_figures"), "--ledger", str(ledger)])
    assert ran.exit_code == 1
    assert ran.exception is None or isinstance(ran.exception, SystemExit)
    assert ran.stderr.splitlines() == found
    assert not ledger.exists()


def test_a_fractional_or_short_quantity_within_the_limit_is_accepted(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(BOOKS / "good_small", book)
    rows = "A1,XYZ,0.5\nA1,XYZ_P90,-3.25\nH1,ES_2609,-9999999\n"
    (book / "positions.csv").write_text("account_id,instrument_id,quantity\n" + rows)
    assert _lines(book) == []


def test_several_broken_files_are_all_listed_not_a_concatenation_error() -> None:
    found = _lines(BOOKS / "several_files_broken")
    assert [line.split(":", 1)[0] for line in found] == [
        "parties.csv",
        "accounts.csv",
        "instruments.csv",
        "positions.csv",
    ]


def test_positions_per_account_over_the_limit_are_refused_once_per_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_POSITIONS_PER_ACCOUNT", 2)
    book = tmp_path / "book"
    shutil.copytree(BOOKS / "good_small", book)
    rows = "A1,XYZ,1\nA1,XYZ_P90,-1\nH1,ES_2609,2\nA1,UST_10Y,2\nA1,ES_2609,3\n"
    (book / "positions.csv").write_text("account_id,instrument_id,quantity\n" + rows)
    assert _lines(book) == [
        "positions.csv:5: account_id: account 'A1' has 4 positions, over the limit of 2: "
        "split it, or net its rows by instrument"
    ]


def test_an_id_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    # a 250-character account id was recorded on SQLite and refused mid-run on PostgreSQL
    # ("value too long for type character varying(200)")
    book = tmp_path / "book"
    shutil.copytree(BOOKS / "good_small", book)
    long = "A" * (limits.MAX_ID_LENGTH + 1)
    for name in ("accounts.csv", "positions.csv", "collateral.csv"):
        text = (book / name).read_text(encoding="utf-8")
        (book / name).write_text(text.replace("A1,", f"{long},"), encoding="utf-8")
    assert _lines(book) == [
        "accounts.csv:2: account_id: an id of 129 characters, over the limit of 128: the "
        "ledger keeps ids in VARCHAR(200) columns with its prefixes: shorten it"
    ]
    (book / "accounts.csv").write_text(
        (book / "accounts.csv").read_text(encoding="utf-8").replace(long, "A" * 128),
        encoding="utf-8",
    )
    assert not any("characters" in line for line in _lines(book))


def test_a_book_too_large_for_the_memory_available_is_refused_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: 100_000)
    found = _lines(BOOKS / "good_small")
    size = sum(p.stat().st_size for p in (BOOKS / "good_small").glob("*.csv"))
    assert len(found) == 1
    assert found[0].startswith("instruments.csv: the book's files hold")  # the largest
    need = size * limits.MEMORY_PER_BOOK_BYTE
    assert f"would need about {need / 1e9:,.1f} GB of memory; the limit is 0.0 GB" in found[0]


def test_a_parquet_file_is_measured_by_its_rows_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 314 KB Parquet file of 30 million identical positions passed the size check, then
    took 23 GB before the kernel killed `validate`; its rows are counted from its metadata."""
    import pandas as pd  # noqa: PLC0415

    book = tmp_path / "book"
    shutil.copytree(BOOKS / "good_small", book)
    (book / "positions.csv").unlink()
    rows = 200_000
    pd.DataFrame(
        {"account_id": ["A1"] * rows, "instrument_id": ["XYZ"] * rows, "quantity": [1.0] * rows}
    ).to_parquet(book / "positions.parquet", index=False)
    size = sum(p.stat().st_size for p in book.iterdir() if p.suffix in {".csv", ".parquet"})
    available = rows * limits.MEMORY_PER_ROW  # half of it is the limit
    assert size * limits.MEMORY_PER_BOOK_BYTE < available // 2  # the size alone passes
    monkeypatch.setattr(memory, "available_memory", lambda: available)
    found = _lines(book)
    assert len(found) == 1
    assert found[0].startswith("positions.parquet: the book's files hold"), found
    assert "would need about 0.4 GB of memory; the limit is 0.2 GB" in found[0], found


@pytest.mark.parametrize("dictionary", [True, False], ids=["dictionary", "plain"])
def test_a_parquet_files_text_is_measured_before_it_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dictionary: bool
) -> None:
    """A 14 KB Parquet file naming one 400 MB text in 40 rows took 23 GB before the kernel
    killed `validate`: neither its size nor its rows show it. Stored as a dictionary, its
    text is measured from the dictionary before a cell is copied; stored plain, its pages'
    uncompressed size (the file's metadata) counts before it is read."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    book = tmp_path / "book"
    shutil.copytree(BOOKS / "good_small", book)
    (book / "parties.csv").unlink()
    rows, text = 100, "n" * 1_000_000
    parties = {
        "party_id": [f"X{i}" for i in range(rows)],
        "name": [text] * rows,
        "kind": ["individual"] * rows,
        "ecp": ["false"] * rows,
        "options_approval": ["none"] * rows,
    }
    target = book / "parties.parquet"
    pq.write_table(pa.table(parties), target, use_dictionary=dictionary, compression="zstd")
    assert target.stat().st_size < 200_000  # 100 MB of text, compressed to nothing
    monkeypatch.setattr(memory, "available_memory", lambda: 200_000_000)  # limit: 0.1 GB
    found = _lines(book)
    assert len(found) == 1, found
    if dictionary:
        assert found[0] == (
            "parties.parquet: its text columns would hold 0.1 GB once read (the longest "
            "text, in column name, is 1,000,000 bytes): about 0.4 GB of memory, over the "
            "limit of 0.1 GB (half the memory available now); a book's ids and names are "
            "short: check how the file was written"
        )
    else:
        assert found[0].startswith("parties.parquet: the book's files hold"), found
        assert "would need about 0.4 GB of memory; the limit is 0.1 GB" in found[0], found


def test_the_memory_available_is_a_real_figure() -> None:
    assert 10_000_000 < memory.available_memory() < 1 << 50


def test_a_repledge_cycle_within_the_limit_is_accepted(tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(BOOKS / "repledge_chain", book)
    relations = (book / "relations.csv").read_text().splitlines()
    # Keep R00 -> ... -> R20 and the cycle back to R10: 21 accounts on the chain.
    kept = [line for line in relations if not line.startswith(("R2", "R3", "R4", "R5", "R6"))]
    kept += ["R20,R10,rehypothecated_to"]
    (book / "relations.csv").write_text("\n".join(kept) + "\n")
    assert _lines(book) == []


def _widened(path: Path, extra: int) -> None:
    """A CSV file with ``extra`` empty columns after its own."""
    lines = path.read_text(encoding="utf-8").splitlines()
    head = lines[0] + "".join(f",x{k}" for k in range(extra))
    path.write_text("\n".join([head, *(r + "," * extra for r in lines[1:])]) + "\n")


def test_a_file_of_more_columns_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    """A 4 MB Parquet file of 20,000 empty columns took validate 4.5 minutes (each column a
    table rebuilt, a frame and a warning); a CSV header of 5,000 names took 9 s. A file of
    1,000 columns is read, its unknown columns a warning each."""
    import pyarrow.csv as pc  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    book = tmp_path / "book"
    shutil.copytree(BOOKS / "good_small", book)
    (book / "expected.txt").unlink()
    _widened(book / "positions.csv", 998)  # 3 + 998 = 1,001 columns
    _widened(book / "parties.csv", 995)  # 5 + 995 = 1,000: read
    _widened(book / "collateral.csv", 995)  # 6 + 995 = 1,001
    table = pc.read_csv(book / "collateral.csv")
    pq.write_table(table, book / "collateral.parquet")
    (book / "collateral.csv").unlink()
    found = [p for p in validate_book(book) if p.severity.value == "error"]
    why = (
        "over the limit of 1,000 (a book file holds its table's columns, at most 13, and a few "
        "of its own): the file is not read; check how it was written"
    )
    assert [p.render() for p in found] == [
        f"positions.csv:1: the header names 1,001 columns, {why}",
        f"collateral.parquet:1: the schema names 1,001 columns, {why}",
    ]
    assert sum(p.file == "parties.csv" for p in validate_book(book)) == 995  # warnings
