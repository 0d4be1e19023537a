"""Values, conditions and rows of the model as readable cells and clauses.

Conditions are shown in the canonical text of ``marginlex fmt`` (one printer for the
language), values with the figure behind a parameter name (``pm_offset_broad = 75%``, linked
to the parameter).
"""

from __future__ import annotations

from marginlex.dsl.format.expressions import expr, quantity
from marginlex.dsl.model import rulebook as m
from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.workbench.render.anchors import statement_anchor
from marginlex.workbench.render.document import Cell, Clause, Row, Table

RB = ResolvedRulebook
Parts = tuple[list[Clause], list[Table]]
"""What a body handler returns: the clauses and the tables of a statement."""


def value_cell(rulebook: ResolvedRulebook, v: m.Value) -> Cell:
    """A literal as written, or a parameter's name with its figure, linked to it.

    >>> from marginlex.dsl import load_rulebook
    >>> value_cell(load_rulebook("sec"), m.ParamRef(name="pm_offset_broad")).text
    'pm_offset_broad = 75%'
    """
    if isinstance(v, m.Quantity):
        return Cell(text=quantity(v))
    figure = rulebook.parameters.get(v.name)
    shown = f"{v.name} = {quantity(figure.value)}" if figure is not None else v.name
    return Cell(text=shown, anchor=statement_anchor(v.name))


def outcome_cell(rulebook: ResolvedRulebook, o: m.Outcome) -> Cell:
    """A haircut outcome: the rate, or ``ineligible: reason``."""
    if isinstance(o, m.Rate):
        return value_cell(rulebook, o.value)
    return Cell(text=f"ineligible: {o.reason}", code=False)


def condition(e: m.Expr | None, otherwise: str = "otherwise") -> Cell:
    """A condition in canonical text; ``otherwise`` for a row without one."""
    return Cell(text=expr(e) if e is not None else otherwise)


def clause(label: str, e: m.Expr) -> Clause:
    """A labelled condition."""
    return Clause(label=label, text=expr(e))


def row(cells: list[Cell], note: m.Note | None = None) -> Row:
    """A table row carrying its note's status and citation."""
    if note is None:
        return Row(cells=tuple(cells))
    cited = note.citation.text if note.citation is not None else ""
    return Row(cells=tuple(cells), status=note.status, citation=cited)


def braced(symbols: tuple[m.Symbol, ...]) -> str:
    return "{" + ", ".join(s.name for s in symbols) + "}"


def setting(label: str, text: str, code: bool = True) -> Clause:
    return Clause(label=label, text=text, code=code)


def minimum(rb: RB, n: m.ContractMinimum | None) -> list[Clause]:
    if n is None:
        return []
    per = " per contract" + (" times multiplier" if n.times_multiplier else "")
    out = [setting("minimum", value_cell(rb, n.amount).text + per)]
    if n.where is not None:
        out.append(clause("minimum for positions where", n.where))
    return out
