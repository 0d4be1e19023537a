"""Markdown escaping, as a property: any rulebook text reads back exactly as written."""

from __future__ import annotations

import html
import re

import markdown
from hypothesis import given, settings
from hypothesis import strategies as st

from marginlex.workbench.render.output import md_code, md_fence, md_text

# Rulebook strings are one line, without a double quote (the grammar's STRING).
LINE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\n\r'),
    max_size=40,
)


def _shown(source: str) -> str:
    """What a reader sees: the HTML's text, tags dropped, entities decoded, spaces collapsed."""
    rendered = markdown.markdown(source, extensions=["tables"])
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", rendered)).split())


@settings(max_examples=150, deadline=None)
@given(LINE)
def test_text_reads_back_as_written(text: str) -> None:
    shown = _shown(f"**Cites:** {md_text(text)}")
    assert shown == " ".join(f"Cites: {text}".split())
    assert "<" not in markdown.markdown(md_text(text)).removeprefix("<p>").removesuffix("</p>")


@settings(max_examples=150, deadline=None)
@given(LINE)
def test_text_in_a_table_cell_stays_in_its_cell(text: str) -> None:
    rendered = markdown.markdown(
        f"| a | b |\n|---|---|\n| {md_text(text)} | x |", extensions=["tables"]
    )
    cells = re.findall(r"<td>(.*?)</td>", rendered, re.DOTALL)
    assert len(cells) == 2 and cells[1] == "x"
    assert " ".join(html.unescape(re.sub(r"<[^>]+>", "", cells[0])).split()) == " ".join(
        text.split()
    )


@settings(max_examples=150, deadline=None)
@given(LINE.filter(lambda t: t.strip() != ""))
def test_code_span_holds_the_text(text: str) -> None:
    rendered = markdown.markdown(md_code(text))
    (inner,) = re.findall(r"<code>(.*?)</code>", rendered, re.DOTALL)
    assert html.unescape(inner).strip() == text.strip()


def test_fence_is_longer_than_any_backtick_run() -> None:
    assert md_fence("plain") == "```"
    assert md_fence("a ```` b") == "`````"
