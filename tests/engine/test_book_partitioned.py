"""Partitioned books: ``synth --partitions K`` writes one partition at a time, the same
bytes for the same arguments, cut so that no margin set spans two partitions; validation
names a partition's file, row and column; the cut itself is checked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.engine.book.load import load_book, validate_book
from marginlex.engine.book.partitioned import (
    PARTITIONS,
    concat_parsed,
    partition_folders,
    read_layout,
)
from marginlex.engine.book.problems import BookError
from marginlex.engine.distributed.partition import account_components
from marginlex.engine.synth.partitioned import partition_sizes, write_partitioned_synth

N, K = 200, 2


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}


@pytest.fixture(scope="module")
def parted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parted")
    write_partitioned_synth(N, 3, K, folder)
    return folder


def _copy(src: Path, dst: Path) -> Path:
    for path in src.rglob("*.*"):
        (dst / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
        (dst / path.relative_to(src)).write_bytes(path.read_bytes())
    return dst


def test_the_cli_writes_the_same_partitioned_bytes_for_the_same_arguments(
    parted: Path, tmp_path: Path
) -> None:
    args = ["synth", "--accounts", str(N), "--seed", "3", "--format", "parquet"]
    result = CliRunner().invoke(app, [*args, "--partitions", str(K), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "partition 2/2" in result.output
    assert _bytes(tmp_path) == _bytes(parted)
    assert sorted(_bytes(parted)) == [
        "book.json",
        "instruments.parquet",
        "parties.parquet",
        f"{PARTITIONS}/p00000/accounts.parquet",
        f"{PARTITIONS}/p00000/collateral.parquet",
        f"{PARTITIONS}/p00000/positions.parquet",
        f"{PARTITIONS}/p00001/accounts.parquet",
        f"{PARTITIONS}/p00001/collateral.parquet",
        f"{PARTITIONS}/p00001/positions.parquet",
        "relations.parquet",
    ]


def test_too_few_accounts_for_the_partitions_is_refused(tmp_path: Path) -> None:
    args = ["synth", "--accounts", "30", "--seed", "3", "--partitions", "2"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert "needs at least 20 accounts a partition (40), got 30" in result.output


def test_partition_sizes_are_even() -> None:
    assert partition_sizes(7, 3) == [3, 2, 2]
    assert sum(partition_sizes(999_983, 20)) == 999_983


def test_no_component_of_the_account_graph_spans_two_partitions(parted: Path) -> None:
    book = load_book(parted)
    assert validate_book(parted) == []
    ids = pd.concat(
        [
            pd.read_parquet(p / "accounts.parquet", columns=["account_id"]).assign(part=k)
            for k, p in enumerate(partition_folders(parted))
        ]
    ).set_index("account_id")["part"]
    part = ids.reindex(book.accounts["account_id"]).to_numpy()
    spans = pd.Series(part).groupby(account_components(book)).nunique()
    assert spans.max() == 1
    assert len(book.accounts) == N
    assert set(part) == {0, 1}
    house = book.accounts["origin"] == "house"
    assert set(part[house.to_numpy()]) == {0}  # the house and the lots pledged to it


def test_a_bad_cell_is_named_by_its_partition_file_row_and_column(
    parted: Path, tmp_path: Path
) -> None:
    book = _copy(parted, tmp_path / "bad")
    path = book / PARTITIONS / "p00001" / "positions.parquet"
    frame = pd.read_parquet(path)
    frame.loc[4, "instrument_id"] = "NO_SUCH"
    frame.to_parquet(path, index=False)
    rendered = [p.render() for p in validate_book(book)]
    print(rendered)
    assert sorted(rendered) == [
        f"{PARTITIONS}/p00001/positions.parquet:6: instrument_id: unknown instrument "
        "'NO_SUCH' (not in instruments.parquet)"
    ]
    with pytest.raises(BookError) as caught:
        load_book(book)
    assert [p.render() for p in caught.value.problems] == rendered


def test_an_owner_or_an_account_in_two_partitions_breaks_the_cut(
    parted: Path, tmp_path: Path
) -> None:
    book = _copy(parted, tmp_path / "cut")
    first, second = (p / "accounts.parquet" for p in partition_folders(book))
    moved = pd.read_parquet(first).iloc[[0]]
    again = pd.read_parquet(first).iloc[[1]].assign(account_id="A-NEW")
    pd.concat([pd.read_parquet(second), moved, again]).to_parquet(second, index=False)
    n = len(pd.read_parquet(second))
    owner = again["owner_id"].iloc[0]
    layout = read_layout(book)
    assert [p.render() for p in layout.problems] == [
        f"{PARTITIONS}/p00001/accounts.parquet:{n}: account_id: account "
        f"{moved['account_id'].iloc[0]!r} is also in {PARTITIONS}/p00000: an account belongs "
        "to one partition",
        f"{PARTITIONS}/p00001/accounts.parquet:{n + 1}: owner_id: owner {owner!r} is also in "
        f"{PARTITIONS}/p00000: an owner's accounts are in one partition (a margin set may "
        "join them)",
    ]
    assert layout.problems[0] in validate_book(book)


def test_an_empty_partitions_folder_is_a_problem(parted: Path, tmp_path: Path) -> None:
    book = tmp_path / "empty"
    (book / PARTITIONS).mkdir(parents=True)
    (book / "book.json").write_bytes((parted / "book.json").read_bytes())
    assert [p.render() for p in validate_book(book)] == [
        f"{PARTITIONS}/: no partition folder (p00000, p00001, ...)"
    ]


def test_an_empty_partition_folder_is_one_problem_naming_it(parted: Path, tmp_path: Path) -> None:
    # Was three lines, `partitions/p00001/accounts.csv: required file is missing` and the
    # same for positions and collateral, naming .csv in a book of Parquet files.
    book = _copy(parted, tmp_path / "book")
    for path in (book / PARTITIONS / "p00001").iterdir():
        path.unlink()
    assert [p.render() for p in validate_book(book)] == [
        f"{PARTITIONS}/p00001/: an empty partition: it holds none of its tables (accounts, "
        "positions, collateral); put them there as the other partitions hold them, or delete "
        "the folder (and renumber the ones after it)"
    ]


def test_a_partition_holding_one_of_its_tables_names_the_others_in_its_format(
    parted: Path, tmp_path: Path
) -> None:
    book = _copy(parted, tmp_path / "book")
    for stem in ("accounts", "collateral"):
        next((book / PARTITIONS / "p00001").glob(f"{stem}.*")).unlink()
    # Named with the ending of the partition's other table (was accounts.csv, collateral.csv).
    assert [p.render() for p in validate_book(book) if p.file.startswith(PARTITIONS)] == [
        f"{PARTITIONS}/p00001/accounts.parquet: required file is missing",
        f"{PARTITIONS}/p00001/collateral.parquet: required file is missing",
    ]


def test_categories_of_partitions_read_apart_are_those_of_the_table_read_whole() -> None:
    one = pd.DataFrame({"asset": pd.Categorical(["USD", "ZZZ"], categories=["USD", "ZZZ"])})
    two = pd.DataFrame({"asset": pd.Categorical(["AAA"], categories=["USD", "AAA"])})
    got = concat_parsed("collateral", [one.reindex(columns=["asset"]), two])
    assert got["asset"].tolist() == ["USD", "ZZZ", "AAA"]
    assert list(got["asset"].cat.categories)[-2:] == ["AAA", "ZZZ"]


def test_a_blank_line_in_a_partition_file_keeps_its_rows_numbered_as_shown(
    parted: Path, tmp_path: Path
) -> None:
    """A CSV reader skips blank lines: every row after one was reported a row too early,
    the partition cut's check included (it numbered the rows it read)."""
    book = _copy(parted, tmp_path / "blank")
    first, second = (p / "accounts.parquet" for p in partition_folders(book))
    moved = pd.read_parquet(first).iloc[[0]]
    table = pd.concat([pd.read_parquet(second), moved])
    second.unlink()
    lines = table.to_csv(index=False).splitlines()
    lines.insert(2, "")  # a blank line after the first account: the moved one is a row later
    (second.parent / "accounts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    row = len(lines)  # the header is row 1, the blank line a row of its own
    assert [p.render() for p in read_layout(book).problems] == [
        f"{PARTITIONS}/p00001/accounts.csv:{row}: account_id: account "
        f"{moved['account_id'].iloc[0]!r} is also in {PARTITIONS}/p00000: an account belongs "
        "to one partition",
    ]
    warning = "warning: 1 empty row (no value in any column) left out: row 3"
    assert f"{PARTITIONS}/p00001/accounts.csv:3: {warning}" in [
        p.render() for p in validate_book(book)
    ]


def test_a_partitions_file_level_problems_name_its_path(parted: Path, tmp_path: Path) -> None:
    """An empty file, a folder, a ragged row, both endings of one table: each was named
    `positions.csv` alone, with no partition to look in."""
    book = _copy(parted, tmp_path / "book")
    first, second = (book / PARTITIONS / f"p0000{k}" for k in range(2))
    (first / "positions.parquet").unlink()
    (first / "positions.csv").write_text("")
    (first / "accounts.parquet").unlink()
    (first / "accounts.csv").mkdir()
    (second / "collateral.csv").write_text("x\n")
    (second / "positions.parquet").unlink()
    (second / "positions.csv").write_text("account_id,instrument_id,quantity\nA,B,1,9\n")
    shown = [(p.file, p.row, p.message) for p in validate_book(book) if p.row <= 2]
    assert shown == [
        (
            f"{PARTITIONS}/p00000/accounts.csv",
            0,
            "not a regular file (a folder, a device or a pipe): give it as a file",
        ),
        (f"{PARTITIONS}/p00000/positions.csv", 0, "the file is empty (expected a header row)"),
        (f"{PARTITIONS}/p00001/positions.csv", 2, "4 values, but the header has 3 columns"),
        (
            f"{PARTITIONS}/p00001/collateral.csv",
            0,
            "both collateral.csv and collateral.parquet exist; keep one",
        ),
    ]


def test_files_where_a_partitioned_book_reads_nothing_are_errors(
    parted: Path, tmp_path: Path
) -> None:
    # Each was left unread and the book valid: its rows, or a whole partition, left out
    # of every decision without a word.
    book = _copy(parted, tmp_path / "misplaced")
    first, second = (book / PARTITIONS / "p00000"), (book / PARTITIONS / "p00001")
    (book / "accounts.parquet").write_bytes((first / "accounts.parquet").read_bytes())
    (second / "parties.parquet").write_bytes((book / "parties.parquet").read_bytes())
    (second / "book.json").write_bytes((book / "book.json").read_bytes())
    second.rename(book / PARTITIONS / "p00002")
    (book / PARTITIONS / "p00003").symlink_to("elsewhere")
    rendered = [p.render() for p in validate_book(book)]
    assert rendered == [
        f"{PARTITIONS}/p00002/book.json: a partition holds only accounts, positions and "
        f"collateral: the book's name and date are read beside {PARTITIONS}/, so this file is "
        "not read: delete it, or move its rows there",
        "accounts.parquet: a partitioned book holds its accounts in its partition folders "
        f"({PARTITIONS}/p00000/accounts.parquet, ...), so this file is not read: move its rows "
        "into the partitions, or delete it",
        f"{PARTITIONS}/p00001: missing: the partitions run p00000 to p00002 without it, and "
        "its accounts would be left out unsaid: restore it (or renumber the others)",
        f"{PARTITIONS}/p00002/parties.parquet: a partition holds only accounts, positions and "
        f"collateral: the book's parties are read beside {PARTITIONS}/, so this file is not "
        "read: delete it, or move its rows there",
        f"{PARTITIONS}/p00003: a link to 'elsewhere', which is not there: the partition it "
        "stands for would be left out; restore what it names, or delete the link",
    ]
    with pytest.raises(BookError):
        load_book(book)
    result = CliRunner().invoke(app, ["run", str(book), "-r", "sec"])
    assert result.exit_code == 1
    assert f"{PARTITIONS}/p00001: missing" in result.output


def test_a_file_in_partitions_named_as_a_partition_or_a_table_is_an_error(
    parted: Path, tmp_path: Path
) -> None:
    """A partition archived (``p00002.zip``), a file ``p00003`` and a partition's table put
    in ``partitions/`` itself were left alone: the book was valid and decided without their
    rows. README.txt beside them is still left alone."""
    book = _copy(parted, tmp_path / "files")
    where = book / PARTITIONS
    (where / "p00002.zip").write_bytes(b"PK\x03\x04")
    (where / "p00003").write_text("accounts\n")
    (where / "positions.parquet").write_bytes((where / "p00000" / "positions.parquet").read_bytes())
    (where / "README.txt").write_text("cut by region\n")
    why = (
        "a file, not a partition folder, so not read: the rows it holds would be left out "
        f"unsaid: put them in a folder ({PARTITIONS}/p00000/accounts.parquet, ...), or delete it"
    )
    assert [p.render() for p in validate_book(book)] == [
        f"{PARTITIONS}/p00002.zip: {why}",
        f"{PARTITIONS}/p00003: {why}",
        f"{PARTITIONS}/positions.parquet: {why}",
    ]


def test_partitions_named_otherwise_and_stray_files_are_read_as_before(
    parted: Path, tmp_path: Path
) -> None:
    book = _copy(parted, tmp_path / "named")
    (book / PARTITIONS / "p00000").rename(book / PARTITIONS / "east")
    (book / PARTITIONS / "p00001").rename(book / PARTITIONS / "west")
    (book / PARTITIONS / "README.txt").write_text("cut by region\n")
    (book / PARTITIONS / "east" / "notes.txt").write_text("east\n")
    assert validate_book(book) == []
    assert load_book(book).sha256 == load_book(parted).sha256
