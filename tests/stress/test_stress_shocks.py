"""The shock syntax and scenario files: what reads, and the exact error for what does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginlex.engine.stress.shocks import (
    Selector,
    Shock,
    ShockError,
    Unit,
    load_scenarios,
    parse_shock,
    parse_vol,
)

GOOD = [
    ("class_group=SPX:-20%", Selector.CLASS_GROUP, "SPX", -20.0, Unit.PERCENT),
    ("product=ust_*:+150bp", Selector.PRODUCT, "ust_*", 150.0, Unit.BASIS_POINTS),
    (" asset = BTC : -50 % ", Selector.ASSET, "BTC", -50.0, Unit.PERCENT),
    ("instrument=XYZ_P90_2609:+5pts", Selector.INSTRUMENT, "XYZ_P90_2609", 5.0, Unit.VOL_POINTS),
    ("underlying=XYZ:12.5%", Selector.UNDERLYING, "XYZ", 12.5, Unit.PERCENT),
    ("instrument=A:B:-1%", Selector.INSTRUMENT, "A:B", -1.0, Unit.PERCENT),
]


@pytest.mark.parametrize(("text", "selector", "pattern", "amount", "unit"), GOOD)
def test_shocks_read(
    text: str, selector: Selector, pattern: str, amount: float, unit: Unit
) -> None:
    assert parse_shock(text) == Shock(selector=selector, pattern=pattern, amount=amount, unit=unit)


BAD = [
    ("SPX-20%", "not a shock", "write SELECTOR=PATTERN:MOVE"),
    ("class_grop=SPX:-20%", "unknown selector 'class_grop'", "did you mean class_group?"),
    ("sector=SPX:-20%", "unknown selector 'sector'", "selectors: class_group, product"),
    ("class_group=:-20%", "empty pattern", "a glob"),
    ("class_group=SPX:-20", "no unit on the move '-20'", "a percent of price (-20%)"),
    ("class_group=SPX:-20 percent", "cannot read the move '-20 percent'", "basis points"),
    # pasted or typed in another locale: what to write is said with the problem
    (
        "class_group=SPX:\u221220%",
        "cannot read the move '\u221220%': write the minus sign as '-' (this is U+2212)",
        "a percent of price",
    ),
    (
        "class_group=SPX:-20,5%",
        "cannot read the move '-20,5%': write the decimal separator as a point: -20.5",
        "a percent of price",
    ),
    ("class_group=SPX:-100%", "a price cannot fall by 100%", "above -100%"),
    ("product=ust_*:+20000bp", "+20000bp is out of range", "at most 10000bp"),
    ("class_group=SPX:+99999999999999%", "+99999999999999% is out of range", "at most +10000%"),
]


@pytest.mark.parametrize(("text", "problem", "hint"), BAD)
def test_bad_shocks_say_what_and_how(text: str, problem: str, hint: str) -> None:
    with pytest.raises(ShockError) as caught:
        parse_shock(text)
    assert caught.value.where == f"--shock {text!r}"
    assert caught.value.problem == problem
    assert hint in caught.value.hint
    assert str(caught.value).startswith(f"--shock {text!r}: {problem}\n  hint: ")


def test_vol_takes_points_only() -> None:
    assert parse_vol("+10pts").text() == "product=*:+10pts"
    with pytest.raises(ShockError, match="--vol '\\+10%': vol moves volatility, not %"):
        parse_vol("+10%")
    for bare, hint in (("10", "write vol points: +10pts"), ("-5", "write vol points: -5pts")):
        with pytest.raises(ShockError) as caught:  # a price's units were suggested
            parse_vol(bare)
        assert caught.value.hint == hint


def test_scenario_file_reads_in_order(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[scenario.crash]\ndescription = "S&P -20%"\nshocks = ["class_group=SPX:-20%"]\n'
        'vol = "+10pts"\n[scenario.rates]\nshocks = ["product=ust_*:+150bp"]\n',
        encoding="utf-8",
    )
    crash, rates = load_scenarios(path)
    assert (crash.name, crash.description) == ("crash", "S&P -20%")
    assert [s.text() for s in crash.shocks] == ["class_group=SPX:-20%", "product=*:+10pts"]
    assert [s.text() for s in rates.shocks] == ["product=ust_*:+150bp"]


BAD_FILES = [
    ("nothing = 1\n", "unknown key(s) nothing"),
    ("", "no [scenario.NAME] table"),
    ("[scenario\n", "not TOML"),
    ("[scenario.a]\nshock = ['x']\n", "scenario 'a': unknown key 'shock'"),
    ("[scenario.a]\nshocks = 'class_group=SPX:-20%'\n", "shocks is not a list of strings"),
    ("[scenario.a]\ndescription = 'x'\n", "scenario 'a': no shocks"),
    (
        "[scenario.a]\nshocks = ['class_group=SPX:-20']\n",
        "scenario 'a': shock 'class_group=SPX:-20': no unit on the move '-20'",
    ),
    # the file's value, not a --vol option the user never gave
    ("[scenario.a]\nvol = '+1e9pts'\n", "scenario 'a': vol '+1e9pts': cannot read the move"),
    ("[scenario.a]\nvol = '+10%'\n", "scenario 'a': vol '+10%': vol moves volatility, not %"),
    ("[scenario\n", "hint: see docs/stress-guide.md for the form"),
    # tomllib recursed once a level: a RecursionError traceback
    ("[scenario.a]\nshocks = " + "[" * 2000 + "]" * 2000 + "\n", "not TOML: nested too deeply"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_FILES)
def test_bad_scenario_files(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ShockError) as caught:
        load_scenarios(path)
    assert str(caught.value).startswith(str(path))
    assert problem in str(caught.value)


def test_a_scenario_file_not_utf8_names_the_byte_and_where(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"  # it said "not TOML: 'utf-8' codec can't decode ..."
    path.write_bytes(b'[scenario.a]\ndescription = "caf\xe9"\nshocks = ["product=stock:-5%"]\n')
    with pytest.raises(ShockError) as caught:
        load_scenarios(path)
    said = str(caught.value)
    assert said.startswith(f"{path}:2:19: not UTF-8 text: byte 0xe9 (invalid continuation byte)")
    assert "save the file as UTF-8" in said


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ShockError, match="cannot read"):
        load_scenarios(tmp_path / "none.toml")
