"""An option's P&L can be recomputed from its trace alone (trace schema 1.2): strike, expiry,
implied volatility, the underlying now and at the worst point, and the model values there.

Checked on the demo book by hand, on synthetic books of several seeds (their options are
margined by scenario grids), on a SPAN scan of an option on a future (the kernel's figures:
neither book holds one), and a 1.1 recording still replays byte for byte.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marginlex.audit.explain.direct import direct_trace
from marginlex.audit.ledger.record import rulebook_ref
from marginlex.audit.ledger.recorded_inputs import rulebook_bundle
from marginlex.audit.ledger.verify import Recorded, compare_replay
from marginlex.audit.trace.from_evaluation import trace_columns
from marginlex.audit.trace.model import DecisionTrace, as_recorded, as_version
from marginlex.audit.trace.steps import ClassGroupsOutput
from marginlex.engine.book.load import Book, load_book, write_book
from marginlex.engine.kernels.pricing import OPTION_AT_WORST
from marginlex.engine.kernels.span import SpanParams, scenarios, span_scan
from marginlex.engine.run import resolve_rulebook, run_rulebook
from marginlex.engine.synth.generate import synth_book
from marginlex.engine.version import ENGINE_VERSION


def _cents(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_the_demo_short_put_is_recomputed_by_hand() -> None:
    trace = direct_trace("A01_ALICE_PM", "sec")
    out = next(s.output for s in trace.steps if isinstance(s.output, ClassGroupsOutput))
    put = next(p for g in out.groups for p in g.positions if p.instrument_id == "XYZ_P90_2609")
    o = put.option
    assert o is not None
    assert (o.option_type, o.strike, o.expiry.isoformat() if o.expiry else None) == (
        "put",
        90.0,
        "2026-09-18",
    )
    # XYZ at 100 falls 15% at the worst point of the +15%/-15% grid: 85; volatility unchanged.
    assert (o.underlying_price, o.underlying_at_worst, o.implied_vol, o.vol_at_worst) == (
        100.0,
        85.0,
        0.3,
        0.3,
    )
    # short 10 puts x 100 x (7.7981 - 1.7447) = -6,053.37
    assert round(o.value_now, 4) == 1.7447 and round(o.value_at_worst, 4) == 7.7981
    assert put.pnl == Decimal("-6053.37")


def _traces(book: Book, rulebook: str) -> list[DecisionTrace]:
    resolved = resolve_rulebook(rulebook)
    ev = run_rulebook(resolved, book)
    ref = rulebook_ref(resolved, ev, rulebook_bundle(resolved))
    columns = trace_columns(ev, book, ref, ENGINE_VERSION)
    return [DecisionTrace.model_validate_json(body) for body in columns.json]


@pytest.mark.parametrize("seed", [3, 11, 29])
@pytest.mark.parametrize("rulebook", ["sec", "harmonized"])
def test_every_option_pnl_is_recomputed_from_its_trace(
    seed: int, rulebook: str, tmp_path: Path
) -> None:
    meta, frames = synth_book(150, seed)
    book = load_book(write_book(meta, frames, tmp_path / "book"))
    multiplier = book.instruments.set_index("instrument_id")["multiplier"].to_dict()
    checked = 0
    for trace in _traces(book, rulebook):
        for step in trace.steps:
            if not isinstance(step.output, ClassGroupsOutput):
                continue
            for group in step.output.groups:
                worst = [p.weight for p in group.points if p.label == group.worst_point]
                for p in group.positions:
                    if p.option is None:
                        continue
                    o = p.option
                    units = p.quantity * float(multiplier[p.instrument_id])
                    again = units * (o.value_at_worst - o.value_now) * worst[0]
                    assert abs(Decimal(repr(again)) - p.pnl) <= Decimal("0.01"), (trace, p)
                    assert o.vol_at_worst >= 0.0
                    checked += 1
    assert checked > 0  # the seeds hold options priced by the rulebook's grid or scan


@pytest.mark.parametrize("relative", [False, True])
def test_a_span_option_pnl_is_recomputed_from_its_values_at_the_worst_scenario(
    relative: bool,
) -> None:
    # 5 short calls on a future at 100, strike 100, vol 25%, half a year, scan range 7%.
    frame = pd.DataFrame(
        {
            "margin_set": [0, 0],
            "class_group": ["ES", "ES"],
            "product": ["future_option", "future"],
            "quantity": [-5.0, 1.0],
            "multiplier": [50.0, 50.0],
            "price": [7.0, 100.0],
            "scan_range": [0.07, 0.07],
            "is_option": [True, False],
            "is_call": [True, False],
            "underlying_price": [100.0, np.nan],
            "strike": [100.0, np.nan],
            "implied_vol": [0.25, np.nan],
            "t": [0.5, np.nan],
        }
    )
    params = SpanParams(
        scan_ranges={},
        vol_shift=0.25 if relative else 0.04,
        vol_relative=relative,
        vol_floor=0.01,
        extreme_multiple=3.0,
        extreme_fraction=0.33,
        short_option_minimum=0.0,
    )
    result = span_scan(frame, params)
    worst = int(result.groups["worst_scenario"].iloc[0]) - 1
    scen = scenarios(params)
    o = result.positions.iloc[0]
    assert o["underlying_at_worst"] == pytest.approx(100.0 * (1 + scen.price_move[worst] * 0.07))
    vol_moved = (
        0.25 * (1 + scen.vol_sign[worst] * 0.25) if relative else 0.25 + scen.vol_sign[worst] * 0.04
    )
    assert o["vol_at_worst"] == pytest.approx(vol_moved)
    again = -5.0 * 50.0 * (o["value_at_worst"] - o["value_now"]) * scen.weight[worst]
    assert again == pytest.approx(o["pnl_at_worst"])
    assert result.positions.iloc[1][list(OPTION_AT_WORST)].isna().all()  # the future


@pytest.mark.parametrize(
    ("version", "absent", "present"),
    [
        ("1.1", ('"option"', '"add_on"', '"charges"', '"minimum_equity"'), ('"citation"',)),
        ("1.2", ('"add_on"', '"charges"', '"minimum_equity"'), ('"option"',)),
    ],
)
def test_an_older_recording_replays_byte_for_byte(
    version: str, absent: tuple[str, ...], present: tuple[str, ...]
) -> None:
    fresh = direct_trace("A01_ALICE_PM", "sec")
    assert all(f in fresh.canonical().decode("utf-8") for f in (*absent, *present))
    recorded_11 = as_version(fresh.canonical(), version)
    doc = json.loads(recorded_11)
    assert doc["schema_version"] == version
    assert not any(f in recorded_11.decode("utf-8") for f in absent)
    assert all(f in recorded_11.decode("utf-8") for f in present)
    # read back as a 1.1 trace, it is written as it was recorded
    assert DecisionTrace.model_validate_json(recorded_11).canonical() == recorded_11
    assert as_recorded(fresh.canonical(), recorded_11) == recorded_11
    stored = {fresh.decision_id: Recorded(1, recorded_11.decode("utf-8"), fresh.ledger_columns())}
    assert compare_replay("r-1", stored, [fresh]) == []
    # and a real difference is still found in the recording's version
    edited = recorded_11.replace(b'"pnl":"-6053.37"', b'"pnl":"-6053.38"')
    stored = {fresh.decision_id: Recorded(1, edited.decode("utf-8"), fresh.ledger_columns())}
    found = compare_replay("r-1", stored, [fresh])
    assert len(found) == 1 and "pnl" in found[0].detail
