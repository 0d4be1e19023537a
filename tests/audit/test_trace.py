"""The trace schema: canonical serialization, money to the cent, validation, the JSON Schema."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from marginlex.audit.canonical import canonical_json, canonical_model
from marginlex.audit.trace import model as trace_module
from marginlex.audit.trace import steps as trace_steps
from marginlex.audit.trace.model import (
    SCHEMA_PATH,
    DecisionFigures,
    DecisionTrace,
    trace_json_schema,
)
from marginlex.audit.trace.money import to_cents


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def test_identical_decisions_serialize_byte_identically(pm_trace: DecisionTrace) -> None:
    again = DecisionTrace.model_validate_json(pm_trace.model_dump_json())
    assert again.canonical() == pm_trace.canonical()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_key_order_does_not_matter(pm_trace: DecisionTrace, seed: int) -> None:
    data = _shuffled(pm_trace.model_dump(mode="json"), random.Random(seed))
    rebuilt = DecisionTrace.model_validate_json(json.dumps(data))
    assert rebuilt.canonical() == pm_trace.canonical()


def test_fast_canonical_form_equals_sorted_key_json(pm_trace: DecisionTrace) -> None:
    current = pm_trace.model_copy(update={"schema_version": trace_module.SCHEMA_VERSION})
    assert current.canonical() == canonical_model(current)
    assert pm_trace.canonical().startswith(b'{"as_of":"2026-03-31","book_sha256":"')
    # The fixture is a 1.0 trace: written as 1.0 wrote it, without the fields 1.1 added.
    assert pm_trace.schema_version == "1.0"
    recorded = canonical_model(pm_trace)  # a recording of 1.0: its tested kept as written
    assert pm_trace.canonical() == trace_module.as_version(recorded, "1.0", made_now=False)
    assert b'"shortfall"' not in pm_trace.canonical()


def _models() -> list[type[BaseModel]]:
    found = []
    for module in (trace_module, trace_steps):
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseModel)
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return found


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_trace_model_declares_fields_sorted_and_is_frozen(model: type[BaseModel]) -> None:
    # DecisionTrace.canonical() relies on pydantic writing fields in declaration order.
    assert list(model.model_fields) == sorted(model.model_fields)
    assert model.model_config.get("frozen") and model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        (2.675, "2.68"),
        (-2.675, "-2.68"),
        (0.1 + 0.2, "0.30"),
        (1234.5699999999999, "1234.57"),
        (-0.004, "0.00"),
        (10, "10.00"),
        ("1.005", "1.01"),
        (1e12 + 0.125, "1000000000000.13"),
    ],
)
def test_money_rounds_half_up_to_the_cent(amount: float | str, cents: str) -> None:
    assert str(to_cents(amount)) == cents


def test_money_is_a_decimal_string_in_json(pm_trace: DecisionTrace) -> None:
    figures = json.loads(pm_trace.canonical())["figures"]
    assert figures["maintenance"] == "69760.00" and figures["call"] == "0.00"
    noisy = pm_trace.figures.model_dump() | {"equity": 403899.99999999994}
    assert DecisionFigures.model_validate(noisy).model_dump_json().count('"403900.00"') == 1


def test_money_rejects_nan_and_booleans() -> None:
    with pytest.raises(ValueError, match="finite"):
        to_cents(float("nan"))
    base = {
        "equity": 1,
        "value": 1,
        "maintenance": 1,
        "initial": 1,
        "excess": 0,
        "call": 0,
        "status": "ok",
    }
    with pytest.raises(ValidationError, match="money must be a number"):
        DecisionFigures.model_validate(base | {"equity": True})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"excess": "-10.00", "call": "0.00"}, "call 0.00 must be max(0, -excess)"),
        ({"excess": "-10.00", "call": "10.00", "status": "ok"}, "status ok with a call"),
        ({"status": "call"}, "status call without a call amount"),
    ],
)
def test_figures_must_agree(pm_trace: DecisionTrace, change: dict[str, str], message: str) -> None:
    data = pm_trace.figures.model_dump(mode="json") | change
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DecisionFigures.model_validate(data)


def test_step_output_must_match_its_kind(pm_trace: DecisionTrace) -> None:
    data = pm_trace.model_dump(mode="json")
    data["steps"][0]["kind"] = "haircut"
    with pytest.raises(
        ValidationError, match="a haircut rule writes `collateral`, not `eligibility`"
    ):
        DecisionTrace.model_validate(data)


def test_unknown_fields_are_rejected(pm_trace: DecisionTrace) -> None:
    data = pm_trace.model_dump(mode="json") | {"comment": "x"}
    with pytest.raises(ValidationError, match="comment"):
        DecisionTrace.model_validate(data)


def test_committed_json_schema_is_current() -> None:
    committed = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert committed == trace_json_schema(), (
        "audit/trace/schema.json is stale: "
        "run `python -m marginlex.audit.trace.model --write-schema`"
    )


def test_canonical_json_helper() -> None:
    assert canonical_json({"b": [1, {"d": 1, "c": "é"}], "a": None}) == (
        '{"a":null,"b":[1,{"c":"é","d":1}]}'.encode()
    )
    with pytest.raises(ValueError, match="Out of range float"):
        canonical_json({"x": float("inf")})
    assert Decimal("0.00") == to_cents(-0.0)


def _doc_sections() -> dict[str, str]:
    doc = (Path(__file__).parents[2] / "docs" / "trace-schema.md").read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    for block in re.split(r"^#{2,4} ", doc, flags=re.M)[1:]:
        title, _, body = block.partition("\n")
        sections[title.strip()] = body
    return sections


@pytest.mark.parametrize(
    "model", [m for m in _models() if m.__name__ != "TraceModel"], ids=lambda m: m.__name__
)
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    section = _doc_sections().get(model.__name__)
    assert section is not None, f"docs/trace-schema.md has no section for {model.__name__}"
    missing = [f for f in model.model_fields if f"| `{f}` |" not in section]
    assert not missing, f"{model.__name__}: undocumented fields {missing}"
