"""Running a test file's ``[[property]]`` laws (:mod:`marginlex.engine.variants.properties`).

:func:`run_properties` reads one ``*.test.toml``, loads every rulebook its properties name
(ids, or ``.mlx`` paths relative to the file) and checks each property on generated books.
"""

from __future__ import annotations

from pathlib import Path

from marginlex.engine.variants.properties import PropertyResult, check_property, rulebook_names
from marginlex.engine.variants.rulebook_tests import _load, read_test_file


def run_properties(path: Path) -> list[PropertyResult]:
    """Check each ``[[property]]`` of one test file on generated books."""
    test = read_test_file(path)
    results = []
    for spec in test.property:
        names = rulebook_names(spec, test.rulebook)
        rulebooks = {n: _load(n, path.parent) for n in names}
        results.append(check_property(spec, path, test.rulebook, rulebooks))
    return results
