"""Decision traces from an evaluation: one canonical trace per margin set, built column-wise.

:func:`trace_columns` turns an :class:`~marginlex.engine.evaluation.Evaluation` (its
``decisions`` and trace frames), the book and the rulebook's reference into the canonical
JSON of every :class:`~marginlex.audit.trace.DecisionTrace`, without one pydantic model per
decision: each frame is grouped by margin set once and serialized by Arrow kernels
(:mod:`marginlex.audit.trace_json`). :func:`decision_traces` validates them into models
(tests, small books); :func:`prepared_decisions` hands them to the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.audit import trace_groups as tg
from marginlex.audit import trace_json as j
from marginlex.audit import trace_outputs as to
from marginlex.audit.canonical import sha256_hex
from marginlex.audit.chain import PreparedDecision, compress_trace
from marginlex.audit.trace import SCHEMA_VERSION, DecisionTrace, RulebookRef, decision_id_for
from marginlex.audit.trace_sets import margin_set_json
from marginlex.dsl import model as m
from marginlex.engine.book import Book
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.plan import Step, StepKind

IntArray = npt.NDArray[np.int64]
_EVIDENCE = {
    m.Status.VERIFIED: "V",
    m.Status.SECONDARY: "S",
    m.Status.ILLUSTRATIVE: "I",
    # A rule that does not say how sure it is counts as illustrative: unconfirmed.
    None: "I",
}
_BOOK = {
    "equity": "book format: collateral + position market value",
    "value": "book format: position market value, no collateral",
    "excess": "book format: value - requirement",
    "call": "book format: a negative excess is a call",
}


@dataclass(frozen=True)
class TraceColumns:
    """The traces of one evaluation: ids, ledger columns and canonical JSON, per set."""

    decision_ids: list[str]
    margin_set_ids: list[str]
    account_ids: list[str]  # canonical JSON list, as the ledger stores it
    statuses: list[str]
    calls: list[str]
    requirements: list[str]
    json: list[str]
    rulebook: RulebookRef
    book_sha256: str
    as_of: dt.date


class _Frames:
    """An evaluation's frames with every row's margin set code (decisions order)."""

    def __init__(self, ev: Evaluation) -> None:
        self.ev = ev
        self.index = pd.Index(ev.decisions["margin_set_id"].astype("str").to_numpy())
        self.n = len(self.index)

    def codes(self, name: str) -> IntArray:
        frame = self.ev.frames[name]
        ids = frame["margin_set_id"].astype("str").to_numpy()
        return np.asarray(self.index.get_indexer(pd.Index(ids)), dtype=np.int64)


def _step_prefix(step: Step) -> str:
    until = step.effective_until - dt.timedelta(days=1) if step.effective_until else None
    return (
        f'{{"citation":{j.text(step.citation)},'
        f'"effective_from":{j.date_text(step.effective_from)},'
        f'"effective_to":{j.date_text(until)},"evidence":"{_EVIDENCE[step.status]}",'
        f'"inputs":[],"kind":"{step.kind.value}","output":'
    )


def _step_suffix(step: Step) -> str:
    return f',"rule_id":{j.text(step.rule_id)}}}'


def _wrap(step: Step, output: j.Col) -> j.Col:
    return j.concat(_step_prefix(step), output, _step_suffix(step))


def _source(figure: str, rule_id: str, citation: str) -> str:
    cite, rule = j.text(citation), j.text(rule_id)
    return f'{{"citation":{cite},"figure":"{figure}","rule_id":{rule}}}'


class _Builder:
    """Builds every section of the traces of one evaluation."""

    def __init__(self, ev: Evaluation, book: Book) -> None:
        self.ev, self.book, self.f = ev, book, _Frames(ev)
        self.n = self.f.n
        self.d = ev.decisions
        self.method = self.d["method_rule_id"].astype("str").to_numpy(dtype=object)
        self.steps = [s for s in ev.plan.steps if s.in_force]
        self.present: dict[str, npt.NDArray[np.bool_]] = {}
        self.groups: tg.Groups | None = None
        # Built once, on first use by a step of that kind (shared by every such rule).
        self._elig_rows: j.Col | None = None
        self._margin_parts: tuple[j.Col, IntArray, npt.NDArray[np.float64]] | None = None
        self._lot_rows: j.Col | None = None

    def steps_json(self) -> j.Col:
        """Every step of every set, in plan order (a step absent from a set is skipped)."""
        parts = []
        for step in self.steps:  # a few dozen rules
            output = self._output(step)
            if output is not None:
                wrapped = step.kind is StepKind.MARGIN  # wrapped as its groups are joined
                parts.append(output if wrapped else _wrap(step, output))
        return j.join_present(parts) if parts else j.const("", self.n)

    def _output(self, step: Step) -> j.Col | None:
        kind = step.kind
        if kind is StepKind.ELIGIBILITY:
            return self._eligibility(step)
        if kind is StepKind.SEGREGATION:
            return self._segregation(step)
        if kind is StepKind.MARGIN:
            return self._margin(step)
        if kind is StepKind.OFFSET:
            return self._offsets(step)
        if kind in (StepKind.HAIRCUT, StepKind.CONCENTRATION):
            return self._collateral(step)
        return None  # scope, margin sets (the margin_set part) and initial (a figure)

    def _eligibility(self, step: Step) -> j.Col:
        frame = self.ev.frames["eligibility"]
        if self._elig_rows is None:
            self._elig_rows = to.eligibility_rows(frame, self.ev.plan)
        return to.eligibility_output(
            frame,
            self.f.codes("eligibility"),
            self._elig_rows,
            step.rule_id,
            fallback=self.method,
            n=self.n,
        )

    def _segregation(self, step: Step) -> j.Col:
        frame = self.ev.frames["segregation"]
        rows = to.segregation_rows(frame)
        return to.segregation_output(frame, self.f.codes("segregation"), rows, step.rule_id, self.n)

    def _class_groups(self) -> tuple[j.Col, IntArray, npt.NDArray[np.float64]]:
        pos = self.ev.frames["positions"]
        pos_codes = self.f.codes("positions")
        self.groups = tg.build_groups(
            self.ev.plan,
            self.ev.frames["class_groups"],
            self.f.codes("class_groups"),
            pos,
            pos_codes,
        )
        prices = self.book.instruments.set_index("instrument_id")["price"]
        rows = tg.positions_json(pos, prices)
        per_group = tg.groups_json(
            self.groups, rows, tg.position_groups(self.groups, pos, pos_codes)
        )
        sets = self.groups.frame["set"].to_numpy(np.int64)
        total = j.group_sum(self.groups.frame["requirement"].to_numpy(np.float64), sets, self.n)
        return per_group, sets, total

    def _margin(self, step: Step) -> j.Col:
        """The whole step (wrapped), for the sets whose method is this rule; None elsewhere."""
        if self._margin_parts is None:
            self._margin_parts = self._class_groups()
        per_group, sets, total = self._margin_parts
        mine = self.method == step.rule_id
        self.present[step.rule_id] = mine
        head = j.where(mine, _step_prefix(step) + '{"groups":[')
        tail = j.concat(
            '],"total":', j.money(total), ',"type":"class_groups"}' + _step_suffix(step)
        )
        # The groups are the bulk of a trace: joined straight into the step, copied once.
        return j.group_wrap(head, per_group, sets, tail)

    def _offsets(self, step: Step) -> j.Col | None:
        frame = self.ev.frames["offsets"]
        mine = frame["rule_id"].astype("str").to_numpy() == step.rule_id
        if not mine.any():
            return None
        if self.groups is None:
            self._margin(step)  # builds the class groups the offsets refer to
        assert self.groups is not None
        codes = self.f.codes("offsets")
        keys = self._offset_keys(step)
        groups = to.offset_groups(
            frame, codes, self.ev.frames["positions"], self.f.codes("positions"), keys
        )
        rows = to.offset_rows(frame, groups, self._offset_worst(frame, codes))
        out = to.total_output(
            rows,
            codes,
            mine,
            amounts=frame["credit"].to_numpy(np.float64),
            n=self.n,
            keys=("offsets", "total_credit", "offsets"),
        )
        self.present[step.rule_id] = np.bincount(codes[mine], minlength=self.n) > 0
        return out

    def _offset_keys(self, step: Step) -> pd.Series:
        rule = getattr(step.statement, "rule", None)
        key = getattr(rule, "key", None)
        instruments = self.book.instruments.set_index("instrument_id")
        name = getattr(key, "name", "")
        if name in instruments.columns:
            return instruments[name].astype("str")
        return pd.Series(dtype="str")

    def _offset_worst(self, frame: pd.DataFrame, codes: IntArray) -> npt.NDArray[np.object_]:
        """The label of each offset's worst point, from its set's first class group."""
        assert self.groups is not None
        sets = self.groups.frame["set"].to_numpy()
        first = np.full(self.n, -1)
        first[sets[::-1]] = np.arange(len(sets))[::-1]
        g = first[np.clip(codes, 0, None)]
        point = frame["worst_point"].to_numpy(np.int64)
        ok = (g >= 0) & (point >= 0) & (point < tg.MAX_POINTS)
        labels = self.groups.labels[np.clip(g, 0, None), np.clip(point, 0, tg.MAX_POINTS - 1)]
        return np.where(ok, labels, "")

    def _collateral(self, step: Step) -> j.Col | None:
        lots = self.ev.frames["lots"]
        column = "cap_rule_id" if step.kind is StepKind.CONCENTRATION else "rule_id"
        mine = lots[column].astype("str").fillna("").to_numpy() == step.rule_id
        if not mine.any():
            return None
        if self._lot_rows is None:
            maturity = self.book.collateral.set_index("lot_id")["maturity"]
            self._lot_rows = to.lot_rows(lots, maturity)
        codes = self.f.codes("lots")
        self.present[step.rule_id] = np.bincount(codes[mine], minlength=self.n) > 0
        return to.total_output(
            self._lot_rows,
            codes,
            mine,
            amounts=lots["value"].to_numpy(np.float64),
            n=self.n,
            keys=("lots", "total_value", "collateral"),
        )

    def figures_json(self) -> j.Col:
        """The decision figures and the rule and citation behind each."""
        d = self.d
        maintenance = d["maintenance"].to_numpy(np.float64)
        initial = d["initial"].to_numpy(np.float64)
        sources = [j.const(_source("equity", "book", _BOOK["equity"]), self.n)]
        sources.append(self._sources("value", (StepKind.HAIRCUT, StepKind.CONCENTRATION)))
        sources.append(self._sources("maintenance", (StepKind.MARGIN, StepKind.OFFSET)))
        sources.append(self._initial_sources())
        sources += [j.const(_source(f, "book", _BOOK[f]), self.n) for f in ("excess", "call")]
        return j.concat(
            '{"call":',
            j.money(d["call"].to_numpy(np.float64)),
            ',"equity":',
            j.money(d["equity"].to_numpy(np.float64)),
            ',"excess":',
            j.money(d["excess"].to_numpy(np.float64)),
            ',"initial":',
            j.money(np.where(np.isnan(initial), maintenance, initial)),
            ',"maintenance":',
            j.money(maintenance),
            ',"sources":[',
            j.join_present(sources),
            '],"status":',
            j.strings(d["status"]),
            ',"value":',
            j.money(d["value"].to_numpy(np.float64)),
            "}",
        )

    def _sources(self, figure: str, kinds: tuple[StepKind, ...]) -> j.Col:
        parts = []
        for step in self.steps:  # rules, not rows
            present = self.present.get(step.rule_id)
            if step.kind in kinds and present is not None:
                frag = _source(figure, step.rule_id, step.citation)
                parts.append(j.where(present, frag))
        joined = j.join_present(parts) if parts else j.const("", self.n)
        if figure == "value":
            fallback = _source("value", "book", _BOOK["value"])
            return [v or fallback for v in joined]
        return [v or None for v in joined]

    def _initial_sources(self) -> j.Col:
        by_id = {s.rule_id: s for s in self.steps}
        rule = self.d["initial_rule_id"].astype("str").fillna("").to_numpy(dtype=object)
        rule = np.where(rule == "", self.method, rule)
        texts = {
            r: _source("initial", r, by_id[r].citation) if r in by_id else None
            for r in np.unique(rule.astype(str)).tolist()
        }
        return [texts[str(r)] for r in rule]

    def margin_set_json(self) -> tuple[j.Col, j.Col]:
        """The margin set (accounts, owner, carrier, the rule and edges that joined it)."""

        return margin_set_json(self.ev, self.book, self.f.index, self.f.codes)


def trace_columns(
    ev: Evaluation, book: Book, rulebook: RulebookRef, engine_version: str
) -> TraceColumns:
    """The canonical JSON of every decision of an evaluation, and its ledger columns.

    Args:
        ev: the evaluation (decisions and trace frames).
        book: the book it evaluated (prices, owners, carriers, lot maturities).
        rulebook: the rulebook's id, name, version and canonical-text sha256.
        engine_version: the engine version to stamp.

    Returns:
        One trace per margin set, in the order of ``ev.decisions``.
    """
    b = _Builder(ev, book)
    steps = b.steps_json()
    figures = b.figures_json()
    margin_set, account_ids = b.margin_set_json()
    set_ids = ev.decisions["margin_set_id"].astype("str").tolist()
    ids = [decision_id_for(rulebook.sha256, book.sha256, ev.as_of, s) for s in set_ids]
    head = f'{{"as_of":"{ev.as_of.isoformat()}","book_sha256":"{book.sha256}","decision_id":'
    ref = rulebook.model_dump_json()
    tail = f',"rulebook":{ref},"schema_version":"{SCHEMA_VERSION}","steps":['
    body = j.concat(
        head,
        j.strings(ids),
        f',"engine_version":{j.text(engine_version)}',
        ',"figures":',
        figures,
        ',"margin_set":',
        margin_set,
        tail,
        steps,
        "]}",
    )
    status = ev.decisions["status"].astype("str").tolist()
    money_text = [str(t).strip('"') for t in j.money(ev.decisions["call"].to_numpy())]
    req_text = [str(t).strip('"') for t in j.money(ev.decisions["maintenance"].to_numpy())]
    return TraceColumns(
        decision_ids=ids,
        margin_set_ids=set_ids,
        account_ids=[str(a) for a in account_ids],
        statuses=status,
        calls=money_text,
        requirements=req_text,
        json=[str(b) for b in body],
        rulebook=rulebook,
        book_sha256=book.sha256,
        as_of=ev.as_of,
    )


def trace_bytes(columns: TraceColumns) -> Iterator[tuple[str, bytes]]:
    """Each decision id with its canonical trace JSON bytes."""
    for did, text in zip(columns.decision_ids, columns.json, strict=True):
        yield did, text.encode("utf-8")


def decision_traces(columns: TraceColumns) -> list[DecisionTrace]:
    """Validate every trace into its model (small books and tests; slow for large ones)."""
    return [DecisionTrace.model_validate_json(body) for _, body in trace_bytes(columns)]


def _prepare_chunk(columns: TraceColumns, texts: list[str], start: int) -> list[PreparedDecision]:
    out = []
    for k, text in enumerate(texts):
        i = start + k
        body = text.encode("utf-8")
        out.append(
            PreparedDecision(
                decision_id=columns.decision_ids[i],
                rulebook_id=columns.rulebook.id,
                rulebook_sha256=columns.rulebook.sha256,
                book_sha256=columns.book_sha256,
                as_of=columns.as_of,
                margin_set_id=columns.margin_set_ids[i],
                account_ids=columns.account_ids[i],
                status=columns.statuses[i],
                call=Decimal(columns.calls[i]),
                requirement=Decimal(columns.requirements[i]),
                trace_sha256=sha256_hex(body),
                trace_z=compress_trace(body),
            )
        )
    return out


def prepared_decisions(
    columns: TraceColumns, chunk: int = 20_000, threads: int = 2
) -> list[PreparedDecision]:
    """The ledger rows of every trace; hashing and compressing run on ``threads`` threads."""
    starts = list(range(0, len(columns.decision_ids), chunk))
    if threads <= 1:
        return [p for s in starts for p in _prepare_chunk(columns, columns.json[s : s + chunk], s)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = pool.map(lambda s: _prepare_chunk(columns, columns.json[s : s + chunk], s), starts)
        return [p for part in parts for p in part]
