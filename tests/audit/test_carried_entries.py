"""Carried entries written column-wise (issue 16 part 2): each header and entry hash is what
the one-entry path (``chain.entry_header``, ``chain.entry_hash``) makes for the same entry,
and the blocks cut between decided entries keep margin set id order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginlex.audit.ledger.carried_entries import CarriedEntries, CarriedMismatch, concat
from marginlex.audit.ledger.carry import _cents
from marginlex.audit.ledger.chain import PreparedDecision, entry_hash, entry_header
from marginlex.audit.ledger.record import interleave

AS_OF = date(2026, 3, 31)
IDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
CENTS = st.integers(0, 10**12).map(lambda c: f"{Decimal(c) / 100:.2f}")


def _block(set_ids: list[str], calls: list[str]) -> CarriedEntries:
    n = len(set_ids)
    return CarriedEntries(
        rulebook_id="sec",
        rulebook_sha256="a" * 64,
        book_sha256="b" * 64,
        as_of=AS_OF,
        margin_set_ids=np.asarray(set_ids, dtype=str),
        decision_ids=[f"d-{s}-0123456789ab" for s in set_ids],
        account_ids=[f'["{s}","é\\"x"]' for s in set_ids],
        statuses=["ok" if i % 2 else "call" for i in range(n)],
        calls=calls,
        requirements=list(reversed(calls)),
        trace_sha256=[f"{i:064x}" for i in range(n)],
        inputs_sha256=[None if i % 3 == 0 else f"{i:064x}" for i in range(n)],
        carried_from=list(range(7, 7 + n)),
        carried_hash=[f"{i + 9:064x}" for i in range(n)],
    )


def _one_by_one(block: CarriedEntries, i: int) -> PreparedDecision:
    return PreparedDecision(
        decision_id=block.decision_ids[i],
        rulebook_id=block.rulebook_id,
        rulebook_sha256=block.rulebook_sha256,
        book_sha256=block.book_sha256,
        as_of=block.as_of,
        margin_set_id=str(block.margin_set_ids[i]),
        account_ids=block.account_ids[i],
        status=block.statuses[i],
        call=Decimal(block.calls[i]),
        requirement=Decimal(block.requirements[i]),
        trace_sha256=block.trace_sha256[i],
        trace_z=b"",
        inputs_sha256=block.inputs_sha256[i],
        carried_from=block.carried_from[i],
        carried_hash=block.carried_hash[i],
    )


@given(st.lists(st.tuples(IDS, CENTS), min_size=1, max_size=12, unique_by=lambda p: p[0]))
def test_a_block_chains_exactly_as_one_entry_at_a_time(pairs: list[tuple[str, str]]) -> None:
    pairs.sort()
    block = _block([s for s, _ in pairs], [c for _, c in pairs])
    rows, head = block.rows(("r-1", "c" * 64), (41, "f" * 64), float)
    prev = "f" * 64
    for i, row in enumerate(rows):
        header = entry_header(_one_by_one(block, i), "r-1", "c" * 64)
        assert block.headers("r-1", "c" * 64)[i] == header
        expected = entry_hash(prev, header, 42 + i)
        assert (row[0], row[11], row[12]) == (42 + i, prev, expected)
        prev = expected
    assert head == (41 + len(rows), prev)
    assert [r[7] for r in rows] == [float(c) for _, c in pairs]


def test_blocks_are_cut_between_the_decided_entries_in_set_order() -> None:
    block = concat([_block(["ms:D", "ms:A"], ["1.00", "2.00"]), _block(["ms:F"], ["3.00"])])
    assert block.margin_set_ids.tolist() == ["ms:A", "ms:D", "ms:F"]
    assert block.calls == ["2.00", "1.00", "3.00"]  # every column follows the sort
    decided = [_one_by_one(_block([s], ["0.00"]), 0) for s in ("ms:B", "ms:C", "ms:G")]
    order = [
        item.margin_set_ids.tolist() if isinstance(item, CarriedEntries) else item.margin_set_id
        for item in interleave(decided, block)
    ]
    assert order == [["ms:A"], "ms:B", "ms:C", ["ms:D", "ms:F"], "ms:G"]


def test_a_block_of_another_book_is_refused() -> None:
    block = _block(["ms:A"], ["1.00"])
    with pytest.raises(CarriedMismatch, match="book or as-of differs"):
        block.check("r-1", {"a" * 64: "sec"}, ("e" * 64, AS_OF))
    with pytest.raises(CarriedMismatch, match="rulebook sec is not in run r-1"):
        block.check("r-1", {"a" * 64: "cftc"}, ("b" * 64, AS_OF))


def _header_cents(value: object) -> str:
    """The rule :func:`~marginlex.audit.ledger.carry._cents` keeps: the amount's shortest
    text, quantized to the cent (half even), with two places."""
    return f"{Decimal(str(value)).quantize(Decimal('0.01')):.2f}"


@given(
    st.lists(
        st.one_of(
            st.integers(-(10**15), 10**15).map(lambda c: c / 100),  # SQLite: floats of cents
            st.integers(-(10**6), 10**6),  # and integers, for whole amounts
            st.floats(-1e15, 1e15),  # off the cent, large, tiny, -0.0
            st.decimals(-(10**15), 10**15, places=2),  # PostgreSQL
        ),
        min_size=1,
        max_size=20,
    )
)
def test_carried_amounts_are_written_as_their_decimal_text_is(values: list[object]) -> None:
    amounts = pd.Series(values, dtype=object)
    assert _cents(amounts) == [_header_cents(v) for v in values]


def test_the_cent_texts_of_a_block_of_floats() -> None:
    amounts = pd.Series([0, 12, 0.1, -3.5, 1234567.89, 0.0, 99999999999.99], dtype=object)
    assert _cents(amounts) == [
        "0.00", "12.00", "0.10", "-3.50", "1234567.89", "0.00", "99999999999.99"
    ]  # fmt: skip
