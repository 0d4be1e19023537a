"""Hostile ids through every surface, end to end: a synthetic book of 60 accounts whose
account, party, instrument and lot ids hold what a new user's book holds (spaces, quotes,
commas, backslashes, markup, other scripts, emoji, numbers, a leading ``=``, URL syntax, the
longest id a book takes: ``cli_books.HOSTILE_IDS``) is decided, recorded, replayed, explained,
listed, run again ``--since``, shown by the console and compared exactly as the same book
with plain ids, each set found by its accounts. An id holding ``;`` or ``" -> "`` (which join
ids in outputs) or longer than 128 characters is refused at load, by its row."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from cli_books import hostile_book
from fastapi.testclient import TestClient
from markupsafe import escape
from typer.testing import CliRunner

from marginlex.cli import app
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK
from marginlex.engine.book.limits import MAX_ID_LENGTH
from marginlex.engine.book.load import write_book
from marginlex.engine.synth.generate import synth_book

RULEBOOKS = ("sec", "cftc", "harmonized")
SHOWN = ("<script>alert(5)</script>", 'say "hi" 2', "O'Brien 1", "back\\slash\\4", "账户7")
"""Accounts whose decisions are explained, listed and shown (ids of the 60 the book renames
first, in the order of ``cli_books.HOSTILE_IDS``)."""


@dataclass(frozen=True)
class Books:
    plain: Path
    hostile: Path
    old: dict[str, str]  # hostile account id -> plain one
    ledger: Path
    run_id: str
    plain_run: dict[str, dict]
    hostile_run: dict[str, dict]


def _invoke(*args: str) -> tuple[str, str]:
    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, (args, done.stdout, done.stderr)
    return done.stdout, done.stderr


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Books:
    root = tmp_path_factory.mktemp("hostile")
    meta, frames = synth_book(60, 11)
    plain = write_book(meta, frames, root / "plain")
    old = hostile_book(plain, root / "hostile")
    ledger = root / "ledger.db"
    plain_out, _ = _invoke("run", str(plain), "--format", "json")
    out, err = _invoke("run", str(root / "hostile"), "--ledger", str(ledger), "--format", "json")
    run_id = err.split("recorded run ")[1].split(":")[0]
    return Books(
        plain, root / "hostile", old, ledger, run_id, json.loads(plain_out), json.loads(out)
    )


def _members(decision: dict) -> list[str]:
    """A decision's accounts and those it takes positions in from, as recorded."""
    return [*decision["account_ids"], *decision.get("takes_in_from", [])]


def _by_accounts(decisions: Iterable[dict], old: dict[str, str] | None = None) -> dict:
    """Each decision's figures, statuses and failed requirements, by its (plain) accounts."""
    back = old or {}
    found = {}
    for d in decisions:
        key = tuple(sorted(back.get(a, a) for a in d["account_ids"]))
        figures = {k: v for k, v in d.items() if k not in ("id", "margin_set_id", "account_ids")}
        figures.pop("segregation_paths")  # its paths spell lot and party ids
        figures["takes_in_from"] = sorted(back.get(a, a) for a in d.get("takes_in_from", []))
        found[key] = figures
    return found


def _decision(books: Books, rulebook: str, account: str) -> dict:
    (decision,) = [
        d for d in books.hostile_run[rulebook]["decisions"] if d["account_ids"] == [account]
    ]
    return decision


def _recorded_id(books: Books, rulebook: str, margin_set: str) -> str:
    with sqlite3.connect(books.ledger) as db:
        (found,) = db.execute(
            "SELECT decision_id FROM decisions WHERE run_id = ? AND rulebook_id = ? "
            "AND margin_set_id = ?",
            (books.run_id, rulebook, margin_set),
        ).fetchone()
    return str(found)


def test_every_hostile_id_is_decided_as_its_plain_id(books: Books) -> None:
    accounts = {
        a for rb in RULEBOOKS for d in books.hostile_run[rb]["decisions"] for a in d["account_ids"]
    }
    assert set(books.old) >= set(SHOWN) and len(books.old) == 60
    assert {"010", "11e3", "=12+1", "@SUM(15)", "a/b?c=1&d#e%41 16", "from->to 17"} <= set(
        books.old
    )
    assert max(len(a) for a in books.old) == MAX_ID_LENGTH
    assert accounts <= set(books.old) and len(accounts) > 50  # as written, not re-spelled
    for rulebook in RULEBOOKS:
        plain = _by_accounts(books.plain_run[rulebook]["decisions"])
        hostile = _by_accounts(books.hostile_run[rulebook]["decisions"], books.old)
        assert len(hostile) == len(books.hostile_run[rulebook]["decisions"]) > 0
        assert hostile == plain
        assert books.hostile_run[rulebook]["summary"] == books.plain_run[rulebook]["summary"]


