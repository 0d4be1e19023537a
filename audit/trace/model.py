"""The decision trace: a versioned, frozen record of one margin decision and why.

The evaluator fills one :class:`DecisionTrace` per margin set per rulebook; the ledger stores
its canonical JSON; ``explain`` renders it. Regenerate the committed JSON Schema with
``python -m marginlex.audit.trace.model --write-schema``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, Self

from pydantic import Field, SerializeAsAny, model_validator

from marginlex.audit.canonical import canonical_json
from marginlex.audit.trace.money import Money
from marginlex.audit.trace.steps import (
    OUTPUT_OF_KIND,
    Evidence,
    InputValue,
    LotTrace,
    RuleKind,
    StepOutput,
    TraceModel,
)
from marginlex.engine.outcomes import DecisionStatus

SCHEMA_VERSION: Final = "1.7"
SCHEMA_VERSIONS = Literal["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7"]
"""Every version this reader accepts (within major version 1, fields are only added)."""
SCHEMA_PATH = Path(__file__).with_name("schema.json")
Sha256 = str
_SHA = Field(pattern=r"^[0-9a-f]{64}$", description="sha256, 64 lowercase hex digits.")


class EdgeRelation(StrEnum):
    """Graph relations that can join accounts into one margin set.

    ``same_owner`` / ``same_carrier`` join two accounts directly; ``takes_in`` is a
    cross-margin set taking in another account's positions (e.g. cash Treasuries).
    """

    OWNED_BY = "owned_by"
    CARRIED_BY = "carried_by"
    MEMBER_OF = "member_of"
    AFFILIATE_OF = "affiliate_of"
    GUARANTEES = "guarantees"
    PLEDGED_TO = "pledged_to"
    SAME_OWNER = "same_owner"
    SAME_CARRIER = "same_carrier"
    TAKES_IN = "takes_in"


class RulebookSource(TraceModel):
    """One file the rulebook was resolved from: a base, or the rulebook itself."""

    id: str = Field(description="The rulebook id that file declares.")
    path: str = Field(
        description="The file: `shipped:sec.mlx` for a shipped rulebook, else the path as given."
    )
    sha256: Sha256 = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="sha256 of the file's canonical text (as `marginlex fmt` prints it).",
    )


class RulebookRef(TraceModel):
    """Which rulebook decided: its id, version, the sha256 of its canonical text, and every
    file it was resolved from (since schema 1.1; a 1.0 trace has none, and its reference
    serializes without the field, byte for byte as it was recorded)."""

    id: str
    name: str
    sha256: Sha256 = _SHA
    sources: tuple[RulebookSource, ...] = Field(
        default=(),
        description="The files resolved, bases first in resolution order, the rulebook last "
        "(absent in a 1.0 trace).",
        exclude_if=lambda sources: not sources,
    )
    version: str


class GraphEdge(TraceModel):
    """One edge of the account graph that helped join the margin set."""

    dst: str
    reason: str = Field(description="Why this edge matters for the set (the rule's words).")
    relation: EdgeRelation
    src: str


class MarginSetTrace(TraceModel):
    """The accounts margined together, and the graph edges that allowed it."""

    account_ids: tuple[str, ...] = Field(min_length=1)
    carrier_id: str
    citation: str | None = None
    edges: tuple[GraphEdge, ...] = ()
    id: str
    left_alone_by: str | None = Field(
        default=None,
        description=(
            "A set of one account that no rule formed (`rule_id` null): the rulebook's "
            "merging rule, which merged no other account into it (before 1.5 it was "
            "written as the set's `rule_id`); null otherwise, and before 1.5."
        ),
    )
    left_alone_citation: str | None = Field(
        default=None, description="That rule's citation (as `left_alone_by`)."
    )
    owner_id: str
    rule_id: str | None = Field(
        default=None,
        description=(
            "The rule that formed the set: merged its accounts or took in another account's "
            "positions; null for one account no rule joined (since 1.5; before, the "
            "rulebook's merging rule)."
        ),
    )


class Step(TraceModel):
    """One rule applied to the margin set: what it read and what it wrote."""

    citation: str
    effective_from: date | None = None
    effective_to: date | None = None
    evidence: Evidence
    inputs: tuple[InputValue, ...] = ()
    kind: RuleKind
    # SerializeAsAny: write the output by its own class instead of trying each union member
    # in turn, which made a step three times slower to serialize.
    output: SerializeAsAny[StepOutput]
    rule_id: str

    @model_validator(mode="after")
    def _output_matches_kind(self) -> Self:
        expected = OUTPUT_OF_KIND[self.kind]
        if self.output.type != expected:
            raise ValueError(
                f"step {self.rule_id}: a {self.kind} rule writes `{expected}`, "
                f"not `{self.output.type}`"
            )
        return self


class Figure(StrEnum):
    """The decision figures, for naming which rule produced each."""

    EQUITY = "equity"
    VALUE = "value"
    MAINTENANCE = "maintenance"
    INITIAL = "initial"
    EXCESS = "excess"
    CALL = "call"


class FigureSource(TraceModel):
    """The rule and citation behind one decision figure."""

    citation: str
    figure: Figure
    rule_id: str


class DecisionFigures(TraceModel):
    """The figures of the decision, to the cent (book-format conventions)."""

    call: Money = Field(
        description=(
            "max(0, -excess); or initial - value when the excess is negative and the "
            "initial rule says `calls restore initial` (a futures customer's call)."
        )
    )
    equity: Money = Field(description="Collateral market value + position market value.")
    excess: Money = Field(description="value - maintenance; negative is a shortfall.")
    initial: Money = Field(description="Initial requirement (e.g. 110% for speculators).")
    maintenance: Money = Field(description="The requirement after offsets and minimums.")
    minimum_equity: Money | None = Field(
        default=None,
        description=(
            "The minimum of a `minimum equity` rule that raised the requirement (to the "
            "minimum less the haircuts of the collateral the value counts, so that a call is "
            "what the equity lacks: `maintenance` is then this less those haircuts); null "
            "when none raised it, and before 1.3."
        ),
    )
    sources: tuple[FigureSource, ...] = ()
    status: DecisionStatus
    value: Money = Field(description="Collateral after haircuts + position market value.")

    @model_validator(mode="after")
    def _call_matches(self) -> Self:
        restores = self.excess < 0 and self.call == self.initial - self.value
        if self.call != max(-self.excess, 0) and not restores:
            raise ValueError(
                f"call {self.call} must be max(0, -excess) = {-self.excess}, or initial - value "
                f"= {self.initial - self.value} below maintenance"
            )
        if self.status is DecisionStatus.OK and self.call > 0:
            raise ValueError("status ok with a call: the status must be `call`")
        if self.status is DecisionStatus.CALL and self.call == 0:
            raise ValueError("status call without a call amount")
        return self


class DecisionTrace(TraceModel):
    """One margin decision, with every step that led to it (schema version 1.7; 1.0 to 1.6
    are read and written back as they were recorded)."""

    # Fields are declared in sorted order: pydantic then writes canonical JSON directly.
    as_of: date
    book_sha256: Sha256 = _SHA
    decision_id: str = Field(description="Stable id, see `decision_id_for`.")
    engine_version: str
    figures: DecisionFigures
    margin_set: MarginSetTrace
    rulebook: RulebookRef
    schema_version: SCHEMA_VERSIONS = SCHEMA_VERSION
    steps: tuple[Step, ...]
    unscheduled_lots: tuple[LotTrace, ...] = Field(
        default=(),
        description="Lots of the set that no haircut statement selects (since 1.6): their "
        "market value is in the equity, their value nothing (a negative market value, a "
        "liability, counts); before 1.6 they were in no step.",
    )

    def canonical(self) -> bytes:
        """The canonical JSON of this trace (sorted keys, compact, UTF-8).

        Every trace model declares its fields in sorted order (a test holds this), so
        pydantic's own compact JSON is already canonical, at half the cost of re-sorting.
        A trace of an earlier version is written as that version wrote it, without the
        fields later versions added (:func:`as_version`).
        """
        body = self.model_dump_json().encode("utf-8")
        return (
            body
            if self.schema_version == SCHEMA_VERSION
            else as_version(body, self.schema_version, made_now=False)
        )

    @property
    def requirement(self) -> Money:
        """The maintenance requirement (the figure the ledger indexes)."""
        return self.figures.maintenance

    def ledger_columns(self) -> LedgerColumns:
        """The columns the ledger stores beside this trace, as text (replay compares them)."""
        return LedgerColumns(
            account_ids=canonical_json(list(self.margin_set.account_ids)).decode("utf-8"),
            status=self.figures.status.value,
            call=f"{self.figures.call:.2f}",
            requirement=f"{self.figures.maintenance:.2f}",
        )


class LedgerColumns(NamedTuple):
    """An entry's indexed columns as text: account ids (canonical JSON), status, amounts."""

    account_ids: str
    status: str
    call: str
    requirement: str


