"""Row contexts: the frames expressions are evaluated over, one row per account, instrument,
position or collateral lot.

A :class:`RowContext` holds its own subjects' fields as columns aligned with its rows and
links to parent contexts by row index: a position row reaches its account (and through it
the owner and carrier) and its instrument; a lot row reaches its account. Nothing is
copied to the child until an expression asks for it, and an expression that only names a
parent's subjects is evaluated on the (smaller) parent and gathered
(:func:`marginlex.engine.plan.expressions.mask`).

Derived fields (``dsl/model/fields.py``): ``account.equity`` (collateral plus positions' market
value, futures 0), ``account.products`` (products it has positions in), ``position.side``,
``instrument.residual_maturity`` and ``collateral.residual_maturity`` ((maturity − as-of)
days / 365), ``instrument.tenor`` (the underlying's residual maturity for an instrument
with an underlying; missing for a future or option without one, whose deliverable the book
does not name; else the instrument's own), ``collateral.digital_asset``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.dsl.model.domain import PartyKind, Relation
from marginlex.dsl.model.expressions import GraphPredicate, Subject
from marginlex.engine.book.columns import index_in
from marginlex.engine.book.load import Book
from marginlex.engine.graph.account_graph import AccountGraph
from marginlex.engine.kernels.pricing import years_between
from marginlex.engine.kernels.text import as_text

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
ACCOUNT_LEVEL = frozenset({Subject.ACCOUNT, Subject.OWNER, Subject.CARRIER})


class EvaluationError(ValueError):
    """An expression cannot be evaluated over a context (unknown field or subject)."""


@dataclass
class Link:
    """A parent context and, per row here, the parent's row."""

    ctx: RowContext
    index: IntArray


