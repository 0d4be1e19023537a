"""Shocks and scenarios: the typed model, the ``--shock`` syntax and TOML scenario files.

A shock is ``SELECTOR=PATTERN:MOVE``: ``class_group=SPX:-20%``, ``product=ust_*:+150bp``,
``product=*_option:+10pts``. The selector names a book column (:class:`Selector`), the
pattern is a glob over its values (``*``, ``?``, ``[..]``), and the move has a unit
(:class:`Unit`): a percent of price, basis points of yield, or points of implied volatility.
A scenario is a name and its shocks; a TOML file holds several (``docs/stress-guide.md``).
Nothing here reads a book: whether a shock matches anything is decided when it is applied.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from marginlex.dsl.claims import not_utf8_text, undecodable_at
from marginlex.engine.book.memory import read_small_file
from marginlex.engine.book.spellings import number_hint


class Selector(StrEnum):
    """The book column a shock selects rows by."""

    CLASS_GROUP = "class_group"
    PRODUCT = "product"
    INSTRUMENT = "instrument"
    UNDERLYING = "underlying"
    ASSET = "asset"


class Unit(StrEnum):
    """What a shock moves: price by a percent, yield by basis points, volatility by points."""

    PERCENT = "%"
    BASIS_POINTS = "bp"
    VOL_POINTS = "pts"


class ShockError(ValueError):
    """A shock, a ``--vol`` or a scenario file that cannot be read, with what to write."""

    def __init__(self, where: str, problem: str, hint: str) -> None:
        super().__init__(f"{where}: {problem}\n  hint: {hint}")
        self.where, self.problem, self.hint = where, problem, hint


class Shock(BaseModel):
    """One shock: rows whose ``selector`` column matches ``pattern`` move by ``amount unit``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    selector: Selector
    pattern: str
    amount: float
    unit: Unit

    def text(self) -> str:
        """The canonical ``--shock`` text.

        >>> parse_shock("class_group=SPX:-20%").text()
        'class_group=SPX:-20%'
        """
        return f"{self.selector.value}={self.pattern}:{_signed(self.amount)}{self.unit.value}"


