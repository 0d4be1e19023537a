"""The impact study as one self-contained HTML page (``marginlex compare --study FILE``).

Tables and server-rendered SVG plots (matplotlib, Agg backend; text drawn as paths, ids
salted so that the same study gives the same bytes), inline styles, nothing fetched. Every
figure links to the accounts and rules behind it: accounts are anchored ``#acct-N`` in the
Accounts section, the differing rules of pair ``K`` ``#rule-K-N`` in its Rules section. Text
from a book or rulebook reaches the page only through the template's autoescape.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import matplotlib.pyplot as plt
import pandas as pd
from markupsafe import Markup

from marginlex.engine.variants.report import short_usd
from marginlex.engine.variants.study.study import PairStudy, Study
from marginlex.printable import visible

# Labels are ids and names from the book: a "$" in one is text, not the start of math
# (mathtext raised a ParseException on an account id "A08$\\frac{1}{0$").
matplotlib.rcParams["text.parse_math"] = False

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("marginlex.engine.variants.study", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    finalize=visible,  # a book's control and bidirectional characters written out
)
LINKS_SHOWN = 25
_RC: Any = {"svg.hashsalt": "marginlex-study", "svg.fonttype": "path"}


def _svg(fig: Any) -> Markup:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return Markup(text[text.index("<svg") :])  # matplotlib's own output; text drawn as paths


def _bars(labels: list[str], values: list[float], title: str, xlabel: str) -> Markup:
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(labels), 3) + 1))
        ax.barh(
            labels[::-1],
            values[::-1],
            color=["#55a868" if v > 0 else "#c44e52" for v in values[::-1]],
        )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.xaxis.set_major_formatter(lambda x, _pos: short_usd(x))
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        return _svg(fig)


def _shapley_plot(p: PairStudy) -> Markup | None:
    """The Shapley values of the requirement (else the call, else the value) by player."""
    if p.shapley is None:
        return None
    players = p.shapley.players
    measure = next(
        (m for m in ("requirement", "call", "value") if any(getattr(v, m) for v in players)), None
    )
    if measure is None:
        return None
    shown = [
        (k, v)
        for k, v in enumerate(players, 1)
        if getattr(v, measure) or getattr(v, f"{measure}_se")
    ]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(shown), 3) + 1))
        labels = [f"player {k}" for k, _ in shown][::-1]
        errors = [1.96 * (getattr(v, f"{measure}_se") or 0) for _, v in shown][::-1]
        ax.barh(labels, [getattr(v, measure) for _, v in shown][::-1], xerr=errors, color="#4c72b0")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.xaxis.set_major_formatter(lambda x, _pos: short_usd(x))
        ax.set_title(f"Shapley value on the {measure} delta (bars: 95% interval if sampled)")
        return _svg(fig)


def _scenario_plot(study: Study) -> Markup | None:
    if not study.scenario_calls:
        return None
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(study.scenario_calls) + 1))
        labels = [f"row {k + 1}" for k in range(len(study.scenario_calls))][::-1]
        rows = list(study.scenario_calls)[::-1]
        ax.barh(labels, [len(c.created) for c in rows], color="#c44e52", label="created")
        ax.barh(labels, [-len(c.removed) for c in rows], color="#55a868", label="removed")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel("calls created (right) and removed (left), accounts")
        ax.legend()
        return _svg(fig)


def _rules_by_account(p: PairStudy) -> dict[str, list[str]]:
    """Per changed account, the units whose Shapley value for it is not zero."""
    if p.shapley is None:
        return {}
    frame = p.shapley.contributions
    out: dict[str, list[str]] = {}
    for account, rules in zip(frame["account_id"], frame["rules"], strict=True):  # rendering
        out.setdefault(str(account), []).extend(str(rules).split("+"))
    return out


def _pair_view(k: int, p: PairStudy, accounts: dict[str, str]) -> dict[str, Any]:
    rules = {r.unit: f"rule-{k}-{j}" for j, r in enumerate(p.rules)}
    behind = _rules_by_account(p)

    def rule_links(ids: list[str]) -> list[tuple[str, str]]:
        return [(u, rules[u]) for u in dict.fromkeys(ids) if u in rules]

    def links(ids: tuple[str, ...]) -> dict[str, Any]:
        shown = [(a, accounts[a]) for a in ids[:LINKS_SHOWN]]
        return {"shown": shown, "more": len(ids) - len(shown)}

    tables = []
    for t in p.segments:
        rows = [
            {
                "r": r,
                "accounts": links(r.changed),
                "rules": rule_links([u for a in r.changed for u in behind.get(a, [])]),
            }
            for r in t.rows
        ]
        plot = _bars(
            [f"row {i + 1}" for i in range(len(t.rows))],
            [r.freed for r in t.rows],
            f"Collateral freed by {t.dimension.value}",
            "freed (USD; red: required)",
        )
        tables.append({"dimension": t.dimension.value, "rows": rows, "plot": plot})
    players = []
    if p.shapley is not None:
        contrib = p.shapley.contributions
        for i, v in enumerate(p.shapley.players):
            ids = tuple(sorted(set(contrib.loc[contrib["player"] == i, "account_id"].astype(str))))
            players.append({"v": v, "rules": rule_links(list(v.rules)), "accounts": links(ids)})
    return {
        "k": k,
        "p": p,
        "tables": tables,
        "players": players,
        "shapley_plot": _shapley_plot(p),
        "rules": [(r, rules[r.unit]) for r in p.rules],
        "all_rules": f"rules-{k}",
    }


def render_study(study: Study) -> str:
    """The study as one HTML string."""
    accounts = {a: f"acct-{i}" for i, a in enumerate(study.directory["account_id"])}
    pairs = [_pair_view(k, p, accounts) for k, p in enumerate(study.pairs)]
    pair_index = {(p.from_id, p.to_id): k for k, p in enumerate(study.pairs)}
    scenarios = [
        {
            "c": c,
            "rules": f"rules-{pair_index[(c.from_id, c.to_id)]}",
            "created": [(a, accounts[a]) for a in c.created[:LINKS_SHOWN]],
            "removed": [(a, accounts[a]) for a in c.removed[:LINKS_SHOWN]],
            "more": max(0, len(c.created) + len(c.removed) - 2 * LINKS_SHOWN),
        }
        for c in study.scenario_calls
    ]
    directory = _directory_rows(study, accounts)
    return _ENV.get_template("study_report.html.j2").render(
        study=study,
        pairs=pairs,
        scenarios=scenarios,
        scenario_plot=_scenario_plot(study),
        directory=directory,
        links_shown=LINKS_SHOWN,
    )


def _directory_rows(study: Study, accounts: dict[str, str]) -> list[dict[str, Any]]:
    figures: dict[str, list[str]] = {}
    for p in study.pairs:
        frame: pd.DataFrame = p.accounts
        for account, path, req, call in zip(  # rendering: one row per changed account
            frame["account_id"],
            frame["eligibility_path"],
            frame["requirement_delta"],
            frame["call_delta"],
            strict=True,
        ):
            req_text, call_text = f"{int(req) / 100:+,.2f}", f"{int(call) / 100:+,.2f}"
            figures.setdefault(str(account), []).append(
                f"{p.to_id}: {path}, requirement {req_text}, call {call_text}"
            )
    rows = [{str(k): v for k, v in r.items()} for r in study.directory.to_dict("records")]
    return [
        {
            **row,
            "anchor": accounts[row["account_id"]],
            "figures": figures.get(row["account_id"], []),
        }
        for row in rows
    ]


def write_study(study: Study, path: str | Path) -> Path:
    """Write the study page to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.write_text(render_study(study), encoding="utf-8")
    return out
