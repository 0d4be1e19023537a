"""Rulebook properties: laws that must hold on every book, checked on generated books.

A test file's ``[[property]]`` tables (:mod:`marginlex.engine.variants.rulebook_tests`) each
state one law from a fixed catalogue, as a typed model chosen by ``kind`` (no user text is
evaluated):

- ``monotone``: raising a figure (every haircut rate with ``figures = "haircuts"``, every
  minimum parameter with ``figures = "minimums"``, or the ``parameters`` named) never lowers
  a margin set's requirement or call;
- ``collateral_never_creates_call``: a cash lot added to an account never raises the call of
  any account's set;
- ``harmonized_bound``: for a set eligible under both regimes, the harmonized requirement is
  at least the larger of the SEC and CFTC requirements of its accounts less its offset credits;
- ``dominates``: for each set decided alike by both rulebooks, ``rulebook``'s requirement (or
  call) is at least ``over``'s.

The laws themselves are in :mod:`marginlex.engine.variants.property_laws`; this module holds
the models and the hypothesis search. Each property runs ``examples`` generated books
(:mod:`marginlex.engine.variants.property_books`, derandomized: the same result every run);
on failure hypothesis shrinks to the smallest book that breaks the law, reported as CSV with
the traces of the two decisions compared. ``expected_to_fail`` marks a known finding
(``docs/domain-decisions.md``, "Properties that fail"): it fails the run when it passes.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.reporting import with_reporter
from pydantic import BaseModel, ConfigDict, Field, computed_field

from marginlex.dsl.resolve import ResolvedRulebook
from marginlex.engine.book.limits import MAX_MONEY
from marginlex.engine.variants.property_books import BookCut, cuts

if TYPE_CHECKING:
    from marginlex.engine.variants.property_laws import Law


class FigureSet(StrEnum):
    """The figures a ``monotone`` property raises, one at a time."""

    HAIRCUTS = "haircuts"
    MINIMUMS = "minimums"


class _Property(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    rulebook: str | None = None
    examples: int = Field(default=4, ge=1, le=200)
    accounts: int = Field(default=4, ge=1, le=20)
    expected_to_fail: bool = False
    reason: str = ""


class Monotone(_Property):
    """Raising a figure never lowers a requirement or a call."""

    kind: Literal["monotone"]
    figures: FigureSet | None = None
    parameters: list[str] = []
    points: float = Field(default=5.0, gt=0, le=100)
    factor: float = Field(default=2.0, gt=1, allow_inf_nan=False)


class CollateralNeverCreatesCall(_Property):
    """Adding cash to an account never raises a call."""

    kind: Literal["collateral_never_creates_call"]
    max_amount: float = Field(default=1_000_000.0, gt=0, le=MAX_MONEY)
    """At most a collateral lot's limit: the lot drawn is written to a book, and one past it
    was refused there, at a row of a CSV file nobody sees."""


class HarmonizedBound(_Property):
    """Harmonized requirement >= max(SEC, CFTC) - offset credits, where eligible under both."""

    kind: Literal["harmonized_bound"]
    sec: str = "sec"
    cftc: str = "cftc"


class Dominates(_Property):
    """``rulebook`` asks at least what ``over`` asks, set by set."""

    kind: Literal["dominates"]
    over: str
    field: Literal["requirement", "initial", "call"] = "requirement"


PropertySpec = Annotated[
    Monotone | CollateralNeverCreatesCall | HarmonizedBound | Dominates,
    Field(discriminator="kind"),
]
KINDS = ("monotone", "collateral_never_creates_call", "harmonized_bound", "dominates")


class Violation(BaseModel):
    """What broke the law on one book: the message, and the two decisions compared."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message: str
    book_csv: str = ""
    traces: tuple[str, ...] = ()


