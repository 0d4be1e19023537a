"""The explain lines that show how an amount adds up: an offset's requirement, the split of a
cross-margined requirement between the clearing houses and the carrying firm, a concentration
add-on, and where the initial requirement comes from when the rulebook states none.

Each takes trace models and returns a line's text; :mod:`marginlex.audit.explain.tree` places
them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from marginlex.audit.explain.numbers import pct, usd
from marginlex.audit.trace.model import DecisionTrace, Figure
from marginlex.audit.trace.steps import (
    ClassGroupTrace,
    ClearingSplit,
    InputValue,
    LotTrace,
    OffsetTrace,
    RuleKind,
    SpanChargeTrace,
)

_CENT = Decimal("0.01")


def offset_text(o: OffsetTrace, *, after_pairing: bool = False) -> str:
    """One offset: what it joined, its rate and basis, its credit, and (schema 1.4) how its
    requirement adds up. A DV01 pairing's row after another of its set (``after_pairing``)
    says that its legs' risk is what the earlier rows left of it.

    >>> print(offset_text(OffsetTrace(groups=("A@CME", "B@CME"), product_group="ust_future",
    ...     rate=0.3, gains="2000", losses="4200", credit="1200", paired_credit="1760",
    ...     class_group_requirements="6400", requirement="3440")))
    A@CME + B@CME (ust_future): 30% per leg of the matched risk 2,000.00, risk left unmatched \
after DV01 pairing 4,200.00, credit 1,200.00; class groups' requirements 6,400.00 - DV01 \
pairing credit 1,760.00 - credit 1,200.00 = requirement 3,440.00
    >>> print(offset_text(OffsetTrace(groups=("SPX", "SPY"), product_group="high_cap_broad",
    ...     rate=0.9, gains="3600", losses="162000", credit="8040", worst_point="+6%",
    ...     class_group_requirements="166800", requirement="158760")))
    SPX + SPY (high_cap_broad): 90% of gains 3,600.00 against losses 162,000.00 at +6% \
