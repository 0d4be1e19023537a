"""The explanation of a decision as a tree of lines, each with the citation behind it.

Text and HTML are renderings of this one tree (recording is separate from rendering).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from marginlex.audit.explain.amounts import (
    add_on_text,
    cap_text,
    clearing_split_text,
    initial_defaulted,
    initial_source,
    leg_text,
    offset_text,
    rounding,
    span_charge_text,
)
from marginlex.audit.explain.numbers import pct, usd
from marginlex.audit.trace.model import DecisionTrace, Figure, RulebookSource, Step
from marginlex.audit.trace.steps import (
    ClassGroupsOutput,
    ClassGroupTrace,
    CollateralOutput,
    EligibilityOutput,
    InputValue,
    LotTrace,
    OffsetsOutput,
    OffsetTrace,
    OptionAtWorst,
    PositionAtWorst,
    RequirementCheck,
    RuleKind,
    SegregationOutput,
    SpanChargeTrace,
)


@dataclass
class Node:
    """One line of the explanation: what it says, the rule and citation behind it."""

    text: str
    cite: str
    children: list[Node] = field(default_factory=list)
    css: str = ""


def cite(step: Step) -> str:
    """The citation tag of a step: rule id, evidence tag and citation."""
    return f"{step.rule_id} [{step.evidence.value}]: {step.citation}"


def row_cite(
    step: Step,
    rule_id: str,
    line: PositionAtWorst | LotTrace | RequirementCheck | SpanChargeTrace,
) -> str:
    """The citation tag of one position, lot or requirement: the table row's (or the
    requirement's) own citation and evidence (schema 1.1; a requirement's 1.3), else the
    step's."""
    if line.citation is None or line.evidence is None:
        return cite(step)
    return f"{rule_id} [{line.evidence.value}]: {line.citation}"


def _inputs(values: tuple[InputValue, ...], rule_id: str = "") -> str:
    """Inputs as ``id=value``; ids of the rule's own slots lose the ``rule_id.`` prefix.

    >>> _inputs((InputValue(id="r.range[1].up", unit="fraction", value=0.06),
    ...          InputValue(id="param.m", unit="USD", value=100000.0)), "r")
    'range[1].up=6%, param.m=100,000 USD'
    """
    prefix = f"{rule_id}." if rule_id else None
    return ", ".join(
        f"{v.id.removeprefix(prefix) if prefix else v.id}={_input_value(v)}" for v in values
    )


def _input_value(v: InputValue) -> str:
    """A value in its unit: ``6%``, ``0.375 USD``, ``1.1x``, ``2 years``, ``1 day``."""
    value = v.value
    if value == "":  # a blank book cell a requirement read
        return "(blank)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value}{' ' + v.unit if v.unit else ''}"
    if v.unit == "fraction":
        return pct(value)
    if v.unit == "multiple":
        return f"{value:g}x"
    if v.unit == "years":
        return _duration(value)
    number = f"{Decimal(repr(value)).normalize():,f}"
    return f"{number} {v.unit}" if v.unit else number


def _duration(years: float) -> str:
    """Years as the rulebook would write them: ``2 years``, ``6 months``, ``1 day``."""
    for per, word in ((1, "year"), (12, "month"), (365, "day")):
        count = round(years * per)
        if count >= 1 and abs(years * per - count) < 1e-9:
            return f"{count} {word}{'' if count == 1 else 's'}"
    return f"{years:g} years"


def _with_inputs(node: Node, step: Step) -> Node:
    """The step's node with its inputs as its first child, if it read any."""
    if step.inputs:
        text = f"Inputs: {_inputs(step.inputs, step.rule_id)}"
        node.children.insert(0, Node(text, cite(step)))
    return node


def _dates(step: Step) -> str:
    if step.effective_from is None and step.effective_to is None:
        return ""
    start = step.effective_from.isoformat() if step.effective_from else "…"
    end = step.effective_to.isoformat() if step.effective_to else "…"
    return f" (effective {start} to {end})"


def _source(source: RulebookSource, itself: bool) -> Node:
    role = "file" if itself else "base"
    return Node(f"{role} {source.id}: {source.path}, sha256 {source.sha256}", "recorded run inputs")


