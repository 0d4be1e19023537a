"""The workbench's routes: start, check, preview (figures computed by hand), Save as.

The known edit raises the SEC money-market-fund haircut from 2% to 10%. In the demo book one
SEC account holds a money-market fund: A12_JULIET_PM, lot L18, 200,000.00 USD. Its collateral
value falls by 200,000 x (10% - 2%) = 16,000.00; nothing else moves (its requirement does not
depend on its collateral), so the SEC total value goes from 16,980,002.00 to 16,964,002.00.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_books import Recorded
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from marginlex.cli import app as cli_app
from marginlex.console.app import create_app
from marginlex.console.security import LOOPBACK
from marginlex.dsl.format.formatter import format_text

VARIANT = """\
rulebook mmf_ten "SEC with a 10% money-market-fund haircut"
  jurisdiction SEC
  version "2026.1-variant"
  effective from 2026-01-01
  cites "internal proposal: money-market funds at 10%"
  extends sec

override haircut sec_other_assets for collateral
  where collateral.asset in {USD, STOCK, ETF, MMF}
  cites "internal proposal: money-market funds at 10%"
  status illustrative
  by asset
    USD   0%
    STOCK 15%
    ETF   15%
    MMF   10%
"""
TYPO = VARIANT.replace("collateral.asset in", "collateral.assett in")


def _form(text: str = VARIANT, **more: str) -> dict[str, str]:
    return {"base": "shipped:sec", "name": "mmf_ten", "book": "demo", "text": text, **more}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    where = tmp_path / "rulebooks"
    where.mkdir()
    return where


@pytest.fixture
def bench(recorded: Recorded, folder: Path) -> Iterator[TestClient]:
    """A console over the session's ledger that may save into ``folder``."""
    with TestClient(
        create_app(recorded.location, rulebooks=folder), base_url=LOOPBACK
    ) as test_client:
        yield test_client


def _message(html: str) -> str:
    found = re.search(r'<p class="error" id="message">(.*?)</p>', html, re.S)
    assert found, html
    return found.group(1).replace("&#39;", "'")


