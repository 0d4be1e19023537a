"""A collateral lot that no haircut statement selects is in the trace (schema 1.6): its
market value is in the equity, its value nothing, and before 1.6 no step listed it, so an
auditor could not find 100,000.00 of the equity (an independent reviewer's book H1)."""

from __future__ import annotations

import json
from pathlib import Path

from _evaluate_books import make_book
from typer.testing import CliRunner

from marginlex.audit.canonical import canonical_json
from marginlex.audit.trace.model import as_version
from marginlex.cli import app


def _explain(tmp_path: Path, *more: str) -> str:
    make_book(
        tmp_path,
        "H1,HOTEL,BD1,SEC,margin,customer,",
        "H1,XYZ,100",
        "HCORP,H1,CORP_BOND,100000,,\nHUSD,H1,USD,5000,,",
    )
    args = ["explain", "ms:H1", "--rulebook", "sec", "--book", str(tmp_path / "book"), *more]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_lot_no_statement_selects_is_traced_and_explained(tmp_path: Path) -> None:
    """Equity 100 XYZ x 100 = 10,000 + lots 105,000 = 115,000; value 10,000 + cash
    5,000 + the corporate bond, which no SEC schedule takes, 0 = 15,000."""
    trace = json.loads(_explain(tmp_path, "--format", "json"))
    assert (trace["figures"]["equity"], trace["figures"]["value"]) == ("115000.00", "15000.00")
    (lot,) = trace["unscheduled_lots"]
    assert (lot["lot_id"], lot["market_value"], lot["value"], lot["eligible"]) == (
        "HCORP",
        "100000.00",
        "0.00",
        False,
    )
    listed = [x["lot_id"] for s in trace["steps"] for x in (s["output"] or {}).get("lots", [])]
    assert listed == ["HUSD"]
    # written back as 1.5 recorded it: without the list
    body = canonical_json(trace)
    older = json.loads(as_version(body, "1.5"))
    assert "unscheduled_lots" not in older and older["schema_version"] == "1.5"
    text = _explain(tmp_path / "text")
    assert "Lots no haircut statement selects: value 0.00" in text
    assert (
        "HCORP CORP_BOND (H1) market value 100,000.00: value 0.00: no haircut schedule of "
        "the rulebook applies to this asset"
    ) in text


def test_the_console_compares_an_unscheduled_lot_as_an_input(tmp_path: Path) -> None:
    """The console's compare lists each lot as an input; one in no step was left out."""
    from marginlex.audit.trace.model import DecisionTrace  # noqa: PLC0415
    from marginlex.console.compare import _inputs  # noqa: PLC0415

    trace = DecisionTrace.model_validate_json(_explain(tmp_path, "--format", "json"))
    assert _inputs(trace)["collateral", "HCORP (H1)"] == "CORP_BOND 100,000.00"