def decision_id_for(rulebook_sha256: str, book_sha256: str, as_of: date, margin_set_id: str) -> str:
    """A stable decision id: the same inputs give the same id in every run.

    >>> decision_id_for("a" * 64, "b" * 64, date(2026, 3, 31), "ms-ACC1")
    'd-ms-ACC1-a248190d1d3b'
    """
    return decision_ids_for(rulebook_sha256, book_sha256, as_of, [margin_set_id])[0]


def decision_ids_for(
    rulebook_sha256: str, book_sha256: str, as_of: date, margin_set_ids: list[str]
) -> list[str]:
    """:func:`decision_id_for` of many margin sets of one rulebook, book and as-of date.

    >>> decision_ids_for("a" * 64, "b" * 64, date(2026, 3, 31), ["ms-ACC1"])
    ['d-ms-ACC1-a248190d1d3b']
    """
    key = f"{rulebook_sha256}|{book_sha256}|{as_of.isoformat()}|"
    sha = hashlib.sha256
    return [f"d-{s}-{sha((key + s).encode()).hexdigest()[:12]}" for s in margin_set_ids]


def trace_json_schema() -> dict[str, object]:
    """The JSON Schema of a serialized :class:`DecisionTrace`."""
    return DecisionTrace.model_json_schema(mode="serialization")