def _row(html: str, table: str) -> list[list[str]]:
    body = html.split(f'id="table-{table}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td.*?>(.*?)</td>", r)] for r in rows]


def test_the_page_starts_a_variant_of_a_shipped_rulebook(bench: TestClient) -> None:
    html = bench.get("/workbench").text
    assert '<a href="/workbench">Workbench</a>' in html
    assert '<option value="shipped:sec" selected>sec (shipped)</option>' in html
    assert 'option value="shipped:harmonized_85pct_offsets"' in html
    assert "  extends sec\n" in html
    assert '<script src="/static/workbench.js" defer></script>' in html
    own = bench.get("/workbench", params={"base": "shipped:cftc", "start": "edit"}).text
    assert "rulebook cftc &#34;" in own


def test_a_recorded_bundle_is_a_base(bench: TestClient) -> None:
    html = bench.get("/workbench").text
    keys = re.findall(r'<option value="(ledger:[0-9a-f]{64})">harmonized ', html)
    assert keys, "the ledger's harmonized bundle is offered"
    variant = bench.get("/workbench", params={"base": keys[0]}).text
    assert "  extends harmonized\n" in variant
    text = VARIANT.replace("extends sec", "extends harmonized").replace("SEC\n", "HARMONIZED\n")
    answer = bench.post(
        "/workbench/check",
        data=_form(text, base=keys[0]),
        headers={"accept": "application/json"},
    ).json()
    assert answer["clean"] is True


def test_an_unknown_base_is_refused(bench: TestClient) -> None:
    response = bench.get("/workbench", params={"base": "shipped:nowhere"})
    assert response.status_code == 404
    assert _message(response.text) == "no shipped rulebook 'nowhere'"


def test_check_answers_the_checkers_diagnostics(bench: TestClient) -> None:
    response = bench.post(
        "/workbench/check", data=_form(TYPO), headers={"accept": "application/json"}
    )
    assert response.json() == {
        "clean": False,
        "diagnostics": [
            {
                "line": 9,
                "column": 9,
                "end_line": 9,
                "end_column": 26,
                "code": "MLX200",
                "severity": "error",
                "message": "collateral has no field `assett`",
                "hint": "did you mean `asset`?",
            }
        ],
    }
    fixed = bench.post("/workbench/check", data=_form(), headers={"accept": "application/json"})
    assert fixed.json() == {"clean": True, "diagnostics": []}


def test_check_without_script_renders_the_page(bench: TestClient) -> None:
    html = bench.post("/workbench/check", data=_form(TYPO)).text
    item = '<li class="diag sev-error" data-line="9" tabindex="0">line 9:9 <code>MLX200</code>'
    assert item in html
    assert "collateral.assett in" in html  # the text stays in the editor
    clean = bench.post("/workbench/check", data=_form()).text
    assert '<p id="check-status" role="status" aria-live="polite" class="pass">clean</p>' in clean


def test_preview_shows_the_hand_computed_figures(bench: TestClient) -> None:
    response = bench.post("/workbench/preview", data=_form())
    assert response.status_code == 200
    html = response.text
    assert _row(html, "totals") == [
        ["sec (base)", "13", "13", "1", "837413.76", "12105002.00", "50000.00"],
        ["mmf_ten", "13", "13", "1", "837413.76", "12089002.00", "50000.00"],
    ]
    # accounts, changed, better off, worse off, unchanged, calls +/-, requirement/value/call
    assert _row(html, "counts") == [
        ["13", "1", "0", "1", "12", "0", "0", "0.00", "-16000.00", "0.00"]
    ]
    assert _row(html, "movers") == [
        [
            "A12_JULIET_PM",
            "ms:A12_JULIET_PM",
            "ms:A12_JULIET_PM",
            "117012.39",
            "117012.39",
            "0.00",
            "-16000.00",
            "0.00",
        ]
    ]
    # the override changes one row of the table: the delta is attributed to that row
    assert _row(html, "attribution") == [
        ["1", "sec_other_assets row MMF", "0.00", "-16000.00", "0.00"]
    ]


def test_preview_of_the_bases_own_text_edited(bench: TestClient) -> None:
    own = bench.get("/workbench", params={"base": "shipped:sec", "start": "edit"}).text
    assert "    MMF 2% [cites" in own
    text = (Path(__file__).parents[2] / "marginlex" / "rulebooks" / "sec.mlx").read_text()
    edited = text.replace("    MMF 2%", "    MMF 10%")
    same_id = bench.post("/workbench/preview", data=_form(edited, name="sec"))
    assert same_id.status_code == 400  # the checker's MLX205: the id of the shipped file
    assert "<code>MLX205</code> rulebook `sec` takes the id of the shipped rulebook" in (
        same_id.text
    )
    replacing = edited.replace(
        "  jurisdiction SEC\n", "  jurisdiction SEC\n  replaces shipped sec\n"
    )
    html = bench.post("/workbench/preview", data=_form(replacing, name="sec")).text
    assert _row(html, "counts")[0][8] == "-16000.00"
    assert _row(html, "totals")[1][0] == "sec_edited"  # told apart from its base by the label


def test_preview_refuses_a_text_with_errors(bench: TestClient) -> None:
    response = bench.post("/workbench/preview", data=_form(TYPO))
    assert response.status_code == 400
    assert _message(response.text) == "the text has errors: fix them before a preview"
    assert 'id="table-totals"' not in response.text


def test_preview_refuses_a_book_it_was_not_given(bench: TestClient) -> None:
    response = bench.post("/workbench/preview", data=_form(book="/etc"))
    assert response.status_code == 400
    assert _message(response.text) == ("no book '/etc' here: the demo book or the --book given")


def test_save_writes_the_formatted_text_that_checks_clean(
    bench: TestClient, folder: Path, recorded: Recorded
) -> None:
    ledger = Path(recorded.location).read_bytes()
    response = bench.post("/workbench/save", data=_form())
    assert response.status_code == 200
    saved = folder / "mmf_ten.mlx"
    assert f"Saved <code>{saved.resolve()}</code>" in response.text
    assert saved.read_text(encoding="utf-8") == format_text(VARIANT)
    assert saved.read_text(encoding="utf-8") != VARIANT  # the table's columns were aligned
    result = CliRunner().invoke(cli_app, ["check", str(saved)])
    assert result.exit_code == 0, result.output
    assert "checked: clean" in result.output
    assert hashlib.sha256(Path(recorded.location).read_bytes()).digest() == (
        hashlib.sha256(ledger).digest()
    )  # the ledger is only read
    again = bench.post("/workbench/save", data=_form())
    assert again.status_code == 400
    assert _message(again.text) == "mmf_ten.mlx exists in " + str(folder) + ": choose another name"


@pytest.mark.parametrize(
    "name",
    ["../mmf_ten", "..", "/tmp/mmf_ten", "sub/mmf_ten", "mmf_ten.mlx", "..\\mmf_ten", "", "Mmf"],
)
def test_save_refuses_names_outside_the_folder(bench: TestClient, folder: Path, name: str) -> None:
    response = bench.post("/workbench/save", data=_form(name=name))
    assert response.status_code == 400
    assert _message(response.text) == (
        f"refusing the name '{name}': lower-case letters, digits and _, starting with a "
        "letter (no folders: the file goes into the rulebook folder)"
    )
    assert list(folder.parent.rglob("*.mlx")) == []


def test_save_refuses_a_text_that_does_not_check(bench: TestClient, folder: Path) -> None:
    response = bench.post("/workbench/save", data=_form(TYPO))
    assert response.status_code == 400
    assert _message(response.text) == (
        f"not saved: the text does not check clean in {folder} "
        "(MLX200 collateral has no field `assett`, 1 in all)"
    )
    assert list(folder.iterdir()) == []


def test_a_save_cut_short_by_a_full_disk_leaves_nothing(
    bench: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marginlex.dsl.format import files  # noqa: PLC0415 - the writer whose flush fails

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full)
    response = bench.post("/workbench/save", data=_form())
    assert response.status_code == 400
    assert _message(response.text) == (
        f"not saved: cannot write mmf_ten.mlx in {folder}: No space left on device"
    )
    assert list(folder.iterdir()) == []  # neither the file nor its temporary twin


def test_save_is_refused_without_a_rulebook_folder(client: TestClient) -> None:
    html = client.get("/workbench").text
    assert 'id="save" formaction="/workbench/save" disabled' in html
    response = client.post("/workbench/save", data=_form())
    assert response.status_code == 400
    assert _message(response.text) == ("saving needs a rulebook folder: start with --rulebooks DIR")


def test_the_workbench_needs_the_token(recorded: Recorded, folder: Path) -> None:
    app = create_app(recorded.location, token="s3cret", rulebooks=folder)
    with TestClient(app, base_url=LOOPBACK) as anonymous:
        for response in (
            anonymous.get("/workbench"),
            anonymous.post("/workbench/check", data=_form()),
            anonymous.post("/workbench/save", data=_form()),
        ):
            assert response.status_code == 401
        assert list(folder.iterdir()) == []
        answer = anonymous.post(
            "/workbench/check",
            data=_form(TYPO),
            headers={"accept": "application/json", "x-marginlex-token": "s3cret"},
        )
        assert [d["code"] for d in answer.json()["diagnostics"]] == ["MLX200"]


def test_serve_refuses_a_rulebooks_path_that_is_not_a_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(cli_app, ["serve", "--ledger", "x.db", "--rulebooks", str(missing)])
    assert result.exit_code == 2
    assert f"error: --rulebooks {missing} is not a folder" in result.output


def test_serve_refuses_a_book_that_does_not_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it served, and the workbench's preview on the book was a 500 "ledger cannot be read"
    import uvicorn  # noqa: PLC0415

    def served(*_: object, **__: object) -> None:
        raise AssertionError("the console started on a book that does not load")

    monkeypatch.setattr(uvicorn, "run", served)
    (tmp_path / "book.json").write_text('{"as_of": "2026-06-30", "currency": "USD"}', "utf-8")
    args = ["serve", "--ledger", "x.db", "--book", str(tmp_path)]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 1
    said = result.stderr.splitlines()
    assert "parties.csv: required file is missing" in said
    assert said[-1] == f"error: --book {tmp_path} does not load: 6 error(s)"


def test_a_book_that_stopped_loading_is_said_in_the_preview(
    recorded: Recorded, tmp_path: Path
) -> None:
    book = tmp_path / "book"
    assert (
        CliRunner()
        .invoke(cli_app, ["synth", "--accounts", "20", "--seed", "1", "--out", str(book)])
        .exit_code
        == 0
    )
    app = create_app(recorded.location, book=book)
    with TestClient(app, base_url=LOOPBACK) as client:
        first = client.post("/workbench/preview", data=_form(book=str(book)))
        assert first.status_code == 200  # the book is loaded and kept
        (book / "positions.csv").unlink()  # after a preview: the kept book is stale
        response = client.post("/workbench/preview", data=_form(book=str(book)))
    assert response.status_code == 400
    assert _message(response.text) == (
        f"the book {book} does not load: positions.csv: required file is missing"
    )


def test_a_saved_variant_can_be_extended_at_once(bench: TestClient) -> None:
    assert bench.post("/workbench/save", data=_form()).status_code == 200
    on_top = VARIANT.replace("rulebook mmf_ten", "rulebook mmf_more").replace(
        "extends sec", "extends mmf_ten"
    )
    answer = bench.post(
        "/workbench/check",
        data=_form(on_top, name="mmf_more"),
        headers={"accept": "application/json"},
    ).json()
    assert answer == {"clean": True, "diagnostics": []}


def test_a_desks_own_sec_saved_with_a_byte_order_mark_opens_without_it(
    recorded: Recorded, folder: Path
) -> None:
    """The rulebook folder's own `replaces shipped sec`, saved by a Windows editor (a BOM):
    the workbench opens its text without the mark, and a variant extending it checks clean."""
    shipped = (Path(__file__).parents[2] / "rulebooks" / "sec.mlx").read_text(encoding="utf-8")
    own = shipped.replace("  jurisdiction SEC\n", "  jurisdiction SEC\n  replaces shipped sec\n", 1)
    (folder / "sec.mlx").write_bytes(b"\xef\xbb\xbf" + own.encode("utf-8"))
    with TestClient(create_app(recorded.location, rulebooks=folder), base_url=LOOPBACK) as client:
        html = client.get("/workbench", params={"base": "shipped:sec", "start": "edit"}).text
        assert "\ufeff" not in html and "rulebook sec &#34;" in html
        answer = client.post(
            "/workbench/check", data=_form(), headers={"accept": "application/json"}
        ).json()
    assert answer["clean"] is True, answer


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},  # a browser without Sec-Fetch-Site
        {"origin": "null"},
        {"sec-fetch-site": "cross-site", "origin": "http://evil.example"},
        {"sec-fetch-site": "same-site"},  # another port or subdomain of the same site
        {"sec-fetch-site": "cross-site", "origin": "http://127.0.0.1"},  # the browser knows
    ],
)
def test_another_sites_page_cannot_post(
    bench: TestClient, folder: Path, headers: dict[str, str]
) -> None:
    # A page on any site the officer visits could post a form to the console on loopback
    # (no token there) and plant a variant in the rulebook folder.
    response = bench.post("/workbench/save", data=_form(), headers=headers)
    assert response.status_code == 403
    assert response.text == "403: a page of another site cannot post to this console"
    assert list(folder.parent.rglob("*.mlx")) == []
    assert bench.post("/verify", headers=headers).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "same-origin", "origin": "http://127.0.0.1"},
        {"origin": "http://127.0.0.1"},  # a browser without Sec-Fetch-Site, from the console
        {"origin": "https://margin.example", "x-forwarded-host": "margin.example"},  # a proxy
        {},  # curl or a script: no browser, no one else's page
    ],
)
def test_the_consoles_own_posts_pass(bench: TestClient, headers: dict[str, str]) -> None:
    response = bench.post("/workbench/check", data=_form(), headers=headers)
    assert response.status_code == 200, response.text


