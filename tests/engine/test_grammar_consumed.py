"""Nothing parsed and then ignored: every clause of the grammar is consumed or refused.

The walk lists every rule and alias of ``dsl/grammar.lark`` (from the parser lark builds)
and fails on any that :data:`CLAUSES` does not classify. Each classification is checked:

- :class:`Changes`: a one-clause edit of a shipped rulebook changes the decisions or trace
  frames (compiled by ``engine/plan/compile.py``, then evaluated) of the book of that rulebook's
  tests (``rulebooks/tests``) or of the demo book;
- :class:`Refused`: the edit is refused with this code or text, by the checker (``load``)
  or by compilation (``CompileError``);
- :class:`Evidence`: the clause is what the audit trail records (citations, statuses,
  header fields): the edit changes the rulebook sha256 every trace and ledger entry carries;
- :class:`Handled`: syntax inside a clause (expressions, statement wrappers); the model
  node it builds has a handler in the evaluator's dispatch table, or the rule only shapes
  the clauses listed above.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from marginlex.audit.ledger.recorded_inputs import rulebook_bundle, rulebook_sha256
from marginlex.dsl.diagnostics import RulebookError
from marginlex.dsl.loader import load_rulebook, shipped_dir
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.parser import _parser
from marginlex.engine.book.load import Book, load_demo_book
from marginlex.engine.evaluate import evaluate_run
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.phases.reuse import Reuse, reuse_from
from marginlex.engine.phases.segregation import _CONSTRAINTS
from marginlex.engine.plan.compile import CompileError, compile_plan
from marginlex.engine.plan.expressions import HANDLERS
from marginlex.engine.variants.rulebook_tests import SUFFIX, build_book, read_test_file


@dataclass(frozen=True)
class Changes:
    rulebook: str
    old: str
    new: str
    book: str = "tests"  # or "demo": the demo book (portfolio margin accounts with options)


@dataclass(frozen=True)
class Refused:
    rulebook: str
    old: str
    new: str
    says: str


@dataclass(frozen=True)
class Evidence:
    rulebook: str
    old: str
    new: str


@dataclass(frozen=True)
class Handled:
    by: tuple[type, ...] = ()
    why: str = ""


Probe = Changes | Refused | Evidence | Handled

_RANGE = "range when instrument.index_class = high_cap_broad up 6% down 8%"
_SCAN = "range when instrument.product = index_future 7%"

_REMOVE = "remove eligibility treasury_cross_margin"
_REMOVE_EXT = 'extend eligibility portfolio_margin\n  cites "probe"\n  {change}\n\n' + _REMOVE

_ROWS = 'extend haircut sec_treasuries\n  cites "probe"\n  {change}\n\n' + _REMOVE


_LEGS = "    index_future 50%\n    ust_future 30%"
_LEGS_AS = "    {a} with {b} 50%\n    ust_future with ust_future 30%"
_TIER = "index_future expiring {}"


def _extended(change: str) -> str:
    """The harmonized eligibility extended by one requirement no account meets."""
    return _REMOVE_EXT.format(
        change=f'{change}: account.equity >= 1,000,000,000 USD because "probe"'
    )


CLAUSES: dict[str, Probe] = {
    # ---- header
    "header": Handled(why="holds the header clauses below"),
    "header_item": Handled(why="one of the header clauses below"),
    "jurisdiction": Evidence("sec", "jurisdiction SEC", "jurisdiction FINRA"),
    "version": Evidence("sec", 'version "2026.1"', 'version "2026.2"'),
    "extends": Refused("harmonized", "extends sec, cftc", "extends sec", "cftc_"),
    "effective": Handled(why="`effective_from` or `effective_until`"),
    "replaces": Handled(
        why="which file an id names: consumed by the loader (tests/dsl/test_claims.py)"
    ),
    "accept": Handled(
        why="accepts a checker finding: consumed by the SMT checker (tests/dsl/test_conflicts.py)"
    ),
    "effective_from": Refused(
        "sec", "effective from 2026-01-01", "effective from 2027-01-01", "is in force from"
    ),
    "effective_until": Changes(
        "sec",
        "offset sec_product_group_credits",
        "offset sec_product_group_credits\n  effective until 2026-02-01",
    ),
    # ---- clauses of every statement
    "clause": Handled(why="cites, status or effective"),
    "cites": Evidence("sec", 'cites "FINRA Rule 4210', 'cites "FINRA Rule 4210 (probe)'),
    "status": Evidence("sec", "status verified", "status secondary"),
    "status_word": Handled(why="the word of `status` and of a note"),
    "note": Evidence("cftc", "30% [illustrative]", "30% [secondary]"),
    "note_item": Handled(why="a status word or cites inside a note"),
    # ---- statements
    "start": Handled(why="the file: a header and statements"),
    "statement": Handled(why="a definition, override or removal"),
    "definition": Handled(why="one of the statement kinds below"),
    "override": Refused(
        "harmonized", "override margin sec_strategy_based", "margin sec_strategy_based", "MLX211"
    ),
    "removal": Changes(
        "harmonized",
        'remove eligibility treasury_cross_margin\n  cites "Joint request for comment 2026: '
        "the common eligibility replaces the Treasury order's\"",
        "",
    ),
    "kind_word": Handled(why="the kind named by `remove`"),
    "extension": Handled(why="holds the requirement changes below, applied by resolution"),
    "extension_item": Handled(why="a clause or one requirement change"),
    "added_requirement": Changes("harmonized", _REMOVE, _extended("add require probe")),
    "replaced_requirement": Changes(
        "harmonized", _REMOVE, _extended("replace require qualified_owner")
    ),
    "dropped_requirement": Changes(
        "harmonized", _REMOVE, _REMOVE_EXT.format(change="drop require dual_registrant")
    ),
    "haircut_extension": Handled(why="holds the row changes below, applied by resolution"),
    "margin_extension": Handled(why="holds the row changes below, applied by resolution"),
    "haircut_edit": Handled(why="a clause or one row change of a haircut table"),
    "margin_edit": Handled(why="a clause or one row change of a margin method's table"),
    "margin_row": Handled(why="a range, scan or rate row, as its table writes it"),
    "edited_asset_row": Handled(why="an asset row of `add row` / `replace row`"),
    "bucket_key": Handled(why="the `under BOUND` key of `drop row`"),
    "bucket_key_up_to": Handled(why="the `up to BOUND` key of `drop row`"),
    "added_row": Changes(
        "harmonized", _REMOVE, _ROWS.format(change="add row under 9.99 years 50%")
    ),
    "replaced_row": Changes(
        "harmonized", _REMOVE, _ROWS.format(change="replace row under 10 years 50%")
    ),
    "dropped_row": Changes("harmonized", _REMOVE, _ROWS.format(change="drop row under 10 years")),
    "parameter": Changes("sec", "pm_min_equity = 100,000 USD", "pm_min_equity = 300,000 USD"),
    "scope": Handled(why="holds `decides`"),
    "scope_item": Handled(why="a clause or `decides`"),
    "decides": Changes(
        "sec",
        "decides account where account.regime = SEC",
        # (not `account.origin = customer`: no account would reach sec_house_capital, MLX606;
        # cash accounts kept so that one reaches sec_cash_account)
        "decides account where account.regime = SEC and account.kind in {portfolio_margin, cash}",
    ),
    "eligibility": Handled(why="holds requirements"),
    "eligibility_item": Handled(why="a clause or a requirement"),
    "requirement": Changes(
        "sec",
        "require pm_account: account.kind = portfolio_margin",
        "require pm_account: account.kind in {portfolio_margin, margin}",
    ),
    "when": Changes("sec", "when account.holds(sbs)", "when account.holds(stock)"),
    "segregation": Handled(why="holds one constraint"),
    "segregation_item": Handled(why="a clause or a constraint"),
    "collateral_flow": Changes(
        "sec",
        "must not reach account where account.origin = house",
        "must not reach account where account.origin = customer",
    ),
    "carrier_kinds": Changes(
        "sec", "must be carried by {broker_dealer, bd_fcm}", "must be carried by {bd_fcm}"
    ),
    "constraint": Handled(why="one of the constraints below"),
    "single_owner": Handled(
        (m.SingleOwner,),
        "an invariant: sets merge by owner and carrier, so no shipped book can break it; "
        "engine/phases/segregation.py tests it on every merged set",
    ),
    "merged_carrier": Changes(
        "harmonized",
        "must be carried by {bd_fcm} under {subordination}",
        "must be carried by {fcm} under {subordination}",
    ),
    "haircut": Handled(why="holds a haircut body"),
    "haircut_item": Handled(why="a clause or a body"),
    "haircut_body": Handled(why="one of the bodies below"),
    "where": Changes(
        "sec",
        "where collateral.asset in {USD, STOCK, ETF, MMF}",
        # dropping MMF (the demo's A12 holds a fund lot); dropping STOCK would leave
        # `sec_cash_account_securities` (STOCK, ETF) overlapping it only in part (MLX602)
        "where collateral.asset in {USD, STOCK, ETF}",
    ),
    "maturity_buckets": Handled(why="holds the buckets"),
    "bucket": Changes("sec", "under 10 years 4%", "under 10 years 9%"),
    "bucket_otherwise": Changes("cftc", "otherwise 6%", "otherwise 16%"),
    "bucket_up_to": Changes("cftc", "up to 3 years 2%", "up to 3 years 7%"),
    "asset_table": Handled(why="holds asset rows"),
    "asset_row": Changes("cftc", "USD 0%", "USD 10%"),
    "asset_otherwise": Changes(
        "cftc",
        'otherwise ineligible because "outside the CFTC digital asset collateral pilot"',
        "otherwise 50%",
    ),
    "outcome": Handled(why="a rate or `ineligible`"),
    "rate_outcome": Handled(why="the rate of a bucket or row (probed by `bucket`)"),
    "ineligible_outcome": Changes(
        "cftc", '"outside the CFTC digital asset collateral pilot"', '"outside the pilot"'
    ),
    "flat_rate": Changes(
        "sec",
        'ineligible because "digital assets are not eligible collateral in a securities account"',
        "rate 50%",
    ),
    "flat_ineligible": Changes(
        "sec",
        '"digital assets are not eligible collateral in a securities account"',
        '"not eligible"',
    ),
    "more_conservative": Changes(
        "harmonized",
        "{sec_treasuries, sec_other_assets} and {cftc_treasuries, cftc_other_assets}",
        "sec_treasuries, sec_other_assets, cftc_treasuries, cftc_other_assets",
    ),
    "more_conservative_regimes": Changes(
        "harmonized",
        "{sec_treasuries, sec_other_assets} and {cftc_treasuries, cftc_other_assets}",
        "{sec_treasuries, sec_other_assets} and {cftc_treasuries}",
    ),
    "concentration": Handled(why="holds a limit"),
    "concentration_item": Handled(why="a clause or a limit"),
    "limit": Changes(
        "cftc", "at most 40% of initial requirement", "at most 5% of initial requirement"
    ),
    "initial_base": Changes("cftc", "40% of initial requirement", "40% of requirement"),
    # ---- margin methods
    "margin": Handled(why="holds `applies` and a method"),
    "margin_item": Handled(why="a clause, `applies` or a method"),
    "applies": Changes(
        "cftc",
        "applies to account where account.regime = CFTC and account.origin = customer",
        "applies to account where account.regime = CFTC",
    ),
    "method": Handled(why="one of the methods below"),
    "scenario_grid": Handled(why="holds points, option model, ranges and a minimum"),
    "grid_item": Handled(why="one of the grid items below"),
    "points": Changes("sec", "points 10", "points 4"),
    "option_model": Changes(
        "sec", "black_scholes rate pm_option_rate", "black_scholes rate 20%", book="demo"
    ),
    "range_row": Changes("sec", _RANGE, _RANGE.replace("down 8%", "down 12%")),
    "range_spec": Handled(why="the figures of a range row"),
    "range_both": Changes("harmonized", "up and down 6% as", "up and down 9% as"),
    "selector": Handled(why="`when EXPR` or `otherwise` of a row"),
    "otherwise": Changes("cftc", "range otherwise 15%", "range otherwise 25%"),
    "minimum": Changes("sec", "minimum pm_contract_minimum per", "minimum 100 USD per"),
    "times": Refused(
        "sec", "per contract times multiplier", "per contract", "not times multiplier"
    ),
    "for_positions": Changes(
        "sec",
        "for position where instrument.product in {equity_option, index_option, "
        "index_future, ust_future, crypto_future, sbs}",
        "for position where instrument.product in {index_option}",
    ),
    "span_scan": Handled(why="holds the SPAN items"),
    "span_item": Handled(why="one of the SPAN items below"),
    "steps": Refused("cftc", "steps 3", "steps 5", "other than 3 steps"),
    "vol_shift": Changes("cftc", "volatility shift span_vol_shift", "volatility shift 1%"),
    "vol_relative": Changes(
        "cftc", "span_vol_shift of implied at least span_vol_floor", "span_vol_shift"
    ),
    "extreme": Changes(
        "cftc", "extreme span_extreme_multiple counted span_extreme_cover", "extreme 6x counted 90%"
    ),
    "coverage": Changes(
        "cftc", "coverage span_coverage over span_liquidation", "coverage 99% over 2 days"
    ),
    "calendar_spreads": Changes(
        "cftc",
        "calendar spreads by delta\n      for position where instrument.product in {index_future,",
        "calendar spreads by delta\n      for position where instrument.product in {",
    ),
    "spread_tier": Changes(
        "cftc",
        "up to 3 months span_calendar_near per spread",
        "up to 3 months 900 USD per spread",
    ),
    "calendar_case": Changes(
        "cftc",
        "when instrument.product in {crypto_future, crypto_perpetual}",
        "when instrument.product in {index_future}",
    ),
    "spread_tier_otherwise": Changes(
        "cftc", "otherwise span_calendar_far per spread", "otherwise 900 USD per spread"
    ),
    "delivery_charge": Changes(
        "cftc",
        "delivery month span_delivery_charge per contract",
        "delivery month 900 USD per contract",
    ),
    "prefer_instrument": Changes(
        "cftc", "prefer instrument scan_range", "ignore instrument scan_range"
    ),
    "ignore_instrument": Changes(
        "cftc", "prefer instrument scan_range", "ignore instrument scan_range"
    ),
    "scan_row": Changes("cftc", _SCAN, _SCAN.replace("7%", "9%")),
    # a `rates` statement of its own would overlap sec_strategy_based or sec_house_capital
    # (MLX607): the probe adds a first row to sec_house_capital's table instead
    "rates": Changes("sec", "  rates\n", "  rates\n    when instrument.product = stock 90%\n"),
    # the house account's 15c3-1 haircut on stock (demo H_BD1: 10,000 ABC)
    "rate_row": Changes(
        "sec",
        "when instrument.product in {stock, etf} 15%",
        "when instrument.product in {stock, etf} 40%",
    ),
    # a house short equity option (sec.test.toml's H_BD1_OPT): 15c3-1's strategy-based
    # deduction, of its underlying's value, against 15% of its premium without the clause
    "of_underlying": Changes(
        "sec",
        "15% of underlying less out of the money at least 7.5% at least 2.50 USD per share",
        "15%",
    ),
    # the floors of the far out-of-the-money XC150 (750) and the LOW3 call (250)
    "underlying_floor": Changes(
        "sec", "out of the money at least 7.5% at least 2.50", "out of the money at least 2.50"
    ),
    "share_floor": Changes("sec", "at least 7.5% at least 2.50 USD per share", "at least 7.5%"),
    "strategy_based": Handled(why="holds strategy rows and rate rows"),
    "strategy_item": Handled(why="a strategy row or a rate row"),
    "strategy_row": Changes("sec", "long_stock 25%", "long_stock 35%"),
    "initial_multiple": Changes(
        "cftc", "initial initial_to_maintenance of maintenance", "initial 150% of maintenance"
    ),
    # a pattern day trader's minimum equity (rulebooks/tests/sec.test.toml's T_PDT)
    "minimum_equity": Changes("sec", "minimum equity pdt_min_equity", "minimum equity 40,000 USD"),
    # a concentrated single name (rulebooks/tests/sec.test.toml's T_CONC)
    "concentration_add_on": Changes(
        "sec", "concentration add pm_concentration_rate", "concentration add 9%"
    ),
    "restores": Changes("cftc", "of maintenance, calls restore initial", "of maintenance"),
    # ---- offsets
    "offset": Handled(why="holds one offset rule"),
    "offset_item": Handled(why="a clause or an offset rule"),
    "offset_rule": Handled(why="one of the offset rules below"),
    "netting": Refused(
        "sec", "net within class group 100%", "net within class group 50%", "other than 100%"
    ),
    "class_group_credit": Handled(why="holds credit rows"),
    "leg_credit": Changes(
        "cftc", "credit each leg between class groups", "credit between class groups"
    ),
    "credit_row": Changes("sec", "high_cap_broad pm_offset_high_cap_broad", "high_cap_broad 50%"),
    # leg ratios and tiers (no shipped rulebook writes one): the cftc spreads table as pairs
    # with them; tests/engine/test_domain_span_tiers.py has each one's figures by hand
    "spread_ratio": Changes("cftc", _LEGS, _LEGS_AS.format(a="3 index_future", b="1 index_future")),
    "expiring": Handled(why="a leg's tier: `expiring_after` or `expiring_within`"),
    "expiring_within": Changes(
        "cftc",
        _LEGS,
        _LEGS_AS.format(a=_TIER.format("within 3 months"), b=_TIER.format("after 3 months")),
    ),
    "expiring_after": Changes(
        "cftc",
        _LEGS,
        _LEGS_AS.format(a=_TIER.format("after 1 month"), b=_TIER.format("within 1 month")),
    ),
    # the CME-FICC DV01 pairing (demo A06_ECHO_XM: 57 ZN short against 5,000 notes, both in
    # the intermediate bucket); tests/engine/test_domain_cme_ficc.py has its figures by hand
    "dv01_pairing": Changes(
        "cftc",
        "pair dv01 of CME position where instrument.product = ust_future",
        "pair dv01 of CME position where instrument.product = index_future",
    ),
    "pairing_row": Changes(
        "cftc",
        "intermediate with intermediate 80% [illustrative]",
        "intermediate with intermediate 60% [illustrative]",
    ),
    "pairing_bucket": Handled(
        why="a bucket moves a future and its deliverable together (the demo's pair stays "
        "on the diagonal): tests/engine/test_domain_cme_ficc.py pairs across buckets"
    ),
    "pairing_bucket_otherwise": Handled(
        why="the last bucket: tests/engine/test_domain_cme_ficc.py pairs a bond in it"
    ),
    "separate": Handled(
        why="states the default (every account alone, as when no `sets` rule applies) "
        "explicitly; `merge_accounts` and `take_in` probe the `sets` rules"
    ),
    "merge_accounts": Changes(
        "harmonized",
        "sets merge account where eligible(portfolio_margin)",
        "sets merge account where eligible(portfolio_margin) and account.kind = futures",
    ),
    "take_in": Changes(
        "cftc",
        "takes in position where instrument.product in {ust_bill, ust_note, ust_bond, ust_strip}",
        "takes in position where instrument.product in {ust_bill}",
    ),
    "give_up": Changes(
        "sec",
        "sets position where instrument.product in {ust_bill, ust_note, ust_bond, ust_strip}",
        "sets position where instrument.product in {ust_bill}",
        book="demo",
    ),
    # ---- values and expressions: each builds a node the evaluator dispatches on
    "name_set": Handled(why="the kinds of a carrier constraint (probed there)"),
    "other_owner": Changes(
        "cftc", "must not reach account of another owner where", "must not reach account where"
    ),
    "held_in_cash": Changes("sec", "strategy based held in cash", "strategy based"),
    # a short stock at $10 (S_SHORT_10): 5,000 a share's minimum, 3,000 without it
    "per_share": Changes("sec", "short_stock 30% at least 5 USD per share,", "short_stock 30%,"),
    # a short stock at $3 (S_SHORT_3): 100% under $5, 900 (30%) without the tier
    "low_price": Changes(
        "sec", ",\n      under 5 USD a share 100% at least 2.50 USD per share", ""
    ),
    "by_delta": Changes(
        "cftc",
        "calendar spreads by delta\n      for position where instrument.product in {index_future,",
        "calendar spreads\n      for position where instrument.product in {index_future,",
    ),
    "not_counted": Changes(
        "cftc",
        "account.origin = customer, not counted there",
        "account.origin = customer",
    ),
    "value": Handled(why="a quantity or a parameter"),
    "param": Handled((m.ParamRef,)),
    "quantity": Handled((m.Quantity,)),
    "unit": Handled(why="the unit of a quantity; units convert to base units"),
    "expr": Handled(why="an or-test"),
    "or_test": Handled(why="an and-test"),
    "and_test": Handled(why="a not-test"),
    "not_test": Handled(why="a comparison"),
    "comparison": Handled(why="one of the comparisons below"),
    "atom": Handled(why="one of the atoms below"),
    "or_": Handled((m.Or,)),
    "and_": Handled((m.And,)),
    "not_": Handled((m.Not,)),
    "compare": Handled((m.Compare,)),
    "cmp_op": Handled(why="the operator of a comparison"),
    "member": Handled((m.Membership,)),
    "not_member": Handled((m.Membership,)),
    "graph": Handled((m.GraphPredicate,)),
    "relation": Handled(why="the relation of a graph predicate"),
    "call": Handled((m.Holds,)),
    "eligible": Handled((m.Eligible,)),
    "set": Handled((m.SetOf,)),
    "date": Handled((m.DateValue,)),
    "text": Handled((m.Text,)),
    "true": Handled((m.BoolValue,)),
    "false": Handled((m.BoolValue,)),
    "symbol": Handled((m.Symbol,)),
    "field": Handled((m.FieldRef,)),
}


def grammar_clauses() -> set[str]:
    """Every rule and alias of the grammar (lark's generated ``__x_star_n`` helpers aside)."""
    names = {str(r.alias or r.origin.name) for r in _parser().rules}
    names |= {str(r.origin.name) for r in _parser().rules}
    return {n for n in names if not n.startswith("_")}


def test_every_grammar_clause_is_classified() -> None:
    unknown = sorted(grammar_clauses() - CLAUSES.keys())
    assert not unknown, f"grammar clauses nobody consumes or refuses: {unknown}"
    assert not sorted(CLAUSES.keys() - grammar_clauses()), "stale entries in CLAUSES"


def test_handled_nodes_have_an_evaluator() -> None:
    dispatch = {*HANDLERS, *_CONSTRAINTS}
    for name, probe in CLAUSES.items():
        if isinstance(probe, Handled):
            assert probe.by or probe.why, name
            for cls in probe.by:
                assert cls in dispatch, f"{name}: {cls.__name__} has no evaluator"


AS_OF = dt.date(2026, 6, 30)


def _text(rulebook: str, old: str, new: str) -> str:
    text = (shipped_dir() / f"{rulebook}.mlx").read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} is not in {rulebook}.mlx"
    text = text.replace(old, new, 1)
    return text.replace(f'rulebook {rulebook} "', f'rulebook probe_{rulebook} "', 1)


