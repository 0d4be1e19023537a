#!/usr/bin/env bash
# One command checks everything: install, lint, format, types, tests, docs.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
uv sync --quiet --extra dev
# The console's browser test drives Debian's Chromium (tests/console/test_browser.py): install
# it where apt can; under CI a missing browser fails that test instead of skipping it.
if [ ! -x "${MARGINLEX_CHROMIUM:-/usr/bin/chromium}" ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium \
    || echo "warning: could not install chromium; the browser test will skip (fail under CI)"
fi
echo "== ruff";   uv run --no-sync ruff check .
echo "== format"; uv run --no-sync ruff format --check .
echo "== mypy";   uv run --no-sync mypy
echo "== docs";   NO_MKDOCS_2_WARNING=1 uv run --no-sync mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
echo "== doctests"; uv run --no-sync pytest -q -n 2 --doctest-modules marginlex
echo "== pytest"; uv run --no-sync pytest -n 2 "$@"
