"""``marginlex.dsl`` imports its stages on first use (issue 16, part 3)."""

from __future__ import annotations

import subprocess
import sys
from types import FunctionType


def _fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def test_a_light_module_of_the_package_builds_no_model() -> None:
    code = (
        "import sys, marginlex.dsl.cache; "
        "print(sorted(m for m in ('pydantic', 'lark', 'marginlex.dsl.model') if m in sys.modules))"
    )
    assert _fresh(code) == "[]"


def test_a_stage_is_not_hidden_by_its_subpackage() -> None:
    """``resolve`` is the function even after the subpackage ``marginlex.dsl.resolve`` loads."""
    code = (
        "import marginlex.dsl.resolve, marginlex.dsl as d; "
        "print(type(d.resolve).__name__, d.resolve.__module__)"
    )
    assert _fresh(code) == "function marginlex.dsl.resolve.resolver"


def test_every_exported_name_is_the_stage_it_names() -> None:
    import marginlex.dsl as dsl  # noqa: PLC0415

    for name in dsl.__all__:
        value = getattr(dsl, name)
        assert getattr(value, "__name__", None) == name
        assert isinstance(value, type | FunctionType)
