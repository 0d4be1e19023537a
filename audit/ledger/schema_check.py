"""The ledger's own schema, as marginlex made it: its tables are tables, and no trigger but
marginlex's own reads or writes in their place (other objects of the database, an
extension's views, an application's tables, are not the ledger's).

A view put where a ledger table was (the table renamed beside it), or a trigger that rewrites
what is inserted, can show a reader rows that are not the chained ones while the chain itself
stays whole. ``verify`` names any such object before it walks the chain; readers refuse a
ledger table that is not a table.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from marginlex.audit.ledger import tables as t

OWN_TRIGGERS = frozenset({"marginlex_no_edit", "marginlex_no_truncate"})
"""The triggers ``ledger init --roles`` puts on every table of a PostgreSQL ledger."""


def ledger_tables() -> list[str]:
    """Every table marginlex creates in a ledger, its schema revision's too."""
    return sorted({*t.metadata.tables, t.VERSION_TABLE})


def schema_problem(conn: Connection) -> str | None:
    """What in the ledger's schema marginlex did not make, or None.

    >>> from sqlalchemy import create_engine
    >>> engine = create_engine("sqlite://")
    >>> with engine.begin() as conn:
    ...     t.metadata.create_all(conn)
    ...     print(schema_problem(conn))
    ...     _ = conn.execute(text("ALTER TABLE decisions RENAME TO real_decisions"))
    ...     _ = conn.execute(text("CREATE VIEW decisions AS SELECT * FROM real_decisions"))
    ...     print(schema_problem(conn)[:50])
    None
    the ledger table decisions is a view, not a table:
    """
    if conn.dialect.name == "postgresql":
        return _postgresql(conn)
    return _sqlite(conn) if conn.dialect.name == "sqlite" else None


def _sqlite(conn: Connection) -> str | None:
    triggers = conn.execute(
        text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
    ).all()
    kinds: dict[str, str] = {
        str(name): str(kind)
        for name, kind in conn.execute(text("SELECT name, type FROM sqlite_master"))
    }
    return _named(
        {name: str(kinds.get(name, "table")) for name in ledger_tables()},
        [(str(n), str(tbl)) for n, tbl in triggers],
    )


def _postgresql(conn: Connection) -> str | None:
    # What each ledger table's name resolves to on the search path (a view in a schema placed
    # before the ledger's shadows the table as well as one put in its place).
    kinds: dict[str, str] = {}
    for name in ledger_tables():
        kind = conn.scalar(
            text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:name)"), {"name": name}
        )
        kinds[name] = {"r": "table", "p": "table", "v": "view", "m": "view"}.get(
            str(kind), "table" if kind is None else str(kind)
        )
    # the triggers on the ledger's own tables: what else the schema holds (an extension's
    # views, an application's tables and their triggers) is not the ledger
    triggers = conn.execute(
        text(
            "SELECT tg.tgname, c.relname, tg.tgenabled FROM pg_trigger tg "
            "JOIN pg_class c ON c.oid = tg.tgrelid "
            "WHERE NOT tg.tgisinternal AND c.oid = ANY(:tables)"
        ),
        {"tables": _oids(conn)},
    ).all()
    found = _named(kinds, [(str(n), str(tbl)) for n, tbl, _ in triggers])
    disabled = sorted({str(tbl) for _, tbl, enabled in triggers if str(enabled) == "D"})
    if found is None and disabled:
        return (
            f"the append-only triggers on {', '.join(disabled)} are disabled: "
            "the table's owner can then edit entries (ALTER TABLE ... ENABLE TRIGGER USER)"
        )
    return found


def _oids(conn: Connection) -> list[int]:
    """The ledger tables' oids, as the search path resolves their names."""
    found = [
        conn.scalar(text("SELECT to_regclass(:name)::oid"), {"name": name})
        for name in ledger_tables()
    ]
    return [int(oid) for oid in found if oid is not None]


def _named(kinds: dict[str, str], triggers: list[tuple[str, str]]) -> str | None:
    for name, kind in sorted(kinds.items()):
        if kind != "table":
            return (
                f"the ledger table {name} is a {kind}, not a table: a reader would see what "
                f"the {kind} shows, not the chained entries (the schema was edited)"
            )
    foreign = sorted(
        f"{name} on {table}"
        for name, table in triggers
        if name not in OWN_TRIGGERS and table in kinds
    )
    if foreign:
        return (
            f"the ledger holds a trigger marginlex did not create ({', '.join(foreign)}): it "
            "can change what is recorded or read (the schema was edited)"
        )
    return None