@dataclass
class RowContext:
    """Columns for expressions over one kind of row.

    Attributes:
        name: what a row is (``account``, ``instrument``, ``position``, ``lot``).
        n: number of rows.
        own: per subject held here, a frame of its fields aligned with the rows.
        links: parent contexts (account-level fields of a position, its instrument).
        graph: the account graph (account context only), for graph predicates.
        products: per product, the account ids holding it (account context only).
        eligible: eligibility outcome per rule id (account context; filled by the
            evaluator's eligibility steps, in order).
        merged: while an eligibility rule is evaluated, per account the merged set the
            rulebook's ``sets merge`` statements would put it in with the accounts still
            eligible under that rule (a code; -1: merged with none), which
            ``account.merged_regimes`` reads; None otherwise.
    """

    name: str
    n: int
    own: dict[Subject, pd.DataFrame]
    links: tuple[Link, ...] = ()
    graph: AccountGraph | None = None
    products: pd.DataFrame | None = None
    eligible: dict[str, BoolArray] = field(default_factory=dict)
    merged: npt.NDArray[np.int64] | None = None

    @property
    def subjects(self) -> frozenset[Subject]:
        """Every subject reachable from this context."""
        out = set(self.own)
        for link in self.links:
            out |= link.ctx.subjects
        return frozenset(out)

    def link_for(self, subjects: frozenset[Subject]) -> Link | None:
        """The parent link that covers all of ``subjects``, if one does."""
        for link in self.links:
            if subjects <= link.ctx.subjects:
                return link
        return None

    def _parent(self, subjects: frozenset[Subject], what: str) -> Link:
        link = self.link_for(subjects)
        if link is None:
            names = ", ".join(sorted(s.value for s in subjects))
            raise EvaluationError(f"{what} names {names}, which a {self.name} row does not have")
        return link

    def column(self, subject: Subject, name: str) -> pd.Series:
        """The column of ``subject.name`` aligned with the rows."""
        if subject in self.own:
            frame = self.own[subject]
            if name not in frame.columns:
                raise EvaluationError(f"no field `{subject.value}.{name}` on a {self.name} row")
            return frame[name]
        link = self._parent(frozenset({subject}), f"`{subject.value}.{name}`")
        parent = link.ctx.column(subject, name)
        return parent.iloc[link.index].reset_index(drop=True)

    def set_member(self, subject: Subject, name: str, member: str) -> BoolArray:
        """Indicator column: does the set field ``subject.name`` contain ``member``?"""
        if subject is not Subject.ACCOUNT or self.name != "account":
            link = self._parent(frozenset({subject}), f"`{subject.value}.{name}`")
            return link.ctx.set_member(subject, name, member)[link.index]
        if name == "agreements":
            col = f"has_{member}_agreement"
            frame = self.own[Subject.ACCOUNT]
            if col not in frame.columns:
                return np.zeros(self.n, dtype=bool)
            return frame[col].to_numpy(dtype=bool)
        if name == "owner_regimes":  # the owner's accounts at the same carrier
            frame = self.own[Subject.ACCOUNT]
            key = as_text(frame["owner_id"]) + "|" + as_text(frame["carrier_id"])
            under = (as_text(frame["regime"]) == member).to_numpy(dtype=bool)
            return np.asarray(index_in(key, key[under]) >= 0, dtype=bool)
        if name == "merged_regimes":
            return self._merged_regime(member)
        if name == "products":
            assert self.products is not None
            held = self.products.loc[self.products["product"] == member, "account_id"]
            return np.asarray(
                index_in(self.own[Subject.ACCOUNT]["id"], held.unique()) >= 0, dtype=bool
            )
        raise EvaluationError(f"`{subject.value}.{name}` is not a set field")

    def _merged_regime(self, member: str) -> BoolArray:
        """Is the account merged with another account under regime ``member``
        (``self.merged``, the sets an eligibility rule's candidates would form)?"""
        if self.merged is None:
            raise EvaluationError(
                "`account.merged_regimes` is read only by an eligibility requirement"
            )
        frame = self.own[Subject.ACCOUNT]
        merged = self.merged >= 0
        group = np.where(merged, self.merged, 0)
        under = (as_text(frame["regime"]) == member).to_numpy(dtype=bool) & merged
        count = np.bincount(group, weights=under, minlength=int(group.max(initial=-1)) + 1)
        return np.asarray(merged & (count[group] - under > 0), dtype=bool)  # its own row out

    def eligible_column(self, rule: str) -> BoolArray:
        """The outcome of eligibility rule ``rule`` per row."""
        if self.name != "account":
            link = self._parent(frozenset({Subject.ACCOUNT}), f"eligible({rule})")
            return link.ctx.eligible_column(rule)[link.index]
        if rule not in self.eligible:
            raise EvaluationError(
                f"eligible({rule}) is asked before eligibility rule `{rule}` ran (or it is "
                "not in force on the as-of date)"
            )
        return self.eligible[rule]

    def graph_column(self, pred: GraphPredicate) -> BoolArray:
        """A graph predicate as a column (``carrier member_of dco``)."""
        if self.name != "account" or self.graph is None:
            link = self._parent(ACCOUNT_LEVEL, "a graph predicate")
            return link.ctx.graph_column(pred)[link.index]
        ids = self._ids(pred.subject)
        relation = Relation(pred.relation.value)
        if pred.target_kind is not None:
            mask = self.graph.relation_mask(ids, relation, dst_kind=[PartyKind(pred.target_kind)])
        elif pred.target_party is not None:
            mask = self.graph.relation_mask(ids, relation, dst_ids=[pred.target_party])
        else:
            assert pred.target_subject is not None
            mask = self.graph.pair_related(ids, self._ids(pred.target_subject), relation)
        return mask.to_numpy(dtype=bool)

    def _ids(self, subject: Subject) -> pd.Series:
        if subject not in ACCOUNT_LEVEL:
            raise EvaluationError(f"a graph predicate cannot start from `{subject.value}`")
        return self.own[subject]["id"]