def test_the_ledger_replays_lists_and_explains_hostile_ids(books: Books) -> None:
    out, _ = _invoke("verify", "--ledger", str(books.ledger), "--replay")
    count = sum(len(books.hostile_run[rb]["decisions"]) for rb in RULEBOOKS)
    assert f"replayed {count} decisions: every one identical, byte for byte" in out
    listed, _ = _invoke("ledger", "--ledger", str(books.ledger), "--format", "json")
    recorded = {
        (r["rulebook_id"], r["margin_set_id"]): r["account_ids"] for r in json.loads(listed)
    }
    made = {
        (rb, d["margin_set_id"]): _members(d)
        for rb in RULEBOOKS
        for d in books.hostile_run[rb]["decisions"]
    }
    assert recorded == made  # every id read back exactly
    for account in SHOWN:
        holding = {key for key, ids in made.items() if account in ids}
        found, _ = _invoke(
            "ledger", "--ledger", str(books.ledger), "--account", account, "--format", "json"
        )
        assert {(r["rulebook_id"], r["margin_set_id"]) for r in json.loads(found)} == holding
        decision = _decision(books, "harmonized", account)
        decision_id = _recorded_id(books, "harmonized", decision["margin_set_id"])
        text, _ = _invoke("explain", decision_id, "--ledger", str(books.ledger))
        assert f"Decision {decision_id}: " in text
        assert f"Margin set ms:{account}: account {account} alone" in text
        page, _ = _invoke("explain", decision_id, "--ledger", str(books.ledger), "-f", "html")
        assert f"Decision {escape(decision_id)}: " in page
        assert "<script>alert(" not in page


