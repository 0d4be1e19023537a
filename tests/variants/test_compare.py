"""`compare` and attribution on the demo book: hand-checked figures and exact attribution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import marginlex
from marginlex.cli import app
from marginlex.dsl.diff import diff_rulebooks
from marginlex.dsl.hybrid import hybrid
from marginlex.dsl.loader import load_rulebook
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.load import load_demo_book
from marginlex.engine.variants.attribution import _moves_nothing, switch_order
from marginlex.engine.variants.compare import CompareResult, compare
from marginlex.engine.variants.compare_json import SCHEMA, compare_json
from marginlex.engine.variants.figures import MEASURES, decide

BOOK = load_demo_book()


@pytest.fixture(scope="module")
def result() -> CompareResult:
    ids = ("sec", "harmonized", "harmonized_no_digital_collateral")
    return compare([load_rulebook(i) for i in ids], BOOK)


def _assert_exact(result: CompareResult) -> None:
    for c in result.comparisons:
        assert c.attribution is not None
        paired = result.account_deltas(c.to_id).set_index("account_id")
        sums = c.attribution.contributions.groupby("account_id")[list(MEASURES)].sum()
        changed = paired[(paired[[f"{x}_delta" for x in MEASURES]] != 0).any(axis=1)]
        assert sorted(sums.index) == sorted(changed.index)
        for measure in MEASURES:
            assert (sums[measure] == changed.loc[sums.index, f"{measure}_delta"]).all()


def test_totals_per_rulebook(result: CompareResult) -> None:
    totals = {t.rulebook_id: t for t in result.totals}
    for rulebook_id in ("sec", "harmonized"):
        alone = marginlex.evaluate(rulebook_id).decisions  # type: ignore[attr-defined]
        assert totals[rulebook_id].total_requirement == round(alone["maintenance"].sum(), 2)
        assert totals[rulebook_id].decisions == len(alone)
    assert (totals["sec"].decisions, totals["sec"].accounts_decided) == (13, 13)
    assert (totals["harmonized"].decisions, totals["harmonized"].accounts_decided) == (17, 19)
    # FOX's BTC and ETH (168,000 after 20% haircuts, capped at 40% of initial 231,000 =
    # 92,400) count for nothing
    extra = totals["harmonized_no_digital_collateral"].total_call - totals["harmonized"].total_call
    assert round(extra, 2) == 92400.00


def test_accounts_only_one_rulebook_decides_are_counted_and_said(result: CompareResult) -> None:
    """sec decides the 13 SEC accounts, harmonized all 19: the 6 CFTC accounts are decided
    by harmonized only, and the delta of the totals counts them (the counts table said
    nothing of them, and read 0 accounts compared against a delta for sec -> cftc)."""
    c = next(c for c in result.comparisons if c.to_id == "harmonized")
    assert (c.accounts_compared, c.now_decided, c.no_longer_decided) == (13, 6, 0)
    totals = {t.rulebook_id: t for t in result.totals}
    delta = totals["harmonized"].total_requirement - totals["sec"].total_requirement
    assert round(c.requirement_delta - delta, 2) == 0
    out = CliRunner().invoke(app, ["compare", "-r", "sec", "-r", "cftc"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    said = " ".join(out.stdout.split())
    assert (
        "the counts are of the accounts both decide; 6 account(s) only cftc decides and 13 "
        "account(s) only sec decides: the deltas count them too"
    ) in said


def test_merged_set_is_allocated_to_its_anchor(result: CompareResult) -> None:
    paired = result.account_deltas("harmonized").set_index("account_id")
    # A07_ECHO_SEC's securities are margined with A06_ECHO_XM under harmonized (ms:A06_ECHO_XM)
    assert paired.loc["A07_ECHO_SEC", "margin_set_id_b"] == "ms:A06_ECHO_XM"
    assert paired.loc["A07_ECHO_SEC", "requirement_b"] == 0
    assert paired.loc["A06_ECHO_XM", "requirement_b"] == 8241000  # cents
    assert not paired.loc["A06_ECHO_XM", "decided_a"]  # a CFTC account: not under sec


def test_no_digital_collateral_moves_one_account_by_the_capped_value(
    result: CompareResult,
) -> None:
    # FOX: BTC 150,000 and ETH 60,000 at 20% off = 168,000, capped at 40% of the initial
    # requirement 231,000 = 92,400
    c = result.comparisons[1]
    assert c.attribution is not None
    base = result.account_deltas("harmonized").set_index("account_id")
    other = result.account_deltas(c.to_id).set_index("account_id")
    moved = other["value_b"] - base["value_b"]
    assert moved[moved != 0].to_dict() == {"A08_FOX_FUT": -9240000}


def test_variant_against_harmonized_attributes_to_the_one_rule() -> None:
    result = compare(
        [load_rulebook("harmonized"), load_rulebook("harmonized_no_digital_collateral")], BOOK
    )
    c = result.comparisons[0]
    assert c.attribution is not None
    assert [(s.rules, s.value, s.call) for s in c.attribution.steps] == [
        (("cftc_digital_assets",), -92400.0, 92400.0)
    ]
    assert (c.worse_off, c.better_off, c.calls_created, c.calls_removed) == (1, 0, 0, 0)
    assert c.attribution.evaluated_accounts == 0  # one step: no hybrid to evaluate


def test_attribution_adds_up_exactly(result: CompareResult) -> None:
    _assert_exact(result)


def test_segregation_steps_move_no_figure() -> None:
    # attribution skips evaluating these steps: check that they indeed move nothing
    sec, harmonized = load_rulebook("sec"), load_rulebook("harmonized")
    columns = ["margin_set_id", "maintenance", "value", "call"]
    base = decide(sec, BOOK, BOOK.as_of)[columns]
    for sid in ("cftc_one_owner", "harmonized_merged_carrier"):
        mixed = decide(hybrid(sec, harmonized, [sid]), BOOK, BOOK.as_of)[columns]
        assert mixed.equals(base), sid
    # but one that says `not counted there` takes a lot's value: it is evaluated as a step
    # (HOTEL's 20,000 pledged to the house account H_BD1 counts nothing there)
    rule = "harmonized_customer_collateral"
    mixed = decide(hybrid(sec, harmonized, [rule]), BOOK, BOOK.as_of)
    house = mixed.set_index("margin_set_id").loc["ms:H_BD1", "value"]
    assert house == base.set_index("margin_set_id").loc["ms:H_BD1", "value"] - 20_000
    assert not _moves_nothing(hybrid(sec, harmonized, [rule]), sec, rule)
    assert _moves_nothing(hybrid(sec, harmonized, ["cftc_one_owner"]), sec, "cftc_one_owner")


def test_switch_order_new_parameters_first_removed_parameters_last() -> None:
    order = switch_order(diff_rulebooks(load_rulebook("sec"), load_rulebook("cftc")))
    assert order[:13] == [
        "span_vol_shift",
        "span_vol_floor",
        "span_extreme_multiple",
        "span_extreme_cover",
        "span_coverage",
        "span_liquidation",
        "short_option_minimum",
        "span_calendar_near",
        "span_calendar_far",
        "span_calendar_near_nano_crypto",
        "span_calendar_far_nano_crypto",
        "span_delivery_charge",
        "initial_to_maintenance",
    ]
    assert order[-10:] == [
        "pm_min_equity",
        "pm_min_equity_unlisted",
        "pm_option_rate",
        "pm_contract_minimum",
        "pm_offset_high_cap_broad",
        "pm_offset_broad",
        "pm_offset_narrow",
        "pdt_min_equity",
        "pm_concentration_share",
        "pm_concentration_rate",
    ]
    assert order.index("sec_accounts") < order.index("cftc_accounts")


def test_rules_that_need_each_other_form_one_step() -> None:
    # removing the eligibility rule alone leaves `eligible(portfolio_margin)` unanswered
    result = compare([load_rulebook("sec"), load_rulebook("cftc")], BOOK, workers=2)
    attribution = result.comparisons[0].attribution
    assert attribution is not None
    # (the step may hold more: since sec_pm_concentration, sec_house_capital joins it)
    together = {"portfolio_margin", "sec_portfolio_margin", "sec_strategy_based"}
    assert [s.rules for s in attribution.steps if together <= set(s.rules)]
    _assert_exact(result)


def test_compare_json_shape(result: CompareResult) -> None:
    doc = json.loads(json.dumps(compare_json(result)))
    assert doc["schema"] == SCHEMA
    assert set(doc) == {
        "schema",
        "book",
        "baseline",
        "allocation",
        "rulebooks",
        "comparisons",
        "accounts",
        "sets",
    }
    assert doc["baseline"] == "sec"
    assert len(doc["accounts"]) == 19
    fox = next(a for a in doc["accounts"] if a["account_id"] == "A08_FOX_FUT")
    assert fox["figures"]["harmonized"] == {
        "decided": True,
        "margin_set_id": "ms:A08_FOX_FUT",
        "anchor": True,
        "status": "call",
        "requirement": 210000.0,
        "value": 152400.0,  # 60,000 + 40% of initial 231,000
        "call": 78600.0,  # below maintenance: initial 231,000 - value 152,400
    }
    assert fox["figures"]["sec"]["decided"] is False
    comp = doc["comparisons"][0]
    assert {
        "from_id",
        "to_id",
        "better_off",
        "worse_off",
        "calls_created",
        "calls_removed",
        "largest_changes",
        "attribution",
    } <= set(comp)
    assert set(comp["attribution"]) == {
        "method",
        "non_operative",
        "changed_accounts",
        "evaluated_accounts",
        "steps",
        "accounts",
    }
    account = comp["attribution"]["accounts"][0]
    assert set(account) == {
        "account_id",
        "requirement_delta",
        "value_delta",
        "call_delta",
        "contributions",
    }
    total = sum(x["requirement"] for x in account["contributions"])
    assert round(total, 2) == account["requirement_delta"]


def _tweak(book: ResolvedRulebook, name: str, percent: int) -> ResolvedRulebook:
    statements = tuple(
        s.model_copy(
            update={"value": m.Quantity(amount=percent, unit=m.Unit.PERCENT, text=str(percent))}
        )
        if isinstance(s, m.Parameter) and s.id == name
        else s
        for s in book.statements
    )
    return book.model_copy(update={"statements": statements})


_IDS = diff_rulebooks(load_rulebook("sec"), load_rulebook("harmonized")).statement_ids


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picked=st.sets(st.sampled_from(_IDS), max_size=6),
    offset=st.integers(min_value=0, max_value=100),
)
def test_attribution_sums_to_the_delta_for_any_variant(picked: set[str], offset: int) -> None:
    sec = load_rulebook("sec")
    variant = _tweak(
        hybrid(sec, load_rulebook("harmonized"), sorted(picked), "variant"),
        "pm_offset_high_cap_broad",
        offset,
    )
    try:
        result = compare([sec, variant], BOOK)
    except (ValueError, KeyError):
        reject()  # a mix that does not evaluate on its own is not a rulebook anyone runs
    _assert_exact(result)


def test_cli_compare_json_and_report(tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "r.html"
    out = CliRunner().invoke(
        app,
        [
            "compare",
            "-r",
            "harmonized",
            "-r",
            "harmonized_no_digital_collateral",
            "--json",
            "--report",
            str(report),
        ],
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["comparisons"][0]["call_delta"] == 92400.0
    html = report.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 3
    assert "http://" not in html and "https://" not in html


def test_cli_compare_needs_two_rulebooks() -> None:
    out = CliRunner().invoke(app, ["compare", "-r", "sec"])
    assert out.exit_code == 2  # a usage error
    assert "give at least two rulebooks" in out.output


def test_cli_diff() -> None:
    out = CliRunner().invoke(app, ["diff", "harmonized", "harmonized_85pct_offsets"])
    assert out.exit_code == 0
    assert out.stdout.splitlines()[0] == (
        "diff harmonized -> harmonized_85pct_offsets: 0 added, 0 removed, 3 changed"
    )


def test_cli_compare_records_the_compared_runs_in_a_ledger(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = tmp_path / "ledger.db"
    out = CliRunner().invoke(
        app,
        [
            "compare",
            "-r",
            "harmonized",
            "-r",
            "harmonized_no_digital_collateral",
            "--ledger",
            str(ledger),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "34 decisions (2 rulebooks)" in out.output  # 17 sets each; the hybrid is not recorded
    verify = CliRunner().invoke(app, ["verify", "--ledger", str(ledger)])
    assert verify.exit_code == 0, verify.output


def test_a_variant_moving_only_value_and_call_is_counted_and_plotted() -> None:
    """harmonized_no_digital_collateral refuses A08's digital collateral: value -92,400 and call
    +92,400 on one account, requirement unchanged. The head table counts it as changed, and the
    plot's three panels agree: 0 requirement, 1 value and 1 call delta."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from marginlex.engine.variants.report import delta_figure  # noqa: PLC0415

    result = compare(
        [load_rulebook("harmonized"), load_rulebook("harmonized_no_digital_collateral")], BOOK
    )
    c = result.comparisons[0]
    assert (c.changed, c.unchanged) == (1, c.accounts_compared - 1)
    fig = delta_figure(result, c)
    assert fig._suptitle.get_text().endswith(": 1 account(s) changed")
    assert [ax.get_title() for ax in fig.axes] == [
        "requirement: 0 account(s) moved",
        "value: 1 account(s) moved",
        "call: 1 account(s) moved",
    ]
    value_axis = fig.axes[1].xaxis
    labels = [value_axis.get_major_formatter()(x, 0) for x in (-84_000.0, 2.5e7)]
    assert labels == ["-$84K", "$25M"]
    plt.close(fig)


