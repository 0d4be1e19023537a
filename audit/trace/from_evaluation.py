"""Decision traces from an evaluation: one canonical trace per margin set, built column-wise.

:func:`trace_columns` turns an :class:`~marginlex.engine.evaluation.Evaluation` (its
``decisions`` and trace frames), the book and the rulebook's reference into the canonical
JSON of every :class:`~marginlex.audit.trace.model.DecisionTrace`, without one pydantic model per
decision: each frame is serialized column-wise (:mod:`marginlex.audit.trace.fragments`), grouped
by margin set once, and the long text is laid out and copied once, into each trace
(:mod:`marginlex.audit.trace.layout`). :func:`decision_traces` validates them into models
(tests, small books); :func:`prepared` hands them to the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.audit.trace import fragments as j
from marginlex.audit.trace import groups as tg
from marginlex.audit.trace import layout as tl
from marginlex.audit.trace import outputs as to
from marginlex.audit.trace.figures import figure_sources, figures_json
from marginlex.audit.trace.model import (
    SCHEMA_VERSION,
    DecisionTrace,
    RulebookRef,
    as_version,
    decision_ids_for,
)
from marginlex.audit.trace.named import TraceKeys, failed_masks, trace_keys
from marginlex.audit.trace.sets import margin_set_json
from marginlex.audit.trace.step_inputs import add_on_inputs_json, step_inputs_json
from marginlex.audit.trace.steps import InputValue
from marginlex.dsl.model import rulebook as m
from marginlex.engine.book.columns import moves_with
from marginlex.engine.book.load import Book
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.plan.steps import Plan, Step, StepKind

IntArray = npt.NDArray[np.int64]
_EVIDENCE = {
    m.Status.VERIFIED: "V",
    m.Status.SECONDARY: "S",
    m.Status.ILLUSTRATIVE: "I",
    # A rule that does not say how sure it is counts as illustrative: unconfirmed.
    None: "I",
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
    keys: TraceKeys | None = None  # what each trace names besides its accounts


SetCodes = dict[str, IntArray]
"""Each trace frame's rows' margin set, as its row in ``decisions`` (-1: none), by frame."""


def set_codes(ev: Evaluation) -> SetCodes:
    """Every trace frame's set codes (:class:`_Frames` looks them up one frame at a time)."""
    frames = _Frames(ev)
    return {name: frames.codes(name) for name in ev.frames}


class _Frames:
    """An evaluation's frames with every row's margin set code (decisions order)."""

    def __init__(self, ev: Evaluation, codes: SetCodes | None = None) -> None:
        self.ev = ev
        self.index = pd.Index(ev.decisions["margin_set_id"].astype("str").to_numpy())
        self.n = len(self.index)
        self._codes: SetCodes = dict(codes or {})

    def codes(self, name: str) -> IntArray:
        """The row in ``decisions`` of each row's margin set (-1: none), looked up once."""
        if name not in self._codes:
            self._codes[name] = j.rows_in(self.index, self.ev.frames[name]["margin_set_id"])
        return self._codes[name]


def _step_prefix(step: Step, plan: Plan) -> str:
    until = step.effective_until - dt.timedelta(days=1) if step.effective_until else None
    return (
        f'{{"citation":{j.text(step.citation)},'
        f'"effective_from":{j.date_text(step.effective_from)},'
        f'"effective_to":{j.date_text(until)},"evidence":"{_EVIDENCE[step.status]}",'
        f'"inputs":{step_inputs_json(step, plan)},"kind":"{step.kind.value}","output":'
    )


def _step_suffix(step: Step) -> str:
    return f',"rule_id":{j.text(step.rule_id)}}}'


@dataclass(frozen=True)
class _StepText:
    """One step's output on every set: its parts ("" where absent) and where it is present."""

    parts: list[tl.Layout]
    present: npt.NDArray[np.bool_]