def main(argv: list[str] | None = None) -> None:
    """Print the trace JSON Schema, or write it next to this module."""
    parser = argparse.ArgumentParser(prog="python -m marginlex.audit.trace.model")
    parser.add_argument("--write-schema", action="store_true", help=f"write {SCHEMA_PATH.name}")
    args = parser.parse_args(argv)
    text = json.dumps(trace_json_schema(), indent=2, sort_keys=True) + "\n"
    if args.write_schema:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()


def as_version(body: bytes, version: str, *, made_now: bool = True) -> bytes:
    """A trace's canonical bytes as schema ``version`` wrote them: the fields later
    versions added removed (replay compares a re-made trace with a recording this way, so a
    recording is checked for what it recorded, not for fields it could not hold).

    1.7 widened each requirement's ``tested`` to every value it read, its ``when``'s written
    ``when ...`` (before, the first field its condition named, left out when blank: written
    back so for 1.6 and earlier, :func:`_tested_before_1_7`);
    1.6 added the ``unscheduled_lots`` (lots no haircut statement selects, in no step
    before); 1.5 added each class group's ``span_charges`` (the charges its ``charges`` add up from)
    and a SPAN leg's ``matched_risk``, ``credit``, ``paired_credit`` and ``after_credits``,
    each capped lot's ``cap_of``, ``cap_limit``, ``cap_base``, ``cap_amount`` and
    ``capped_value``, a DV01 pairing's row's ``dv01_matched`` and each leg's risk per DV01
    and credit, and the margin set's ``left_alone_by`` and ``left_alone_citation``: a
    set of one account that no rule formed names no ``rule_id`` since 1.5, where 1.4 named
    the rulebook's merging rule (written back there for an earlier version);
    1.4 added each class group's ``concentration`` (what its add-on was charged from), each
    offset's ``class_group_requirements``, ``paired_credit`` and ``requirement``, and an
    offsets output's ``clearing_split``; 1.3 added each class group's ``add_on`` and
    ``charges``, the figures' ``minimum_equity`` and each requirement's own ``citation`` and
    ``evidence``; 1.2 added
    each option position's ``option`` (its inputs and model values at the worst point);
    1.1 added the citation and evidence of each position and lot, and the shortfall of
    each requirement (``rulebook.sources`` is already absent from a replayed 1.0
    reference).

    ``made_now``: ``body`` is a trace the engine made now (its 1.7 ``tested`` is narrowed);
    False for a trace recorded in ``version`` itself, whose ``tested`` is kept as written.
    """
    if version == SCHEMA_VERSION:
        return body
    doc = json.loads(body)
    if made_now:  # not a recording of that version, whose tested is as it was written
        _tested_before_1_7(doc)
    if version == "1.6":
        doc["schema_version"] = version
        return canonical_json(doc)
    doc.pop("unscheduled_lots", None)  # 1.6
    if version == "1.5":
        doc["schema_version"] = version
        return canonical_json(doc)
    _without_1_5(doc)
    if version == "1.4":
        doc["schema_version"] = version
        return canonical_json(doc)
    _without_1_4(doc)
    if version != "1.3":
        _before_1_3(doc, version)
    doc["schema_version"] = version
    return canonical_json(doc)