def _load(tmp: Path, text: str) -> m.Rulebook | object:
    path = tmp / "probe.mlx"
    path.write_text(text, encoding="utf-8")
    return load_rulebook(path)


@functools.cache
def _book(rulebook: str, which: str) -> Book:
    """The book of the rulebook's own tests (rulebooks/tests/RULEBOOK.test.toml), or the demo."""
    if which == "demo":
        return load_demo_book()
    path = shipped_dir() / "tests" / f"{rulebook}{SUFFIX}"
    return build_book(read_test_file(path), path)


@functools.cache
def _base(rulebook: str, which: str, tmp: Path) -> tuple[Evaluation, Reuse]:
    resolved = _load(tmp, _text(rulebook, "rulebook", "rulebook"))
    plan = compile_plan(resolved, AS_OF)  # type: ignore[arg-type]
    return evaluate_run(plan, _book(rulebook, which), AS_OF)


def _same(a: Evaluation, b: Evaluation) -> bool:
    if not a.decisions.equals(b.decisions):
        return False
    return all(a.frames[k].equals(b.frames[k]) for k in a.frames)


def _probes(kind: type) -> list[tuple[str, Probe]]:
    return [(n, p) for n, p in CLAUSES.items() if isinstance(p, kind)]


@pytest.mark.parametrize(("name", "probe"), _probes(Changes), ids=lambda x: str(x)[:20])
def test_the_clause_changes_the_evaluation(
    name: str, probe: Changes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base_dir = tmp_path_factory.getbasetemp() / f"base_{probe.rulebook}"
    base_dir.mkdir(exist_ok=True)
    before, reuse = _base(probe.rulebook, probe.book, base_dir)
    resolved = _load(tmp_path_factory.mktemp(name), _text(probe.rulebook, probe.old, probe.new))
    plan = compile_plan(resolved, AS_OF)  # type: ignore[arg-type]
    book = _book(probe.rulebook, probe.book)
    after, _ = evaluate_run(plan, book, AS_OF, reuse=reuse_from(reuse, plan))
    assert not _same(before, after), f"`{name}`: the edit changed nothing on the {probe.book} book"


@pytest.mark.parametrize(("name", "probe"), _probes(Refused), ids=lambda x: str(x)[:20])
def test_the_clause_is_refused(name: str, probe: Refused, tmp_path: Path) -> None:
    with pytest.raises((RulebookError, CompileError)) as caught:
        compile_plan(_load(tmp_path, _text(probe.rulebook, probe.old, probe.new)), AS_OF)  # type: ignore[arg-type]
    exc = caught.value
    shown = str(exc)
    if isinstance(exc, RulebookError):
        shown = " ".join(f"{d.code.value} {d.message} {d.hint}" for d in exc.diagnostics)
    assert probe.says in shown


@pytest.mark.parametrize(("name", "probe"), _probes(Evidence), ids=lambda x: str(x)[:20])
def test_the_clause_is_recorded(name: str, probe: Evidence, tmp_path: Path) -> None:
    base = _load(tmp_path, _text(probe.rulebook, "rulebook", "rulebook"))
    sha = rulebook_sha256(rulebook_bundle(base))  # type: ignore[arg-type]
    edited = _load(tmp_path, _text(probe.rulebook, probe.old, probe.new))
    assert rulebook_sha256(rulebook_bundle(edited)) != sha  # type: ignore[arg-type]


def test_a_compiled_rulebook_refuses_a_coverage_below_the_floor_through_a_parameter() -> None:
    cftc = load_rulebook("cftc")
    statements = tuple(
        s.model_copy(update={"value": s.value.model_copy(update={"amount": 97.5})})
        if isinstance(s, m.Parameter) and s.id == "span_coverage"
        else s
        for s in cftc.statements
    )
    with pytest.raises(
        CompileError,
        match=r"cftc.mlx:\d+:\d+: rule `cftc_span`: .*"
        r"a SPAN coverage of 97.5 % \(below the regulatory minimum\) \[MLX303\]",
    ):
        compile_plan(cftc.model_copy(update={"statements": statements}), AS_OF)


def test_the_span_minimum_counts_only_the_contracts_its_condition_selects(tmp_path: Path) -> None:
    """C_KAY (cftc tests): long 1 OPA, short 1 OPB, the same index call: the scan nets to 0
    and the short option minimum is 0.375 x 50 x 1 = 18.75. With the minimum restricted to
    equity options, no contract of C_KAY is selected: 0."""
    old = "and instrument.product in {equity_option, index_option}"
    for products, expected in (("{equity_option, index_option}", 18.75), ("{equity_option}", 0)):
        text = _text("cftc", old, f"and instrument.product in {products}")
        plan = compile_plan(_load(tmp_path, text), AS_OF)  # type: ignore[arg-type]
        decisions = evaluate_run(plan, _book("cftc", "tests"), AS_OF)[0].decisions
        row = decisions[decisions["account_ids"] == "C_KAY"].iloc[0]
        assert row["maintenance"] == pytest.approx(expected)