class Scenario(BaseModel):
    """A named set of shocks, applied together."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    shocks: tuple[Shock, ...]
    description: str = ""


MAX_SCENARIO_FILE_BYTES = 10_000_000
"""A scenario file is a few shocks a scenario: one this large is not one."""
MAX_RISE = 10_000.0
"""The largest percent rise of a price (a hundredfold and one); a fall is above -100%."""
_SHOCK = re.compile(r"^(?P<selector>[^=]*)=(?P<pattern>.*):(?P<move>[^:]*)$")
_MOVE = re.compile(r"^(?P<amount>[+-]?(\d+(\.\d*)?|\.\d+))\s*(?P<unit>%|bp|pts)$")
_UNITS_HINT = (
    "write a percent of price (-20%), basis points of yield (+150bp) or vol points (+10pts)"
)
_FORM_HINT = 'write SELECTOR=PATTERN:MOVE, e.g. "class_group=SPX:-20%" or "product=ust_*:+150bp"'


def _signed(x: float) -> str:
    return f"{x:+g}"


def parse_move(text: str, where: str) -> tuple[float, Unit]:
    """A move's amount and unit, checked against what a price, a yield or a vol can do.

    >>> parse_move("+150bp", "--shock")
    (150.0, <Unit.BASIS_POINTS: 'bp'>)
    """
    found = _MOVE.match(text.strip())
    if found is None:
        bare = re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text.strip())
        problem = f"no unit on the move {text!r}" if bare else f"cannot read the move {text!r}"
        raise ShockError(where, problem + number_hint(text.strip().rstrip("%")), _UNITS_HINT)
    amount, unit = float(found["amount"]), Unit(found["unit"])
    if unit is Unit.PERCENT and amount <= -100.0:
        raise ShockError(where, f"a price cannot fall by {-amount:g}%", "a fall is above -100%")
    if unit is Unit.PERCENT and amount > MAX_RISE:
        # A price a hundred times over is past any stress; further up, figures run past
        # what money columns hold (a +1e14% shock printed -92,233,720,368,547,760.00).
        raise ShockError(where, f"{text} is out of range", f"a rise is at most +{MAX_RISE:g}%")
    if unit is not Unit.PERCENT and abs(amount) > 10_000:
        raise ShockError(where, f"{text} is out of range", "at most 10000bp or 10000pts either way")
    return amount, unit


def parse_shock(text: str, where: str | None = None) -> Shock:
    """Read one ``--shock``.

    Raises:
        ShockError: the form, the selector, the pattern or the move is wrong (with a hint).

    >>> parse_shock("product=ust_*:+150bp").unit.name
    'BASIS_POINTS'
    """
    place = where or f"--shock {text!r}"
    found = _SHOCK.match(text.strip())
    if found is None:
        raise ShockError(place, "not a shock", _FORM_HINT)
    name = found["selector"].strip()
    if name not in Selector.__members__.values():
        known = [s.value for s in Selector]
        close = difflib.get_close_matches(name, known, n=1)
        lead = f"did you mean {close[0]}? " if close else ""
        raise ShockError(
            place, f"unknown selector {name!r}", f"{lead}selectors: {', '.join(known)}"
        )
    pattern = found["pattern"].strip()
    if not pattern:
        raise ShockError(place, "empty pattern", "name values or a glob, e.g. ust_* or *")
    amount, unit = parse_move(found["move"], place)
    return Shock(selector=Selector(name), pattern=pattern, amount=amount, unit=unit)


def parse_vol(text: str, where: str | None = None) -> Shock:
    """``--vol +10pts`` (or a scenario's ``vol``, named by ``where``): every option's
    implied volatility moved by points.

    >>> parse_vol("+10pts").text()
    'product=*:+10pts'
    >>> try:
    ...     parse_vol("10")
    ... except ShockError as exc:
    ...     exc.hint
    'write vol points: +10pts'
    """
    place = where or f"--vol {text!r}"
    bare = re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text.strip())
    if bare:  # a volatility moves by points only: name that unit, not a price's
        sign = "" if text.strip()[0] in "+-" else "+"
        raise ShockError(
            place, f"no unit on the move {text!r}", f"write vol points: {sign}{text.strip()}pts"
        )
    amount, unit = parse_move(text, place)
    if unit is not Unit.VOL_POINTS:
        raise ShockError(place, f"vol moves volatility, not {unit.value}", "write e.g. +10pts")
    return Shock(selector=Selector.PRODUCT, pattern="*", amount=amount, unit=unit)


_SCENARIO_KEYS = ("shocks", "vol", "description")


def load_scenarios(path: Path) -> tuple[Scenario, ...]:
    """The named scenarios of a TOML file, in file order.

    The file has one table per scenario under ``scenario``::

        [scenario.equity_crash]
        description = "S&P falls 20%, vols up 10 points"
        shocks = ["class_group=SPX:-20%"]
        vol = "+10pts"

    Raises:
        ShockError: the file cannot be read, is not TOML, or a scenario is malformed.
    """
    try:
        raw = read_small_file(path, MAX_SCENARIO_FILE_BYTES)
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ShockError(
            str(path), f"cannot read: {exc.strerror or exc}", "give a TOML file"
        ) from exc
    except UnicodeDecodeError as exc:
        line, column = undecodable_at(raw, exc)
        raise ShockError(
            f"{path}:{line}:{column}", not_utf8_text(raw, exc), "save the file as UTF-8"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ShockError(
            str(path), f"not TOML: {exc}", "see docs/stress-guide.md for the form"
        ) from exc
    except RecursionError:  # arrays or tables nested hundreds deep
        raise ShockError(
            str(path), "not TOML: nested too deeply", "see docs/stress-guide.md for the form"
        ) from None
    tables = data.get("scenario")
    extra = sorted(set(data) - {"scenario"})
    if not isinstance(tables, dict) or not tables or extra:
        problem = f"unknown key(s) {', '.join(extra)}" if extra else "no [scenario.NAME] table"
        raise ShockError(str(path), problem, "one [scenario.NAME] table per scenario")
    return tuple(_scenario(path, name, body) for name, body in tables.items())


def _scenario(path: Path, name: str, body: object) -> Scenario:
    where = f"{path}: scenario {name!r}"
    if not isinstance(body, dict):
        raise ShockError(where, "not a table", f"write [scenario.{name}] with shocks = [...]")
    unknown = sorted(set(body) - set(_SCENARIO_KEYS))
    if unknown:
        raise ShockError(where, f"unknown key {unknown[0]!r}", f"keys: {', '.join(_SCENARIO_KEYS)}")
    texts = body.get("shocks", [])
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ShockError(where, "shocks is not a list of strings", _FORM_HINT)
    shocks = [parse_shock(t, f"{where}: shock {t!r}") for t in texts]
    vol = body.get("vol")
    if vol is not None:
        shocks.append(parse_vol(str(vol), f"{where}: vol {str(vol)!r}"))
    if not shocks:
        raise ShockError(where, "no shocks", 'give shocks = [...] or vol = "+10pts"')
    return Scenario(name=name, shocks=tuple(shocks), description=str(body.get("description", "")))
