#!/usr/bin/env bash
# One command checks everything: install, lint, format, types, tests, docs.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
uv sync --quiet --extra dev
echo "== ruff";   uv run --no-sync ruff check .
echo "== format"; uv run --no-sync ruff format --check .
echo "== mypy";   uv run --no-sync mypy
echo "== docs";   NO_MKDOCS_2_WARNING=1 uv run --no-sync mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
echo "== doctests"; uv run --no-sync pytest -q -n 2 --doctest-modules marginlex
echo "== pytest"; uv run --no-sync pytest -n 2 "$@"
