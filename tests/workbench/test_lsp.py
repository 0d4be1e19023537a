"""The language server, driven through the protocol by a real client over pipes.

Each test starts ``python -m marginlex lsp`` with pygls's client (``_lsp_client``), opens
rulebooks in a temporary folder and asserts what comes back: the checker's diagnostics with
their ranges, quick fixes, hover, definition into the shipped base file, references,
outline, completion and formatting.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from _lsp_client import Session, at, doc, session
from lsprotocol import types as lsp

from marginlex.dsl import format_text, shipped_dir
from marginlex.dsl.check.runner import check_paths
from marginlex.dsl.model.domain import AccountKind
from marginlex.dsl.model.fields import FIELDS
from marginlex.dsl.model.rulebook import Subject

DATA = Path(__file__).parents[1] / "data" / "dsl"
SEC = shipped_dir() / "sec.mlx"

HOUSE = """\
rulebook house "House rules on top of the SEC rulebook"
  jurisdiction SEC
  cites "Internal risk policy RP-12"
  extends sec

override parameter pm_min_equity = 150,000 USD
  cites "Internal risk policy RP-12, section 3"
  status verified
eligibility house_pm for account
  cites "Internal risk policy RP-12, section 4"
  status illustrative
  require big: account.equity >= pm_min_equity
    because "account equity must be at least {pm_min_equity}"
  require huge: account.equity >= pm_min_equity_unlisted
    because "account equity must be at least {pm_min_equity_unlisted}"