(losses less 90% of gains: 158,760.00), credit 8,040.00; class groups' requirements \
166,800.00 - credit 8,040.00 = requirement 158,760.00
    """
    group = f" ({o.product_group})" if o.product_group else ""
    basis = ""
    if o.gains is not None and o.losses is not None and o.worst_point:
        netted = (o.losses - Decimal(repr(o.rate)) * o.gains).quantize(_CENT, ROUND_HALF_UP)
        basis = (
            f" of gains {usd(o.gains)} against losses {usd(o.losses)} at {o.worst_point}"
            f" (losses less {pct(o.rate)} of gains: {usd(netted)})"
        )
    elif o.gains is not None and o.losses is not None:  # a SPAN credit per leg: no one point
        # the legs' risk a DV01 pairing (a step of its own, credited first) left unmatched
        risk = "risk left unmatched after DV01 pairing" if o.paired_credit else "legs' risk"
        basis = f" per leg of the matched risk {usd(o.gains)}, {risk} {usd(o.losses)}"
    if not o.groups:  # a DV01 pairing's row: its label names both legs
        group = o.product_group or ""
        if after_pairing:  # a leg an earlier row took from counts what that row left of it
            basis = basis.replace("legs' risk", "legs' risk left after earlier pairings")
        basis += _pairing_legs(o)
    return (
        f"{' + '.join(o.groups)}{group}: {pct(o.rate)}{basis}, credit {usd(o.credit)}{_adds_up(o)}"
    )


def _pairing_legs(o: OffsetTrace) -> str:
    """What recomputes a DV01 pairing row's credit: the DV01 it matched and each leg's
    rate x DV01 x risk per DV01 = credit (the legs as its label names them, first side
    first); nothing for a trace without them.

    >>> print(_pairing_legs(OffsetTrace(groups=(), product_group="CME a with FICC b",
    ...     rate=0.8, credit="474", dv01_matched=20, first_risk_per_dv01=5.0,
    ...     first_credit="80", second_risk_per_dv01=24.625, second_credit="394")))
     (DV01 matched 20: CME leg 80% x 20 x risk per DV01 5 = 80.00, FICC leg 80% x 20 x \
risk per DV01 24.625 = 394.00)
    """
    if o.dv01_matched is None:
        return ""
    label = (o.product_group or "").split(" with ")
    names = [part.split(" ")[0] for part in label] if len(label) == 2 else ["first", "second"]
    legs = (
        (names[0], o.first_risk_per_dv01, o.first_credit),
        (names[1], o.second_risk_per_dv01, o.second_credit),
    )
    dv01 = _figure(o.dv01_matched)
    shown = ", ".join(
        f"{name} leg {pct(o.rate)} x {dv01} x risk per DV01 {_figure(w)} = {usd(c or Decimal(0))}"
        for name, w, c in legs
    )
    return f" (DV01 matched {dv01}: {shown})"


def _figure(value: float | None) -> str:
    """A DV01 or a risk per DV01 to six decimals, trailing zeros dropped (``3990``,
    ``24.625``, ``31.571429``): enough to recompute a credit of thousands of DV01 to the
    cent."""
    return f"{value or 0.0:.6f}".rstrip("0").rstrip(".")


def _adds_up(o: OffsetTrace) -> str:
    """``; class groups' requirements A - DV01 pairing credit P - credit C = requirement R``
    (a 1.4 trace; a minimum that binds is said so)."""
    if o.class_group_requirements is None or o.requirement is None:
        return ""
    before = o.class_group_requirements
    if not o.groups:  # a DV01 pairing's row: its legs' risk is said already
        return f", leaving {usd(o.requirement)} of the legs' risk"
    terms = [f"class groups' requirements {usd(before)}"]
    paired = o.paired_credit or 0
    if o.paired_credit:
        terms.append(f"DV01 pairing credit {usd(o.paired_credit)}")
    terms.append(f"credit {usd(o.credit)}")
    text = "; " + " - ".join(terms)
    # each amount is rounded to the cent on its own: a cent per term is rounding, not a raise
    if abs(before - paired - o.credit - o.requirement) <= Decimal("0.01") * (len(terms) + 1):
        return f"{text} = requirement {usd(o.requirement)}"
    return f"{text}, raised to the class groups' minimums: requirement {usd(o.requirement)}"


def clearing_split_text(split: ClearingSplit) -> str:
    """Who holds what of a cross-margined requirement (schema 1.4).

    >>> from marginlex.audit.trace.steps import ClearingHouseShare
    >>> print(clearing_split_text(ClearingSplit(carrier_requirement="384", dv01_paired=70,
    ...     initial="4224", houses=(ClearingHouseShare(house="CME", dv01=-110,
    ...     requirement="3440"), ClearingHouseShare(house="FICC", dv01=70, requirement="400")))))
    Clearing split: CME 3,440.00 (the class groups of its side of the pairing, after \
credits; net DV01 -110), FICC 400.00 (the class groups of its side of the pairing, after \
credits; net DV01 70); carrying firm 384.00 = initial 4,224.00 - CME 3,440.00 - FICC \
400.00 (its markup over the houses' requirements, and the set's positions outside the \
pairing); DV01 paired 70
    """
    houses = ", ".join(
        f"{h.house} {usd(h.requirement)} (the class groups of its side of the pairing, after "
        f"credits; net DV01 {h.dv01:g})"
        for h in split.houses
    )
    less = "".join(f" - {h.house} {usd(h.requirement)}" for h in split.houses)
    return (
        f"Clearing split: {houses}; carrying firm {usd(split.carrier_requirement)} = initial "
        f"{usd(split.initial)}{less} (its markup over the houses' requirements, and the set's "
        f"positions outside the pairing); DV01 paired {split.dv01_paired:g}"
    )


def add_on_text(group: ClassGroupTrace) -> str:
    """A concentration add-on with what it was charged from (schema 1.4): the rate and
    threshold by their parameter names, the class group's value and its share of equity."""
    assert group.add_on is not None
    text = f"Concentration add-on {usd(group.add_on)} on class group {group.class_group}"
    c = group.concentration
    if c is None:  # before 1.4
        return text + ", added to the requirement after offsets"
    text += (
        f" = rate {_rate(c.rate)} x class group value {usd(c.class_group_value)} "
        "(the absolute market values of the positions the rule counts)"
    )
    if c.equity > 0:
        share = float(c.class_group_value / c.equity)
        why = f"the class group is {pct(share)} of equity {usd(c.equity)}, above"
    else:  # any value is above a share of an equity that is nil or negative
        why = f"equity {usd(c.equity)} is nil or negative: any value is above"
    return (
        f"{text}: {why} the threshold {_rate(c.share)} of equity; "
        "added to the requirement after offsets"
    )