def test_a_form_past_any_rulebook_is_refused_unread(bench: TestClient, folder: Path) -> None:
    from marginlex.console.pages.workbench import MAX_FORM_BYTES  # noqa: PLC0415

    text = "# " + "x" * MAX_FORM_BYTES
    for action in ("check", "preview", "save"):
        answer = bench.post(f"/workbench/{action}", data=_form(text))
        assert answer.status_code == 413
        assert "a rulebook is at most 500,000 bytes (MLX002)" in answer.text
    assert list(folder.iterdir()) == []


def test_a_recorded_base_is_written_out_once_not_at_every_call(bench: TestClient) -> None:
    # each check of a text on a recorded base wrote its sources to a new folder in /tmp,
    # never removed: now one folder a bundle, in one scratch folder for the console's life
    from marginlex.console import workbench  # noqa: PLC0415 - its scratch folder

    html = bench.get("/workbench").text
    (key, *_) = re.findall(r'<option value="(ledger:[0-9a-f]{64})">harmonized ', html)
    text = VARIANT.replace("extends sec", "extends harmonized").replace("SEC\n", "HARMONIZED\n")
    folders = []
    for _ in range(3):
        answer = bench.post(
            "/workbench/check", data=_form(text, base=key), headers={"accept": "application/json"}
        )
        assert answer.json()["clean"] is True
        folders.append(sorted(p.name for p in Path(workbench._SCRATCH[0].name).iterdir()))
    assert folders[0] == folders[1] == folders[2]
    assert key.removeprefix("ledger:") in folders[0]


