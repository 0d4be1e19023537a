"""Transformer middle layer: haircut tables, margin methods and offset rules."""

from __future__ import annotations

from typing import Any

from lark import v_args

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.build.expressions import ExprBuilder, Item, gather
from marginlex.dsl.diagnostics import BuildError, Code, did_you_mean, error


class _Otherwise:
    """Marker for the ``otherwise`` selector of a table row."""


OTHERWISE = _Otherwise()

_LEGS = [leg.value for leg in m.StrategyLeg]


def _when(selector: Any) -> Any:
    return None if isinstance(selector, _Otherwise) else selector


@v_args(meta=True)
class TableBuilder(ExprBuilder):
    """Haircut bodies, margin methods and offset rules."""

    # ---- haircuts ----------------------------------------------------------------------
    def rate_outcome(self, meta: Any, c: list[Any]) -> m.Rate:
        return m.Rate(value=c[0], span=self.span(meta))

    def ineligible_outcome(self, meta: Any, c: list[Any]) -> m.Ineligible:
        return m.Ineligible(reason=self.string(c[0]), span=self.span(meta))

    def bucket(self, meta: Any, c: list[Any]) -> m.Bucket:
        return m.Bucket(upper=c[0], outcome=c[1], note=c[2], span=self.span(meta))

    def bucket_up_to(self, meta: Any, c: list[Any]) -> m.Bucket:
        return m.Bucket(upper=c[0], outcome=c[1], note=c[2], inclusive=True, span=self.span(meta))

    def bucket_otherwise(self, meta: Any, c: list[Any]) -> m.Bucket:
        return m.Bucket(upper=None, outcome=c[0], note=c[1], span=self.span(meta))

    def maturity_buckets(self, meta: Any, c: list[Any]) -> Item:
        node = m.MaturityBuckets(buckets=tuple(c), span=self.span(meta))
        return Item("body", node, self.span(meta))

    def asset_row(self, meta: Any, c: list[Any]) -> m.AssetRow:
        asset = m.Symbol(name=str(c[0]), span=self.tok_span(c[0]))
        return m.AssetRow(asset=asset, outcome=c[1], note=c[2], span=self.span(meta))

    def asset_otherwise(self, meta: Any, c: list[Any]) -> m.AssetRow:
        return m.AssetRow(asset=None, outcome=c[0], note=c[1], span=self.span(meta))

    def asset_table(self, meta: Any, c: list[Any]) -> Item:
        return Item("body", m.AssetTable(rows=tuple(c), span=self.span(meta)), self.span(meta))

    def flat_rate(self, meta: Any, c: list[Any]) -> Item:
        outcome = m.Rate(value=c[0], span=c[0].span)
        node = m.Flat(outcome=outcome, note=c[1], span=self.span(meta))
        return Item("body", node, self.span(meta))

    def flat_ineligible(self, meta: Any, c: list[Any]) -> Item:
        outcome = m.Ineligible(reason=self.string(c[0]), span=self.span(meta))
        return Item("body", m.Flat(outcome=outcome, span=self.span(meta)), self.span(meta))

    def more_conservative(self, meta: Any, c: list[Any]) -> Item:
        names = tuple(m.Symbol(name=str(t), span=self.tok_span(t)) for t in c)
        node = m.MoreConservative(schedules=names, span=self.span(meta))
        return Item("body", node, self.span(meta))

    def more_conservative_regimes(self, meta: Any, c: list[tuple[m.Symbol, ...]]) -> Item:
        names = tuple(s for group in c for s in group)
        regimes = tuple(n for n, group in enumerate(c) for _ in group)
        node = m.MoreConservative(schedules=names, regimes=regimes, span=self.span(meta))
        return Item("body", node, self.span(meta))

    # ---- margin methods ----------------------------------------------------------------
    def otherwise(self, meta: Any, c: list[Any]) -> _Otherwise:
        return OTHERWISE

    def points(self, meta: Any, c: list[Any]) -> Item:
        return Item("points", self.integer(c[0]), self.span(meta))

    def option_model(self, meta: Any, c: list[Any]) -> Item:
        return Item("option_model", c[0], self.span(meta))

    def range_spec(self, meta: Any, c: list[Any]) -> tuple[Any, Any]:
        return (c[0], c[1])

    def range_both(self, meta: Any, c: list[Any]) -> tuple[Any, Any]:
        return (c[0], c[0])

    def range_row(self, meta: Any, c: list[Any]) -> Item:
        selector, (up, down), group, note = c
        row = m.RangeRow(
            when=_when(selector),
            up=up,
            down=down,
            class_group=str(group) if group is not None else None,
            note=note,
            span=self.span(meta),
        )
        return Item("range", row, self.span(meta))

    def times(self, meta: Any, c: list[Any]) -> bool:
        return True

    def for_positions(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def minimum(self, meta: Any, c: list[Any]) -> Item:
        amount, times, where, note = c
        node = m.ContractMinimum(
            amount=amount,
            times_multiplier=bool(times),
            where=where,
            note=note,
            span=self.span(meta),
        )
        return Item("minimum", node, self.span(meta))

    def scenario_grid(self, meta: Any, c: list[Any]) -> Item:
        d = gather(c, self.span(meta), ("points",))
        node = m.ScenarioGrid(
            points=d["points"],
            rate=d.get("option_model"),
            ranges=tuple(d.get("range", ())),
            minimum=d.get("minimum"),
            span=self.span(meta),
        )
        return Item("method", node, self.span(meta))

    def steps(self, meta: Any, c: list[Any]) -> Item:
        return Item("steps", self.integer(c[0]), self.span(meta))

    def vol_shift(self, meta: Any, c: list[Any]) -> Item:
        return Item("vol_shift", (c[0], c[1]), self.span(meta))

    def vol_relative(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def extreme(self, meta: Any, c: list[Any]) -> Item:
        return Item("extreme", (c[0], c[1]), self.span(meta))

    def coverage(self, meta: Any, c: list[Any]) -> Item:
        return Item("coverage", (c[0], c[1]), self.span(meta))

    def prefer_instrument(self, meta: Any, c: list[Any]) -> Item:
        return Item("instrument_range", True, self.span(meta))

    def ignore_instrument(self, meta: Any, c: list[Any]) -> Item:
        return Item("instrument_range", False, self.span(meta))

    def scan_row(self, meta: Any, c: list[Any]) -> Item:
        selector, value, note = c
        row = m.ScanRow(when=_when(selector), range=value, note=note, span=self.span(meta))
        return Item("scan_row", row, self.span(meta))

    def spread_tier(self, meta: Any, c: list[Any]) -> m.SpreadTier:
        upper, charge, note = c
        return m.SpreadTier(upper=upper, charge=charge, note=note, span=self.span(meta))

    def spread_tier_otherwise(self, meta: Any, c: list[Any]) -> m.SpreadTier:
        charge, note = c
        return m.SpreadTier(upper=None, charge=charge, note=note, span=self.span(meta))

    def calendar_case(self, meta: Any, c: list[Any]) -> m.CalendarCase:
        when, *tiers = c
        return m.CalendarCase(when=when, tiers=tuple(tiers), span=self.span(meta))

    def calendar_spreads(self, meta: Any, c: list[Any]) -> Item:
        by_delta, where, *rest = c
        node = m.CalendarSpreads(
            where=where,
            tiers=tuple(t for t in rest if isinstance(t, m.SpreadTier)),
            cases=tuple(t for t in rest if isinstance(t, m.CalendarCase)),
            by_delta=by_delta is not None,
            span=self.span(meta),
        )
        return Item("calendar", node, self.span(meta))

    def by_delta(self, meta: Any, c: list[Any]) -> bool:
        return True

    def delivery_charge(self, meta: Any, c: list[Any]) -> Item:
        amount, where, note = c
        node = m.DeliveryCharge(amount=amount, where=where, note=note, span=self.span(meta))
        return Item("delivery", node, self.span(meta))

    def span_scan(self, meta: Any, c: list[Any]) -> Item:
        d = gather(c, self.span(meta), ("vol_shift", "extreme"))
        coverage, liquidation = d.get("coverage", (None, None))
        node = m.SpanScan(
            steps=d.get("steps", 3),
            vol_shift=d["vol_shift"][0],
            vol_floor=d["vol_shift"][1],
            extreme_multiple=d["extreme"][0],
            extreme_cover=d["extreme"][1],
            coverage=coverage,
            liquidation=liquidation,
            prefer_instrument_range=d.get("instrument_range", True),
            ranges=tuple(d.get("scan_row", ())),
            minimum=d.get("minimum"),
            calendar=d.get("calendar"),
            delivery=d.get("delivery"),
            span=self.span(meta),
        )
        return Item("method", node, self.span(meta))

    def rate_row(self, meta: Any, c: list[Any]) -> m.RateRow:
        selector, value, basis, note = c
        return m.RateRow(
            when=_when(selector), rate=value, of_underlying=basis, note=note, span=self.span(meta)
        )

    def of_underlying(self, meta: Any, c: list[Any]) -> m.OfUnderlying:
        floor, per_share = c
        return m.OfUnderlying(floor=floor, per_share=per_share, span=self.span(meta))

    def underlying_floor(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def share_floor(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def rates(self, meta: Any, c: list[Any]) -> Item:
        return Item("method", m.Rates(rows=tuple(c), span=self.span(meta)), self.span(meta))

    def per_share(self, meta: Any, c: list[Any]) -> bool:
        return True

    def low_price(self, meta: Any, c: list[Any]) -> m.LowPriceTier:
        under, rate, per_share = c
        return m.LowPriceTier(under=under, rate=rate, per_share=per_share, span=self.span(meta))

    def strategy_row(self, meta: Any, c: list[Any]) -> m.StrategyRow:
        leg, rate, floor, per_share, low_price, note = c
        if str(leg) not in _LEGS:
            raise BuildError(
                error(
                    Code.UNKNOWN_WORD,
                    f"`{leg}` is not a strategy leg",
                    self.tok_span(leg),
                    did_you_mean(str(leg), _LEGS) or f"use one of {', '.join(_LEGS)}",
                )
            )
        # `at least 5 USD per share` is an amount a share, not the option legs' minimum rate
        return m.StrategyRow(
            leg=m.StrategyLeg(str(leg)),
            rate=rate,
            floor=None if per_share else floor,
            per_share=floor if per_share else None,
            low_price=low_price,
            note=note,
            span=self.span(meta),
        )

    def held_in_cash(self, meta: Any, c: list[Any]) -> bool:
        return True

    def strategy_based(self, meta: Any, c: list[Any]) -> Item:
        legs = tuple(x for x in c if isinstance(x, m.StrategyRow))
        others = tuple(x for x in c if isinstance(x, m.RateRow))
        held = c[0] is True  # `strategy based held in cash`
        node = m.StrategyBased(rows=legs, others=others, held_in_cash=held, span=self.span(meta))
        return Item("method", node, self.span(meta))

    def initial_multiple(self, meta: Any, c: list[Any]) -> Item:
        node = m.InitialMultiple(
            multiple=c[0], calls_restore_initial=c[1] is not None, span=self.span(meta)
        )
        return Item("method", node, self.span(meta))

    def minimum_equity(self, meta: Any, c: list[Any]) -> Item:
        node = m.MinimumEquity(amount=c[0], note=c[1], span=self.span(meta))
        return Item("method", node, self.span(meta))

    def concentration_add_on(self, meta: Any, c: list[Any]) -> Item:
        rate, share, where, note = c
        node = m.ConcentrationAddOn(
            rate=rate, share=share, where=where, note=note, span=self.span(meta)
        )
        return Item("method", node, self.span(meta))

    # ---- offsets -----------------------------------------------------------------------
    def netting(self, meta: Any, c: list[Any]) -> Item:
        node = m.Netting(rate=c[0], note=c[1], span=self.span(meta))
        return Item("rule", node, self.span(meta))

    def credit_row(self, meta: Any, c: list[Any]) -> m.CreditRow:
        left_ratio, left, left_tier, right_ratio, right, right_tier, rate, note = c
        return m.CreditRow(
            left=m.Symbol(name=str(left), span=self.tok_span(left)),
            right=m.Symbol(name=str(right), span=self.tok_span(right)) if right else None,
            rate=rate,
            note=note,
            left_ratio=left_ratio,
            right_ratio=right_ratio,
            left_tier=left_tier,
            right_tier=right_tier,
            span=self.span(meta),
        )

    def spread_ratio(self, meta: Any, c: list[Any]) -> m.Quantity:
        (number,) = c
        self.check_magnitude(number, str(number).replace(",", ""))
        text = str(number)
        amount = float(text.replace(",", ""))
        return m.Quantity(amount=amount, unit=m.Unit.NUMBER, text=text, span=self.span(meta))

    def expiring_after(self, meta: Any, c: list[Any]) -> m.Expiring:
        after, within = c
        return m.Expiring(after=after, within=within, span=self.span(meta))

    def expiring_within(self, meta: Any, c: list[Any]) -> m.Expiring:
        return m.Expiring(within=c[0], span=self.span(meta))

    def class_group_credit(self, meta: Any, c: list[Any]) -> Item:
        key, *rows = c
        node = m.ClassGroupCredit(key=key, rows=tuple(rows), span=self.span(meta))
        return Item("rule", node, self.span(meta))

    def leg_credit(self, meta: Any, c: list[Any]) -> Item:
        key, *rows = c
        node = m.ClassGroupCredit(key=key, rows=tuple(rows), per_leg=True, span=self.span(meta))
        return Item("rule", node, self.span(meta))

    def separate(self, meta: Any, c: list[Any]) -> Item:
        return Item("rule", m.Separate(span=self.span(meta)), self.span(meta))

    def merge_accounts(self, meta: Any, c: list[Any]) -> Item:
        return Item("rule", m.MergeAccounts(where=c[0], span=self.span(meta)), self.span(meta))

    def take_in(self, meta: Any, c: list[Any]) -> Item:
        node = m.TakeIn(anchor=c[0], positions=c[1], span=self.span(meta))
        return Item("rule", node, self.span(meta))

    def dv01_pairing(self, meta: Any, c: list[Any]) -> Item:
        first_house, first, second_house, second, *rows = c
        node = m.Dv01Pairing(
            first_house=m.Symbol(name=str(first_house), span=self.tok_span(first_house)),
            first=first,
            second_house=m.Symbol(name=str(second_house), span=self.tok_span(second_house)),
            second=second,
            buckets=tuple(r for r in rows if isinstance(r, m.PairingBucket)),
            rows=tuple(r for r in rows if isinstance(r, m.PairingRow)),
            span=self.span(meta),
        )
        return Item("rule", node, self.span(meta))

    def pairing_bucket(self, meta: Any, c: list[Any]) -> m.PairingBucket:
        name, within, note = c
        return m.PairingBucket(name=str(name), within=within, note=note, span=self.span(meta))

    def pairing_bucket_otherwise(self, meta: Any, c: list[Any]) -> m.PairingBucket:
        name, note = c
        return m.PairingBucket(name=str(name), note=note, span=self.span(meta))

    def pairing_row(self, meta: Any, c: list[Any]) -> m.PairingRow:
        first, second, rate, note = c
        return m.PairingRow(
            first=m.Symbol(name=str(first), span=self.tok_span(first)),
            second=m.Symbol(name=str(second), span=self.tok_span(second)),
            rate=rate,
            note=note,
            span=self.span(meta),
        )

    def give_up(self, meta: Any, c: list[Any]) -> Item:
        node = m.GiveUp(positions=c[0], anchor=c[1], span=self.span(meta))
        return Item("rule", node, self.span(meta))
