"""Per-row citations: the ``[status, cites "..."]`` note of the table row that decided a row.

A table row (a haircut bucket, a range row, a strategy leg, a rate row) may carry its own
citation and evidence status; a row without a note, or a trace row no table row decided,
takes its statement's. Each helper returns whole columns: a small array of texts per table
row, indexed by every trace row's chosen row (no loop over positions or lots).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from marginlex.dsl.model import rulebook as m
from marginlex.engine.kernels.strategy import StrategyParams

ObjectArray = npt.NDArray[np.object_]
IntArray = npt.NDArray[np.int64]

CITATION = "citation"
EVIDENCE = "evidence"


def statement_note(statement: m.StatementBase) -> tuple[str, str]:
    """A statement's own citation and status word ("" when it has none).

    >>> from marginlex.dsl.loader import load_rulebook
    >>> rule = next(s for s in load_rulebook("sec").statements if s.id == "sec_treasuries")
    >>> statement_note(rule)
    ('SEC Rule 15c3-1(c)(2)(vi)(A)(1)', 'verified')
    """
    citation = statement.citation.text if statement.citation else ""
    return citation, statement.status.value if statement.status else ""


def row_notes(
    statement: m.StatementBase, notes: Sequence[m.Note | None], chosen: npt.ArrayLike
) -> dict[str, ObjectArray]:
    """The citation and status word of the table row each trace row took.

    Args:
        statement: the statement whose table the rows belong to.
        notes: each table row's note (None: the row has none), in table order.
        chosen: per trace row, the index of its table row (negative: none, the statement's).

    Returns:
        ``{"citation": ..., "evidence": ...}``, object arrays aligned with ``chosen``.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> rule = next(s for s in load_rulebook("sec").statements if s.id == "sec_other_assets")
    >>> notes = [row.note for row in rule.body.rows]
    >>> out = row_notes(rule, notes, [0, 3, -1])
    >>> for citation in out["citation"].tolist():
    ...     print(citation)
    SEC Rule 15c3-1(c)(2)(vi)(D)(1), (J)
    SEC Rule 15c3-1(c)(2)(vi)(D)(1)
    SEC Rule 15c3-1(c)(2)(vi)(D)(1), (J)
    """
    citations, statuses = _note_table(statement, notes)
    index = _row_or_own(chosen, len(notes))
    return {
        CITATION: np.asarray(citations, dtype=object)[index],
        EVIDENCE: np.asarray(statuses, dtype=object)[index],
    }


def row_note_categories(
    statement: m.StatementBase, notes: Sequence[m.Note | None], chosen: npt.ArrayLike
) -> dict[str, pd.Categorical]:
    """As :func:`row_notes`, as categoricals built from codes (no text hashed per row)."""
    index = _row_or_own(chosen, len(notes))
    out = {}
    for column, texts in zip((CITATION, EVIDENCE), _note_table(statement, notes), strict=True):
        codes, uniques = pd.factorize(pd.Index(texts))
        out[column] = pd.Categorical.from_codes(codes[index], categories=uniques)
    return out


def _note_table(
    statement: m.StatementBase, notes: Sequence[m.Note | None]
) -> tuple[list[str], list[str]]:
    """Each table row's citation and status word, then the statement's own (for "none")."""
    own_citation, own_status = statement_note(statement)
    citations = [n.citation.text if n and n.citation else own_citation for n in notes]
    statuses = [n.status.value if n and n.status else own_status for n in notes]
    return [*citations, own_citation], [*statuses, own_status]


def _row_or_own(chosen: npt.ArrayLike, n_rows: int) -> IntArray:
    index = np.asarray(chosen, dtype=np.int64)
    return np.where(index < 0, n_rows, index)


# The strategy-based kernel's rows (engine.strategy.StrategyRow values), by the rulebook leg
# that priced them; short options by equity or broad index, as the kernel picks their rates.
_LEG_OF_KERNEL_ROW = {
    "long_equity": m.StrategyLeg.LONG_STOCK,
    "short_equity": m.StrategyLeg.SHORT_STOCK,
    "short_equity_held_in_cash": m.StrategyLeg.SHORT_STOCK,
    "short_equity_low_price": m.StrategyLeg.SHORT_STOCK,
    "short_equity_per_share_minimum": m.StrategyLeg.SHORT_STOCK,
    "long_option": m.StrategyLeg.LONG_OPTION,
    "short_call_spread": m.StrategyLeg.OPTION_SPREAD,
    "short_put_spread": m.StrategyLeg.OPTION_SPREAD,
    "short_call_spread_combined": m.StrategyLeg.OPTION_SPREAD,
    "short_put_spread_combined": m.StrategyLeg.OPTION_SPREAD,
    "long_option_spread": m.StrategyLeg.OPTION_SPREAD,
    "short_call_straddle": m.StrategyLeg.SHORT_STRADDLE,
    "short_put_straddle": m.StrategyLeg.SHORT_STRADDLE,
    "short_call_partly_covered_spread": m.StrategyLeg.OPTION_SPREAD,
    "short_put_partly_covered_spread": m.StrategyLeg.OPTION_SPREAD,
    "short_call_partly_covered_straddle": m.StrategyLeg.SHORT_STRADDLE,
    "short_put_partly_covered_straddle": m.StrategyLeg.SHORT_STRADDLE,
}
_SHORT_OPTION_ROWS = (
    "short_call_uncovered",
    "short_call_covered",
    "short_put_uncovered",
    "short_call_held_in_cash",
    "short_put_held_in_cash",
    "short_call_covered_held_in_cash",
    "short_put_covered",
    "short_call_partly_covered",
    "short_call_covered_by_collateral",
    "short_call_partly_covered_held_in_cash",
    "short_put_partly_covered",
)
_NO_ROW = ("expired_option",)  # no table row priced it: the statement's own note


def _how(name: str) -> int:
    """How a kernel row name finds its table row: 0 a fixed leg, 1 a short option leg, 2 a
    ``when``/``otherwise`` row, 3 none (the statement's note)."""
    if name in _LEG_OF_KERNEL_ROW:
        return 0
    if name in _SHORT_OPTION_ROWS:
        return 1
    return 3 if name in _NO_ROW else 2


BROAD_INDEX_CLASSES: tuple[str, ...] = StrategyParams.model_fields["broad_index_classes"].default


def strategy_notes(
    statement: m.StatementBase,
    method: m.StrategyBased,
    frame: pd.DataFrame,
    kernel_row: pd.Series,
    other_row: IntArray,
) -> dict[str, pd.Categorical]:
    """The citation and status of the strategy-based row that priced each position.

    A leg's row for the positions of that leg; the chosen ``when``/``otherwise`` row for
    positions no leg covers (``other_row``; none matched: the ``long_stock`` row, whose rate
    they take); the statement's own for an expired option, which no row prices.
    """
    legs = [r.leg for r in method.rows]
    leg_row = {leg: i for i, leg in enumerate(legs)}
    kernel = pd.Categorical(kernel_row)
    names = [str(c) for c in kernel.categories]
    codes = np.asarray(kernel.codes, dtype=np.int64)
    # Per kernel row name (a handful): 0 a fixed leg, 1 a short option, 2 no leg, 3 no row.
    how = np.array([_how(c) for c in names] + [2])[codes]
    fixed = np.array(
        [leg_row.get(_LEG_OF_KERNEL_ROW[c], -1) if c in _LEG_OF_KERNEL_ROW else -1 for c in names]
        + [-1]
    )[codes]
    broad = frame["index_class"].isin(BROAD_INDEX_CLASSES).to_numpy(dtype=bool) & (
        frame["product"] == "index_option"
    ).to_numpy(dtype=bool)
    option_leg = np.where(
        broad,
        leg_row.get(m.StrategyLeg.SHORT_INDEX_OPTION, -1),
        leg_row.get(m.StrategyLeg.SHORT_EQUITY_OPTION, -1),
    )
    stock = leg_row.get(m.StrategyLeg.LONG_STOCK, -1)
    other = np.where(other_row >= 0, len(legs) + other_row, stock)
    chosen = np.where(how == 0, fixed, np.where(how == 1, option_leg, other))
    chosen = np.where(how == 3, -1, chosen)
    notes = [r.note for r in method.rows] + [r.note for r in method.others]
    return row_note_categories(statement, notes, chosen)


def parameters_read(node: object) -> list[str]:
    """The parameters a statement (or any node) names, once each, in the order written.

    >>> from marginlex.dsl.loader import load_rulebook
    >>> rule = next(s for s in load_rulebook("sec").statements if s.id == "portfolio_margin")
    >>> parameters_read(rule)
    ['pm_min_equity', 'pm_min_equity_unlisted']
    """
    found: dict[str, None] = {}
    stack = [node]
    while stack:  # the nodes of one statement, a few dozen
        item = stack.pop()
        if isinstance(item, m.ParamRef):
            found.setdefault(item.name)
        elif isinstance(item, m.Node):
            stack.extend(reversed([getattr(item, name) for name in type(item).model_fields]))
        elif isinstance(item, tuple):
            stack.extend(reversed(item))
    return list(found)


def governed_citation(statement: m.StatementBase, overrides: dict[str, m.Parameter]) -> str:
    """A statement's citation, followed by that of every overriding parameter it reads.

    A variant that overrides a parameter (a house minimum, a dated change) governs every
    decision the statements reading it take, so its own citation belongs beside theirs.
    """
    own, _ = statement_note(statement)
    extra = [
        f"{name}: {overrides[name].citation.text}"  # type: ignore[union-attr]
        for name in parameters_read(statement)
        if name in overrides and overrides[name].citation is not None
    ]
    return "; ".join([own, *extra]) if extra else own