class _Builder:
    """Builds every section of the traces of one evaluation."""

    def __init__(self, ev: Evaluation, book: Book, codes: SetCodes | None) -> None:
        self.ev, self.book, self.f = ev, book, _Frames(ev, codes)
        self.n = self.f.n
        self.d = ev.decisions
        self.method = self.d["method_rule_id"].astype("str").to_numpy(dtype=object)
        self.steps = [s for s in ev.plan.steps if s.in_force]
        self.present: dict[str, npt.NDArray[np.bool_]] = {}
        self.written: list[tuple[str, npt.NDArray[np.bool_]]] = []  # each step's sets
        self.sources: j.Coded | None = None
        self.groups: tg.Groups | None = None
        # Built once, on first use by a step of that kind (shared by every such rule).
        self._elig_rows: j.Col | None = None
        self._margin_parts: tuple[tl.Pieces, j.Col] | None = None
        self._lot_rows: j.Col | None = None

    def steps_parts(self) -> list[tl.Layout]:
        """Every step of every set, in plan order (a step absent from a set is skipped).

        Laid out, not joined: the steps (the bulk of a trace) are copied once, into the
        trace (:func:`~marginlex.audit.trace.layout.layout`).
        """
        parts: list[tl.Layout] = []
        before = np.zeros(self.n, dtype=np.int64)  # 1 where an earlier step is present
        for step in self.steps:  # a few dozen rules
            output = self._output(step)
            if output is None:
                continue
            prefix = _step_prefix(step, self.ev.plan)
            lead = np.array(["", prefix, "," + prefix], dtype=object)
            present = output.present.astype(np.int64)
            parts.append(lead[present * (1 + before)])
            parts += output.parts
            parts.append(np.array(["", _step_suffix(step)], dtype=object)[present])
            before |= present
            self.written.append((step.rule_id, output.present.astype(bool)))
        return parts

    def _output(self, step: Step) -> _StepText | None:
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

    def _eligibility(self, step: Step) -> _StepText:
        frame = self.ev.frames["eligibility"]
        if self._elig_rows is None:
            self._elig_rows = to.eligibility_rows(frame, self.ev.plan)
        out, present = to.eligibility_output(
            frame,
            self.f.codes("eligibility"),
            self._elig_rows,
            step.rule_id,
            fallback=self.method,
            n=self.n,
        )
        return _StepText([out], present)

    def _segregation(self, step: Step) -> _StepText:
        frame = self.ev.frames["segregation"]
        rows = to.segregation_rows(frame)
        out = to.segregation_output(frame, self.f.codes("segregation"), rows, step.rule_id, self.n)
        return _StepText([out], np.ones(self.n, dtype=bool))  # no violation is a pass

    def _class_groups(self) -> tuple[tl.Pieces, j.Col]:
        if self._margin_parts is None:
            self._margin_parts = self._build_class_groups()
        return self._margin_parts

    def _build_class_groups(self) -> tuple[tl.Pieces, j.Col]:
        pos = self.ev.frames["positions"]
        pos_codes = self.f.codes("positions")
        self.groups = tg.build_groups(
            self.ev.plan,
            self.ev.frames["class_groups"],
            self.f.codes("class_groups"),
            pos,
            pos_codes,
        )
        rows = tg.positions_json(pos, self.book.instruments.set_index("instrument_id"))
        per_set = tg.groups_json(
            self.groups,
            rows,
            tg.position_groups(self.groups, pos, pos_codes),
            self.n,
            add_on=self._add_ons(self.groups),
            charges=self._span_charges(self.groups),
        )
        sets = self.groups.frame["set"].to_numpy(np.int64)
        total = j.group_sum(self.groups.frame["requirement"].to_numpy(np.float64), sets, self.n)
        return per_set, j.concat('],"total":', j.money(total), ',"type":"class_groups"}')

    def _span_charges(self, groups: tg.Groups) -> j.Col:
        """Each class group's ``span_charges`` JSON (``null``: not a SPAN scan)."""
        frame = self.ev.frames.get("span_charges")
        if frame is None or frame.empty:
            return tg.span_charges_json(groups, None, np.zeros(0, np.int64), {})
        pairs = frame[["rate_id", "rate"]].astype({"rate_id": "str"}).drop_duplicates()
        rates = {  # a rate or three
            str(r): InputValue(id=str(r), unit="USD", value=float(v)).model_dump_json()
            for r, v in pairs.itertuples(index=False)
        }
        return tg.span_charges_json(groups, frame, self.f.codes("span_charges"), rates)

    def _add_ons(self, groups: tg.Groups) -> tuple[npt.NDArray[np.float64], j.Col]:
        """Each class group's concentration add-on (NaN: none charged) and what it was
        charged from (its ``concentration`` JSON, ``null``: none)."""
        out = np.full(len(groups.frame), np.nan)
        basis = np.full(len(groups.frame), "null", dtype=object)
        frame = self.ev.frames.get("add_ons")
        if frame is None or frame.empty:
            return out, basis.tolist()
        f = groups.frame
        row = tg.match_groups(
            f["set"].to_numpy(np.int64),
            f["class_group"],
            self.f.codes("add_ons"),
            frame["class_group"],
        )
        found = row >= 0
        out[row[found]] = frame["add_on"].to_numpy(np.float64)[found]
        rules = frame["rule_id"].astype("str")
        codes, names = pd.factorize(rules)
        steps = {s.rule_id: s for s in self.ev.plan.active(StepKind.CONCENTRATION_ADD_ON)}
        inputs = [add_on_inputs_json(steps[r], self.ev.plan) for r in names]  # a rule or two
        text = j.concat(
            '{"class_group_value":',
            j.money(frame["class_group_value"].to_numpy(np.float64)),
            ',"equity":',
            j.money(frame["equity"].to_numpy(np.float64)),
            ',"rate":',
            j.Coded(codes, [rate for rate, _ in inputs]),
            ',"rule_id":',
            j.strings(rules),
            ',"share":',
            j.Coded(codes, [share for _, share in inputs]),
            "}",
        )
        basis[row[found]] = np.asarray(text, dtype=object)[found]
        return out, basis.tolist()

    def _margin(self, step: Step) -> _StepText:
        """The class groups of the sets whose method is this rule."""
        per_set, tail = self._class_groups()
        mine = self.method == step.rule_id
        self.present[step.rule_id] = mine
        head = j.where(mine, '{"groups":[', "")
        return _StepText([head, per_set.only(mine), j.where(mine, tail, "")], mine)

    def _offsets(self, step: Step) -> _StepText | None:
        frame = self.ev.frames["offsets"]
        mine = frame["rule_id"].astype("str").to_numpy() == step.rule_id
        if not mine.any():
            return None
        if self.groups is None:
            self._class_groups()  # the class groups the offsets refer to
        assert self.groups is not None
        codes = self.f.codes("offsets")
        keys = self._offset_keys(step)
        groups, leads = to.offset_groups(
            frame, codes, self.ev.frames["positions"], self.f.codes("positions"), keys
        )
        rows = to.offset_rows(frame, groups, self._offset_worst(frame, codes, leads))
        out, present = to.total_output(
            rows,
            codes,
            mine,
            amounts=frame["credit"].to_numpy(np.float64),
            n=self.n,
            keys=("offsets", "total_credit", "offsets"),
            lead=self._clearing_split(step),
        )
        self.present[step.rule_id] = present
        return _StepText([out], present)

    def _clearing_split(self, step: Step) -> j.Col:
        """Per set, the clearing-house split of this DV01 pairing (``null`` elsewhere)."""
        split = self.ev.frames.get("clearing_split")
        if split is None or split.empty:
            return to.clearing_split_json(pd.DataFrame(), np.zeros(0, np.int64), self.n)
        mine = split["rule_id"].astype("str").to_numpy() == step.rule_id
        codes = self.f.codes("clearing_split")
        return to.clearing_split_json(split[mine], codes[mine], self.n)

    def _offset_keys(self, step: Step) -> pd.Series:
        """Per instrument id, its product group: the key of the instrument it moves with."""
        rule = getattr(step.statement, "rule", None)
        key = getattr(rule, "key", None)
        inst = self.book.instruments
        name = getattr(key, "name", "")
        if name not in inst.columns:
            return pd.Series(dtype="str")
        moving = moves_with(inst["instrument_id"], inst["underlying"], inst["is_option"])
        keys = inst[name].astype("str").to_numpy(dtype=object)[moving]
        return pd.Series(keys, index=inst["instrument_id"].to_numpy(), dtype="str")

    def _offset_worst(
        self, frame: pd.DataFrame, codes: IntArray, leads: pd.Series
    ) -> npt.NDArray[np.object_]:
        """The label of each offset's worst point, as its first class group (``leads``) names
        it (its set's first class group, taken before, could be of another range: an
        index group's worst point read "+30%", a crypto group's label)."""
        assert self.groups is not None
        f = self.groups.frame
        g = tg.match_groups(f["set"].to_numpy(np.int64), f["class_group"], codes, leads)
        point = frame["worst_point"].to_numpy(np.int64)
        ok = (g >= 0) & (point >= 0) & (point < tg.MAX_POINTS)
        labels = self.groups.label_at(np.clip(g, 0, None), np.clip(point, 0, tg.MAX_POINTS - 1))
        return np.where(ok, labels, "")

    def _collateral(self, step: Step) -> _StepText | None:
        lots = self.ev.frames["lots"]
        column = "cap_rule_id" if step.kind is StepKind.CONCENTRATION else "rule_id"
        mine = lots[column].astype("str").fillna("").to_numpy() == step.rule_id
        if not mine.any():
            return None
        out, present = to.total_output(
            self._lots_json(),
            self.f.codes("lots"),
            mine,
            amounts=lots["value"].to_numpy(np.float64),
            n=self.n,
            keys=("lots", "total_value", "collateral"),
        )
        self.present[step.rule_id] = present
        return _StepText([out], present)

    def unscheduled_lots(self) -> tl.Pieces:
        """Per set, its lots that no haircut statement selected (rule ``""``), as the
        ``unscheduled_lots`` list with its leading comma (schema 1.6)."""
        lots = self.ev.frames["lots"]
        mine = lots["rule_id"].astype("str").fillna("").to_numpy() == ""
        rows = (  # most books: every lot is some statement's, and no lot row is written
            tl.grouped(self._lots_json(), np.where(mine, self.f.codes("lots"), -1), self.n)
            if mine.any()
            else tl.grouped([], np.zeros(0, dtype=np.int64), self.n)
        )
        return tl.layout([',"unscheduled_lots":[', rows, "]"], self.n)

    def _lots_json(self) -> j.Col:
        """Every lot row's JSON, made once for the steps that list lots."""
        if self._lot_rows is None:
            maturity = self.book.collateral.set_index("lot_id")["maturity"]
            self._lot_rows = to.lot_rows(self.ev.frames["lots"], maturity)
        return self._lot_rows

    def figures_json(self) -> j.Col:
        """The decision figures and the rule and citation behind each."""
        self._minimums()
        self.sources = figure_sources(self.d, self.steps, self.present, self.method)
        return figures_json(self.d, self.sources, self._raised())

    def _raised(self) -> npt.NDArray[np.float64]:
        """Per set, the ``minimum equity`` that raised its requirement (NaN: none did)."""
        out = np.full(self.n, np.nan)
        frame = self.ev.frames.get("minimums")
        if frame is None or frame.empty:
            return out
        out[self.f.codes("minimums")] = frame["minimum"].to_numpy(np.float64)
        return out

    def _minimums(self) -> None:
        """Where a ``minimum equity`` raised the requirement or a ``concentration add``
        charged a class group: a source of the maintenance figure (like an initial
        multiple, it is a figure's rule, not a step)."""
        for name in ("add_ons", "minimums"):
            frame = self.ev.frames.get(name)
            if frame is None or frame.empty:
                continue
            codes = self.f.codes(name)
            rules = frame["rule_id"].astype("str").to_numpy()
            for rule in np.unique(rules).tolist():  # a rule or two
                mine = self.present.get(rule, np.zeros(self.n, dtype=bool)).copy()
                mine[codes[rules == rule]] = True
                self.present[rule] = mine

    def keys(self) -> TraceKeys:
        """What each trace names: the rules of its steps and figures, the requirements it
        failed (after :meth:`steps_parts` and :meth:`figures_json`)."""
        assert self.sources is not None
        rules = {s.rule_id for s in self.steps if s.kind is StepKind.ELIGIBILITY}
        frame = self.ev.frames["eligibility"]
        failed = failed_masks(frame, self.f.codes("eligibility"), rules, self.n)
        return trace_keys(self.written, self.sources, failed, self.n)

    def margin_set_json(self) -> tuple[j.Col, j.Col]:
        """The margin set (accounts, owner, carrier, the rule and edges that joined it)."""

        return margin_set_json(self.ev, self.book, self.f.index, self.f.codes)


