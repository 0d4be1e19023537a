"""The shipped rulebooks: clean, canonical, and saying what domain.md says."""

from pathlib import Path

import pytest

from marginlex.dsl import check_paths, format_text, load_rulebook, shipped_dir
from marginlex.dsl.model import rulebook as m

SHIPPED = ["sec", "cftc", "harmonized"]


def test_shipped_rulebooks_check_clean() -> None:
    reports = check_paths([str(shipped_dir())])
    assert {r.path.rsplit("/", 1)[-1] for r in reports} >= {f"{n}.mlx" for n in SHIPPED}
    assert [d for r in reports for d in r.diagnostics] == []


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_rulebooks_are_canonical(name: str) -> None:
    text = (shipped_dir() / f"{name}.mlx").read_text()
    assert format_text(text) == text


@pytest.mark.parametrize("name", SHIPPED)
def test_every_statement_cites_and_states_how_sure_it_is(name: str) -> None:
    book = load_rulebook(name)
    for s in book.statements:
        assert s.citation is not None, s.id
        if not isinstance(s, m.Removal):
            assert s.status is not None, s.id


def _fractions(book, values) -> list[float]:  # type: ignore[no-untyped-def]
    return [round(book.fraction(v) * 100, 4) for v in values]


def test_sec_treasury_buckets() -> None:
    sec = load_rulebook("sec")
    body = sec.get("sec_treasuries").body  # type: ignore[union-attr]
    assert isinstance(body, m.MaturityBuckets)
    uppers = [b.upper.base if b.upper else None for b in body.buckets]
    assert uppers == pytest.approx(
        [0.25, 0.5, 0.75, 1.0, 2, 3, 5, 10, 15, 20, 25, None]  # type: ignore[list-item]
    )
    rates = _fractions(sec, [b.outcome.value for b in body.buckets])  # type: ignore[union-attr]
    assert rates == [0, 0.5, 0.75, 1, 1.5, 2, 3, 4, 4.5, 5, 5.5, 6]


def test_sec_grid_ranges_and_minimum() -> None:
    sec = load_rulebook("sec")
    grid = sec.get("sec_portfolio_margin").method  # type: ignore[union-attr]
    assert isinstance(grid, m.ScenarioGrid) and grid.points == 10
    ups = _fractions(sec, [r.up for r in grid.ranges])
    downs = _fractions(sec, [r.down for r in grid.ranges])
    assert (ups, downs) == ([6, 10, 15], [8, 10, 15])
    assert [r.note.status for r in grid.ranges] == [  # type: ignore[union-attr]
        m.Status.VERIFIED,
        m.Status.VERIFIED,
        m.Status.SECONDARY,
    ]
    assert grid.minimum is not None and sec.fraction(grid.minimum.amount) == 0.375


def test_cftc_span_and_digital_assets() -> None:
    cftc = load_rulebook("cftc")
    scan = cftc.get("cftc_span").method  # type: ignore[union-attr]
    assert isinstance(scan, m.SpanScan)
    assert cftc.fraction(scan.extreme_multiple) == 3 and cftc.fraction(scan.extreme_cover) == 0.33
    assert _fractions(cftc, [r.range for r in scan.ranges]) == [7, 2, 30, 30, 15]
    digital = cftc.get("cftc_digital_assets").body  # type: ignore[union-attr]
    assert isinstance(digital, m.AssetTable)
    assert isinstance(digital.rows[-1].outcome, m.Ineligible)
    cap = cftc.get("cftc_digital_cap")
    assert isinstance(cap, m.Concentration) and cftc.fraction(cap.limit) == 0.4
    initial = cftc.get("cftc_initial").method  # type: ignore[union-attr]
    assert isinstance(initial, m.InitialMultiple) and cftc.fraction(initial.multiple) == 1.1


def test_harmonized_grid_adds_treasury_buckets_and_crypto() -> None:
    h = load_rulebook("harmonized")
    grid = h.get("sec_portfolio_margin").method  # type: ignore[union-attr]
    assert isinstance(grid, m.ScenarioGrid)
    groups = [r.class_group for r in grid.ranges]
    assert groups == [None, None, "ust_under_2y", "ust_2y_to_7y", "ust_7y_and_over", None, None]
    assert _fractions(h, [r.up for r in grid.ranges]) == [6, 10, 1, 3, 6, 30, 15]


def _comment_above(path: Path, statement: str) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines.index(statement)
    above = []
    for line in reversed(lines[:at]):
        if not line.startswith("#"):
            break
        above.append(line)
    return " ".join(reversed(above))


def test_sec_collateral_schedules_claim_verified_only_with_what_was_read() -> None:
    # domain.md section 2 marked the SEC collateral schedule [S]; issue 14 section 7 read
    # 15c3-1(c)(2)(vi)(A)(1), (D)(1) and (J) in the eCFR text: `verified`, and the comment
    # above each statement says what was read.
    sec = load_rulebook("sec")
    body = sec.get("sec_other_assets").body  # type: ignore[union-attr]
    assert isinstance(body, m.AssetTable)
    assert sec.get("sec_other_assets").status == m.Status.VERIFIED
    assert sec.get("sec_treasuries").status == m.Status.VERIFIED
    path = Path(shipped_dir()) / "sec.mlx"
    other = _comment_above(path, "haircut sec_other_assets for collateral")
    assert "Read: 15c3-1(c)(2)(vi)" in other and "(D)(1)" in other and "15 percent" in other
    ust = _comment_above(path, "haircut sec_treasuries for collateral")
    assert "Read: 15c3-1(c)(2)(vi)(A)(1)" in ust and "25 years or more to maturity - 6%" in ust


def test_cftc_cross_margin_takes_in_every_cash_treasury() -> None:
    # domain.md section 1: an eligible set takes in the owner's cash Treasury positions;
    # STRIPS are cash Treasuries too (they were once left out).
    cftc = load_rulebook("cftc")
    rule = cftc.get("cftc_cross_margin_sets").rule  # type: ignore[union-attr]
    assert isinstance(rule, m.TakeIn)
    assert isinstance(rule.positions, m.Membership)
    assert isinstance(rule.positions.collection, m.SetOf)
    products = {s.name for s in rule.positions.collection.items}  # type: ignore[union-attr]
    assert products == {"ust_bill", "ust_note", "ust_bond", "ust_strip"}
