"""The Plan: a rulebook compiled to an ordered tuple of whole-column steps.

A :class:`Plan` is what :func:`marginlex.engine.plan.compile.compile_plan` makes of a resolved
rulebook for one as-of date. Each :class:`Step` carries the statement it runs, its rule id,
kind, citation, status and effective range. Steps run phase by phase (:class:`Phase`:
scope, eligibility, margin sets, segregation, margin, offsets, haircuts, concentration);
within a phase in rulebook order. Statements not in force on the as-of date stay in the
plan as skipped steps (``in_force`` False), so that the plan shows what was left out.
"""

from __future__ import annotations

import calendar
import datetime as dt
from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict

from marginlex.dsl.model import rulebook as m


class StepKind(StrEnum):
    """What a step does (one per statement kind, margin sets apart from other offsets)."""

    SCOPE = "scope"
    ELIGIBILITY = "eligibility"
    MARGIN_SETS = "margin_sets"
    SEGREGATION = "segregation"
    MARGIN = "margin"
    INITIAL = "initial"
    OFFSET = "offset"
    HAIRCUT = "haircut"
    CONCENTRATION = "concentration"
    MINIMUM_EQUITY = "minimum_equity"
    CONCENTRATION_ADD_ON = "concentration_add_on"


class Phase(IntEnum):
    """Execution order of step kinds: each phase reads the columns earlier ones wrote."""

    SCOPE = 0
    ELIGIBILITY = 1
    MARGIN_SETS = 2
    SEGREGATION = 3
    MARGIN = 4
    INITIAL = 5
    OFFSET = 6
    HAIRCUT = 7
    CONCENTRATION = 8
    MINIMUM_EQUITY = 9
    CONCENTRATION_ADD_ON = 10


PHASE_OF_KIND: dict[StepKind, Phase] = {k: Phase[k.name] for k in StepKind}


class Step(BaseModel):
    """One compiled statement.

    Attributes:
        rule_id: the statement id.
        kind: what the step does.
        citation: the statement's ``cites`` text ("" when missing).
        status: verified / secondary / illustrative, when the rulebook says.
        effective_from: first day in force (None: always).
        effective_until: first day no longer in force (None: open-ended).
        in_force: whether the statement is in force on the plan's as-of date.
        origin: the rulebook that defined the statement (a base, for an inherited rule).
        statement: the typed statement the step runs.
        reasons: an eligibility step's ``because`` texts, one per requirement, with each
            ``{parameter}`` written as the value in force (empty for other kinds).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    kind: StepKind
    citation: str
    status: m.Status | None
    effective_from: dt.date | None
    effective_until: dt.date | None
    in_force: bool
    origin: str
    statement: m.Statement
    reasons: tuple[str, ...] = ()

    @property
    def phase(self) -> Phase:
        """The phase the step runs in."""
        return PHASE_OF_KIND[self.kind]


def _whole_months(value: m.Quantity) -> int | None:
    """A duration in whole months (years x 12), else None (days, a fraction of a month)."""
    per_unit = {"years": 12.0, "months": 1.0}.get(str(value.unit))
    if per_unit is None:
        return None
    months = value.amount * per_unit
    return int(months) if months.is_integer() and months >= 0 else None


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later, the month's last day where it has no
    such day.

    >>> add_months(dt.date(2028, 2, 29), 12), add_months(dt.date(2026, 11, 30), 3)
    (datetime.date(2029, 2, 28), datetime.date(2027, 2, 28))
    """
    years, month = divmod(day.month - 1 + months, 12)
    year = day.year + years
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _on_calendar(day: dt.date, months: int) -> bool:
    """Whether the date ``months`` months after ``day`` is one Python's calendar holds (up
    to 9999-12-31): past it, a bound is read in years of 365 days (an as-of date in year
    9999 and a bound of 10 years).

    >>> _on_calendar(dt.date(2026, 6, 30), 120), _on_calendar(dt.date(9999, 6, 30), 7)
    (True, False)
    """
    return day.year + (day.month - 1 + months) // 12 <= dt.MAXYEAR


