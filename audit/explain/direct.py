"""Explain a decision straight from a book and a rulebook, with no ledger (as ``opa eval
--explain`` explains a query): the rulebook is evaluated on the book and the one decision's
trace is built exactly as a recorded run would build it.

The decision is named as the ledger names it (``d-ms:A01-...``), as ``run --format json``
prints it (``sec:ms:A01``), by its margin set (``ms:A01``) or by one of its accounts (``A01``).
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path

from marginlex.audit.ledger.record import rulebook_ref
from marginlex.audit.ledger.recorded_inputs import rulebook_bundle
from marginlex.audit.trace.from_evaluation import trace_columns
from marginlex.audit.trace.model import DecisionTrace
from marginlex.engine.evaluation import Evaluation
from marginlex.engine.run import resolve_book, resolve_rulebook, run_rulebook
from marginlex.engine.version import ENGINE_VERSION


class DirectDecisionNotFoundError(LookupError):
    """The rulebook makes no such decision on the book (the message names the closest)."""


def _row(ev: Evaluation, wanted: str, ids: list[str]) -> int:
    """The decision row ``wanted`` names: a decision id, ``RULEBOOK:SET``, a set or an account."""
    sets = ev.decisions["margin_set_id"].astype("str").tolist()
    name = wanted.removeprefix(f"{ev.plan.rulebook_id}:")
    for keys in (ids, sets):
        if name in keys:
            return keys.index(name)
    members = ev.decisions["account_ids"].astype("str").str.split(";").tolist()
    holding = [i for i, accounts in enumerate(members) if name in accounts]
    if holding:
        return holding[0]
    close = difflib.get_close_matches(name, sets, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    named, colon, rest = wanted.partition(":")
    if colon and rest.startswith("ms:") and named != ev.plan.rulebook_id:  # sec:ms:A01
        hint = f"; the id names rulebook {named}: explain it with --rulebook {named}"
    raise DirectDecisionNotFoundError(
        f"rulebook {ev.plan.rulebook_id} makes no decision {wanted!r} on this book "
        f"({len(sets)} margin sets decided){hint}"
    )


def direct_trace(
    wanted: str,
    rulebook: str | Path,
    book: str | Path | None = None,
    as_of: dt.date | None = None,
) -> DecisionTrace:
    """The trace of one decision of ``rulebook`` on ``book`` (the demo book for None).

    Raises:
        DirectDecisionNotFoundError: the rulebook decides no such set on the book.
    """
    loaded, resolved = resolve_book(book), resolve_rulebook(rulebook)
    ev = run_rulebook(resolved, loaded, as_of)
    ref = rulebook_ref(resolved, ev, rulebook_bundle(resolved))
    columns = trace_columns(ev, loaded, ref, ENGINE_VERSION)
    row = _row(ev, wanted, columns.decision_ids)
    return DecisionTrace.model_validate_json(columns.json[row])
