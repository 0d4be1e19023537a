"""The decisions' lookup keys: who a decision is about, which requirements it failed, which
rules it used (revision ``0005_decision_keys``).

An entry carried forward by ``run --since`` has no keys of its own: it is found through the
entry it refers to (``carried_from``, always an entry that holds its trace), as
:func:`carried_or_own` writes it. Ledgers recorded before this kept a copy of the
reference's keys for each carried entry; readers and ``verify`` accept both.

Derived index rows, not entries: they are written in the transaction that records their
decision, are not chained (the entry hash covers the trace they are read from), and
:func:`backfill` rebuilds them from the traces. A ledger made before them gets
them from its traces (:func:`backfill`, run by ``marginlex ledger upgrade``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, func, inspect, or_, select

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.chain import Dictionaries, Named, trace_json

_BATCH = 2000


class KeyKind(StrEnum):
    """What a ``decision_keys`` row names."""

    ACCOUNT = "account"
    # The trace builder writes the same two words (marginlex.audit.trace.named; it imports
    # pandas, which a command reading one decision does not): a test holds them equal.
    FAILED = "failed"  # an eligibility requirement the decision failed (that applied)
    RULE = "rule"  # a rule id the decision's steps or figures used


def failed_requirements(body: str) -> list[str]:
    """The eligibility requirements a trace failed (that applied), by name.

    >>> failed_requirements('{"steps": [{"output": {"type": "eligibility", "requirements":'
    ...     ' [{"name": "min_equity", "applies": true, "passed": false}]}}]}')
    ['min_equity']
    """
    if '"passed":false' not in body.replace(" ", ""):
        return []  # most traces: no parse needed
    return _failed(json.loads(body))


def _failed(trace: dict[str, Any]) -> list[str]:
    return [
        r["name"]
        for s in trace["steps"]
        if s["output"].get("type") == "eligibility"
        for r in s["output"]["requirements"]
        if r.get("applies", True) and not r["passed"]
    ]


def rules_used(trace: dict[str, Any]) -> set[str]:
    """The rule ids a parsed trace's steps and figure sources name."""
    used = {s["rule_id"] for s in trace["steps"]}
    return used | {s["rule_id"] for s in trace["figures"].get("sources", ())}


def keys_of(seq: int, account_ids: str, body: str) -> list[tuple[int, str, str]]:
    """The ``decision_keys`` rows of one entry: (seq, kind, key), sorted, without repeats.

    >>> keys_of(7, '["A1","A2"]', '{"steps": [{"rule_id": "r.x", "output": {}}], "figures": {}}')
    [(7, 'account', 'A1'), (7, 'account', 'A2'), (7, 'rule', 'r.x')]
    """
    trace = json.loads(body)
    found = {(KeyKind.ACCOUNT.value, a) for a in json.loads(account_ids)}
    found |= {(KeyKind.FAILED.value, name) for name in _failed(trace)}
    found |= {(KeyKind.RULE.value, rule) for rule in rules_used(trace)}
    return [(seq, kind, key) for kind, key in sorted(found)]


def entry_keys(seq: int, account_ids: str, keys: Named) -> list[tuple[int, str, str]]:
    """The ``decision_keys`` rows of one entry whose keys besides its accounts are known
    (the trace builder's, :mod:`marginlex.audit.trace.named`): what :func:`keys_of` reads
    from its trace.

    >>> entry_keys(7, '["A2","A1"]', (("rule", "r.x"),))
    [(7, 'account', 'A1'), (7, 'account', 'A2'), (7, 'rule', 'r.x')]
    """
    accounts = sorted(set(json.loads(account_ids)))
    return [(seq, KeyKind.ACCOUNT.value, a) for a in accounts] + [(seq, k, v) for k, v in keys]


def write_keys(conn: Connection, rows: Iterable[tuple[int, str, str]]) -> None:
    """Insert ``decision_keys`` rows (plain tuples, straight to the driver)."""
    batch = list(rows)
    if batch:
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"INSERT INTO {t.decision_keys.name} (seq, kind, key) "
            f"VALUES ({marker}, {marker}, {marker})",
            batch,
        )


def carried_or_own(seqs: Any) -> Any:
    """The condition "a decision whose keys are among ``seqs`` (a select of seq)": its own
    or, carried forward, those of the entry it refers to."""
    col = t.decisions.c
    return or_(col.seq.in_(seqs), col.carried_from.in_(seqs))


def keyed_seq() -> Any:
    """The entry whose keys stand for each ``decisions`` row (its reference when carried)."""
    col = t.decisions.c
    return func.coalesce(col.carried_from, col.seq)


def has_keys(conn: Connection) -> bool:
    """Whether this ledger has the ``decision_keys`` table (revision 0005 or later)."""
    return inspect(conn).has_table(t.decision_keys.name)


def load_dictionaries(conn: Connection) -> Dictionaries:
    """The ledger's Zstandard dictionaries, read over ``conn``."""
    if not inspect(conn).has_table(t.trace_dictionaries.name):
        return {}
    rows = conn.execute(select(t.trace_dictionaries))
    return {int(row.dict_id): bytes(row.data) for row in rows}


def _entries(conn: Connection, carrying: bool) -> Iterator[Any]:
    """Every entry that holds its own trace (with ``carrying``, a ledger that has carried
    entries' columns: a carried one takes its reference's keys instead)."""
    col = t.decisions.c
    query = select(col.seq, col.account_ids, col.trace_z).order_by(col.seq)
    if carrying:
        query = query.where(col.carried_from.is_(None))
    # yield_per on the statement, not the connection: the keys are inserted over the same
    # connection meanwhile, and on PostgreSQL an INSERT cannot run on a server-side cursor.
    result = conn.execute(query.execution_options(yield_per=_BATCH))
    try:
        yield from result
    finally:
        result.close()


def backfill(conn: Connection) -> int:
    """Rebuild every entry's keys from its trace (within the caller's transaction).

    Returns:
        How many entries were read. An entry whose trace no longer reads gets its account
        keys only (verify reports the damaged trace itself).
    """
    dictionaries = load_dictionaries(conn)
    carrying = "carried_from" in {c["name"] for c in inspect(conn).get_columns(t.decisions.name)}
    conn.execute(delete(t.decision_keys))
    rows: list[tuple[int, str, str]] = []
    count = 0
    for entry in _entries(conn, carrying):
        count += 1
        rows.extend(_entry_keys(entry, dictionaries))
        if len(rows) >= _BATCH * 8:
            write_keys(conn, rows)
            rows = []
    write_keys(conn, rows)
    return count


def _entry_keys(entry: Any, dictionaries: Dictionaries) -> list[tuple[int, str, str]]:
    try:
        return keys_of(int(entry.seq), entry.account_ids, trace_json(entry.trace_z, dictionaries))
    except ValueError:  # a damaged trace (TraceDecodeError, JSON): verify names it
        accounts = json.loads(entry.account_ids)
        return [(int(entry.seq), KeyKind.ACCOUNT.value, a) for a in sorted(set(accounts))]


def key_count(conn: Connection) -> int:
    """How many ``decision_keys`` rows the ledger holds."""
    return int(conn.scalar(select(func.count()).select_from(t.decision_keys)) or 0)