def build_tree(trace: DecisionTrace) -> Node:
    """The whole explanation, top-down, as an auditor reads it."""
    f = trace.figures
    rb = trace.rulebook
    root = Node(
        f"Decision {trace.decision_id}: {f.status.value.upper()}, call {usd(f.call)}, "
        f"excess {usd(f.excess)}",
        f"rulebook {rb.id} {rb.version}",
        css=f"status-{f.status.value}",
    )
    recorded = "recorded run inputs"
    root.children = [
        Node(
            f"Rulebook {rb.name} ({rb.id} {rb.version}), sha256 {rb.sha256}",
            recorded,
            [_source(s, s is rb.sources[-1]) for s in rb.sources],
        ),
        Node(
            f"Book sha256 {trace.book_sha256}, as of {trace.as_of}, "
            f"engine {trace.engine_version}, trace schema {trace.schema_version}",
            recorded,
        ),
        _margin_set(trace),
        _figures(trace),
        _requirement(trace),
        *[
            _eligibility(s, s.output)
            for s in trace.steps
            if isinstance(s.output, EligibilityOutput)
        ],
        _collateral(trace),
        *[
            _segregation(s, s.output)
            for s in trace.steps
            if isinstance(s.output, SegregationOutput)
        ],
    ]
    return root


def _margin_set(trace: DecisionTrace) -> Node:
    ms = trace.margin_set
    where = f"{ms.rule_id}: {ms.citation}" if ms.rule_id else "one account, no merging rule"
    # One account that no rule joined (since trace schema 1.5 such a set names no rule;
    # an earlier trace named the merging rule that looked at it): say so, lest a citation
    # read as the account having been cross-margined under it.
    alone = len(ms.account_ids) == 1 and not ms.edges
    accounts = f"accounts {', '.join(ms.account_ids)}"
    if alone and ms.rule_id is not None:
        accounts = (
            f"account {ms.account_ids[0]} alone ({ms.rule_id} merged no other account into it)"
        )
    elif alone:
        accounts = f"account {ms.account_ids[0]} alone: no rule merged another account into it"
    node = Node(
        f"Margin set {ms.id}: {accounts}; owner {ms.owner_id}; carrier {ms.carrier_id}", where
    )
    node.children = [
        Node(f"{e.src} {e.relation.value} {e.dst}: {e.reason}", where) for e in ms.edges
    ]
    return node


def figure_rows(trace: DecisionTrace) -> list[tuple[Figure, Decimal, str]]:
    """Each decision figure with its amount and the rule and citation that produced it."""
    f = trace.figures
    sources: dict[Figure, str] = {}
    for s in f.sources:  # a figure may come from several rules (two haircut schedules)
        cited = f"{s.rule_id}: {s.citation}"
        sources[s.figure] = f"{sources[s.figure]}; {cited}" if s.figure in sources else cited
    amounts = {
        Figure.EQUITY: f.equity,
        Figure.VALUE: f.value,
        Figure.MAINTENANCE: f.maintenance,
        Figure.INITIAL: f.initial,
        Figure.EXCESS: f.excess,
        Figure.CALL: f.call,
    }
    rows = [(n, a, sources.get(n, "no source recorded")) for n, a in amounts.items()]
    return [
        (n, a, initial_source(trace, src) if n is Figure.INITIAL else src) for n, a, src in rows
    ]


def _figures(trace: DecisionTrace) -> Node:
    node = Node("Figures", "book format conventions; sources below")
    node.children = [Node(f"{n.value} {usd(a)}", src) for n, a, src in figure_rows(trace)]
    return node


def _requirement(trace: DecisionTrace) -> Node:
    f = trace.figures
    rows = {n: src for n, _, src in figure_rows(trace)}
    source = rows[Figure.MAINTENANCE]
    initial = f"initial {usd(f.initial)}"
    if initial_defaulted(trace):
        initial += " (= maintenance: no initial rule applies to this set)"
    node = Node(f"Requirement (maintenance) {usd(f.maintenance)}, {initial}", source)
    modifiers = modifier_sources(trace)
    for step in trace.steps:
        if isinstance(step.output, ClassGroupsOutput):
            method = Node(
                f"Margin method {step.rule_id}{_dates(step)}: class groups total "
                f"{usd(step.output.total)}",
                cite(step),
            )
            method.children = [_class_group(step, g, modifiers) for g in step.output.groups]
            node.children.append(_with_inputs(method, step))
        elif isinstance(step.output, OffsetsOutput):
            offsets = Node(
                f"Offsets {step.rule_id}{_dates(step)}: credit {usd(step.output.total_credit)}",
                cite(step),
            )
            pairings = [not o.groups for o in step.output.offsets]  # DV01 pairing rows
            offsets.children = [
                _offset(trace, step, o, after_pairing=any(pairings[:k]) and pairings[k])
                for k, o in enumerate(step.output.offsets)
            ]
            if step.output.clearing_split is not None:
                offsets.children.append(
                    Node(clearing_split_text(step.output.clearing_split), cite(step))
                )
            node.children.append(_with_inputs(offsets, step))
    if f.minimum_equity is not None:
        node.children.append(
            Node(
                f"Minimum equity {usd(f.minimum_equity)}: requirement raised to "
                f"{usd(f.maintenance)}, the minimum less the haircuts of the collateral the "
                f"value counts, {usd(f.minimum_equity - f.maintenance)} (a call is what the "
                "equity lacks)",
                modifiers or source,
            )
        )
    return node


