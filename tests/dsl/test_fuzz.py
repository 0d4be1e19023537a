"""The rulebook fuzzer: seeded mutants of the shipped rulebooks never end in a traceback.

Every mutant (``_rulebook_fuzz.plan_cases``: lines deleted, duplicated or swapped, tokens
edited, truncation, unicode, huge numbers, deep indentation and nesting, long tables) checks
clean or gives diagnostics with file, line and column, within 2 s of CPU; a sample of the
mutants that check clean is run on the demo book, and decides or fails with a clear error.
Checked in-process, with one shared library (the bases are parsed once). ``MARGINLEX_FUZZ
_RULEBOOK_CASES=20000`` searches longer (issue 15).
"""

from __future__ import annotations

import functools
import os
import time
import traceback

import numpy as np
import pytest
from _rulebook_fuzz import MUTATIONS, SHIPPED, Case, plan_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginlex.dsl import Diagnostic, Library, Severity, check_text
from marginlex.dsl.check.runner import check_resolution
from marginlex.dsl.parser import parse
from marginlex.engine.book.load import Book, load_demo_book
from marginlex.engine.evaluate import evaluate
from marginlex.engine.plan.compile import CompileError, compile_plan
from marginlex.engine.plan.context import EvaluationError

SEED = 20261204
CASES = plan_cases(SEED, int(os.environ.get("MARGINLEX_FUZZ_RULEBOOK_CASES", "2000")))
RUN_EVERY = 16
"""Mutants that check clean and whose number is a multiple of 16 are also run on the demo
book (about 20 of them, 0.3 s to 2 s of CPU each)."""
CPU_LIMIT = 5.0
"""A guard against a runaway check (a pass that grows with a mutant's size), not a speed
target: a check of a shipped rulebook's mutant takes 0.1 to 0.4 s once the process has
built the parser and the solver, which :func:`_warm` does before the first timed case (it
took 2.7 s, and once 5.5 s under load, when the first case paid for it)."""
LIBRARY = Library(SHIPPED)


@functools.cache
def _warm(rulebook: str) -> None:
    """Check the shipped rulebook itself once in this process: the parser, the solver and
    the bases' parses are built outside the timed check of a mutant."""
    path = SHIPPED / f"{rulebook}.mlx"
    check_text(path.read_text(encoding="utf-8"), str(path), LIBRARY)


def _checked(case: Case) -> list[Diagnostic]:
    path = str(SHIPPED / f"{case.rulebook}.mlx")
    _warm(case.rulebook)
    start = time.process_time()
    try:
        found = check_text(case.text, path, LIBRARY)
    except Exception as exc:  # the fuzzer's whole point: name the case, show the trace
        trace = "".join(traceback.format_exception(exc))
        pytest.fail(f"case {case.id} ended in a traceback:\n{trace}")
    spent = time.process_time() - start
    assert spent < CPU_LIMIT, f"case {case.id} took {spent:.2f} s of CPU to check"
    for d in found:
        assert d.span.file == path
        assert d.span.line >= 1 and d.span.column >= 1
        assert d.headline().startswith(f"{path}:{d.span.line}:{d.span.column}: MLX")
    for d in found[:3]:  # rendering splits the whole text: a few show the caret is placed
        assert d.render(case.text).startswith(d.headline())
    return found


@functools.cache
def _demo_book() -> Book:
    return load_demo_book()


def _run_on_demo_book(case: Case) -> None:
    """A clean mutant decides every margin set of the demo book, or says why it cannot."""
    book = parse(case.text, str(SHIPPED / f"{case.rulebook}.mlx"))
    resolved, _ = check_resolution(book, LIBRARY)
    demo = _demo_book()
    try:
        evaluation = evaluate(compile_plan(resolved, demo.as_of), demo, demo.as_of)
    except (CompileError, EvaluationError) as exc:
        assert str(exc).strip(), f"case {case.id} failed without a message"
        return
    figures = evaluation.decisions[["maintenance", "excess", "call"]].to_numpy(dtype=float)
    assert np.isfinite(figures).all(), f"case {case.id} decided a figure that is not finite"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_mutant_checks_clean_or_says_where_it_is_wrong(case: Case) -> None:
    found = _checked(case)
    if any(d.severity is Severity.ERROR for d in found):
        return
    if case.number % RUN_EVERY == 0:
        _run_on_demo_book(case)


def test_the_cases_are_seeded_and_use_every_mutation() -> None:
    assert plan_cases(SEED, 30) == CASES[:30]  # the same text on every run
    assert plan_cases(SEED + 1, 30) != CASES[:30]
    assert {edit for c in CASES for edit in c.edits} == set(MUTATIONS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["sec", "cftc", "harmonized"]),
    st.integers(min_value=0),
    st.text(min_size=1, max_size=40),
)
def test_any_text_spliced_into_a_rulebook_gives_diagnostics(
    rulebook: str, where: int, inserted: str
) -> None:
    """Hypothesis splices arbitrary unicode into a shipped rulebook and shrinks a failure."""
    original = (SHIPPED / f"{rulebook}.mlx").read_text("utf-8")
    at = where % (len(original) + 1)
    text = original[:at] + inserted + original[at:]
    _checked(Case(-1, rulebook, ("hypothesis",), text))