def trace_columns(
    ev: Evaluation,
    book: Book,
    rulebook: RulebookRef,
    engine_version: str,
    *,
    codes: SetCodes | None = None,
    schema_version: str = SCHEMA_VERSION,
) -> TraceColumns:
    """The canonical JSON of every decision of an evaluation, and its ledger columns.

    Args:
        ev: the evaluation (decisions and trace frames).
        book: the book it evaluated (prices, owners, carriers, lot maturities).
        rulebook: the rulebook's id, name, version and canonical-text sha256.
        engine_version: the engine version to stamp.
        codes: the frames' set codes (:func:`set_codes`), if already known.
        schema_version: the trace schema to write; ``"1.0"`` only to re-make a recording of
            that version (replay), without the fields 1.1 added.

    Returns:
        One trace per margin set, in the order of ``ev.decisions``.
    """
    b = _Builder(ev, book, codes)
    steps = b.steps_parts()
    figures = b.figures_json()
    margin_set, account_ids = b.margin_set_json()
    set_ids = ev.decisions["margin_set_id"].astype("str").tolist()
    ids = decision_ids_for(rulebook.sha256, book.sha256, ev.as_of, set_ids)
    head = f'{{"as_of":"{ev.as_of.isoformat()}","book_sha256":"{book.sha256}","decision_id":'
    ref = rulebook.model_dump_json()
    tail = f',"rulebook":{ref},"schema_version":"{schema_version}","steps":['
    front = j.concat(
        head,
        j.strings(ids),
        f',"engine_version":{j.text(engine_version)}',
        ',"figures":',
        figures,
        ',"margin_set":',
        margin_set,
        tail,
    )
    body = tl.joined_layout([front, *steps, "]", b.unscheduled_lots(), "}"], len(ids))
    if schema_version != SCHEMA_VERSION:  # without the fields later versions added
        body = [as_version(str(t).encode("utf-8"), schema_version).decode("utf-8") for t in body]
    status = ev.decisions["status"].astype("str").tolist()
    money_text, req_text = (_amounts(ev.decisions[c].to_numpy()) for c in ("call", "maintenance"))
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
        keys=b.keys(),
    )


def _amounts(values: npt.NDArray[np.float64]) -> list[str]:
    """Amounts as the ledger stores them (``-1234.50``), each distinct amount written once."""
    coded = j.money(values)
    amounts: list[str] = np.asarray([t[1:-1] for t in coded.texts], dtype=object)[
        coded.codes
    ].tolist()
    return amounts


def trace_bytes(columns: TraceColumns) -> Iterator[tuple[str, bytes]]:
    """Each decision id with its canonical trace JSON bytes."""
    for did, text in zip(columns.decision_ids, columns.json, strict=True):
        yield did, text.encode("utf-8")


def decision_traces(columns: TraceColumns) -> list[DecisionTrace]:
    """Validate every trace into its model (small books and tests; slow for large ones)."""
    return [DecisionTrace.model_validate_json(body) for _, body in trace_bytes(columns)]