def _offset(
    trace: DecisionTrace, step: Step, o: OffsetTrace, *, after_pairing: bool = False
) -> Node:
    """One offset row, with each SPAN leg's own credit under it (schema 1.5)."""
    node = Node(offset_text(o, after_pairing=after_pairing), cite(step))
    groups = {
        g.class_group: g
        for s in trace.steps
        if isinstance(s.output, ClassGroupsOutput)
        for g in s.output.groups
    }
    for name in o.groups:
        group = groups.get(name)
        text = leg_text(group, o.rate) if group is not None else None
        if text is not None:
            node.children.append(Node(text, cite(step)))
    return node


def _charges(step: Step, group: ClassGroupTrace) -> list[Node]:
    """A SPAN class group's charges, tier by tier (schema 1.5)."""
    return [
        Node(span_charge_text(c), row_cite(step, step.rule_id, c)) for c in group.span_charges or ()
    ]


def _class_group(step: Step, group: ClassGroupTrace, source: str = "") -> Node:
    worst = next((p for p in group.points if p.label == group.worst_point), None)
    if worst is None:  # priced position by position (strategy-based): no scenarios
        node = Node(
            f"Class group {group.class_group} ({group.method.value}): requirement "
            f"{usd(group.requirement)}, the sum of its positions' requirements",
            cite(step),
        )
        node.children = [
            *(Node(_position(p), row_cite(step, step.rule_id, p)) for p in group.positions),
            *_add_on(step, group, source),
        ]
        return node
    scanned = ""
    if group.range_up is not None and group.range_down is not None:
        scanned = f", range {pct(group.range_up, signed=True)}/{pct(-group.range_down)}"
    charged = ""
    if group.charges:  # SPAN: calendar-spread and delivery-month charges are in the loss
        # the loss is rounded from the unrounded sum: a cent off the shown parts is shown
        risk = max(-worst.pnl, Decimal(0))
        charged = (
            f"; loss = worst P&L {usd(-worst.pnl)} + calendar-spread and delivery-month "
            f"charges {usd(group.charges)}{rounding(group.loss, risk, group.charges)}"
        )
    node = Node(
        f"Class group {group.class_group} ({group.method.value}{scanned}): requirement "
        f"{usd(group.requirement)} = max(loss {usd(group.loss)}, minimum {usd(group.minimum)}"
        f"{_capped_minimums(step, group)}){charged}",
        cite(step),
    )
    shift = f", vol {pct(worst.vol_shift, signed=True)}" if worst.vol_shift is not None else ""
    weight = f", {pct(worst.weight)} counted" if worst.weight != 1.0 else ""
    scenario = Node(
        f"Worst scenario {worst.label} (price {pct(worst.shock, signed=True)}{shift}{weight}): "
        f"P&L {usd(worst.pnl)}, worst of {len(group.points)} points",
        cite(step),
    )
    scenario.children = [
        Node(_position(p), row_cite(step, step.rule_id, p)) for p in group.positions
    ]
    node.children = [scenario, *_charges(step, group), *_add_on(step, group, source)]
    return node


def _add_on(step: Step, group: ClassGroupTrace, source: str) -> list[Node]:
    """The concentration add-on charged on a class group, added after offsets (``source``:
    the rules of the requirement that are no step: a `concentration add`, a minimum)."""
    if group.add_on is None:
        return []
    return [Node(add_on_text(group), source or cite(step))]