"""


def run(folder: Path, scenario: Callable[[Session], Awaitable[None]]) -> None:
    """Start a server, play a scenario against it, shut it down."""

    async def main() -> None:
        async with session(folder) as s:
            await scenario(s)

    asyncio.run(main())


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, "utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """The 0-based line of the first line holding ``needle``."""
    return next(i for i, t in enumerate(path.read_text("utf-8").splitlines()) if needle in t)


def test_a_typo_gives_its_diagnostic_with_range_and_a_fix_clears_it(tmp_path: Path) -> None:
    typo = HOUSE.replace("require big: account.equity", "require big: account.eqity")
    path = write(tmp_path, "house.mlx", typo)

    async def scenario(s: Session) -> None:
        (d,) = await s.open(path)
        assert d.code == "MLX200" and d.source == "marginlex"
        assert d.severity == lsp.DiagnosticSeverity.Error
        assert d.message == "account has no field `eqity`\nhint: did you mean `equity`?"
        # line 12, columns 16-28 (1-based) of `account.eqity`, as `marginlex check` says
        assert (d.range.start.line, d.range.start.character) == (11, 15)
        assert (d.range.end.line, d.range.end.character) == (11, 28)
        actions = await s.client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=doc(path), range=d.range, context=lsp.CodeActionContext([d])
            )
        )
        (fix,) = actions or []
        assert fix.title == "Replace `eqity` with `equity`" and fix.is_preferred
        (edit,) = fix.edit.changes[path.as_uri()]
        assert (edit.range.start.character, edit.range.end.character, edit.new_text) == (
            23,
            28,
            "equity",
        )
        assert await s.change(path, HOUSE) == []

    run(tmp_path, scenario)


@pytest.mark.parametrize(
    ("old", "new", "code", "title", "fixed"),
    [
        (
            "override parameter pm_min_equity",
            "parameter pm_min_equity",
            "MLX211",
            "Write `override` to replace the inherited rule",
            "override parameter pm_min_equity",
        ),
        (
            "account.equity >= pm_min_equity\n",
            "account.equity >= 150,000\n",
            "MLX300",
            "Add the unit `USD`",
            "account.equity >= 150,000 USD\n",
        ),
        (
            "eligibility house_pm",
            "override eligibility house_pm",
            "MLX212",
            "Drop the word `override` (define a new rule)",
            "\neligibility house_pm",
        ),
    ],
    ids=["override-missing", "unit-missing", "override-without-base"],
)
def test_quick_fix_applies_the_edit_its_hint_names(
    tmp_path: Path, old: str, new: str, code: str, title: str, fixed: str
) -> None:
    broken = HOUSE.replace(old, new, 1)
    assert broken != HOUSE
    path = write(tmp_path, "house.mlx", broken)

    async def scenario(s: Session) -> None:
        (d,) = await s.open(path)
        assert d.code == code
        actions = await s.client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=doc(path), range=d.range, context=lsp.CodeActionContext([d])
            )
        )
        (fix,) = actions or []
        assert fix.title == title
        (edit,) = fix.edit.changes[path.as_uri()]
        applied = apply(broken, edit)
        assert fixed in applied
        assert await s.change(path, applied) == []

    run(tmp_path, scenario)


def apply(text: str, edit: lsp.TextEdit) -> str:
    """A text with one edit applied (ASCII text: characters are UTF-16 units)."""
    lines = text.split("\n")

    def offset(p: lsp.Position) -> int:
        return sum(len(x) + 1 for x in lines[: p.line]) + p.character

    return text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]


def test_hover_shows_the_value_resolved_through_extends(tmp_path: Path) -> None:
    path = write(tmp_path, "house.mlx", HOUSE)

    async def scenario(s: Session) -> None:
        assert await s.open(path) == []
        # on `pm_min_equity_unlisted`: defined in the shipped base only
        line = line_of(path, "require huge")
        hover = await s.client.text_document_hover_async(
            lsp.HoverParams(text_document=doc(path), position=at(line, 40))
        )
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert hover.contents.value.split("\n\n") == [
            "**parameter** `pm_min_equity_unlisted` = `5,000,000 USD` (an amount of money), "
            f"from `sec` (sec.mlx:{line_of(SEC, 'parameter pm_min_equity_unlisted') + 1})",
            'cites "FINRA Rule 4210(g)(6)(B)(ii)"',
            "evidence: secondary",
            "used by: 2 places",  # here and in the SEC rulebook's own eligibility
        ]
        assert (hover.range.start.line, hover.range.start.character) == (line, 34)
        # on `pm_min_equity`: this file's override is in force, and it says what it replaced
        line = line_of(path, "require big")
        hover = await s.client.text_document_hover_async(
            lsp.HoverParams(text_document=doc(path), position=at(line, 40))
        )
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert hover.contents.value.split("\n\n") == [
            "**parameter** `pm_min_equity` = `150,000 USD` (an amount of money), line 6",
            'cites "Internal risk policy RP-12, section 3"',
            "evidence: verified",
            "used by: 2 places",  # here and in the SEC rulebook's own eligibility
            f"replaces = 100,000 USD, from `sec` (sec.mlx:{line_of(SEC, 'pm_min_equity =') + 1})",
            'cites "FINRA Rule 4210(g)(6)(B)(i)"',
            "evidence: secondary",
        ]
        # on a field: its type and meaning
        hover = await s.client.text_document_hover_async(
            lsp.HoverParams(text_document=doc(path), position=at(line, 25))
        )
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert hover.contents.value == (
            "**field** `account.equity`: money\n\ncollateral plus positions' market value"
        )

    run(tmp_path, scenario)


def test_hover_shows_a_rulebooks_text_as_text_never_as_markup(tmp_path: Path) -> None:
    """A title or citation was put in the hover's Markdown as it was: an image in a shared
    rulebook's citation was fetched by the editor on hover, a link was a link, and HTML
    was HTML where the editor renders it. Escaped as ``marginlex render`` escapes text."""
    text = HOUSE.replace(
        '"House rules on top of the SEC rulebook"', '"[click](https://e.example) <b>*bold*</b>"'
    ).replace('"Internal risk policy RP-12"', '"![t](https://e.example/t.png) `x` _y_ ~z~"', 1)
    path = write(tmp_path, "house.mlx", text)

    async def scenario(s: Session) -> None:
        await s.open(path)
        hover = await s.client.text_document_hover_async(
            lsp.HoverParams(text_document=doc(path), position=at(0, 10))
        )
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert hover.contents.value.split("\n\n")[:3] == [
            r"**rulebook** `house`: \[click\](https://e.example) &lt;b&gt;\*bold\*&lt;/b&gt;",
            "SEC",
            r'cites "\!\[t\](https://e.example/t.png) \`x\` \_y\_ ~z~"',
        ]

    run(tmp_path, scenario)


def test_definition_goes_into_the_base_file(tmp_path: Path) -> None:
    path = write(tmp_path, "house.mlx", HOUSE)
    base = SEC.resolve().as_uri()

    async def scenario(s: Session) -> None:
        await s.open(path)
        found = await s.client.text_document_definition_async(
            lsp.DefinitionParams(text_document=doc(path), position=at(13, 40))
        )
        assert isinstance(found, list)
        (place,) = found
        assert isinstance(place, lsp.Location) and place.uri == base
        assert place.range.start == at(line_of(SEC, "parameter pm_min_equity_unlisted"), 0)
        # on `extends sec`: the base rulebook's header
        found = await s.client.text_document_definition_async(
            lsp.DefinitionParams(text_document=doc(path), position=at(3, 11))
        )
        assert isinstance(found, list) and [p.uri for p in found] == [base]
        assert found[0].range.start == at(line_of(SEC, "rulebook sec"), 0)
        # on the override itself: the statement it replaces
        found = await s.client.text_document_definition_async(
            lsp.DefinitionParams(text_document=doc(path), position=at(5, 22))
        )
        assert isinstance(found, list) and [p.uri for p in found] == [base]
        assert found[0].range.start == at(line_of(SEC, "parameter pm_min_equity ="), 0)

    run(tmp_path, scenario)


def test_references_list_every_use_here_and_in_the_base(tmp_path: Path) -> None:
    path = write(tmp_path, "house.mlx", HOUSE)

    async def scenario(s: Session) -> None:
        await s.open(path)
        found = await s.client.text_document_references_async(
            lsp.ReferenceParams(
                text_document=doc(path),
                position=at(5, 22),
                context=lsp.ReferenceContext(include_declaration=False),
            )
        )
        places = sorted((p.uri, p.range.start.line, p.range.start.character) for p in found or [])
        sec_use = line_of(SEC, "account.equity >= pm_min_equity")
        sec_col = SEC.read_text("utf-8").splitlines()[sec_use].index("pm_min_equity")
        assert places == sorted(
            [(path.as_uri(), 11, 33), (SEC.resolve().as_uri(), sec_use, sec_col)]
        )

    run(tmp_path, scenario)


def test_outline_lists_the_header_and_every_statement(tmp_path: Path) -> None:
    path = write(tmp_path, "house.mlx", HOUSE)

    async def scenario(s: Session) -> None:
        await s.open(path)
        found = await s.client.text_document_document_symbol_async(
            lsp.DocumentSymbolParams(text_document=doc(path))
        )
        symbols = [x for x in found or [] if isinstance(x, lsp.DocumentSymbol)]
        assert [(x.name, x.detail, x.kind) for x in symbols] == [
            ("house", "House rules on top of the SEC rulebook", lsp.SymbolKind.Module),
            ("pm_min_equity", "override parameter", lsp.SymbolKind.Constant),
            ("house_pm", "eligibility", lsp.SymbolKind.Boolean),
        ]
        assert symbols[1].selection_range == lsp.Range(start=at(5, 19), end=at(5, 32))
        assert (symbols[2].range.start.line, symbols[2].range.end.line) == (8, 14)

    run(tmp_path, scenario)


def test_completion_after_account_dot_enum_values_and_units(tmp_path: Path) -> None:
    path = write(tmp_path, "house.mlx", HOUSE)
    typing = HOUSE + "  require kind: account."

    async def complete(s: Session, line: int, character: int) -> list[str]:
        found = await s.client.text_document_completion_async(
            lsp.CompletionParams(text_document=doc(path), position=at(line, character))
        )
        assert isinstance(found, lsp.CompletionList)
        return [i.label for i in found.items]

    async def scenario(s: Session) -> None:
        await s.open(path)
        # the half-typed line does not parse; completion still knows the subject
        (d,) = await s.change(path, typing)
        assert d.code == "MLX101"
        assert await complete(s, 15, len("  require kind: account.")) == list(
            FIELDS[Subject.ACCOUNT]
        )
        await s.change(path, typing + "kind = ")
        assert await complete(s, 15, len("  require kind: account.kind = ")) == [
            k.value for k in AccountKind
        ]
        await s.change(path, HOUSE + "parameter p = 5 ")
        assert await complete(s, 15, len("parameter p = 5 ")) == [
            "USD", "%", "bp", "day", "days", "month", "months", "year", "years", "x",
        ]  # fmt: skip
        await s.change(path, HOUSE + "  require x: account.equity >= pm_min")
        labels = await complete(s, 15, len("  require x: account.equity >= pm_min"))
        assert labels == ["pm_min_equity", "pm_min_equity_unlisted"]

    run(tmp_path, scenario)


def test_formatting_is_fmt(tmp_path: Path) -> None:
    messy = HOUSE.replace("\n  cites", "\n      cites").replace("\n\n", "\n\n\n")
    path = write(tmp_path, "house.mlx", messy)

    async def scenario(s: Session) -> None:
        await s.open(path)
        edits = await s.client.text_document_formatting_async(
            lsp.DocumentFormattingParams(
                text_document=doc(path),
                options=lsp.FormattingOptions(tab_size=2, insert_spaces=True),
            )
        )
        (edit,) = edits or []
        assert edit.range.start == at(0, 0)
        assert apply(messy, edit) == format_text(messy, str(path))
        assert apply(messy, edit) != messy
        # a text that does not parse is left alone
        await s.change(path, messy + "haircut")
        edits = await s.client.text_document_formatting_async(
            lsp.DocumentFormattingParams(
                text_document=doc(path),
                options=lsp.FormattingOptions(tab_size=2, insert_spaces=True),
            )
        )
        assert list(edits or []) == []

    run(tmp_path, scenario)


def test_formatting_a_document_never_opened_edits_nothing(tmp_path: Path) -> None:
    """An address the client never opened: no edit, not a read of its path from disk (an
    http:// address named a local file and answered with an internal error)."""
    messy = HOUSE.replace("\n  cites", "\n      cites")
    path = write(tmp_path, "house.mlx", messy)
    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)

    async def scenario(s: Session) -> None:
        for uri in (path.as_uri(), "http://example.com/house.mlx"):
            identifier = lsp.TextDocumentIdentifier(uri=uri)
            edits = await s.client.text_document_formatting_async(
                lsp.DocumentFormattingParams(text_document=identifier, options=options)
            )
            assert list(edits or []) == []

    run(tmp_path, scenario)