def test_compare_reports_each_evaluation_and_hybrid_as_progress() -> None:
    told: list[tuple[str, int, int]] = []
    compare(
        [load_rulebook("sec"), load_rulebook("harmonized")],
        BOOK,
        progress=lambda what, done, total: told.append((what, done, total)),
    )
    assert told[:2] == [("evaluate", 1, 2), ("evaluate", 2, 2)]
    hybrids = told[2:]
    assert hybrids, "sec -> harmonized differs in many statements: hybrids are evaluated"
    total = hybrids[0][2]
    assert hybrids == [("attribute harmonized", k, total) for k in range(1, total + 1)]


def test_plain_progress_lines_without_a_terminal() -> None:
    import io  # noqa: PLC0415

    from marginlex.cli.progress import PlainLines  # noqa: PLC0415

    stream = io.StringIO()
    lines = PlainLines(stream, every=3600.0)
    for done in range(1, 6):
        lines("attribute x", done, 5)
    # the first line, then silence within the period, then the end
    shown = stream.getvalue().splitlines()
    assert [s.split(",")[0] for s in shown] == ["attribute x: 1/5", "attribute x: 5/5"]
    assert shown[-1].startswith("attribute x: 5/5, done in ")


def test_a_call_moved_alone_counts_and_ranks(tmp_path: Path) -> None:
    """A 125% initial multiple (cftc's is 110%) moves a futures customer's call alone: the
    call restores the initial requirement. GOLF: value 10,000, maintenance 57,000: call
    71,250 - 10,000 = 61,250 (was 62,700 - 10,000 = 52,700), +8,550 with its excess
    unchanged: worse off (it was counted changed but neither), and among the largest
    changes (it was left out). FOX: its digital assets are capped at 40% of the initial,
    so its value rises 0.4 x (262,500 - 231,000) = 12,600 and its call 97,500 - 78,600 =
    18,900: better off by its excess, as before."""
    variant = tmp_path / "init125.mlx"
    variant.write_text(
        'rulebook init125 "CFTC with a 125% initial multiple"\n  jurisdiction CFTC\n'
        '  version "1"\n  effective from 2026-01-01\n  cites "test"\n  extends cftc\n\n'
        'override parameter initial_to_maintenance = 125%\n  cites "test"\n'
        "  status illustrative\n"
    )
    result = CliRunner().invoke(
        app, ["compare", "-r", "cftc", "-r", str(variant), "--json", "--no-attribution"]
    )
    assert result.exit_code == 0, result.output
    (c,) = json.loads(result.stdout)["comparisons"]
    assert (c["changed"], c["better_off"], c["worse_off"]) == (2, 1, 1)
    assert [(m["account_id"], m["call_delta"], m["value_delta"]) for m in c["largest_changes"]] == [
        ("A08_FOX_FUT", 18900.0, 12600.0),
        ("A09_GOLF_FUT", 8550.0, 0.0),
    ]
