"""Conditions as z3 formulas: the one translation from the expression AST to the SMT solver.

A :class:`World` holds one z3 variable per field a condition names, shared by every
condition translated in it, so that "an account matching both scopes" is one assignment of
those variables. The semantics are the engine's (:mod:`marginlex.engine.plan.expressions`):

- enums are bounded integers (an open enum such as ``collateral.asset`` has one more value,
  "another ticker"); numbers and durations are reals in base units (USD, fractions, years);
  dates are day numbers; text is a z3 string; a set field is one boolean per member;
- a field the book may leave blank has a presence flag, and a comparison (``!=`` included)
  or ``x not in S`` with a missing value is false, while ``not (x = v)`` is true;
- ``eligible(rule)`` is that rule's requirements, each holding or not applying (``when``);
  a graph predicate (``carrier member_of dco``) is a free boolean;
- derived facts the book guarantees are axioms: ``collateral.digital_asset`` holds exactly
  for assets outside the named non-digital ones.

z3 is imported when the first world is made, so that nothing else pays for it.

>>> from marginlex.dsl.parser import parse
>>> book = parse('rulebook r "R" scope s decides account where account.regime = SEC')
>>> w = World(params={}, eligibilities={})
>>> cond = w.condition(book.statements[0].where)
>>> w.witness(w.solve([cond]), [cond], "an account")
'an account with regime SEC'
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from marginlex.dsl.format.expressions import expr as expr_text
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.model.domain import ASSET_CLASSES, AssetClass
from marginlex.dsl.model.fields import FIELDS, FieldType, Kind

Z3 = Any  # a z3 expression (z3 ships no type stubs mypy can use)

SOLVER_LOCK = threading.Lock()
"""z3's default context is one per process and not thread-safe: two analyses at once (two
workbench checks served on two threads) crashed the process in libz3. Every analysis holds
this lock from its first world to its last query."""

#: Fields every row of a valid book has (the book contract's required columns and the
#: engine's derived ones); any other field may be blank.
REQUIRED: frozenset[tuple[m.Subject, str]] = frozenset(
    {
        *((m.Subject.ACCOUNT, f) for f in ("id", "owner_id", "carrier_id", "kind", "regime")),
        *((m.Subject.ACCOUNT, f) for f in ("origin", "equity")),
        *((s, f) for s in (m.Subject.OWNER, m.Subject.CARRIER) for f in FIELDS[s]),
        *((m.Subject.POSITION, f) for f in FIELDS[m.Subject.POSITION]),
        *((m.Subject.INSTRUMENT, f) for f in ("id", "product", "price")),
        *((m.Subject.COLLATERAL, f) for f in ("id", "account_id", "asset", "market_value")),
        (m.Subject.COLLATERAL, "digital_asset"),
    }
)
_NOT_DIGITAL = tuple(a for a, c in ASSET_CLASSES.items() if c is not AssetClass.DIGITAL_ASSET)
_UNITS = {Kind.MONEY: " USD", Kind.FRACTION: "%", Kind.DURATION: " years"}


class Untranslatable(ValueError):
    """A condition the checker cannot reason about (it is then left to the other passes)."""


@dataclass
class _Var:
    """One field (or set member, relation) of the world and how to show its value."""

    label: str  # what the witness prints: ``regime``, ``owner.ecp``, ``carrier member_of dco``
    subject: m.Subject | None
    kind: Kind
    term: Z3
    present: Z3
    values: list[str]  # enum members by index (grows for an open enum)
    open_enum: bool = False


@dataclass(frozen=True)
class _Val:
    """A translated value: its term, when it is present, and its field (None: a literal)."""

    term: Z3
    present: Z3
    var: _Var | None = None
    symbol: str | None = None  # an enum member not yet placed on a field's scale


class World:
    """Variables and formulas for one analysis (see the module docstring)."""

    def __init__(self, params: dict[str, float], eligibilities: dict[str, m.Eligibility]):
        import z3  # noqa: PLC0415 (loaded only when a rulebook has something to solve)

        self.z3 = z3
        self.params = params
        self.eligibilities = eligibilities
        self.vars: dict[str, _Var] = {}
        self._expanding: set[str] = set()
        self._definitions: list[Z3] = []
        self._solver = z3.SimpleSolver()
        self._settled: set[str] = set()

    # ---- variables ------------------------------------------------------------------
    def _field(self, ref: m.FieldRef) -> _Var:
        spec = FIELDS.get(ref.subject, {}).get(ref.name)
        if spec is None or spec.kind is Kind.SET:
            raise Untranslatable(f"{ref.subject.value}.{ref.name}")
        key = f"{ref.subject.value}.{ref.name}"
        if key not in self.vars:
            self.vars[key] = self._new_field(key, ref, spec)
        return self.vars[key]

    def _new_field(self, key: str, ref: m.FieldRef, spec: FieldType) -> _Var:
        z3 = self.z3
        sort_of = {Kind.DATE: z3.Int, Kind.BOOL: z3.Bool, Kind.TEXT: z3.String, Kind.ENUM: z3.Int}
        term = sort_of.get(spec.kind, z3.Real)(key)
        required = (ref.subject, ref.name) in REQUIRED
        present = z3.BoolVal(True) if required else z3.Bool(f"{key}?")
        return _Var(key, ref.subject, spec.kind, term, present, list(spec.values), spec.open_enum)

    def present(self, ref: m.FieldRef) -> Z3:
        """When a field has a value (always, for a field every valid book fills)."""
        return self._field(ref).present

    def assign(self, ref: m.FieldRef, value: str | float | bool | dt.date | None) -> Z3:
        """A formula fixing one field of a row (None: the field is blank)."""
        var = self._field(ref)
        if value is None:
            return self.z3.Not(var.present)
        if var.kind is Kind.ENUM:
            fixed = var.term == self._index(var, str(value))
        elif var.kind is Kind.BOOL:
            fixed = var.term == self.z3.BoolVal(bool(value))
        elif var.kind is Kind.TEXT:
            fixed = var.term == self.z3.StringVal(str(value))
        elif isinstance(value, dt.date):
            fixed = var.term == self.z3.IntVal(value.toordinal())
        else:
            assert not isinstance(value, str)
            fixed = var.term == _real(self.z3, float(value))
        return self.z3.And(var.present, fixed)

    def _flag(self, key: str, label: str) -> _Var:
        """A free boolean: a set member, ``holds``, or a graph relation."""
        if key not in self.vars:
            z3 = self.z3
            self.vars[key] = _Var(label, None, Kind.BOOL, z3.Bool(key), z3.BoolVal(True), [])
        return self.vars[key]

    def _member(self, subject: m.Subject, name: str, item: str) -> Z3:
        key = f"{item} in {subject.value}.{name}"
        return self._flag(key, key).term

    # ---- values -----------------------------------------------------------------------
    def _value(self, node: m.Node) -> _Val:
        z3, true = self.z3, self.z3.BoolVal(True)
        if isinstance(node, m.FieldRef):
            var = self._field(node)
            return _Val(var.term, var.present, var)
        if isinstance(node, m.Quantity):
            return _Val(_real(z3, node.base), true)
        if isinstance(node, m.ParamRef):
            if node.name not in self.params:
                raise Untranslatable(f"parameter {node.name} not in force")
            return _Val(_real(z3, self.params[node.name]), true)
        if isinstance(node, m.DateValue):
            return _Val(z3.IntVal(node.value.toordinal()), true)
        if isinstance(node, m.Text):
            return _Val(z3.StringVal(node.value), true)
        if isinstance(node, m.BoolValue):
            return _Val(z3.BoolVal(node.value), true)
        if isinstance(node, m.Symbol):
            return _Val(None, true, symbol=node.name)
        raise Untranslatable(type(node).__name__)

    def _index(self, var: _Var, name: str) -> Z3:
        """An enum member's number on ``var``'s scale (a new ticker on an open enum)."""
        if name not in var.values:
            if not var.open_enum:
                raise Untranslatable(f"{name} is not a value of {var.label}")
            var.values.append(name)
        return self.z3.IntVal(var.values.index(name))

    def _pair(self, left: _Val, right: _Val) -> tuple[Z3, Z3]:
        if left.symbol is not None and right.var is not None:
            right, left = left, right
        if right.symbol is not None:
            if left.var is None or left.var.kind is not Kind.ENUM:
                raise Untranslatable("a name compared with something other than an enum")
            return left.term, self._index(left.var, right.symbol)
        if any(v.var is not None and v.var.kind is Kind.ENUM for v in (left, right)):
            raise Untranslatable("an enum compared with something other than a name")
        return left.term, right.term

    # ---- conditions -------------------------------------------------------------------
    def condition(self, node: m.Node | None) -> Z3:
        """A condition as a z3 boolean (None, a missing condition, holds everywhere)."""
        z3 = self.z3
        if node is None:
            return z3.BoolVal(True)
        if isinstance(node, m.And):
            return z3.And(*(self.condition(i) for i in node.items))
        if isinstance(node, m.Or):
            return z3.Or(*(self.condition(i) for i in node.items))
        if isinstance(node, m.Not):
            return z3.Not(self.condition(node.item))
        if isinstance(node, m.Compare):
            return self._compare(node)
        if isinstance(node, m.Membership):
            return self._membership(node)
        if isinstance(node, m.Holds):
            return self._member(m.Subject.ACCOUNT, "products", node.product.name)
        if isinstance(node, m.Eligible):
            return self._eligible(node.rule)
        if isinstance(node, m.GraphPredicate):
            text = expr_text(node)
            return self._flag(text, text).term
        if isinstance(node, m.FieldRef | m.BoolValue):
            val = self._value(node)
            if val.var is not None and val.var.kind is not Kind.BOOL:
                raise Untranslatable("a field that is not true or false used as a condition")
            return z3.And(val.present, val.term)
        raise Untranslatable(type(node).__name__)

    def _compare(self, node: m.Compare) -> Z3:
        left, right = self._value(node.left), self._value(node.right)
        a, b = self._pair(left, right)
        ordered = node.op not in (m.CmpOp.EQ, m.CmpOp.NE)
        if ordered and any(v.var is not None and v.var.kind is Kind.ENUM for v in (left, right)):
            raise Untranslatable("enums are not ordered")
        ops = {
            m.CmpOp.EQ: lambda: a == b,
            m.CmpOp.NE: lambda: a != b,
            m.CmpOp.LT: lambda: a < b,
            m.CmpOp.LE: lambda: a <= b,
            m.CmpOp.GT: lambda: a > b,
            m.CmpOp.GE: lambda: a >= b,
        }
        return self.z3.And(left.present, right.present, ops[node.op]())

    def _membership(self, node: m.Membership) -> Z3:
        z3 = self.z3
        coll = node.collection
        if isinstance(coll, m.FieldRef):  # a set field: one flag per member
            if not isinstance(node.item, m.Symbol):
                raise Untranslatable("only a name can be tested against a set field")
            found = self._member(coll.subject, coll.name, node.item.name)
            return z3.Not(found) if node.negated else found
        if not isinstance(coll, m.SetOf):
            raise Untranslatable("`in` needs a set")
        item = self._value(node.item)
        hits = [a == b for a, b in (self._pair(item, self._value(x)) for x in coll.items)]
        found = z3.Or(*hits) if hits else z3.BoolVal(False)
        return z3.And(item.present, z3.Not(found) if node.negated else found)

    def _eligible(self, rule: str) -> Z3:
        """A flag defined (in :meth:`axioms`) as the rule's requirements: a witness then
        shows ``eligible(rule)``, not every field the rule reads."""
        key = f"eligible({rule})"
        if key in self.vars:
            return self.vars[key].term
        elig = self.eligibilities.get(rule)
        if elig is None or rule in self._expanding:
            raise Untranslatable(key)
        self._expanding.add(rule)
        try:
            passes = self.z3.And(*(self.requirement(r) for r in elig.requirements))
        finally:
            self._expanding.discard(rule)
        flag = self._flag(key, key).term
        self._definitions.append(flag == passes)
        return flag

    def requirement(self, req: m.Requirement) -> Z3:
        """A requirement passes: its condition holds, or its ``when`` does not apply."""
        return self.z3.Or(self.condition(req.condition), self.z3.Not(self.condition(req.when)))

    # ---- solving ----------------------------------------------------------------------
    def axioms(self) -> list[Z3]:
        """Domains of the variables made so far, and the facts the book guarantees."""
        domains = (self._domain(var) for var in self.vars.values())
        return [*self._definitions, *(d for d in domains if d is not None), *self._digital()]

    def _domain(self, var: _Var) -> Z3 | None:
        if var.kind is not Kind.ENUM:
            return None
        z3, lowest = self.z3, var.term >= 0
        # An open enum's numbers past its named values are other tickers.
        within = lowest if var.open_enum else z3.And(lowest, var.term < len(var.values))
        return z3.Implies(var.present, within)

    def _digital(self) -> list[Z3]:
        asset = self.vars.get("collateral.asset")
        digital = self.vars.get("collateral.digital_asset")
        if asset is None or digital is None:
            return []
        named = [asset.term == self._index(asset, a) for a in _NOT_DIGITAL]
        return [digital.term == self.z3.Not(self.z3.Or(*named))]

    def _settle(self) -> None:
        """Add the axioms of variables made since the last query to the solver, once: they
        never change, so they stay below every query's ``push``."""
        solver, done = self._solver, self._settled
        for key, var in self.vars.items():
            if key not in done:
                done.add(key)
                domain = self._domain(var)
                if domain is not None:
                    solver.add(domain)
        for number, definition in enumerate(self._definitions):
            if f"#definition {number}" not in done:
                done.add(f"#definition {number}")
                solver.add(definition)
        if "#digital" not in done and self._digital():
            done.add("#digital")
            solver.add(*self._digital())

    def solve(self, formulas: list[Z3]) -> Any | None:
        """A model in which every formula holds, or None when there is none."""
        return self._check(formulas, model=True)

    def satisfiable(self, formulas: list[Z3]) -> bool:
        """Whether the formulas can all hold (no model is built)."""
        return self._check(formulas, model=False) is not None

    def _check(self, formulas: list[Z3], *, model: bool) -> Any | None:
        self._settle()
        solver = self._solver
        solver.push()
        try:
            solver.add(*formulas)
            if solver.check() != self.z3.sat:
                return None
            return solver.model() if model else True
        finally:
            solver.pop()

    def holds(self, model: Any, formula: Z3) -> bool:
        """Whether ``formula`` is true in ``model``."""
        return bool(self.z3.is_true(model.eval(formula, model_completion=True)))

    def witness(self, model: Any, formulas: list[Z3], noun: str) -> str:
        """``an account with regime CFTC and kind futures``: the values the formulas read."""
        names = {str(v) for f in formulas for v in _constants(self.z3, f)}
        shown = [
            self._show(model, var, noun)
            for key, var in self.vars.items()
            if key in names or f"{key}?" in names
        ]
        if not shown:
            return noun
        body = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
        return f"{noun} with {body}"

    def _show(self, model: Any, var: _Var, noun: str) -> str:
        own = var.subject is not None and noun.endswith(_NOUNS.get(var.subject, "?"))
        label = var.label.split(".", 1)[1] if own else var.label
        if not self.holds(model, var.present):
            return f"no {label}"
        value = model.eval(var.term, model_completion=True)
        if var.subject is None:  # a set member or relation: shown as the fact
            return label if self.z3.is_true(value) else f"not {label}"
        return f"{label} {_text(var, value)}"


