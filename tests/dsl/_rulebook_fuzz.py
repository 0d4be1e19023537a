"""Seeded mutations of the shipped rulebooks, for the rulebook fuzzer (test_fuzz.py).

Each case applies one to three edits to one shipped rulebook: lines deleted, duplicated or
swapped, a token inserted, deleted or replaced, the text truncated, unicode inserted, a
number made huge, a line indented deeply, a condition nested deeply, a table or grid made
long. A case is planned from its seed and number alone, so a failing id such as
``0421-sec-swap_lines+huge_number`` reproduces by itself.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SHIPPED = Path(__file__).parents[2] / "rulebooks"
RULEBOOKS = ("sec", "cftc", "harmonized")

TOKENS = (
    "{", "}", "(", ")", ":", ",", "=", "!=", "<", "<=", "%", "bp", "USD", "x", "days",
    "because", "where", "and", "or", "not", "in", "cites", "status", "effective", "until",
    "override", "remove", "accept", "MLX601", "rulebook", "extends", "sec", "cftc",
    "harmonized", "replaces", "shipped", "parameter", "scope", "eligibility", "haircut",
    "margin", "offset", "segregation", "concentration", "otherwise", "under", "rate",
    "points", "steps", "range", "up", "down", "minimum", "per", "contract", "times",
    "multiplier", "account.", "account.equity", "owner.kind", "position.product",
    "collateral.asset", "eligible(portfolio_margin)", "member_of", "true", "false",
    '"', '""', '"x"', "#", "@", "&", "|", "$5", "-5", "0", "9x", "1,0", "1,000,00",
    "2026-13-01", "2026-02-30", "0001-01-01", "9999-12-31", "\n", "\t", "\r\n",
)  # fmt: skip
UNICODE = (
    "\ufeff", "\u200b", "\u202e", "\u00a0", "é", "ß", "Ⅻ", "٣", "１", "ǅ", "ﬁ", "😀", "\x00",
    "\x0b", "\x0c", "\u2028", "\u0301", "‐", "“", "”", "−", "\U0010ffff",
)  # fmt: skip
HUGE = (
    "9" * 400, "1" + ",000" * 120, "1e308", "0." + "0" * 400 + "1", "18446744073709551617",
    "99999999999999999999.99", "0", "0.0", "100000000000000000000000000000000000000",
)  # fmt: skip
_NUMBER = re.compile(r"\d[\d,]*(\.\d+)?")
_CONDITION = re.compile(r"(where|require \w+:|when) ")
_TABLE_ROW = re.compile(r"^\s+(under|otherwise|range|[A-Z_]+ \d|[a-z_]+ \d)", re.M)


def _lines(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    what = rng.randrange(3)
    if what == 0:
        del lines[i : i + rng.randint(1, 4)]
    elif what == 1:
        lines[i:i] = lines[i : i + rng.randint(1, 6)] * rng.randint(1, 3)
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def _token(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text) + 1)
    what = rng.randrange(3)
    if what == 0:  # insert
        return text[:i] + rng.choice(TOKENS) + " " + text[i:]
    words = list(re.finditer(r"\S+", text))
    if not words:
        return text
    word = rng.choice(words)
    if what == 1:  # delete a word
        return text[: word.start()] + text[word.end() :]
    return text[: word.start()] + rng.choice(TOKENS) + text[word.end() :]  # replace


def _truncate(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(len(text))]


def _unicode(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + "".join(rng.choices(UNICODE, k=rng.randint(1, 3))) + text[i:]


def _huge_number(text: str, rng: random.Random) -> str:
    found = list(_NUMBER.finditer(text))
    if not found:
        return text
    hit = rng.choice(found)
    return text[: hit.start()] + rng.choice(HUGE) + text[hit.end() :]


def _deep_indent(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    i = rng.randrange(len(lines))
    lines[i] = rng.choice((" ", "\t")) * rng.choice((200, 5_000, 60_000)) + lines[i]
    return "".join(lines)


def _deep_nesting(text: str, rng: random.Random) -> str:
    """``not not ... cond`` or ``((( cond )))`` at a condition, 2 to 50,000 deep."""
    found = list(_CONDITION.finditer(text))
    if not found:
        return text
    hit = rng.choice(found)
    depth = rng.choice((2, 40, 90, 99, 150, 3_000, 50_000))
    if rng.random() < 0.5:
        inner = "not " * depth
        return text[: hit.end()] + inner + text[hit.end() :]
    end = text.find("\n", hit.end())
    end = len(text) if end < 0 else end
    cond = text[hit.end() : end]
    cond = cond.split(" because ")[0]
    rest = text[hit.end() + len(cond) :]
    return text[: hit.end()] + "(" * depth + cond + ")" * depth + rest


def _long_table(text: str, rng: random.Random) -> str:
    """A table row repeated (over the row limit, or not), or a grid's points made many."""
    if rng.random() < 0.3 and re.search(r"(points|steps) \d+", text):
        count = rng.choice(("201", "200", "100000000", "0", "1"))
        return re.sub(r"(points|steps) \d+", rf"\1 {count}", text, count=1)
    found = list(_TABLE_ROW.finditer(text))
    if not found:
        return text
    hit = rng.choice(found)
    end = text.find("\n", hit.start()) + 1
    row = text[hit.start() : end]
    return text[:end] + row * rng.choice((3, 499, 600)) + text[end:]


MUTATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "lines": _lines,
    "token": _token,
    "truncate": _truncate,
    "unicode": _unicode,
    "huge_number": _huge_number,
    "deep_indent": _deep_indent,
    "deep_nesting": _deep_nesting,
    "long_table": _long_table,
}
# Weights: the cheap, common edits most often; the expensive ones (long texts) less.
WEIGHTS = (6, 8, 3, 3, 3, 1, 2, 1)
STRIP_COMMENTS = 0.75
"""Most cases edit the rulebook without its comment lines: an edit inside a comment changes
nothing, and a mutant that checks clean costs four times one that does not (the solver)."""


@dataclass(frozen=True)
class Case:
    """One mutant: its number, the rulebook it comes from, the edits made, its text."""

    number: int
    rulebook: str
    edits: tuple[str, ...]
    text: str

    @property
    def id(self) -> str:
        return f"{self.number:04d}-{self.rulebook}-{'+'.join(self.edits)}"


def plan_case(seed: int, number: int) -> Case:
    """The ``number``-th case of ``seed``: the same text on every machine."""
    rng = random.Random(f"{seed}-{number}")
    rulebook = RULEBOOKS[number % len(RULEBOOKS)]
    text = (SHIPPED / f"{rulebook}.mlx").read_text("utf-8")
    if rng.random() < STRIP_COMMENTS:
        text = "".join(line for line in text.splitlines(True) if not line.lstrip().startswith("#"))
    edits = tuple(rng.choices(list(MUTATIONS), WEIGHTS, k=rng.choice((1, 1, 2, 3))))
    for edit in edits:
        text = MUTATIONS[edit](text, rng) or " "
    return Case(number, rulebook, edits, text)


def plan_cases(seed: int, count: int) -> list[Case]:
    """The first ``count`` cases of ``seed``."""
    return [plan_case(seed, n) for n in range(count)]
