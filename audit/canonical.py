"""Canonical JSON: one byte string per value, whatever order its keys were built in.

Sorted keys, compact separators, UTF-8 (no ``\\u`` escapes for non-ASCII), so that identical
decisions serialize byte-identically and their sha256 can be chained in the ledger.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def canonical_json(value: Any) -> bytes:
    """Serialize a JSON-ready value canonically.

    Args:
        value: dicts, lists, strings, numbers, booleans and None (for a pydantic model use
            :func:`canonical_model`).

    Returns:
        UTF-8 bytes with sorted keys and no insignificant whitespace.

    Raises:
        ValueError: the value holds NaN or infinity, which JSON cannot carry.

    >>> canonical_json({"b": 1, "a": ["é", None]})
    b'{"a":["\\xc3\\xa9",null],"b":1}'
    """
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def canonical_model(model: BaseModel) -> bytes:
    """Serialize a pydantic model canonically (its JSON mode, keys sorted).

    >>> from pydantic import BaseModel
    >>> class P(BaseModel):
    ...     z: int
    ...     a: str
    >>> canonical_model(P(z=1, a="x"))
    b'{"a":"x","z":1}'
    """
    return canonical_json(model.model_dump(mode="json"))


def sha256_hex(data: bytes | str) -> str:
    """The sha256 of bytes (or of a string's UTF-8) as 64 lowercase hex digits.

    >>> sha256_hex("")[:16]
    'e3b0c44298fc1c14'
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()
