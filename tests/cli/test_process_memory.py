"""``keep_freed_memory``: glibc's mallopt takes the settings on this Linux machine, and
the stress command's figures do not depend on them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from marginlex.cli.process_memory import ARROW_POOL_ENV, keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_takes_every_setting() -> None:
    assert keep_freed_memory() is True


def test_stress_output_is_the_same_with_and_without_it() -> None:
    """The demo book under one scenario, in two processes: one keeps freed memory (the
    command does), one is stopped from doing so; the JSON is byte for byte the same."""
    base = [sys.executable, "-c"]
    run = (
        "import sys; import marginlex.cli.process_memory as pm; "
        "calls = []; real = pm.keep_freed_memory; "
        "pm.keep_freed_memory = lambda: calls.append(1) or {result}; "
        "from marginlex.cli import main; "
        "sys.argv = ['marginlex', 'stress', '--shock', 'class_group=SPX:-20%', "
        "'--format', 'json']\n"
        "try:\n    main()\nfinally:\n    print('CALLED', len(calls), file=sys.stderr)"
    )
    kept = subprocess.run(
        [*base, run.format(result="real()")], capture_output=True, text=True, check=False
    )
    plain = subprocess.run(
        [*base, run.format(result="False")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert kept.returncode == 0, kept.stderr
    assert "CALLED 1" in kept.stderr and "CALLED 1" in plain.stderr  # the command asks once
    assert kept.stdout == plain.stdout and '"scenarios"' in kept.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize(
    ("chosen", "pool"),
    [(None, "system"), ("mimalloc", "mimalloc")],
)
def test_arrow_allocates_from_glibc_unless_the_user_chose(chosen: str | None, pool: str) -> None:
    """Arrow's default pool becomes the system allocator (pandas imported before, as the
    commands do), unless ``ARROW_DEFAULT_MEMORY_POOL`` names one: then it is left alone."""
    env = {k: v for k, v in os.environ.items() if k != ARROW_POOL_ENV}
    if chosen is not None:
        env[ARROW_POOL_ENV] = chosen
    code = (
        "import pandas, pyarrow as pa\n"
        "from marginlex.cli.process_memory import keep_freed_memory\n"
        "before = pa.default_memory_pool().backend_name\n"
        "assert keep_freed_memory() is True\n"
        "print(before, pa.default_memory_pool().backend_name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.split()
    assert after == pool
    if chosen is not None:
        assert before == chosen
