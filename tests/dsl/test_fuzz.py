"""Random edits of the shipped rulebooks give diagnostics, never a traceback."""

import random

import pytest

from marginlex.dsl import Diagnostic, check_text, shipped_dir

TOKENS = [
    "{",
    "}",
    "(",
    ")",
    ":",
    ",",
    "=",
    "<",
    "%",
    "USD",
    "because",
    "where",
    "and",
    "not",
    "cites",
    "[",
    "]",
    '"',
    "#",
    "override",
    "remove",
    "0",
    "9x",
    "2026-13-01",
    "account.",
    "extends",
    "rulebook",
    "margin",
    "otherwise",
    "@",
    "\n",
    "under",
]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    choice = rng.randrange(6)
    if choice == 0 and len(text) > 1:  # delete a span of characters
        i = rng.randrange(len(text))
        return text[:i] + text[i + rng.randint(1, 12) :]
    if choice == 1:  # insert a token
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(TOKENS) + text[i:]
    if choice == 2:  # drop a line
        del lines[rng.randrange(len(lines))]
    elif choice == 3:  # duplicate a line
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif choice == 4:  # swap two lines
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    else:  # change a digit
        digits = [i for i, ch in enumerate(text) if ch.isdigit()]
        i = rng.choice(digits)
        return text[:i] + str(rng.randrange(10)) + text[i + 1 :]
    return "".join(lines)


@pytest.mark.parametrize("name", ["sec", "cftc", "harmonized"])
def test_random_edits_never_crash(name: str) -> None:
    path = shipped_dir() / f"{name}.mlx"
    original = path.read_text()
    rng = random.Random(f"fuzz-{name}")
    for _ in range(60):
        text = original
        for _ in range(rng.randint(1, 3)):
            text = mutate(text, rng)
        found = check_text(text, str(path))
        assert all(isinstance(d, Diagnostic) for d in found)
        for d in found:  # every diagnostic renders with a caret line or at least a headline
            assert d.render(text).startswith(f"{path}:")