def modifier_sources(trace: DecisionTrace) -> str:
    """The rules among the requirement's sources that are not steps of the trace (a
    `concentration add`, a `minimum equity`: a figure's rules), with their citations."""
    steps = {step.rule_id for step in trace.steps}
    return "; ".join(
        f"{s.rule_id}: {s.citation}"
        for s in trace.figures.sources
        if s.figure is Figure.MAINTENANCE and s.rule_id not in steps
    )


_ROW_GLOSS = {
    "expired_option": " (expired before the as-of date: not margined as an option)",
}
"""Words after a strategy row whose name alone does not say what was charged."""


def _contract_minimum(step: Step) -> float | None:
    """A scenario grid's per-contract minimum, USD per unit of multiplier: the step's one
    input in USD (its ranges and option rate are fractions, its points a count); None
    without one."""
    amounts = [
        float(v.value)
        for v in step.inputs
        if v.unit == "USD" and isinstance(v.value, int | float) and not isinstance(v.value, bool)
    ]
    return amounts[0] if len(amounts) == 1 else None


def _capped_minimums(step: Step, group: ClassGroupTrace) -> str:
    """The long options whose per-contract minimum was capped at their market value
    (FINRA 4210(g)(2)(F): not above market value for a long option), as the minimum's
    words: `; the long XYZ_C150's capped at its market value 100.00, not 0.375 USD x 100 x
    10 = 375.00`; "" when none was."""
    rate = _contract_minimum(step)
    if rate is None:
        return ""
    capped = []
    for p in group.positions:
        if p.option is None or p.quantity <= 0 or not p.price or p.market_value is None:
            continue
        value = float(p.market_value)
        multiplier = round(value / (p.quantity * p.price), 6)
        full = rate * multiplier * p.quantity
        if value < full - 0.005:
            capped.append(
                f"the long {p.instrument_id}'s capped at its market value "
                f"{usd(p.market_value)}, not {Decimal(repr(rate)).normalize():f} USD x "
                f"{multiplier:g} x {p.quantity:g} = {usd(Decimal(repr(round(full, 2))))}"
            )
    return "".join(f"; {text}" for text in capped)


def _position(p: PositionAtWorst) -> str:
    parts = [f"{p.account_id} {p.instrument_id}: quantity {p.quantity:g}"]
    if p.price is not None:
        moved = f" -> {p.shocked_price:g}" if p.shocked_price is not None else ""
        parts.append(f"price {p.price:g}{moved}")
    if p.option is not None:
        parts.append(_option(p.option))
    if p.market_value is not None:
        parts.append(f"market value {usd(p.market_value)}")
    if p.strategy_row is not None:
        parts.append(f'strategy row "{p.strategy_row}"{_ROW_GLOSS.get(p.strategy_row, "")}')
    if p.requirement is not None:
        parts.append(f"requirement {usd(p.requirement)}")
    parts.append(f"P&L {usd(p.pnl)}")
    return ", ".join(parts)


def _option(o: OptionAtWorst) -> str:
    """An option's model inputs and values at the worst point, so its P&L can be redone."""
    expiry = f" expiring {o.expiry.isoformat()}" if o.expiry is not None else ""
    return (
        f"{o.option_type} {o.strike:g}{expiry}: underlying {o.underlying_price:g} -> "
        f"{o.underlying_at_worst:g}, vol {pct(o.implied_vol)} -> {pct(o.vol_at_worst)}, "
        f"model value {o.value_now:.4f} -> {o.value_at_worst:.4f}"
    )


def _eligibility(step: Step, out: EligibilityOutput) -> Node:
    verdict = "eligible" if out.eligible else f"NOT eligible, margined by {out.fallback}"
    node = Node(f"Eligibility {step.rule_id}{_dates(step)}: {verdict}", cite(step))
    node.children = [
        Node(
            f"{_verdict(r)} {r.name}: {r.reason}{_tested(r)}",
            row_cite(step, step.rule_id, r),
            css="fail" if r.applies and not r.passed else "pass",
        )
        for r in out.requirements
    ]
    return _with_inputs(node, step)


