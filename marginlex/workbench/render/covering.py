"""Which rulebook tests cover each statement, from the coverage of ``marginlex test``.

Each test case checks the decision of one margin set. The case *covers* a statement when the
coverage of ``marginlex test`` (:func:`marginlex.engine.variants.coverage.coverage`), computed
on that margin set's decision and trace alone, counts the statement as exercised (its id on
a trace row, a scope that decided the set, ...). Requirements and table rows are not listed
per case: the statement they belong to is.
"""

from __future__ import annotations

from pathlib import Path

from marginlex.dsl.claims import shown_path
from marginlex.dsl.loader import shipped_dir
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.variants.coverage import coverage
from marginlex.engine.variants.rulebook_tests import (
    CaseResult,
    RulebookTestError,
    Runs,
    find_test_files,
    read_test_file,
    run_file,
)
from marginlex.workbench.render.cases import CaseIndex, CaseRun, FileError
from marginlex.workbench.render.document import TestRef


def _one_set(evaluation: Evaluation, margin_set_id: str) -> Evaluation:
    decisions = evaluation.decisions
    return evaluation.model_copy(
        update={
            "decisions": decisions[decisions["margin_set_id"] == margin_set_id],
            "frames": evaluation.trace(margin_set_id),
        }
    )


def _covered(runs: Runs, case: CaseResult) -> set[str]:
    if case.rulebook not in runs or not case.margin_set_id:
        return set()
    rulebook, evaluations = runs[case.rulebook]
    found = coverage(rulebook, [_one_set(evaluations[0], case.margin_set_id)])
    return {i.item for i in found.items if i.exercised and i.kind not in ("row", "requirement")}


def _names(path: Path) -> tuple[str, ...]:
    """The rulebooks a test file names (none when it cannot be read)."""
    try:
        test = read_test_file(path)
    except RulebookTestError:
        return ()
    return tuple(dict.fromkeys([test.rulebook, *(e.rulebook for e in test.expect if e.rulebook)]))


def _wanted(names: tuple[str, ...], rulebook_ids: set[str] | None) -> bool:
    if rulebook_ids is None:
        return True
    return bool(set(names) & rulebook_ids) or any(n.endswith(".mlx") for n in names)


def collect_tests(
    paths: list[Path] | None = None, rulebook_ids: set[str] | None = None
) -> CaseIndex:
    """Run the test files under ``paths`` (default: the shipped ones) that name one of
    ``rulebook_ids`` (all when None), and index the cases covering each statement.

    A file that cannot be read or run is listed in ``errors`` with the reason.
    """
    cases: list[CaseRun] = []
    index: dict[str, dict[str, list[TestRef]]] = {}
    errors: list[FileError] = []
    for path in find_test_files(paths):
        names = _names(path)
        shown = shown_path(path, shipped_dir())
        if not _wanted(names, rulebook_ids):
            continue
        try:
            results, runs = run_file(path)
        except (RulebookTestError, ValueError, KeyError) as exc:
            errors.append(FileError(file=shown, message=f"{shown}: {exc}", names=names))
            continue
        for case in results:
            cases.append(
                CaseRun(file=shown, name=case.name, rulebook=case.rulebook, passed=case.passed)
            )
            ref = TestRef(file=shown, case=case.name, passed=case.passed)
            for sid in sorted(_covered(runs, case)):
                index.setdefault(case.rulebook, {}).setdefault(sid, []).append(ref)
    by_statement = {rb: {s: tuple(refs) for s, refs in ids.items()} for rb, ids in index.items()}
    return CaseIndex(ran=True, cases=tuple(cases), by_statement=by_statement, errors=tuple(errors))