def test_since_carries_every_hostile_set_and_decides_the_changed_one_anew(
    books: Books, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.db"
    shutil.copy(books.ledger, ledger)
    out, err = _invoke(
        "run", str(books.hostile), "--ledger", str(ledger), "--since", books.run_id, "-f", "json"
    )
    count = sum(len(books.hostile_run[rb]["decisions"]) for rb in RULEBOOKS)
    assert f"0 decisions re-decided, {count} carried forward unchanged" in " ".join(err.split())
    # nothing changed, so nothing is evaluated or printed (ids holding a quote or a backslash
    # are read back from the earlier run: its whole book was evaluated, and printed)
    assert {rb: found["decisions"] for rb, found in json.loads(out).items()} == {
        rb: [] for rb in RULEBOOKS
    }
    account = "<script>alert(5)</script>"
    book = tmp_path / "changed"
    shutil.copytree(books.hostile, book)
    positions = pd.read_csv(book / "positions.csv", dtype=str, keep_default_na=False)
    first = positions.index[positions["account_id"] == account][0]
    positions.loc[first, "quantity"] = str(2 * float(positions.loc[first, "quantity"]))
    positions.to_csv(book / "positions.csv", index=False)
    out, _ = _invoke("run", str(book), "--ledger", str(ledger), "--since", books.run_id)
    later = out.split("recorded run ")[1].split(":")[0]
    with sqlite3.connect(ledger) as db:
        anew = set(
            db.execute(
                "SELECT rulebook_id, margin_set_id FROM decisions WHERE run_id = ? "
                "AND carried_from IS NULL",
                (later,),
            ).fetchall()
        )
    holding = {
        (rb, d["margin_set_id"])
        for rb in RULEBOOKS
        for d in books.hostile_run[rb]["decisions"]
        if account in _members(d)
    }
    assert anew == holding == {(rb, f"ms:{account}") for rb in ("sec", "harmonized")}


def test_the_console_shows_hostile_ids_escaped(books: Books) -> None:
    with TestClient(create_app(str(books.ledger)), base_url=LOOPBACK) as client:
        for account in (*SHOWN, "a/b?c=1&d#e%41 16"):
            decision = _decision(books, "harmonized", account)
            decision_id = _recorded_id(books, "harmonized", decision["margin_set_id"])
            # the test client decodes a path twice (its request's path, decoded, is
            # unquoted again), a server once: each address is quoted once more here
            history = client.get(f"/accounts/{quote(quote(account, safe=''), safe='')}")
            assert history.status_code == 200
            assert f"Decisions for account {escape(account)}" in history.text
            link = f"/runs/{books.run_id}/decisions/{quote(decision_id, safe=':')}"
            assert f'href="{escape(link)}"' in history.text  # the link to the decision
            page = client.get(quote(link, safe="/"))
            assert page.status_code == 200, (account, page.text[:300])
            assert str(escape(decision_id)) in page.text
            assert "<script>alert(" not in page.text + history.text


def _compared(book: Path) -> dict:
    out, _ = _invoke(
        "compare", str(book), "-r", "sec", "-r", "harmonized", "-f", "json", "--no-attribution"
    )
    return json.loads(out)


def test_compare_on_hostile_ids_gives_the_plain_figures(books: Books) -> None:
    plain, hostile = _compared(books.plain), _compared(books.hostile)
    assert hostile["rulebooks"] == plain["rulebooks"]

    def sets(found: dict, old: dict[str, str]) -> dict:
        return {
            tuple(sorted(old.get(a, a) for a in s["account_ids"])): [
                s[k] for k in ("rulebook_id", "requirement", "value", "call")
            ]
            for s in found["sets"]
        }

    assert sets(hostile, books.old) == sets(plain, {}) != {}
    totals = ("requirement_delta", "value_delta", "call_delta", "accounts_compared")
    assert [[c[k] for k in totals] for c in hostile["comparisons"]] == [
        [c[k] for k in totals] for c in plain["comparisons"]
    ]


def _refused(book: Path, ledger: Path) -> list[str]:
    done = CliRunner().invoke(app, ["run", str(book), "--ledger", str(ledger)])
    assert done.exit_code == 1 and done.stdout == ""
    assert not ledger.exists() or sqlite3.connect(ledger).execute(
        "SELECT count(*) FROM decisions"
    ).fetchone() == (0,)
    return done.stderr.splitlines()


def test_an_id_holding_a_separator_or_too_long_is_refused_by_its_row(
    books: Books, tmp_path: Path
) -> None:
    book = tmp_path / "book"
    shutil.copytree(books.hostile, book)
    accounts = pd.read_csv(book / "accounts.csv", dtype=str, keep_default_na=False)
    row = int(accounts.index[accounts["account_id"] == "a,b,3"][0]) + 2
    for name in ("accounts", "positions", "collateral", "relations"):
        frame = pd.read_csv(book / f"{name}.csv", dtype=str, keep_default_na=False)
        renamed = {"a,b,3": "a;b;3", "acct 0 with spaces": "y" * 129, "O'Brien 1": "A -> B"}
        frame.replace(renamed).to_csv(book / f"{name}.csv", index=False)
    assert _refused(book, tmp_path / "ledger.db")[:3] == [
        "accounts.csv:2: account_id: an id of 129 characters, over the limit of 128: the ledger "
        "keeps ids in VARCHAR(200) columns with its prefixes: shorten it",
        "accounts.csv:3: account_id: id 'A -> B' holds ' -> ' at position 2, which joins the "
        "steps of a segregation path in every output (account -> lot -> account): use another "
        "character",
        f"accounts.csv:{row}: account_id: id 'a;b;3' holds ';' at position 2, which separates "
        "ids in every output (a margin set's account_ids): use another character",
    ]


def test_an_id_starting_with_a_dash_is_told_to_follow_two_dashes(books: Books) -> None:
    """``explain -14 -r harmonized`` said only ``No such option: -1``: click reads the id as
    short options. The error now says to give it after ``--``, and so it is explained."""
    given = ["explain", "-14", "-r", "harmonized", "--book", str(books.hostile)]
    done = CliRunner().invoke(app, given)
    assert done.exit_code == 2
    said = " ".join(done.stderr.replace("│", " ").split())
    assert (
        "No such option: -1: if '-14' is an argument (an id that starts with '-'), give it "
        "after --: marginlex explain [OPTIONS] -- -14" in said
    )
    out, _ = _invoke("explain", "-r", "harmonized", "--book", str(books.hostile), "--", "-14")
    assert "Margin set ms:-14: account -14 alone" in out