def _tested(check: RequirementCheck) -> str:
    """What a requirement read, and by how much a failed minimum was missed.

    >>> _tested(RequirementCheck(name="min_equity", passed=False, reason="", shortfall="51740",
    ...     tested=(InputValue(id="account.equity[A1]", value="248260.0"),)))
    ' (equity 248,260.00, short 51,740.00)'
    >>> _tested(RequirementCheck(name="no_perpetual", passed=True, applies=False, reason="",
    ...     tested=(InputValue(id="account.holds(crypto_perpetual)[A1]", value="False"),
    ...             InputValue(id="when account.regime[A1]", value="CFTC"))))
    ' (account.holds(crypto_perpetual)[A1]=False, when account.regime[A1]=CFTC)'
    """
    if check.shortfall is not None and check.tested:  # the minimum's amount is read first
        read, rest = check.tested[0], check.tested[1:]
        name = read.id.split("[", 1)[0].rsplit(".", 1)[-1]
        try:
            amount = usd(Decimal(str(read.value)))
        except ArithmeticError:
            amount = str(read.value)
        more = f", {_inputs(rest)}" if rest else ""
        return f" ({name} {amount}, short {usd(check.shortfall)}{more})"
    return f" ({_inputs(check.tested)})" if check.tested else ""


def _verdict(check: RequirementCheck) -> str:
    if not check.applies:
        return "N/A"
    return "PASS" if check.passed else "FAIL"


def _collateral(trace: DecisionTrace) -> Node:
    source = next(src for n, _, src in figure_rows(trace) if n is Figure.VALUE)
    node = Node(
        f"Value {usd(trace.figures.value)}: collateral after haircuts and caps, plus the "
        "market value of positions",
        source,
    )
    for step in trace.steps:
        if isinstance(step.output, CollateralOutput):
            child = Node(
                f"{step.kind.value.capitalize()} {step.rule_id}{_dates(step)}: value "
                f"{usd(step.output.total_value)}",
                cite(step),
            )
            child.children = [_lot(step, lot) for lot in step.output.lots]
            if step.kind is RuleKind.CONCENTRATION:  # the cap, not the haircut row, is cited
                for line in child.children:
                    line.cite = cite(step)
                capped = (x for x in step.output.lots if x.cap_rule_id == step.rule_id)
                text = next((t for t in map(cap_text, capped) if t is not None), None)
                if text is not None:  # the cap's amount, before the lots it cut
                    child.children.insert(0, Node(text, cite(step)))
            node.children.append(_with_inputs(child, step))
    if trace.unscheduled_lots:  # in the equity, valued at nothing: no statement took them
        total = sum((lot.value for lot in trace.unscheduled_lots), Decimal(0))
        child = Node(
            f"Lots no haircut statement selects: value {usd(total)}",
            "no haircut statement of the rulebook selects them",
        )
        child.children = [
            Node(
                f"{_lot_head(lot)}: value {usd(lot.value)}: {lot.ineligible_reason}",
                "no haircut statement of the rulebook selects it",
                css="fail",
            )
            for lot in trace.unscheduled_lots
        ]
        node.children.append(child)
    return node


def _lot_head(lot: LotTrace) -> str:
    return f"{lot.lot_id} {lot.asset} ({lot.account_id}) market value {usd(lot.market_value)}"


def _lot(step: Step, lot: LotTrace) -> Node:
    head = _lot_head(lot)
    cited = row_cite(step, lot.schedule_rule_id or step.rule_id, lot)
    if not lot.eligible:
        return Node(
            f"{head}: ineligible, value {usd(lot.value)}: {lot.ineligible_reason}",
            cited,
            css="fail",
        )
    row = f'row "{lot.haircut_row}" {pct(lot.haircut_rate or 0.0)}'
    compared = "; ".join(
        f"{c.rule_id}{f' {c.row!r}' if c.row else ''} {pct(c.rate)}" for c in lot.candidates
    )
    won = f", {lot.schedule_rule_id} won (compared: {compared})" if lot.candidates else ""
    after = f" -> {usd(lot.value_after_haircut)}" if lot.value_after_haircut is not None else ""
    cap = ""
    if lot.cap_applied:
        kept = f" (kept {pct(lot.cap_scale)})" if lot.cap_scale is not None else ""
        cap = f", capped by {lot.cap_rule_id}{kept}"
    return Node(f"{head}: {row}{after}{won}{cap}, value {usd(lot.value)}", cited)


def _segregation(step: Step, out: SegregationOutput) -> Node:
    verdict = f"{len(out.violations)} violation(s)" if out.violations else "no violation"
    node = Node(f"Segregation {step.rule_id}{_dates(step)}: {verdict}", cite(step))
    node.children = [
        Node(
            f"BREACH {v.constraint_id}: {' -> '.join(v.path)}: {v.message}",
            f"{v.constraint_id}: {v.citation}",
            css="fail",
        )
        for v in out.violations
    ]
    return _with_inputs(node, step)