class Plan(BaseModel):
    """A compiled rulebook for one as-of date.

    Attributes:
        rulebook_id: the rulebook's id.
        title: its title.
        version: its version ("" when none).
        as_of: the date the plan was compiled for.
        parameters: every parameter in force, in base units (fraction, USD, years).
        steps: every step in execution order, skipped ones included.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rulebook_id: str
    title: str
    version: str
    as_of: dt.date
    parameters: dict[str, float]
    steps: tuple[Step, ...]

    def active(self, kind: StepKind) -> tuple[Step, ...]:
        """The steps of one kind that are in force, in order."""
        return tuple(s for s in self.steps if s.kind is kind and s.in_force)

    @property
    def skipped(self) -> tuple[Step, ...]:
        """The steps not in force on the as-of date."""
        return tuple(s for s in self.steps if not s.in_force)

    def value(self, value: m.Quantity | m.ParamRef) -> float:
        """A table value in base units, following a parameter reference.

        Raises:
            KeyError: the parameter is not in force on the as-of date.
        """
        if isinstance(value, m.ParamRef):
            if value.name not in self.parameters:
                raise KeyError(
                    f"parameter `{value.name}` is not in force on {self.as_of.isoformat()}"
                )
            return self.parameters[value.name]
        return value.base

    def from_as_of(self, value: m.Quantity | m.ParamRef) -> float:
        """A duration measured from the as-of date (a maturity bucket's bound, a bound on
        ``residual_maturity`` or ``tenor``), in years of 365 days as those fields are, read
        on the calendar: ``1 year`` reaches the same day a year later (366 days across a 29
        February), ``3 months`` the same day three months later (the month's last day where
        it has none). Days, a fraction of a month and a parameter are :meth:`value`.

        >>> from marginlex.dsl.model.expressions import Unit
        >>> plan = Plan(rulebook_id="r", title="", version="", as_of=dt.date(2027, 6, 30),
        ...     parameters={}, steps=())
        >>> year = m.Quantity(amount=1, unit=Unit.YEARS, text="1")
        >>> round(plan.from_as_of(year) * 365), round(plan.value(year) * 365)
        (366, 365)
        >>> months = m.Quantity(amount=3, unit=Unit.MONTHS, text="3")
        >>> plan = plan.model_copy(update={"as_of": dt.date(2026, 11, 30)})
        >>> round(plan.from_as_of(months) * 365)
        90
        """
        months = _whole_months(value) if isinstance(value, m.Quantity) else None
        if months is None or not _on_calendar(self.as_of, months + 1):
            return self.value(value)
        return (add_months(self.as_of, months) - self.as_of).days / 365.0

    def through_contract_month(self, value: m.Quantity | m.ParamRef) -> float:
        """A SPAN tier's bound in contract months (``up to 3 months`` of a calendar spread
        tier, ``expiring within 3 months`` of an inter-commodity leg), in years of 365 days as
        ``residual_maturity`` is: ``N months`` reaches through the last day of the N-th
        calendar month after the as-of date's, so a contract belongs to it when its expiry's
        month (its contract month) is at most N months after the as-of month, whatever the
        day. CME defines SPAN tiers as ranges of contract months (decision 49). Days, a
        fraction of a month and a parameter are :meth:`value`.

        >>> from marginlex.dsl.model.expressions import Unit
        >>> months = m.Quantity(amount=3, unit=Unit.MONTHS, text="3")
        >>> plan = Plan(rulebook_id="r", title="", version="", as_of=dt.date(2026, 12, 7),
        ...     parameters={}, steps=())
        >>> round(plan.through_contract_month(months) * 365)  # to 2027-03-31
        114
        >>> plan = plan.model_copy(update={"as_of": dt.date(2026, 11, 30)})
        >>> round(plan.through_contract_month(months) * 365)  # to 2027-02-28
        90
        """
        months = _whole_months(value) if isinstance(value, m.Quantity) else None
        if months is None or not _on_calendar(self.as_of, months + 1):
            return self.value(value)
        # the first day of the month after the N-th, less a day
        month_after = add_months(self.as_of.replace(day=1), months + 1)
        return (month_after - dt.timedelta(days=1) - self.as_of).days / 365.0
