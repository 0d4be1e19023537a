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

An entry's accounts are rows of their own; its other keys (the requirements it failed, the
rules it used) are one of a few hundred distinct sets across a run, so each set is stored
once in ``key_sets`` under an id made from its content (revision ``0008_key_sets``) and the
entry has one ``key_set`` row naming it: a 100k-account run writes 0.4 million key rows, not
2.5 million. Ledgers recorded before that hold the failed and rule rows per entry; readers
(:func:`with_key`) and ``verify`` accept both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, delete, func, inspect, or_, select

from marginlex.audit.ledger import tables as t
from marginlex.audit.ledger.chain import Dictionaries, Named, trace_json
from marginlex.audit.ledger.driver_rows import insert_sql

_BATCH = 2000


class KeyKind(StrEnum):
    """What a ``decision_keys`` row names."""

    ACCOUNT = "account"
    # The trace builder writes the same two words (marginlex.audit.trace.named; it imports
    # pandas, which a command reading one decision does not): a test holds them equal.
    FAILED = "failed"  # an eligibility requirement the decision failed (that applied)
    RULE = "rule"  # a rule id the decision's steps or figures used
    SET = "key_set"  # the id of the entry's set of failed and rule keys (in key_sets)


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
    """Every key of one entry whose keys besides its accounts are known (the trace
    builder's, :mod:`marginlex.audit.trace.named`): what :func:`keys_of` reads from its trace.

    >>> entry_keys(7, '["A2","A1"]', (("rule", "r.x"),))
    [(7, 'account', 'A1'), (7, 'account', 'A2'), (7, 'rule', 'r.x')]
    """
    return account_rows(seq, account_ids) + [(seq, k, v) for k, v in keys]


def account_rows(seq: int, account_ids: str) -> list[tuple[int, str, str]]:
    """An entry's ``account`` rows, from its ``account_ids`` JSON (sorted, without repeats)."""
    accounts = sorted(set(json.loads(account_ids)))
    return [(seq, KeyKind.ACCOUNT.value, a) for a in accounts]


def set_id(keys: Named) -> str:
    """The ``key_sets`` id of a set of (kind, key) pairs: 32 hex digits of the sha256 of
    their canonical JSON, sorted (the same set has the same id in every ledger).

    >>> set_id((("rule", "r.x"), ("failed", "f")))
    '1f0eba62bf813d77b81eefa8cd70ce47'
    """
    text = json.dumps(sorted(set(keys)), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class KeySets:
    """The key sets one transaction names: each set's id made once, and the rows of the
    sets the ledger does not hold yet, to be written with the entries' rows."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self.known = set(known)
        self._ids: dict[Named, str] = {}
        self._new: list[tuple[str, str, str]] = []

    def stored(self, seq: int, account_ids: str, keys: Named) -> list[tuple[int, str, str]]:
        """The ``decision_keys`` rows of one entry: its accounts, and its set's id (none
        when it has no other key)."""
        rows = account_rows(seq, account_ids)
        if keys:
            rows.append((seq, KeyKind.SET.value, self.id_of(keys)))
        return rows

    def id_of(self, keys: Named) -> str:
        """The id of a set (its rows queued when the ledger does not hold it)."""
        found = self._ids.get(keys)
        if found is None:
            found = self._ids[keys] = set_id(keys)
            if found not in self.known:
                self.known.add(found)
                self._new.extend((found, kind, key) for kind, key in sorted(set(keys)))
        return found

    def take(self) -> list[tuple[str, str, str]]:
        """The rows of the sets queued since the last call: (set id, kind, key)."""
        rows, self._new = self._new, []
        return rows


def named_of(rows: Iterable[tuple[int, str, str]]) -> Named:
    """The keys besides the accounts among an entry's rows (as :func:`keys_of` gives them)."""
    return tuple(sorted({(kind, key) for _, kind, key in rows if kind != KeyKind.ACCOUNT.value}))


def has_key_sets(conn: Connection) -> bool:
    """Whether this ledger has the ``key_sets`` table (revision 0008 or later)."""
    return inspect(conn).has_table(t.key_sets.name)


def read_sets(conn: Connection) -> dict[str, set[tuple[str, str]]]:
    """Every key set the ledger holds (a few hundred): its (kind, key) pairs, by id."""
    found: dict[str, set[tuple[str, str]]] = {}
    for row in conn.execute(select(t.key_sets)):
        found.setdefault(row.set_id, set()).add((row.kind, row.key))
    return found


def write_sets(conn: Connection, rows: list[tuple[str, str, str]]) -> None:
    """Insert ``key_sets`` rows (plain tuples, straight to the driver)."""
    _insert(conn, t.key_sets.name, ("set_id", "kind", "key"), rows)


def with_key(kind: str, key: str, *, sets: bool) -> Any:
    """The entries (a select of seq) listed under ``kind`` and ``key``: by a row of their
    own, or, with ``sets`` (the ledger has ``key_sets``), through their key set."""
    kc = t.decision_keys.c
    own = and_(kc.kind == kind, kc.key == key)
    if not sets or kind == KeyKind.ACCOUNT.value:
        return select(kc.seq).where(own)
    ks = t.key_sets.c
    named = select(ks.set_id).where(ks.kind == kind, ks.key == key)
    return select(kc.seq).where(or_(own, and_(kc.kind == KeyKind.SET.value, kc.key.in_(named))))


def write_keys(conn: Connection, rows: Iterable[tuple[int, str, str]]) -> None:
    """Insert ``decision_keys`` rows (plain tuples, straight to the driver)."""
    _insert(conn, t.decision_keys.name, ("seq", "kind", "key"), list(rows))


def _insert(conn: Connection, table: str, columns: tuple[str, ...], rows: list[Any]) -> None:
    if rows:
        conn.exec_driver_sql(insert_sql(conn, table, columns), rows)


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
    # A set's rows never change: those stored stay. A ledger being upgraded through
    # revision 0005 has no key_sets yet: its entries get their rows in full, as then.
    sets = KeySets(read_sets(conn)) if has_key_sets(conn) else None
    rows: list[tuple[int, str, str]] = []
    count = 0
    for entry in _entries(conn, carrying):
        count += 1
        full = _entry_keys(entry, dictionaries)
        if sets is None:
            rows.extend(full)
        else:
            rows.extend(sets.stored(int(entry.seq), entry.account_ids, named_of(full)))
        if len(rows) >= _BATCH * 8:
            write_entry_keys(conn, rows, sets)
            rows = []
    write_entry_keys(conn, rows, sets)
    return count


def write_entry_keys(
    conn: Connection, rows: list[tuple[int, str, str]], sets: KeySets | None
) -> None:
    """Insert entries' ``decision_keys`` rows, and first the rows of the key sets they
    name that ``sets`` queued (none without ``sets``: a ledger before ``key_sets``)."""
    if sets is not None:
        write_sets(conn, sets.take())
    write_keys(conn, rows)


def _entry_keys(entry: Any, dictionaries: Dictionaries) -> list[tuple[int, str, str]]:
    try:
        return keys_of(int(entry.seq), entry.account_ids, trace_json(entry.trace_z, dictionaries))
    except ValueError:  # a damaged trace (TraceDecodeError, JSON): verify names it
        return account_rows(int(entry.seq), entry.account_ids)


def key_count(conn: Connection) -> int:
    """How many ``decision_keys`` rows the ledger holds."""
    return int(conn.scalar(select(func.count()).select_from(t.decision_keys)) or 0)