class PropertyResult(BaseModel):
    """One property's outcome; ``ok`` when it passed, or failed as expected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    name: str
    kind: str
    rulebook: str
    examples: int
    expected_to_fail: bool
    reason: str = ""
    passed: bool
    book: str = ""
    violation: Violation | None = None
    error: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """As expected: passed, or failed while marked expected to fail (no error)."""
        return not self.error and self.passed != self.expected_to_fail

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outcome(self) -> str:
        """``pass``, ``fail``, ``expected failure``, ``unexpected pass`` or ``error``."""
        if self.error:
            return "error"
        if self.expected_to_fail:
            return "unexpected pass" if self.passed else "expected failure"
        return "pass" if self.passed else "fail"


class PropertyViolated(Exception):
    """Raised inside the search: hypothesis shrinks the example that raised it."""

    def __init__(self, cut: BookCut, violation: Violation) -> None:
        super().__init__(violation.message)
        self.cut = cut
        self.violation = violation


Loader = dict[str, ResolvedRulebook]


SHRINK_CALLS = 12
"""Law checks allowed after the first failure: shrinking stops there, keeping the smallest."""


def _search(
    spec: PropertySpec, rulebooks: list[ResolvedRulebook]
) -> tuple[BookCut, Violation] | None:
    """Run the law on ``spec.examples`` books; the smallest failing book found, or None.

    Hypothesis finds a failing book and shrinks it within a budget (:data:`SHRINK_CALLS`
    checks after the first failure, each evaluating whole rulebooks); :func:`_fewest_accounts`
    then cuts the failing book down deterministically, so the book reported does not depend
    on how far hypothesis's shrinker got.
    """
    from marginlex.engine.variants.property_laws import law_for  # noqa: PLC0415

    law = law_for(spec, rulebooks)
    found: list[tuple[BookCut, int, Violation]] = []
    calls = [0]

    @settings(
        max_examples=spec.examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cut=cuts(spec.accounts), pick=st.integers(0, 10**6))
    def check(cut: BookCut, pick: int) -> None:
        if found:
            calls[0] += 1
            if calls[0] > SHRINK_CALLS:
                return
        violation = law(cut, pick)
        if violation is not None:
            found.append((cut, pick, violation))
            raise PropertyViolated(cut, violation)

    try:
        with with_reporter(lambda _text: None):
            check()
    except Exception:
        if not found:
            raise
    if not found:
        return None
    return _fewest_accounts(law, *found[-1])


def _fewest_accounts(
    law: Law, cut: BookCut, pick: int, violation: Violation
) -> tuple[BookCut, Violation]:
    """The failing cut with accounts removed while the law still fails.

    First each account alone (in the cut's order), then, if none fails alone, each account
    removed once in turn: at most twice as many law checks as the cut has accounts, and the
    result is the same on every machine.
    """
    if len(cut.accounts) == 1:
        return cut, violation
    for account in cut.accounts:
        alone = BookCut(cut.seed, (account,))
        broken = law(alone, pick)
        if broken is not None:
            return alone, broken
    for account in cut.accounts:
        if len(cut.accounts) == 1:
            break
        fewer = BookCut(cut.seed, tuple(a for a in cut.accounts if a != account))
        broken = law(fewer, pick)
        if broken is not None:
            cut, violation = fewer, broken
    return cut, violation


def check_property(
    spec: PropertySpec, file: Path, default_rulebook: str, rulebooks: Loader
) -> PropertyResult:
    """Check one property; ``rulebooks`` maps every name the property uses to its rulebook."""
    name = spec.rulebook or default_rulebook
    base = {
        "file": str(file),
        "name": spec.name or f"{spec.kind} of {name}",
        "kind": spec.kind,
        "rulebook": rulebooks[name].id,
        "examples": spec.examples,
        "expected_to_fail": spec.expected_to_fail,
        "reason": spec.reason,
    }
    try:
        found = _search(spec, [rulebooks[n] for n in rulebook_names(spec, default_rulebook)])
    except (ValueError, KeyError) as exc:
        return PropertyResult(**base, passed=False, error=f"{type(exc).__name__}: {exc}")
    if found is None:
        return PropertyResult(**base, passed=True)
    cut, violation = found
    return PropertyResult(**base, passed=False, book=cut.describe(), violation=violation)


def rulebook_names(spec: PropertySpec, default_rulebook: str) -> list[str]:
    """Every rulebook name the property evaluates (its own first)."""
    own = spec.rulebook or default_rulebook
    if isinstance(spec, HarmonizedBound):
        return [own, spec.sec, spec.cftc]
    if isinstance(spec, Dominates):
        return [own, spec.over]
    return [own]
