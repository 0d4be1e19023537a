"""Helpers shared by the dsl tests (imported as a plain module from this folder)."""

from typing import Any

from marginlex.dsl.model import rulebook as m


def without_spans(node: m.Node) -> Any:
    """The model as plain data with every span and the comments left out."""
    return _strip(node.model_dump(mode="json", exclude={"comments"}))


def _strip(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if k not in m.SPAN_FIELDS}
    if isinstance(data, list):
        return [_strip(x) for x in data]
    return data