INVALID = sorted(p for p in (DATA / "invalid").rglob("*.mlx"))


def test_diagnostics_are_those_of_check_for_every_bad_input_file() -> None:
    """Every file of the checker's bad-input folder: the same codes, places and hints."""

    async def scenario(s: Session) -> None:
        for path in INVALID:
            (report,) = [r for r in check_paths([str(path)]) if r.path == str(path)]
            expected = [
                (d.code.value, d.span.line - 1, d.span.column - 1, d.message, d.hint)
                for d in report.diagnostics
            ]
            found = await s.open(path)
            got = [
                (d.code, d.range.start.line, d.range.start.character, *_split(d.message))
                for d in found
            ]
            assert got == expected, path.name

    run(DATA / "invalid", scenario)


def _split(message: str) -> tuple[str, str | None]:
    head, _, hint = message.partition("\nhint: ")
    return head, hint or None


def test_every_bad_input_file_states_a_code_the_server_gives() -> None:
    """The folder is not empty and each file still names what it must give."""
    assert len(INVALID) > 40
    for path in INVALID:
        assert re.search(r"^# expect: MLX\d{3} ", path.read_text("utf-8"), re.MULTILINE)


def test_a_saved_base_is_read_again_by_the_files_built_on_it(tmp_path: Path) -> None:
    base = write(tmp_path, "base.mlx", 'rulebook base "Base"\n  cites "x"\n')
    variant = write(
        tmp_path,
        "variant.mlx",
        'rulebook variant "Variant"\n  cites "x"\n  extends base\n\n'
        'override parameter p = 5 USD\n  cites "y"\n  accept MLX215 because "for variants"\n',
    )

    async def scenario(s: Session) -> None:
        (d,) = await s.open(variant)
        assert d.code == "MLX212"  # nothing to override: the base has no `p`
        base.write_text(base.read_text("utf-8") + '\nparameter p = 4 USD\n  cites "z"\n')
        s.client.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=doc(base)))
        assert await s.diagnostics(variant.as_uri()) == []

    run(tmp_path, scenario)


def test_a_text_of_carriage_return_line_ends_is_checked_as_check_reads_its_file(
    tmp_path: Path,
) -> None:
    # `marginlex check` reads a lone \r as a line end (LSP counts it as one too); the server
    # took the text for one comment line: "the file ends where `rulebook` was expected"
    typo = HOUSE.replace("require big: account.equity", "require big: account.eqity")
    path = write(tmp_path, "house.mlx", typo)

    async def scenario(s: Session) -> None:
        (d,) = await s.open(path, typo.replace("\n", "\r"))
        assert (d.code, d.range.start.line, d.range.start.character) == ("MLX200", 11, 15)

    run(tmp_path, scenario)