def _parties_for(parties: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    rows = index_in(ids, parties["party_id"])
    picked = parties.iloc[np.where(rows >= 0, rows, 0)].reset_index(drop=True)
    return pd.DataFrame(
        {
            "id": ids.to_numpy(),
            "name": picked["name"],
            "kind": picked["kind"],
            "ecp": picked["ecp"].astype("bool"),
            "options_approval": picked["options_approval"],
        }
    )


def account_context(
    book: Book, graph: AccountGraph, products: pd.DataFrame | None = None
) -> RowContext:
    """One row per account, in the book's (sorted) account order.

    ``products``: the distinct (account_id, product) pairs of the positions, when the
    caller has them (a stress stack tiles them); found here otherwise.
    """
    cols = graph.account_columns()
    acc = book.accounts.reset_index(drop=True)
    equity = cols["equity"].reindex(acc["account_id"]).to_numpy(np.float64)
    account = acc.drop(columns=["agreements"]).rename(columns={"account_id": "id"})
    account = account.assign(equity=equity, agreements=acc["agreements"])
    own = {
        Subject.ACCOUNT: account,
        Subject.OWNER: _parties_for(book.parties, acc["owner_id"]),
        Subject.CARRIER: _parties_for(book.parties, acc["carrier_id"]),
    }
    if products is None:
        products = pd.DataFrame(
            {"account_id": book.positions["account_id"], "product": book.positions["product"]}
        ).drop_duplicates()
    return RowContext("account", len(acc), own, graph=graph, products=products)


def _years(as_of: dt.date, dates: pd.Series) -> npt.NDArray[np.float64]:
    return years_between(np.datetime64(as_of, "D"), dates.to_numpy(dtype="datetime64[D]"))


def instrument_context(book: Book, as_of: dt.date) -> RowContext:
    """One row per instrument, with residual maturity and tenor."""
    inst = book.instruments.reset_index(drop=True)
    residual = _years(as_of, inst["maturity"])
    under = index_in(inst["underlying"], inst["instrument_id"])
    has_under = under >= 0
    derivative = inst["is_option"].to_numpy(dtype=bool) | inst["is_future"].to_numpy(dtype=bool)
    tenor = np.where(
        has_under, residual[np.where(has_under, under, 0)], np.where(derivative, np.nan, residual)
    )
    frame = inst.rename(columns={"instrument_id": "id"}).assign(
        residual_maturity=residual, tenor=tenor
    )
    return RowContext("instrument", len(inst), {Subject.INSTRUMENT: frame})


def position_context(
    book: Book,
    accounts: RowContext,
    instruments: RowContext,
    rows: tuple[IntArray, IntArray] | None = None,
) -> RowContext:
    """One row per position, linked to its account and its instrument.

    ``rows``: each position's account row and instrument row, when the caller has them
    (a stress stack tiles them); looked up by id otherwise.
    """
    pos = book.positions.reset_index(drop=True)
    quantity = pos["quantity"].to_numpy(np.float64)
    side = pd.Categorical.from_codes(
        (quantity < 0).astype(np.int64), categories=pd.Index(["long", "short"])
    )
    frame = pd.DataFrame(
        {
            "account_id": pos["account_id"],
            "instrument_id": pos["instrument_id"],
            "quantity": quantity,
            "side": side,
            "market_value": pos["market_value"].to_numpy(np.float64),
        }
    )
    if rows is None:
        rows = (
            index_in(pos["account_id"], accounts.own[Subject.ACCOUNT]["id"]),
            index_in(pos["instrument_id"], instruments.own[Subject.INSTRUMENT]["id"]),
        )
    links = (Link(accounts, rows[0]), Link(instruments, rows[1]))
    return RowContext("position", len(pos), {Subject.POSITION: frame}, links)


def lot_context(book: Book, accounts: RowContext, as_of: dt.date) -> RowContext:
    """One row per collateral lot, linked to the account it belongs to."""
    lots = book.collateral.reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "id": lots["lot_id"],
            "account_id": lots["account_id"],
            "asset": lots["asset"],
            "market_value": lots["market_value"].to_numpy(np.float64),
            "maturity": lots["maturity"],
            "residual_maturity": _years(as_of, lots["maturity"]),
            "pledged_to": lots["pledged_to"],
            "digital_asset": lots["is_digital_asset"].to_numpy(dtype=bool),
        }
    )
    link = Link(accounts, index_in(lots["account_id"], accounts.own[Subject.ACCOUNT]["id"]))
    return RowContext("lot", len(lots), {Subject.COLLATERAL: frame}, (link,))


@dataclass(frozen=True)
class Contexts:
    """The four row contexts of one book as of one date."""

    accounts: RowContext
    instruments: RowContext
    positions: RowContext
    lots: RowContext


def build_contexts(book: Book, as_of: dt.date, graph: AccountGraph | None = None) -> Contexts:
    """Build the account, instrument, position and lot contexts of a book.

    The account context's ``eligible`` columns are empty: each evaluation starts its own
    (build the contexts once per rulebook run, or clear ``eligible``).
    """
    g = graph or AccountGraph(book)
    accounts = account_context(book, g)
    instruments = instrument_context(book, as_of)
    return Contexts(
        accounts=accounts,
        instruments=instruments,
        positions=position_context(book, accounts, instruments),
        lots=lot_context(book, accounts, as_of),
    )