def _rate(value: InputValue) -> str:
    """``5% (param.pm_concentration_rate)``: a rate with the parameter (or slot) it is."""
    rate = value.value
    shown = pct(rate) if isinstance(rate, int | float) and not isinstance(rate, bool) else rate
    return f"{shown} ({value.id})"


def initial_defaulted(trace: DecisionTrace) -> bool:
    """Whether the initial figure is the maintenance for want of an initial rule that
    applies to the set: its recorded source is then the margin method (the securities
    rulebooks state none; cftc_initial does not apply to a house account, a hedger or a
    portfolio-margined set)."""
    named = {s.rule_id for s in trace.figures.sources if s.figure is Figure.INITIAL}
    methods = {s.rule_id for s in trace.steps if s.kind is RuleKind.MARGIN}
    return bool(named) and named <= methods


def initial_source(trace: DecisionTrace, source: str) -> str:
    """The source of the initial figure: ``source`` unless no initial rule of the rulebook
    applies to the set (:func:`initial_defaulted`): a margin rule is then not cited for it."""
    if not initial_defaulted(trace):
        return source
    return (
        f"no initial rule of rulebook {trace.rulebook.id} applies to this set: initial = "
        "maintenance by default"
    )


def _count(value: float) -> str:
    """A count of contracts or spreads: ``1``, ``1.5655`` (an option by delta).

    >>> _count(1.0), _count(1.565502), _count(-3.0)
    ('1', '1.5655', '-3')
    """
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _plural(count: float, word: str) -> str:
    return word if count == 1 else word + "s"


def span_charge_text(c: SpanChargeTrace) -> str:
    """One SPAN charge of a class group (schema 1.5): what was counted, times the rate.

    >>> from marginlex.audit.trace.steps import SpanChargeTrace
    >>> print(span_charge_text(SpanChargeTrace(amount="313.10", charge="calendar",
    ...     count=1.565502, long_contracts=2, short_contracts=1.565502,
    ...     option_contracts=-1.565502, tier="otherwise",
    ...     rate=InputValue(id="param.span_calendar_far", unit="USD", value=200.0))))
    Calendar spreads, tier otherwise: 1.5655 spreads x param.span_calendar_far 200.00 = \
313.10 (long 2, short 1.5655 contracts in this tier and nearer ones, netted per expiry; \
options by delta among them: -1.5655)
    """
    rate = f"{c.rate.id} {usd(Decimal(str(c.rate.value)))}"
    if c.charge == "delivery":
        return (
            f"Delivery month: {_count(c.count)} {_plural(c.count, 'contract')} (long "
            f"{_count(c.long_contracts)}, "
            f"short {_count(c.short_contracts)}) x {rate} = {usd(c.amount)}"
        )
    options = ""
    if c.option_contracts:
        options = f"; options by delta among them: {_count(c.option_contracts)}"
    return (
        f"Calendar spreads, tier {c.tier}: {_count(c.count)} {_plural(c.count, 'spread')} x "
        f"{rate} = "
        f"{usd(c.amount)} (long {_count(c.long_contracts)}, short "
        f"{_count(c.short_contracts)} contracts in this tier and nearer ones, netted per "
        f"expiry{options})"
    )