_NOUNS = {
    m.Subject.ACCOUNT: "account",
    m.Subject.POSITION: "position",
    m.Subject.INSTRUMENT: "instrument",
    m.Subject.COLLATERAL: "lot",
}


def _text(var: _Var, value: Any) -> str:
    """A model value as the rulebook would write it."""
    if var.kind is Kind.ENUM:
        index = value.as_long()
        return var.values[index] if index < len(var.values) else "(another ticker)"
    if var.kind is Kind.BOOL:
        return "true" if str(value) == "True" else "false"
    if var.kind is Kind.DATE:
        return dt.date.fromordinal(max(1, value.as_long())).isoformat()
    if var.kind is Kind.TEXT:
        return f'"{value.as_string()}"'
    number = Fraction(value.numerator_as_long(), value.denominator_as_long())
    if var.kind is Kind.FRACTION:
        number *= 100
    shown = f"{float(number):,.6g}" if number.denominator != 1 else f"{int(number):,}"
    if var.kind is Kind.DURATION and number == 1:
        return f"{shown} year"
    return shown + _UNITS.get(var.kind, "")


def _real(z3: Any, number: float) -> Z3:
    """A float (base units) as an exact z3 rational: ``0.005`` is 1/200."""
    return z3.RealVal(Fraction(number).limit_denominator(10**12))


def _constants(z3: Any, formula: Z3) -> list[Z3]:
    """The uninterpreted constants (variables) of a formula."""
    seen: dict[int, Z3] = {}
    stack = [formula]
    while stack:
        node = stack.pop()
        if z3.is_const(node) and node.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            seen[node.get_id()] = node
        stack.extend(node.children())
    return list(seen.values())