def _before_1_3(doc: dict[str, Any], version: str) -> None:
    """A trace's JSON without the fields 1.3 added, and for 1.1 and 1.0 those of 1.2 (and of
    1.1 for 1.0)."""
    doc.get("figures", {}).pop("minimum_equity", None)
    for step in doc.get("steps", []):
        output = step.get("output") or {}
        for group in output.get("groups") or []:
            group.pop("add_on", None)
            group.pop("charges", None)
        for check in output.get("requirements") or []:
            check.pop("citation", None)
            check.pop("evidence", None)
        if version == "1.2":
            continue
        lines = [p for g in output.get("groups") or [] for p in g.get("positions") or []]
        for line in lines:
            line.pop("option", None)
        if version != "1.0":
            continue
        for line in lines + list(output.get("lots") or []):
            line.pop("citation", None)
            line.pop("evidence", None)
        for check in output.get("requirements") or []:
            check.pop("shortfall", None)


_FIELD_READ = re.compile(r"[a-z_]+\.[a-z_0-9]+\[")
"""The id of a field read (``account.equity[A1]``), not of a relation (``carrier member_of
...``), a ``holds()``, an ``eligible()`` or a ``when``'s read."""


def _tested_before_1_7(doc: dict[str, Any]) -> None:
    """Each requirement's ``tested`` as 1.6 and earlier wrote it: the first field its
    condition named (the first field read, depth first as 1.7 lists them), none when its value
    was blank or the condition named no field.

    >>> doc = {"steps": [{"output": {"requirements": [{"tested": [
    ...     {"id": "account.holds(sbs)[A]", "value": "False"},
    ...     {"id": "account.equity[A]", "value": "5.0"},
    ...     {"id": "when account.regime[A]", "value": "SEC"}]}, {"tested": [
    ...     {"id": "account.agreements[A]", "value": ""}]}]}}]}
    >>> _tested_before_1_7(doc)
    >>> [r["tested"] for r in doc["steps"][0]["output"]["requirements"]]
    [[{'id': 'account.equity[A]', 'value': '5.0'}], []]
    """
    for step in doc.get("steps", []):
        for check in (step.get("output") or {}).get("requirements") or []:
            reads = check.get("tested") or []
            first = next((r for r in reads if _FIELD_READ.match(str(r.get("id", "")))), None)
            check["tested"] = [first] if first is not None and first.get("value") != "" else []


def _without_1_5(doc: dict[str, Any]) -> None:
    """A trace's JSON without the fields 1.5 added, a lone set naming its merging rule."""
    ms = doc.get("margin_set") or {}
    left_by, left_cite = ms.pop("left_alone_by", None), ms.pop("left_alone_citation", None)
    if left_by is not None and ms.get("rule_id") is None:
        ms["rule_id"], ms["citation"] = left_by, left_cite
    for step in doc.get("steps", []):
        output = step.get("output") or {}
        for group in output.get("groups") or []:
            for key in ("after_credits", "credit", "matched_risk", "paired_credit"):
                group.pop(key, None)
            group.pop("span_charges", None)
        for lot in output.get("lots") or []:
            for key in ("cap_amount", "cap_base", "cap_limit", "cap_of", "capped_value"):
                lot.pop(key, None)
        for offset in output.get("offsets") or []:
            for key in _PAIRING_LEGS:
                offset.pop(key, None)


def _without_1_4(doc: dict[str, Any]) -> None:
    """A trace's JSON without the fields 1.4 added."""
    for step in doc.get("steps", []):
        output = step.get("output") or {}
        output.pop("clearing_split", None)
        for group in output.get("groups") or []:
            group.pop("concentration", None)
        for offset in output.get("offsets") or []:
            for key in ("class_group_requirements", "paired_credit", "requirement"):
                offset.pop(key, None)


_PAIRING_LEGS = (
    "dv01_matched",
    "first_credit",
    "first_risk_per_dv01",
    "second_credit",
    "second_risk_per_dv01",
)
"""A DV01 pairing's row's fields (what recomputes its credit), written only on its rows
(since 1.5)."""


def as_recorded(fresh: bytes, recorded: str | bytes) -> bytes:
    """A re-made trace (``fresh``) in the schema version of the recording it is compared with.

    >>> as_recorded(b'{"schema_version":"1.2","steps":[]}', '{"schema_version":"1.1"}')
    b'{"schema_version":"1.1","steps":[]}'
    """
    text = recorded.decode("utf-8") if isinstance(recorded, bytes) else recorded
    found = _VERSION.search(text)
    version = found.group(1) if found else SCHEMA_VERSION
    made = _VERSION.search(fresh.decode("utf-8"))
    if version == SCHEMA_VERSION or (made is not None and made.group(1) == version):
        return fresh  # already in the recording's version (a model of that version, say)
    return as_version(fresh, version)


_VERSION = re.compile(r'"schema_version":"([0-9.]+)"')
