"""What would pass a failed requirement, read from its condition (never guessed from text).

A condition of the shipped kinds gives a change to the book:

- ``account.equity >= m`` (a money minimum): deposit ``m - equity`` USD in the account;
- ``subject.field = value`` or ``subject.field in {v, ...}`` on an account, its owner or its
  carrier: that field set (the first value of a set);
- ``agreement in account.agreements``: the agreement signed;
- ``carrier member_of kind``: the carrier made a member of the book's first party of that kind;
- ``a and b``: every part's change together; ``a or b``: each part's change, as alternatives.

Anything else has no automatic fix and says so. Every change is then verified by the search.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from marginlex.dsl.model import expressions as e
from marginlex.engine.book.load import Book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.plan.steps import Plan
from marginlex.engine.whatif import edits
from marginlex.engine.whatif.model import ChangeKind

Edit = Callable[[Book], Book]


@dataclass(frozen=True)
class Fix:
    """A change to the book that should pass a requirement, in words and as an edit."""

    kind: ChangeKind
    text: str
    edit: Edit
    amount: float | None = None


_FRAME = {
    e.Subject.ACCOUNT: ("accounts", "account_id"),
    e.Subject.OWNER: ("parties", "party_id"),
    e.Subject.CARRIER: ("parties", "party_id"),
}


def _row_id(book: Book, subject: e.Subject, account_id: str) -> str:
    acc = book.accounts.set_index("account_id").loc[account_id]
    return {
        e.Subject.ACCOUNT: account_id,
        e.Subject.OWNER: str(acc["owner_id"]),
        e.Subject.CARRIER: str(acc["carrier_id"]),
    }[subject]


def _literal(node: e.Node) -> str | bool | None:
    if isinstance(node, e.Symbol):
        return node.name
    if isinstance(node, e.BoolValue | e.Text):
        return node.value
    return None


def _set_field(book: Book, field: e.FieldRef, value: str | bool, account_id: str) -> Fix | None:
    if field.subject not in _FRAME:
        return None
    stem, key = _FRAME[field.subject]
    if field.name not in book.frame(stem).columns or field.name == key:
        return None
    row = _row_id(book, field.subject, account_id)
    text = f"set {field.subject.value}.{field.name} of {row} to {value}"
    return Fix(
        ChangeKind.SET_FIELD,
        text,
        lambda b: edits.set_value(b, stem, key, [row], column=field.name, value=value),
    )


def _minimum(cond: e.Compare, book: Book, plan: Plan, account_id: str) -> Fix | None:
    field, floor = cond.left, cond.right
    if not (
        isinstance(field, e.FieldRef)
        and field.subject is e.Subject.ACCOUNT
        and field.name == "equity"
        and isinstance(floor, e.Quantity | e.ParamRef)
    ):
        return None
    columns = AccountGraph(book).account_columns()
    equity = float(np.asarray(columns.loc[[account_id], "equity"], dtype=np.float64)[0])
    gap = math.ceil((plan.value(floor) - equity) * 100) / 100
    if gap <= 0:
        return None
    return Fix(
        ChangeKind.DEPOSIT,
        f"deposit {gap:,.2f} USD in {account_id}",
        lambda b: edits.deposit(b, account_id, gap),
        gap,
    )


def _graph(cond: e.GraphPredicate, book: Book, account_id: str) -> Fix | None:
    if cond.subject is not e.Subject.CARRIER:
        return None
    if cond.target_party is not None:  # one named party: `carrier member_of "FICC"`
        parties = book.parties[book.parties["party_id"].astype("str") == cond.target_party]
    elif cond.target_kind is not None:
        parties = book.parties[book.parties["kind"].astype("str") == cond.target_kind]
    else:
        return None
    if parties.empty:
        return None
    carrier, target = _row_id(book, e.Subject.CARRIER, account_id), str(parties["party_id"].iloc[0])
    kind = str(parties["kind"].iloc[0])
    text = f"make {carrier} {cond.relation.value} {target} (a {kind})"
    return Fix(
        ChangeKind.ADD_RELATION,
        text,
        lambda b: edits.add_relation(b, carrier, target, cond.relation.value),
    )


def _combined(parts: list[Fix]) -> Fix:
    def edit(b: Book) -> Book:
        for p in parts:  # a few parts
            b = p.edit(b)
        return b

    amount = sum(p.amount or 0.0 for p in parts) or None
    return Fix(
        parts[0].kind if len(parts) == 1 else ChangeKind.SET_FIELD,
        "; ".join(p.text for p in parts),
        edit,
        amount,
    )


def fixes(cond: e.Node, book: Book, plan: Plan, account_id: str) -> list[Fix]:
    """The alternative changes that should make ``cond`` hold for ``account_id``."""
    if isinstance(cond, e.Or):
        return [f for item in cond.items for f in fixes(item, book, plan, account_id)]
    if isinstance(cond, e.And):
        parts = [fixes(item, book, plan, account_id) for item in cond.items]
        chosen = [p[0] for p in parts if p]  # a part that already holds needs no change
        return [_combined(chosen)] if chosen else []
    found: Fix | None = None
    if isinstance(cond, e.Compare) and cond.op in (e.CmpOp.GE, e.CmpOp.GT):
        found = _minimum(cond, book, plan, account_id)
    elif (
        isinstance(cond, e.Compare) and cond.op is e.CmpOp.EQ and isinstance(cond.left, e.FieldRef)
    ):
        value = _literal(cond.right)
        found = None if value is None else _set_field(book, cond.left, value, account_id)
    elif isinstance(cond, e.Membership) and not cond.negated:
        found = _membership(cond, book, account_id)
    elif isinstance(cond, e.GraphPredicate):
        found = _graph(cond, book, account_id)
    return [found] if found is not None else []


def _membership(cond: e.Membership, book: Book, account_id: str) -> Fix | None:
    item, coll = cond.item, cond.collection
    if isinstance(coll, e.FieldRef) and coll.name == "agreements" and isinstance(item, e.Symbol):
        return Fix(
            ChangeKind.SIGN_AGREEMENT,
            f"sign a {item.name} agreement on {account_id}",
            lambda b: edits.sign_agreement(b, account_id, item.name),
        )
    if isinstance(item, e.FieldRef) and isinstance(coll, e.SetOf) and coll.items:
        value = _literal(coll.items[0])
        return None if value is None else _set_field(book, item, value, account_id)
    return None
