"""MLX222: a statement without ``status`` in a rulebook that states it on others."""

from __future__ import annotations

from marginlex.dsl.check.runner import check_text
from marginlex.dsl.diagnostics import Code, Severity

HEAD = 'rulebook r "Evidence"\n  cites "test"\n'
CASH = (
    "haircut cash for collateral where collateral.asset = USD\n"
    '  cites "17 CFR 240.15c3-1(c)(2)(vi)"\n'
)
MMF = 'haircut mmf for collateral where collateral.asset = MMF\n  cites "House policy 7"\n'


def _found(text: str) -> list[tuple[str, int, str]]:
    return [(d.code.value, d.span.line, d.severity.value) for d in check_text(text, "r.mlx")]


def test_a_statement_without_status_among_stated_ones_is_warned() -> None:
    text = HEAD + CASH + "  status verified\n  rate 0%\n" + MMF + "  rate 2%\n"
    assert _found(text) == [("MLX222", 7, Severity.WARNING.value)]
    (d,) = check_text(text, "r.mlx")
    assert d.code is Code.MISSING_STATUS
    assert d.message.startswith("haircut `mmf` states no `status`")


def test_a_draft_that_states_no_status_anywhere_is_not_flagged() -> None:
    assert _found(HEAD + CASH + "  rate 0%\n" + MMF + "  rate 2%\n") == []


def test_every_statement_with_a_status_is_clean() -> None:
    text = HEAD + CASH + "  status verified\n  rate 0%\n" + MMF + "  status illustrative\n"
    assert _found(text + "  rate 2%\n") == []


def test_an_accepted_missing_status_is_dropped_and_a_stale_accept_is_warned() -> None:
    accepted = '  accept MLX222 because "a house figure, no source to mark"\n'
    text = HEAD + CASH + "  status verified\n  rate 0%\n" + MMF + accepted + "  rate 2%\n"
    assert _found(text) == []
    stale = HEAD + CASH + "  status verified\n" + accepted + "  rate 0%\n"
    assert [code for code, _, _ in _found(stale)] == ["MLX610"]


def test_remove_statements_are_not_counted() -> None:
    text = (
        'rulebook r "Evidence"\n  cites "test"\n  extends sec\n'
        'remove haircut sec_other_assets\n  cites "not taken"\n'
        'override parameter pm_min_equity = 150,000 USD\n  cites "House policy 7"\n'
        "  status illustrative\n"
    )
    assert [code for code, _, _ in _found(text)] == []
