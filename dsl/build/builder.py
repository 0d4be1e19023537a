"""The one bridge from lark's parse tree to the model: :class:`ModelBuilder`.

Every rule method receives lark's ``meta`` and attaches a :class:`Span`. Problems found
while building (a repeated clause, an unknown subject word) raise :class:`BuildError`,
which the parser unwraps from lark's ``VisitError``.
"""

from __future__ import annotations

from typing import Any

from lark import Token, v_args

from marginlex.dsl.model import rulebook as m
from marginlex.dsl.build.expressions import SPANS, Item, gather
from marginlex.dsl.build.tables import OTHERWISE, TableBuilder
from marginlex.dsl.format import rows as keys
from marginlex.dsl.diagnostics import ACCEPTABLE, BuildError, Code, error


def _common(d: dict[str, Any]) -> dict[str, Any]:
    keys = ("citation", "effective", "status")
    out = {k: d[k] for k in keys if k in d}
    if "status" in d:
        out["status_span"] = d[SPANS]["status"]
    if "accept" in d:
        out["accepts"] = tuple(d["accept"])
    return out


@v_args(meta=True)
class ModelBuilder(TableBuilder):
    """Transforms a parse tree of ``grammar.lark`` into a :class:`~marginlex.dsl.model.rulebook.Rulebook`."""

    # ---- header and clauses ---------------------------------------------------------
    def start(self, meta: Any, children: list[Any]) -> m.Rulebook:
        header, *statements = children
        return m.Rulebook(header=header, statements=tuple(statements), span=self.span(meta))

    def header(self, meta: Any, children: list[Any]) -> m.Header:
        name, title, *items = children
        d = gather(items, self.tok_span(name))
        return m.Header(
            id=str(name),
            title=self.string(title),
            jurisdiction=d.get("jurisdiction"),
            version=d.get("version"),
            effective=d.get("effective"),
            citation=d.get("citation"),
            extends=d.get("extends", ()),
            replaces=d.get("replaces"),
            accepts=tuple(d.get("accept", ())),
            span=self.span(meta),
        )

    def jurisdiction(self, meta: Any, c: list[Any]) -> Item:
        return Item("jurisdiction", str(c[0]), self.span(meta))

    def version(self, meta: Any, c: list[Any]) -> Item:
        return Item("version", self.string(c[0]), self.span(meta))

    def extends(self, meta: Any, c: list[Any]) -> Item:
        names = tuple(m.Symbol(name=str(t), span=self.tok_span(t)) for t in c)
        return Item("extends", names, self.span(meta))

    def replaces(self, meta: Any, c: list[Any]) -> Item:
        return Item("replaces", m.Symbol(name=str(c[0]), span=self.tok_span(c[0])), self.span(meta))

    def cites(self, meta: Any, c: list[Any]) -> Item:
        return Item(
            "citation", m.Citation(text=self.string(c[0]), span=self.span(meta)), self.span(meta)
        )

    def accept(self, meta: Any, c: list[Any]) -> Item:
        code, reason = str(c[0]), self.string(c[1])
        if code not in ACCEPTABLE:
            raise BuildError(
                error(
                    Code.UNKNOWN_WORD,
                    f"`{code}` is not a finding that can be accepted",
                    self.tok_span(c[0]),
                    "`accept` takes a checker warning (MLX214, MLX215, MLX600 to MLX609); errors must be fixed",
                )
            )
        if not reason.strip():
            raise BuildError(
                error(
                    Code.MISSING_CLAUSE,
                    "an accepted finding needs its reason",
                    self.span(meta),
                    'say why the finding is right as it is: `because "..."`',
                )
            )
        span = self.span(meta)
        return Item("accept", m.Acceptance(code=code, reason=reason, span=span), span)

    def status(self, meta: Any, c: list[Any]) -> Item:
        return Item("status", c[0], self.span(meta))

    def status_word(self, meta: Any, c: list[Any]) -> m.Status:
        return m.Status(str(c[0]))

    def effective_from(self, meta: Any, c: list[Any]) -> Item:
        until = self.parse_date(c[1]) if c[1] is not None else None
        eff = m.Effective(start=self.parse_date(c[0]), until=until, span=self.span(meta))
        return Item("effective", eff, self.span(meta))

    def effective_until(self, meta: Any, c: list[Any]) -> Item:
        eff = m.Effective(until=self.parse_date(c[0]), span=self.span(meta))
        return Item("effective", eff, self.span(meta))

    def note(self, meta: Any, c: list[Any]) -> m.Note:
        d = gather(
            [x if isinstance(x, Item) else Item("status", x, self.span(meta)) for x in c],
            self.span(meta),
        )
        return m.Note(status=d.get("status"), citation=d.get("citation"), span=self.span(meta))

    # ---- statements ------------------------------------------------------------------
    def override(self, meta: Any, c: list[Any]) -> Any:
        return c[0].model_copy(update={"override": True, "span": self.span(meta)})

    def removal(self, meta: Any, c: list[Any]) -> m.Removal:
        kind, name, *items = c
        d = gather(items, self.span(meta))
        return m.Removal(id=str(name), target_kind=kind, span=self.span(meta), **_common(d))

    def extension(self, meta: Any, c: list[Any]) -> m.Extension:
        name, *items = c
        d = gather(items, self.span(meta))
        return m.Extension(
            id=str(name), changes=tuple(d.get("change", ())), span=self.span(meta), **_common(d)
        )

    def _change(self, meta: Any, edit: m.RequirementEdit, item: Item) -> Item:
        req: m.Requirement = item.value
        change = m.RequirementChange(
            edit=edit, name=req.name, requirement=req, span=self.span(meta)
        )
        return Item("change", change, self.span(meta))

    def added_requirement(self, meta: Any, c: list[Any]) -> Item:
        return self._change(meta, m.RequirementEdit.ADD, c[0])

    def replaced_requirement(self, meta: Any, c: list[Any]) -> Item:
        return self._change(meta, m.RequirementEdit.REPLACE, c[0])

    def dropped_requirement(self, meta: Any, c: list[Any]) -> Item:
        change = m.RequirementChange(
            edit=m.RequirementEdit.DROP, name=str(c[0]), span=self.span(meta)
        )
        return Item("change", change, self.span(meta))

    def haircut_extension(self, meta: Any, c: list[Any]) -> m.Extension:
        ext = self.extension(meta, c)
        return ext.model_copy(update={"target_kind": m.StatementKind.HAIRCUT})

    def margin_extension(self, meta: Any, c: list[Any]) -> m.Extension:
        ext = self.extension(meta, c)
        return ext.model_copy(update={"target_kind": m.StatementKind.MARGIN})

    def _row_change(self, meta: Any, edit: m.RequirementEdit, row: Any) -> Item:
        row = row.value if isinstance(row, Item) else row
        change = m.RowChange(edit=edit, key=keys.row_key(row), row=row, span=self.span(meta))
        return Item("change", change, self.span(meta))

    def added_row(self, meta: Any, c: list[Any]) -> Item:
        return self._row_change(meta, m.RequirementEdit.ADD, c[0])

    def replaced_row(self, meta: Any, c: list[Any]) -> Item:
        return self._row_change(meta, m.RequirementEdit.REPLACE, c[0])

    def dropped_row(self, meta: Any, c: list[Any]) -> Item:
        key = c[0] if c else keys.OTHERWISE
        if isinstance(key, Token):
            key = str(key)
        elif not isinstance(key, str):  # a margin row's selector
            key = keys.selector_key(None if key is OTHERWISE else key)
        change = m.RowChange(edit=m.RequirementEdit.DROP, key=key, span=self.span(meta))
        return Item("change", change, self.span(meta))

    def bucket_key(self, meta: Any, c: list[Any]) -> str:
        return keys.bucket_key(c[0])

    def bucket_key_up_to(self, meta: Any, c: list[Any]) -> str:
        return keys.bucket_key(c[0], inclusive=True)

    def kind_word(self, meta: Any, c: list[Any]) -> m.StatementKind:
        return m.StatementKind(str(c[0]))

    def parameter(self, meta: Any, c: list[Any]) -> m.Parameter:
        name, value, *items = c
        d = gather(items, self.span(meta))
        return m.Parameter(id=str(name), value=value, span=self.span(meta), **_common(d))

    def scope(self, meta: Any, c: list[Any]) -> m.Scope:
        name, *items = c
        d = gather(items, self.span(meta), ("where",))
        return m.Scope(id=str(name), where=d["where"], span=self.span(meta), **_common(d))

    def decides(self, meta: Any, c: list[Any]) -> Item:
        return Item("where", c[0], self.span(meta))

    def eligibility(self, meta: Any, c: list[Any]) -> m.Eligibility:
        name, subject, *items = c
        d = gather(items, self.span(meta))
        if str(subject) != "account":
            raise BuildError(
                error(
                    Code.UNKNOWN_WORD,
                    f"eligibility is decided for `account`, not `{subject}`",
                    self.tok_span(subject),
                    "write `eligibility NAME for account`",
                )
            )
        return m.Eligibility(
            id=str(name),
            requirements=tuple(d.get("requirement", ())),
            span=self.span(meta),
            **_common(d),
        )

    def requirement(self, meta: Any, c: list[Any]) -> Item:
        name, cond, when, reason, note = c
        req = m.Requirement(
            name=str(name),
            condition=cond,
            when=when,
            reason=self.string(reason),
            note=note,
            span=self.span(meta),
            reason_span=self.tok_span(reason),
        )
        return Item("requirement", req, self.span(meta))

    def when(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def where(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def segregation(self, meta: Any, c: list[Any]) -> m.Segregation:
        name, *items = c
        d = gather(items, self.span(meta), ("constraint",))
        return m.Segregation(
            id=str(name), constraint=d["constraint"], span=self.span(meta), **_common(d)
        )

    def collateral_flow(self, meta: Any, c: list[Any]) -> Item:
        source, other, target, uncounted = c
        flow = m.CollateralFlow(
            source=source,
            target=target,
            other_owner=other is not None,
            not_counted=uncounted is not None,
            span=self.span(meta),
        )
        return Item("constraint", flow, self.span(meta))

    def other_owner(self, meta: Any, c: list[Any]) -> bool:
        return True

    def not_counted(self, meta: Any, c: list[Any]) -> bool:
        return True

    def carrier_kinds(self, meta: Any, c: list[Any]) -> Item:
        node = m.CarrierKinds(accounts=c[0], kinds=c[1], span=self.span(meta))
        return Item("constraint", node, self.span(meta))

    def single_owner(self, meta: Any, c: list[Any]) -> Item:
        return Item("constraint", m.SingleOwner(span=self.span(meta)), self.span(meta))

    def merged_carrier(self, meta: Any, c: list[Any]) -> Item:
        node = m.MergedCarrier(kinds=c[0], agreements=c[1] or (), span=self.span(meta))
        return Item("constraint", node, self.span(meta))

    def name_set(self, meta: Any, c: list[Any]) -> tuple[m.Symbol, ...]:
        return tuple(m.Symbol(name=str(t), span=self.tok_span(t)) for t in c)

    def haircut(self, meta: Any, c: list[Any]) -> m.Haircut:
        name, where, *items = c
        d = gather(items, self.span(meta), ("body",))
        return m.Haircut(
            id=str(name), where=where, body=d["body"], span=self.span(meta), **_common(d)
        )

    def concentration(self, meta: Any, c: list[Any]) -> m.Concentration:
        name, where, *items = c
        d = gather(items, self.span(meta), ("limit",))
        return m.Concentration(
            id=str(name),
            where=where,
            limit=d["limit"][0],
            of=d["limit"][1],
            span=self.span(meta),
            **_common(d),
        )

    def limit(self, meta: Any, c: list[Any]) -> Item:
        of = m.ConcentrationBase.INITIAL if c[1] is not None else m.ConcentrationBase.REQUIREMENT
        return Item("limit", (c[0], of), self.span(meta))

    def margin(self, meta: Any, c: list[Any]) -> m.Margin:
        name, *items = c
        d = gather(items, self.span(meta), ("method",))
        return m.Margin(
            id=str(name),
            applies_to=d.get("applies_to"),
            method=d["method"],
            span=self.span(meta),
            **_common(d),
        )

    def applies(self, meta: Any, c: list[Any]) -> Item:
        return Item("applies_to", c[0], self.span(meta))

    def offset(self, meta: Any, c: list[Any]) -> m.Offset:
        name, *items = c
        d = gather(items, self.span(meta), ("rule",))
        return m.Offset(id=str(name), rule=d["rule"], span=self.span(meta), **_common(d))