def test_a_preview_with_warnings_says_run_and_compare_refuse_it(bench: TestClient) -> None:
    # the ETF row dropped by the override: MLX214, a warning that `compare` refuses
    warned = VARIANT.replace("    ETF   15%\n", "")
    assert warned != VARIANT
    html = bench.post("/workbench/preview", data=_form(warned)).text
    assert "<code>MLX214</code>" in html and 'id="table-totals"' in html
    notice = re.search(r'<p class="warning" id="notice">(.*?)</p>', html, re.S)
    assert notice is not None
    assert notice.group(1).startswith("Previewed with 1 warning(s), as `--allow-warnings` would")
    clean = bench.post("/workbench/preview", data=_form()).text
    assert 'id="notice"' not in clean


def test_a_text_starting_with_a_byte_order_mark_checks_as_check_reads_a_file(
    bench: TestClient,
) -> None:
    # pasted from a file saved with a BOM: `marginlex check` reads it clean, so does the bench
    answer = bench.post(
        "/workbench/check", data=_form("\ufeff" + VARIANT), headers={"accept": "application/json"}
    ).json()
    assert answer["clean"] is True


def test_the_scratch_folder_goes_when_the_console_stops(recorded: Recorded) -> None:
    """Removed at the console's shutdown, not only at the interpreter's exit: uvicorn ends a
    SIGTERM by raising it again, and the process died before removing it."""
    from marginlex.console import workbench  # noqa: PLC0415 - its scratch folder

    with TestClient(create_app(recorded.location), base_url=LOOPBACK) as client:
        html = client.get("/workbench").text
        (key, *_) = re.findall(r'<option value="(ledger:[0-9a-f]{64})">harmonized ', html)
        assert client.get(f"/workbench?base={key}").status_code == 200
        scratch = Path(workbench._SCRATCH[0].name)
        assert scratch.is_dir()
    assert not scratch.exists()
    assert workbench._SCRATCH == []


def test_a_lone_carriage_return_is_a_line_end_as_in_a_saved_file(
    bench: TestClient, folder: Path
) -> None:
    """A browser sends a textarea's line ends as CR LF; a crafted form may send a carriage
    return alone, inside a quoted text. It checked clean (the text read `proposal:\\rmoney`),
    then the save's formatting refused it: a 500 page. It is a line end, as in a file that
    `check` reads, so the text is MLX102 (no closing quote on line 5) and nothing is saved."""
    text = VARIANT.replace('"internal proposal: money', '"internal proposal:\rmoney', 1)
    checked = bench.post(
        "/workbench/check", data=_form(text), headers={"accept": "application/json"}
    )
    found = checked.json()["diagnostics"]
    assert [(d["code"], d["line"]) for d in found][:1] == [("MLX102", 5)]
    response = bench.post("/workbench/save", data=_form(text))
    assert response.status_code == 400
    assert _message(response.text) == (
        f"not saved: the text does not check clean in {folder} (MLX102 this text has no "
        "closing `&#34;` on its line, 1 in all)"
    )
    assert list(folder.iterdir()) == []
