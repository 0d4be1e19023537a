"""Vectorized evaluation of the expression AST over a row context.

One handler per expression node type, in :data:`HANDLERS` (a test asserts every type in
``EXPR_TYPES`` has one). A handler returns a whole column (a pandas Series or a numpy
bool array, aligned with the context's rows), a scalar (number, text, date, bool), a tuple
(a set literal) or a :class:`SetField` (a set-valued field, only meaningful on the right
of ``in``). :func:`mask` turns a condition into a numpy bool array.

Semantics: a comparison with a missing value is False (``!=`` included); ``x not in S``
with a missing ``x`` is False too. Parameters are read from the plan (base units:
fractions, USD, years), as are literal quantities.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from marginlex.dsl.format import expressions as format_expr
from marginlex.dsl.model import expressions as e
from marginlex.dsl.model.fields import FIELDS, Kind
from marginlex.engine.kernels.text import as_text, from_arrow
from marginlex.engine.plan.context import ACCOUNT_LEVEL, BoolArray, EvaluationError, RowContext
from marginlex.engine.plan.steps import Plan


@dataclass(frozen=True)
class SetField:
    """A set-valued field (``account.agreements``): tested with ``in``, never compared."""

    subject: e.Subject
    name: str


@dataclass(frozen=True)
class Env:
    """What handlers read: the row context and the plan (for parameters)."""

    ctx: RowContext
    plan: Plan


Result = Any
Handler = Callable[[Any, Env], Result]

_OPS: dict[e.CmpOp, Callable[[Any, Any], Any]] = {
    e.CmpOp.EQ: operator.eq,
    e.CmpOp.NE: operator.ne,
    e.CmpOp.LT: operator.lt,
    e.CmpOp.LE: operator.le,
    e.CmpOp.GT: operator.gt,
    e.CmpOp.GE: operator.ge,
}


def evaluate_expr(node: e.Node, env: Env) -> Result:
    """Evaluate one node with the handler registered for its type."""
    handler = HANDLERS.get(type(node))
    if handler is None:
        raise EvaluationError(f"no evaluator for expression node {type(node).__name__}")
    return handler(node, env)


def _missing(value: Result) -> Any:
    if isinstance(value, pd.Series):
        return value.isna().to_numpy(dtype=bool)
    if isinstance(value, np.ndarray):
        return np.zeros(value.shape, dtype=bool)
    missing = value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value))
    return np.bool_(missing)


def _as_bool(value: Result, n: int) -> BoolArray:
    if isinstance(value, pd.Series):
        return np.asarray(value.fillna(False).to_numpy(dtype=bool), dtype=bool)
    if isinstance(value, np.ndarray):
        return value.astype(bool)
    if isinstance(value, (bool, np.bool_)):
        return np.full(n, bool(value))
    raise EvaluationError(f"expected a condition, got the value {value!r}")


def _quantity(node: e.Quantity, env: Env) -> Result:
    # a duration is compared with residual_maturity or tenor, years from the as-of date:
    # read on the calendar (1 year: the same day a year later, 366 days across 29 February)
    if node.dimension is e.Dimension.DURATION:
        return env.plan.from_as_of(node)
    return node.base


def _param(node: e.ParamRef, env: Env) -> Result:
    try:
        return env.plan.value(node)
    except KeyError as exc:
        raise EvaluationError(str(exc.args[0])) from None


def _symbol(node: e.Symbol, env: Env) -> Result:
    return node.name


def _date(node: e.DateValue, env: Env) -> Result:
    return pd.Timestamp(node.value)


def _bool(node: e.BoolValue, env: Env) -> Result:
    return node.value


def _text(node: e.Text, env: Env) -> Result:
    return node.value


def _field(node: e.FieldRef, env: Env) -> Result:
    spec = FIELDS.get(node.subject, {}).get(node.name)
    if spec is not None and spec.kind is Kind.SET:
        return SetField(node.subject, node.name)
    return env.ctx.column(node.subject, node.name)


def _holds(node: e.Holds, env: Env) -> Result:
    return env.ctx.set_member(e.Subject.ACCOUNT, "products", node.product.name)


def _eligible(node: e.Eligible, env: Env) -> Result:
    return env.ctx.eligible_column(node.rule)


def _graph(node: e.GraphPredicate, env: Env) -> Result:
    return env.ctx.graph_column(node)


def _set(node: e.SetOf, env: Env) -> Result:
    return tuple(evaluate_expr(item, env) for item in node.items)


def _compare(node: e.Compare, env: Env) -> Result:
    left, right = evaluate_expr(node.left, env), evaluate_expr(node.right, env)
    if isinstance(left, (SetField, tuple)) or isinstance(right, (SetField, tuple)):
        raise EvaluationError("a set cannot be compared with `" + node.op.value + "`; use `in`")
    if not isinstance(left, (pd.Series, np.ndarray)) and not isinstance(
        right, (pd.Series, np.ndarray)
    ):
        return False if _missing(left) or _missing(right) else bool(_OPS[node.op](left, right))
    op = _OPS[node.op]
    if _is_categorical(left) and not isinstance(right, (pd.Series, np.ndarray)):
        found = _per_category(left, lambda cats: op(cats, right))
        return found & ~_missing(left) & ~_missing(right)
    if _is_categorical(right) and not isinstance(left, (pd.Series, np.ndarray)):
        found = _per_category(right, lambda cats: op(left, cats))
        return found & ~_missing(left) & ~_missing(right)
    if _is_categorical(left):
        left = left.astype("str")
    if _is_categorical(right):
        right = right.astype("str")
    result = _as_bool(op(left, right), env.ctx.n)
    return result & ~_missing(left) & ~_missing(right)


def _is_categorical(value: object) -> bool:
    return isinstance(value, pd.Series) and isinstance(value.dtype, pd.CategoricalDtype)


def _per_category(column: pd.Series, test: Callable[[pd.Series], Any]) -> BoolArray:
    """A test of a categorical column's texts, made once per category and gathered by
    code (what ``test(column.astype("str"))`` gives, without a text per row); False where
    the value is missing."""
    texts = pd.Series(column.cat.categories.astype("str"))
    codes = column.cat.codes.to_numpy(np.int64)
    per_text = np.r_[_as_bool(test(texts), len(texts)), False]
    return np.asarray(per_text[codes], dtype=bool)  # code -1 (missing): the trailing False


def _membership(node: e.Membership, env: Env) -> Result:
    item, collection = evaluate_expr(node.item, env), evaluate_expr(node.collection, env)
    if isinstance(collection, SetField):
        if not isinstance(item, str):
            raise EvaluationError("only a name can be tested against a set field")
        found = env.ctx.set_member(collection.subject, collection.name, item)
        return ~found if node.negated else found
    if not isinstance(collection, tuple):
        raise EvaluationError("`in` needs a set {a, b} or a set field on its right")
    if isinstance(item, pd.Series):
        present = ~_missing(item)
        if _is_categorical(item):
            found = _per_category(item, lambda texts: texts.isin(list(collection))) & present
        else:
            found = item.isin(list(collection)).to_numpy(dtype=bool) & present
        return (~found & present) if node.negated else found
    if _missing(item):
        return False
    return (item not in collection) if node.negated else (item in collection)


def _and(node: e.And, env: Env) -> Result:
    out = np.ones(env.ctx.n, dtype=bool)
    for item in node.items:
        out &= _as_bool(evaluate_expr(item, env), env.ctx.n)
    return out


def _or(node: e.Or, env: Env) -> Result:
    out = np.zeros(env.ctx.n, dtype=bool)
    for item in node.items:
        out |= _as_bool(evaluate_expr(item, env), env.ctx.n)
    return out


def _not(node: e.Not, env: Env) -> Result:
    return ~_as_bool(evaluate_expr(node.item, env), env.ctx.n)


#: One handler per expression node type (``EXPR_TYPES``).
HANDLERS: dict[type[e.Node], Handler] = {
    e.Quantity: _quantity,
    e.ParamRef: _param,
    e.Symbol: _symbol,
    e.DateValue: _date,
    e.BoolValue: _bool,
    e.Text: _text,
    e.FieldRef: _field,
    e.Holds: _holds,
    e.Eligible: _eligible,
    e.GraphPredicate: _graph,
    e.SetOf: _set,
    e.Compare: _compare,
    e.Membership: _membership,
    e.And: _and,
    e.Or: _or,
    e.Not: _not,
}


def subjects_of(node: object) -> frozenset[e.Subject]:
    """Every subject an expression names (account-level for eligible/holds/graph)."""
    if isinstance(node, e.FieldRef):
        return frozenset({node.subject})
    if isinstance(node, (e.Holds, e.Eligible)):
        return frozenset({e.Subject.ACCOUNT})
    if isinstance(node, e.GraphPredicate):
        return ACCOUNT_LEVEL
    out: frozenset[e.Subject] = frozenset()
    if isinstance(node, tuple):
        for item in node:
            out |= subjects_of(item)
    elif isinstance(node, e.Node):
        for name in type(node).model_fields:
            out |= subjects_of(getattr(node, name))
    return out


def mask(expr: e.Node | None, ctx: RowContext, plan: Plan) -> BoolArray:
    """A condition as a bool array over the context's rows (None: every row).

    An expression that only names a parent context's subjects (an instrument condition
    on positions) is evaluated on the parent and gathered.

    >>> import pandas as pd
    >>> from marginlex.dsl.model.expressions import Compare, CmpOp, FieldRef, Symbol, Subject
    >>> from marginlex.engine.plan.steps import Plan
    >>> import datetime as dt
    >>> ctx = RowContext("account", 2, {Subject.ACCOUNT: pd.DataFrame({"regime": ["SEC", None]})})
    >>> plan = Plan(rulebook_id="x", title="", version="", as_of=dt.date(2026, 1, 1),
    ...             parameters={}, steps=())
    >>> expr = Compare(op=CmpOp.NE, left=FieldRef(subject=Subject.ACCOUNT, name="regime"),
    ...                right=Symbol(name="CFTC"))
    >>> mask(expr, ctx, plan).tolist()
    [True, False]
    """
    if expr is None:
        return np.ones(ctx.n, dtype=bool)
    subjects = subjects_of(expr)
    if subjects and not (subjects & set(ctx.own)):
        link = ctx.link_for(subjects)
        if link is not None:
            return mask(expr, link.ctx, plan)[link.index]
    return _as_bool(evaluate_expr(expr, Env(ctx, plan)), ctx.n)


def first_field(node: object) -> e.FieldRef | None:
    """The first field an expression names, depth first (what a requirement tests)."""
    if isinstance(node, e.FieldRef):
        return node
    items = node if isinstance(node, tuple) else ()
    if isinstance(node, e.Node):
        items = tuple(getattr(node, name) for name in type(node).model_fields)
    for item in items:
        found = first_field(item)
        if found is not None:
            return found
    return None


def _blank(n: int) -> pd.Series:
    """``n`` empty texts (what the trace shows where a condition reads nothing)."""
    return from_arrow(pa.array([""] * n, pa.large_string()))


FieldTexts = dict[tuple[e.Subject, str], pd.Series]
"""Texts of the fields shown so far, by (subject, field): a memo for one phase over one
context, whose columns do not change within it (many requirements read ``equity``)."""


def _set_text(ctx: RowContext, ref: e.FieldRef) -> pd.Series:
    """A derived set field (``account.owner_regimes``, ``account.merged_regimes``,
    ``account.products``) as text per row: its members in sorted order, joined by ``;`` as
    the book writes ``agreements`` (``CFTC;SEC``; ``{}`` for an empty set, so the trace
    shows that it tested one). One indicator column per member of the field's domain (two
    regimes, fourteen products), joined by Arrow."""
    members = sorted(FIELDS[ref.subject][ref.name].values)
    parts = [
        pa.array(np.where(ctx.set_member(ref.subject, ref.name, v), v + ";", ""), pa.large_string())
        for v in members
    ]
    if not parts:
        return _blank(ctx.n)
    joined = pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))
    # the trailing ";" of the last member present; an empty set shown as {}
    text = pc.replace_substring_regex(joined, ";$", "")
    return from_arrow(pc.if_else(pc.equal(text, ""), pa.scalar("{}", pa.large_string()), text))


def shown_value(expr: e.Node, ctx: RowContext, memo: FieldTexts | None = None) -> pd.Series:
    """The value a condition tests, as text per row, for the trace ("" when none). A
    derived set field shows its members (:func:`_set_text`)."""
    ref = first_field(expr)
    if ref is None:
        return _blank(ctx.n)
    key = (ref.subject, ref.name)
    if memo is not None and key in memo:
        return memo[key]
    if ref.name in {"products", "owner_regimes", "merged_regimes"}:
        shown = _set_text(ctx, ref)
        if memo is not None and ref.name != "merged_regimes":  # it changes per rule
            memo[key] = shown
        return shown
    col = ctx.column(ref.subject, ref.name)
    if col.dtype.kind == "f":
        col = pd.Series(np.round(col.to_numpy(np.float64), 2))
    shown = as_text(col).fillna("").reset_index(drop=True)
    if memo is not None:
        memo[key] = shown
    return shown


_READS = (e.FieldRef, e.GraphPredicate, e.Holds, e.Eligible)


def _reads(node: object, found: dict[str, e.Node]) -> None:
    """Every field, relation, holds() and eligible() an expression reads, depth first."""
    if isinstance(node, _READS):
        found.setdefault(format_expr.expr(node), node)
        return
    items = node if isinstance(node, tuple) else ()
    if isinstance(node, e.Node):
        items = tuple(getattr(node, name) for name in type(node).model_fields)
    for item in items:
        _reads(item, found)


def reads(expr: e.Node | None) -> list[tuple[str, e.Node]]:
    """The fields, relations, ``holds()`` and ``eligible()`` an expression reads, each once,
    depth first, with its text (``account.holds(unlisted)``); none for no expression."""
    found: dict[str, e.Node] = {}
    if expr is not None:
        _reads(expr, found)
    return list(found.items())


def requirement_reads(condition: e.Node, when: e.Node | None) -> list[str]:
    """What an eligibility requirement reads, as the trace names it: its condition's reads,
    then its ``when``'s, each of these written ``when <read>`` (the order of
    :func:`read_texts`' values, for the same condition and ``when``).

    >>> equity, ecp = (e.FieldRef(subject=s, name=n) for s, n in
    ...     ((e.Subject.ACCOUNT, "equity"), (e.Subject.OWNER, "ecp")))
    >>> requirement_reads(e.Or(items=(equity, ecp)), e.Not(item=ecp))
    ['account.equity', 'owner.ecp', 'when owner.ecp']
    """
    return [text for text, _ in reads(condition)] + [f"when {text}" for text, _ in reads(when)]


def read_text(node: e.Node, ctx: RowContext, plan: Plan, memo: FieldTexts | None) -> pd.Series:
    """What one read (from :func:`reads`) holds per row, as the trace shows it."""
    if isinstance(node, e.FieldRef):
        return shown_value(node, ctx, memo).fillna("")
    return as_text(pd.Series(mask(node, ctx, plan)))


def read_texts(
    condition: e.Node, when: e.Node | None, ctx: RowContext, plan: Plan, memo: FieldTexts
) -> list[pd.Series]:
    """The value of each read :func:`requirement_reads` names, per row, in its order."""
    return [read_text(n, ctx, plan, memo) for _, n in reads(condition) + reads(when)]
