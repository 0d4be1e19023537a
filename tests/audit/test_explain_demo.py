"""Golden ``marginlex explain`` output for demo-book decisions recorded by ``run --ledger``.

Regenerate with ``MARGINLEX_REGEN_GOLDEN=1 pytest tests/audit/test_explain_demo.py`` and
review the diff of ``tests/data/audit/golden/demo/`` (a rulebook edit changes its sha256,
and so every decision id and trace of that rulebook).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from audit_helpers import mask_entry
from typer.testing import CliRunner

from marginlex.audit.ledger.store import Ledger
from marginlex.cli import app

GOLDEN = Path(__file__).parents[1] / "data" / "audit" / "golden" / "demo"
REGEN = os.environ.get("MARGINLEX_REGEN_GOLDEN") == "1"
CASES = {
    # an eligible portfolio-margin account: long stock and a short put, one class group
    "sec_A01_ALICE_PM": ("sec", "ms:A01_ALICE_PM"),
    # a CFTC Treasury cross-margin set: ZN futures with the cash Treasury taken in
    "cftc_A06_ECHO_XM": ("cftc", "ms:A06_ECHO_XM"),
    # digital-asset collateral capped at 40% of the requirement, and a call
    "cftc_A08_FOX_FUT": ("cftc", "ms:A08_FOX_FUT"),
    # customer collateral pledged to the house account: a segregation breach
    "sec_A10_HOTEL_MGN": ("sec", "ms:A10_HOTEL_MGN"),
    # customer collateral pledged to an affiliate and re-pledged twice to the house account
    "sec_A13_KILO_MGN": ("sec", "ms:A13_KILO_MGN"),
    # a cash account bought on a debit: paid in full (12 CFR 220.8), the whole debit called
    "sec_A16_NOVA_CASH": ("sec", "ms:A16_NOVA_CASH"),
}
FORMATS = {"txt": "text", "json": "json", "html": "html"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    path = str(tmp_path_factory.mktemp("demo") / "demo.db")
    result = CliRunner().invoke(app, ["run", "--ledger", path])
    assert result.exit_code == 0, result.stderr
    ledger = Ledger.open(path, create=False)
    rows = {(r.rulebook_id, r.margin_set_id): r.decision_id for r in ledger.query()}
    ledger.close()
    return path, {case: rows[key] for case, key in CASES.items()}


def _explain(path: str, decision_id: str, fmt: str) -> str:
    result = CliRunner().invoke(app, ["explain", decision_id, "--ledger", path, "-f", fmt])
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("ext", sorted(FORMATS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_demo_explain(recorded: tuple[str, dict[str, str]], case: str, ext: str) -> None:
    path, ids = recorded
    body = mask_entry(_explain(path, ids[case], FORMATS[ext]))  # run id, time, hash vary
    golden = GOLDEN / f"{case}.{ext}"
    if REGEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(body, encoding="utf-8")
    assert golden.exists(), f"no golden {golden}: run with MARGINLEX_REGEN_GOLDEN=1 and review"
    assert body == golden.read_text(encoding="utf-8"), f"{golden.name} differs from its golden"


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_line_cites_a_rule(recorded: tuple[str, dict[str, str]], case: str) -> None:
    path, ids = recorded
    lines = _explain(path, ids[case], "text").splitlines()
    assert lines and all(line.endswith("›") and "  ‹" in line for line in lines)


def test_the_text_reads_down_to_the_positions_and_lots(
    recorded: tuple[str, dict[str, str]],
) -> None:
    path, ids = recorded
    text = _explain(path, ids["cftc_A08_FOX_FUT"], "text")
    order = [
        "Decision ",
        "Requirement (maintenance) 210,000.00",
        "Class group SPX (span_scan",
        "Worst scenario 13: price -1 range, vol up",
        "A08_FOX_FUT ES_2609: quantity 10",
        "Eligibility treasury_cross_margin: NOT eligible",
        "FAIL dual_registrant",
        "Haircut cftc_digital_assets",
        'L09 BTC (A08_FOX_FUT) market value 150,000.00: row "BTC" 20% -> 120,000.00',
        "capped by cftc_digital_cap (kept 55%), value 66,000.00",
    ]
    found = [text.find(part) for part in order]
    shown = list(zip(order, found, strict=True))
    assert all(i >= 0 for i in found) and found == sorted(found), shown


def test_a_requirement_shows_every_value_it_read_and_its_when(
    recorded: tuple[str, dict[str, str]],
) -> None:
    """FOX has no uncovered-options approval but is an eligible contract participant: the
    harmonized qualified_owner passes through owner.ecp, which the trace showed only as
    ``options_approval=none`` beside PASS; and a requirement that did not apply said nothing
    of why (its ``when``), nor what ``account.holds(...)`` found."""
    path, _ = recorded
    text = _explain(path, "harmonized:ms:A08_FOX_FUT", "text")
    who = "A08_FOX_FUT"
    assert (
        f"PASS qualified_owner: uncovered-options approval with 100,000 USD equity, or an "
        f"eligible contract participant (owner.options_approval[{who}]=none, "
        f"account.equity[{who}]=270000.0, owner.ecp[{who}]=True)"
    ) in text
    assert f"(account.equity[{who}]=270000.0, when account.holds(sbs)[{who}]=False)" in text, (
        "min_equity_unlisted did not apply: its when read holds(sbs), False"
    )
    assert (
        f"(account.holds(crypto_perpetual)[{who}]=False, when account.regime[{who}]=CFTC)" in text
    )
