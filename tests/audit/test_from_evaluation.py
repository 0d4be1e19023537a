"""Traces built from a real evaluation of the demo book: exact bytes, and what they say.

The column-wise serializer must write exactly the bytes pydantic writes for the validated
model; the figures below are read off the demo book and hand-checked against its CSVs.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from marginlex.audit.canonical import sha256_hex
from marginlex.audit.ledger.record import rulebook_ref, slice_evaluation
from marginlex.audit.ledger.recorded_inputs import (
    RecordedInputError,
    blob_frames,
    book_blob,
    book_from_blob,
    load_bundle,
    rulebook_bundle,
    rulebook_sha256,
)
from marginlex.audit.trace import fragments as j
from marginlex.audit.trace.from_evaluation import decision_traces, trace_bytes, trace_columns
from marginlex.audit.trace.model import DecisionTrace, EdgeRelation
from marginlex.audit.trace.money import to_cents
from marginlex.audit.trace.steps import (
    ClassGroupsOutput,
    CollateralOutput,
    EligibilityOutput,
    SegregationOutput,
)
from marginlex.dsl.loader import load_rulebook
from marginlex.engine.book.load import Book, load_demo_book
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.run import run_rulebook

NAMES = ("sec", "cftc", "harmonized")


@pytest.fixture(scope="module")
def book() -> Book:
    return load_demo_book()


@pytest.fixture(scope="module")
def runs(book: Book) -> dict[str, tuple[Evaluation, list[DecisionTrace], bytes]]:
    graph = AccountGraph(book)
    out = {}
    for name in NAMES:
        rulebook = load_rulebook(name)
        ev = run_rulebook(rulebook, book, None, graph)
        cols = trace_columns(ev, book, rulebook_ref(rulebook, ev, rulebook_bundle(rulebook)), "t")
        out[name] = (ev, decision_traces(cols), b"".join(body for _, body in trace_bytes(cols)))
    return out


def _trace(runs: dict, name: str, margin_set: str) -> DecisionTrace:
    return next(t for t in runs[name][1] if t.margin_set.id == margin_set)


@pytest.mark.parametrize("name", NAMES)
def test_fast_bytes_are_the_validated_models_bytes(runs: dict, name: str) -> None:
    ev, traces, joined = runs[name]
    assert len(traces) == len(ev.decisions)
    assert b"".join(t.canonical() for t in traces) == joined


@pytest.mark.parametrize("name", NAMES)
def test_every_position_and_lot_is_traced_once(runs: dict, name: str) -> None:
    ev, traces, _ = runs[name]
    positions = lots = 0
    for t in traces:
        for step in t.steps:
            if isinstance(step.output, ClassGroupsOutput):
                positions += sum(len(g.positions) for g in step.output.groups)
            if isinstance(step.output, CollateralOutput) and step.kind.value == "haircut":
                lots += len(step.output.lots)
    assert positions == len(ev.frames["positions"])
    assert lots == len(ev.frames["lots"])


def test_pm_account_stock_and_short_put(runs: dict) -> None:
    t = _trace(runs, "sec", "ms:A01_ALICE_PM")
    assert t.figures.maintenance == Decimal("21053.37")
    assert t.rulebook.id == "sec" and t.rulebook.sha256 == rulebook_sha256(
        rulebook_bundle(load_rulebook("sec"))
    )
    eligibility = next(s.output for s in t.steps if isinstance(s.output, EligibilityOutput))
    assert eligibility.eligible and all(r.passed for r in eligibility.requirements)
    margin = next(s for s in t.steps if isinstance(s.output, ClassGroupsOutput))
    assert margin.rule_id == "sec_portfolio_margin" and margin.evidence.value == "V"
    assert isinstance(margin.output, ClassGroupsOutput)
    (group,) = margin.output.groups
    # +-15% at 10 points, largest fall first; the worst is -15%: the stock loses 15,000
    # (1,000 x 100 x 15%) and the short 90 put adds 6,053.37.
    assert [p.label for p in group.points][:2] == ["-15%", "-12%"]
    assert group.worst_point == "-15%" and group.loss == Decimal("21053.37")
    pnl = {p.instrument_id: p.pnl for p in group.positions}
    assert pnl == {"XYZ": Decimal("-15000.00"), "XYZ_P90_2609": Decimal("-6053.37")}
    assert sum(pnl.values()) == group.points[0].pnl


def test_cftc_treasury_cross_margin_set(runs: dict) -> None:
    t = _trace(runs, "cftc", "ms:A06_ECHO_XM")
    assert t.margin_set.account_ids == ("A06_ECHO_XM", "A07_ECHO_SEC")
    (edge,) = t.margin_set.edges
    assert (edge.src, edge.relation, edge.dst) == ("A06_ECHO_XM", EdgeRelation.TAKES_IN,
                                                   "A07_ECHO_SEC")  # fmt: skip
    margin = next(s.output for s in t.steps if isinstance(s.output, ClassGroupsOutput))
    cme, ficc = margin.groups  # each clearing house scans its side (the DV01 pairing)
    assert (cme.class_group, ficc.class_group) == ("UST_10Y@CME", "UST_10Y@FICC")
    assert cme.method.value == "span_scan" and len(cme.points) == 16
    # Scenario 11: price +1 scan range (2%), vol up: the short ZN futures lose 125,970;
    # scenario 13, price -1 range: the cash Treasury taken in loses 98,500.
    assert cme.worst_point == "11: price +1 range, vol up"
    assert sum(p.pnl for p in cme.positions) == Decimal("-125970.00") == -cme.loss
    assert sum(p.pnl for p in ficc.positions) == Decimal("-98500.00") == -ficc.loss


def test_digital_asset_cap_and_call(runs: dict) -> None:
    t = _trace(runs, "cftc", "ms:A08_FOX_FUT")
    # Value 60,000 + 92,400 (digital assets capped at 40% of initial 231,000) = 152,400,
    # below maintenance 210,000: the call restores initial, 231,000 - 152,400,
    # and cites the initial rule (issue 14: a futures customer's call).
    assert t.figures.status.value == "call" and t.figures.call == Decimal("78600.00")
    assert {s.rule_id for s in t.figures.sources if s.figure.value == "call"} == {"cftc_initial"}
    cap = next(s for s in t.steps if s.kind.value == "concentration")
    assert isinstance(cap.output, CollateralOutput)
    # Capped at 40% of the 231,000 initial requirement: 92,400 of 168,000 after haircuts, 55%.
    assert {lot.lot_id: round(lot.cap_scale or 0, 12) for lot in cap.output.lots} == {
        "L09": 0.55,
        "L10": 0.55,
    }
    assert {s.rule_id for s in t.figures.sources if s.figure.value == "value"} >= {
        "cftc_digital_assets",
        "cftc_digital_cap",
    }


def test_segregation_breach_names_the_path(runs: dict) -> None:
    t = _trace(runs, "sec", "ms:A10_HOTEL_MGN")
    assert t.figures.status.value == "breach"
    (violation,) = [
        v for s in t.steps if isinstance(s.output, SegregationOutput) for v in s.output.violations
    ]
    assert violation.path == ("A10_HOTEL_MGN", "L15", "H_BD1")
    assert violation.constraint_id == "sec_customer_collateral"


def test_a_slice_traces_like_the_whole(runs: dict, book: Book) -> None:
    ev, traces, _ = runs["harmonized"]
    rulebook = load_rulebook("harmonized")
    ref = rulebook_ref(rulebook, ev, rulebook_bundle(rulebook))
    sliced, codes = slice_evaluation(ev, 3, 7)
    expected = [t.canonical() for t in traces[3:7]]
    part = trace_columns(sliced, book, ref, "t")
    assert [b for _, b in trace_bytes(part)] == expected
    given = trace_columns(sliced, book, ref, "t", codes=codes)  # as a worker builds them
    assert [b for _, b in trace_bytes(given)] == expected


def test_bundle_and_book_blob_rebuild_the_inputs(book: Book) -> None:
    bundle = rulebook_bundle(load_rulebook("harmonized"))
    assert [s["id"] for s in json.loads(bundle)["sources"]] == ["sec", "cftc", "harmonized"]
    assert load_bundle(bundle).bases == ("sec", "cftc")
    blob = book_blob(book)
    assert book_from_blob(blob).sha256 == book.sha256
    assert book_blob(book_from_blob(blob)) == blob


def test_a_book_blob_with_a_compressed_member_is_refused_unread(book: Book) -> None:
    """A recorded book stores its files as they are: a forged blob's deflated member of a few
    megabytes could inflate to a hundred gigabytes, past the cap on the blob itself, when
    `verify --replay`, `explain --what-if` or `run --since` read it back."""
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    forged = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(book_blob(book))) as stored,
        zipfile.ZipFile(forged, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for name in stored.namelist():
            archive.writestr(name, stored.read(name))
    with pytest.raises(RecordedInputError, match="is compressed in the zip"):
        book_from_blob(forged.getvalue())
    with pytest.raises(RecordedInputError, match="is compressed in the zip"):
        blob_frames(forged.getvalue())


class _Floats(BaseModel):
    x: float


@pytest.mark.parametrize("x", [0.15, 1e-05, 1e-7, 1e16, 2.5e-5, 1.0, 100.0, -0.0, 1 / 3])
def test_floats_are_written_as_pydantic_writes_them(x: float) -> None:
    assert f'{{"x":{j.floats([x]).col()[0]}}}' == _Floats(x=0.0 if x == 0 else x).model_dump_json()


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_money_agrees_with_to_cents(x: float) -> None:
    assert j.money(np.array([x])).col()[0] == f'"{to_cents(x)}"'
    assert not math.isnan(x)


def test_parallel_chunks_prepare_the_same_decisions(
    runs: dict, book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marginlex.audit.ledger import record  # noqa: PLC0415 - the module whose chunk size is patched

    monkeypatch.setattr(record, "PARALLEL_SETS", 4)  # 9 + 6 + 13 sets: 8 chunks, 2 workers
    monkeypatch.setattr(record, "MIN_FORK_SETS", 0)  # forked workers even for the demo
    evaluations = [runs[name][0] for name in NAMES]
    with record.RunRecorder(book, "t") as recorder:
        for ev, name in zip(evaluations, NAMES, strict=True):
            recorder.add(ev, load_rulebook(name))
        decisions = list(recorder.decisions())
        refs, bundles = recorder.refs, recorder.bundles
    assert [r.id for r in refs] == list(NAMES) and len(bundles) == 3
    expected = [t for name in NAMES for t in runs[name][1]]
    assert [d.decision_id for d in decisions] == [t.decision_id for t in expected]
    assert [d.trace_sha256 for d in decisions] == [sha256_hex(t.canonical()) for t in expected]


class _Text(BaseModel):
    x: str


@pytest.mark.parametrize(
    "x", ['a"b', "c\\d", "e\nf\tg", "plain", "café", "x\x1fy", "z\x7f", "\u2028"]
)
def test_strings_are_escaped_as_pydantic_escapes_them(x: str) -> None:
    assert f'{{"x":{j.strings([x, "other"]).col()[0]}}}' == _Text(x=x).model_dump_json()