def leg_text(g: ClassGroupTrace, rate: float) -> str | None:
    """A SPAN leg's own credit and requirement after it (schema 1.5), None before.

    >>> print(leg_text(ClassGroupTrace(class_group="SPX", method="span_scan", loss="21001.70",
    ...     minimum="11250", requirement="21001.70", charges="0", matched_risk="21001.70",
    ...     credit="10500.85", paired_credit="0", after_credits="11250", points=(),
    ...     positions=(), worst_point="13"), 0.5))
    SPX: scanning risk 21,001.70, matched 21,001.70 x 50% = credit 10,500.85; requirement \
max(loss 21,001.70 - credit 10,500.85 = 10,500.85, minimum 11,250.00) = 11,250.00: the \
minimum binds, 749.15 of the credit is not taken

    With charges, the scanning risk is the worst point's, not the loss less the charges
    (each rounded to the cent, they can differ by a cent: the cent is shown as rounding, so
    that the parts add up to the loss):

    >>> from marginlex.audit.trace.steps import ScenarioPoint
    >>> print(leg_text(ClassGroupTrace(class_group="SPX", method="span_scan", loss="10651.68",
    ...     minimum="0", requirement="10651.68", charges="95.63", matched_risk="0",
    ...     credit="0", paired_credit="0", after_credits="10651.68", points=(ScenarioPoint(
    ...     label="down 3/3 vol down", pnl="-10556.04", shock=-0.07),), positions=(),
    ...     worst_point="down 3/3 vol down"), 0.5))
    SPX: scanning risk 10,556.04, matched 0.00 x 50% = credit 0.00; requirement max(loss \
10,651.68 (scanning risk 10,556.04 + charges 95.63 + rounding 0.01) - credit 0.00 = \
10,651.68, minimum 0.00) = 10,651.68
    """
    if g.after_credits is None or g.credit is None or g.matched_risk is None:
        return None
    charges = g.charges or Decimal(0)
    # The scanning risk is the worst point's loss, as the class group's own line shows it:
    # the loss less the charges, both rounded to the cent, can be a cent off it (10,651.68 -
    # 95.63 = 10,556.05 where the scan's worst P&L is -10,556.04).
    worst = next((p for p in g.points if p.label == g.worst_point), None)
    risk = max(-worst.pnl, Decimal(0)) if charges and worst is not None else g.loss - charges
    loss = f"loss {usd(g.loss)}"
    if charges:
        loss += (
            f" (scanning risk {usd(risk)} + charges {usd(charges)}"
            f"{rounding(g.loss, risk, charges)})"
        )
    left = g.loss - g.credit
    text = (
        f"{g.class_group}: scanning risk {usd(risk)}, matched {usd(g.matched_risk)} x "
        f"{pct(rate)} = credit {usd(g.credit)}; requirement max({loss} - credit "
        f"{usd(g.credit)} = {usd(left)}, minimum {usd(g.minimum)})"
    )
    paired = g.paired_credit or Decimal(0)
    if paired:
        text += f" - DV01 pairing credit {usd(paired)}"
    text += f" = {usd(g.after_credits)}"
    if g.minimum > left:
        text += f": the minimum binds, {usd(g.minimum - left)} of the credit is not taken"
    return text


def rounding(total: Decimal, *parts: Decimal) -> str:
    """The term that makes cents add up: ``" + rounding 0.01"`` where ``total`` (rounded
    from the unrounded parts) is a cent or two off the sum of the ``parts`` as shown (each
    rounded to the cent on its own), else nothing (nor where the difference is more than
    the parts' rounding, a cent each: that is no rounding). An auditor adding the shown
    parts then gets the shown total.

    >>> rounding(Decimal("10651.68"), Decimal("10556.04"), Decimal("95.63"))
    ' + rounding 0.01'
    >>> rounding(Decimal("10.00"), Decimal("5.00"), Decimal("5.01"))
    ' - rounding 0.01'
    >>> rounding(Decimal("10.01"), Decimal("5.00"), Decimal("5.01")), rounding(
    ...     Decimal("100.00"), Decimal("-50.00"), Decimal("100.00"))
    ('', '')
    """
    off = total - sum(parts, Decimal(0))
    if not off or abs(off) > _CENT * len(parts):
        return ""
    return f" {'+' if off > 0 else '-'} rounding {usd(abs(off))}"


def cap_text(lot: LotTrace) -> str | None:
    """A concentration cap's amount and what it cut (schema 1.5), None before.

    >>> print(cap_text(LotTrace(account_id="F12", asset="BTC", lot_id="C12b",
    ...     market_value="20000", haircut_rate=0.2, haircut_row="BTC", value="6732.24",
    ...     cap_applied=True, cap_rule_id="cftc_digital_cap", cap_scale=0.4207650273,
    ...     cap_of="initial", cap_limit=0.4, cap_base="23100", cap_amount="9240",
    ...     capped_value="21960")))
    Cap 9,240.00 = 40% x initial 23,100.00; the capped lots' value after haircuts \
21,960.00 is above it: each is kept 9,240.00 / 21,960.00 = 42.077%
    """
    if lot.cap_amount is None or lot.cap_base is None or lot.cap_limit is None:
        return None
    kept = f" = {pct(lot.cap_scale)}" if lot.cap_scale is not None else ""
    capped = usd(lot.capped_value) if lot.capped_value is not None else "?"
    return (
        f"Cap {usd(lot.cap_amount)} = {pct(lot.cap_limit)} x {lot.cap_of} "
        f"{usd(lot.cap_base)}; the capped lots' value after haircuts {capped} is above it: "
        f"each is kept {usd(lot.cap_amount)} / {capped}{kept}"
    )
