"""``stress`` reports exactly what one evaluation per shocked book reports.

The reference decides the unshocked book and each shocked book alone (:func:`shock_book`,
one ``evaluate`` each, no stack, nothing shared) and compares them with
:func:`marginlex.engine.stress.impact.impact`; ``stress`` (one stack per batch, shared by the
rulebooks) must give the same :class:`StressResult`, every figure to the cent, on synthetic
books of three seeds and two sizes under every shipped rulebook.
"""

from __future__ import annotations

import pytest

from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.stress.impact import impact, totals
from marginlex.engine.stress.reprice import shock_book
from marginlex.engine.stress.run import Baseline, StressResult, stress
from marginlex.engine.stress.shocks import Scenario, ShockError, parse_shock, parse_vol
from marginlex.engine.synth.generate import synth_book
from marginlex.engine.variants.figures import decide

RULEBOOKS = ("sec", "cftc", "harmonized")
CANDIDATES: tuple[tuple[str, list[str], str | None], ...] = (
    ("spx_down_20", ["class_group=SPX:-20%"], "+10pts"),
    ("spx_up_10", ["class_group=SPX:+10%"], None),
    ("equities_down_30", ["product=stock:-30%", "product=etf:-30%"], "+15pts"),
    ("rates_up_150", ["product=ust_*:+150bp"], None),
    ("crypto_down_50", ["product=crypto*:-50%"], None),
    ("vol_up_20", [], "+20pts"),
    ("tech_down_25", ["class_group=NDX:-25%"], "+12pts"),
)


def _scenarios(book: Book) -> list[Scenario]:
    """The candidate scenarios that move something in this book (a small book may hold
    no NDX or no crypto: such a shock is refused, and the scenario left out)."""
    out = []
    for name, shocks, vol in CANDIDATES:
        parsed = [parse_shock(s) for s in shocks] + ([parse_vol(vol)] if vol else [])
        scenario = Scenario(name=name, shocks=tuple(parsed))
        try:
            shock_book(book, scenario)
        except ShockError:
            continue
        out.append(scenario)
    return out


def _one_at_a_time(book: Book, scenarios: list[Scenario]) -> StressResult:
    """The stress result built from one plain evaluation per book and rulebook."""
    shocked = [shock_book(book, s) for s in scenarios]
    baselines, impacts = [], []
    for rulebook in (load_rulebook(r) for r in RULEBOOKS):
        base = decide(rulebook, book, book.as_of)
        meta = rulebook.header
        baselines.append(
            Baseline(
                rulebook_id=rulebook.id,
                title=meta.title,
                version=meta.version or "",
                totals=totals(base),
            )
        )
        for scenario, one in zip(scenarios, shocked, strict=True):
            impacts.append(
                impact(scenario.name, rulebook.id, base, decide(rulebook, one, book.as_of))
            )
    return StressResult(
        book_name=book.name,
        book_sha256=book.sha256,
        as_of=book.as_of,
        scenarios=tuple(scenarios),
        baselines=tuple(baselines),
        impacts=tuple(impacts),
    )


@pytest.mark.parametrize("accounts", [25, 100])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stress_equals_one_evaluation_per_shocked_book(
    accounts: int, seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    meta, frames = synth_book(accounts, seed)
    book = load_book(write_book(meta, frames, tmp_path_factory.mktemp("synth")))
    scenarios = _scenarios(book)
    assert len(scenarios) >= 4  # the comparison covers price, rate, vol and crypto moves
    got = stress(book, [load_rulebook(r) for r in RULEBOOKS], scenarios)
    want = _one_at_a_time(book, scenarios)
    assert got.model_dump() == want.model_dump()
    # Something moves: the comparison is not of two empty reports.
    assert any(i.call_delta != 0 or i.requirement_delta != 0 for i in got.impacts)
