"""The ``marginlex`` command line (typer + rich).

Each command group lives in its own module and registers itself on the one app;
this module only assembles them, so that command groups never edit each other.

Start-up is kept short: the console script registers only the group of the command it was
asked for (``marginlex explain`` never imports the evaluator or the rulebook language),
command modules import their heavy dependencies inside the commands, and the root
``--help`` lists the commands from a static table and is kept once drawn
(:mod:`marginlex.cli.root_help`: neither typer nor rich is imported to write it again).
``app`` (what tests and ``python -m marginlex`` use) has every group.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

GROUPS: dict[str, tuple[str, ...]] = {
    "marginlex.cli.dsl_commands": ("check", "fmt"),
    "marginlex.cli.book_commands": ("validate", "synth"),
    "marginlex.cli.run_command": ("run",),
    "marginlex.cli.audit_commands": ("explain", "verify", "ledger"),
    "marginlex.cli.variant_commands": ("compare", "diff", "test"),
    "marginlex.cli.workbench_commands": ("render",),
    "marginlex.cli.stress_command": ("stress",),
    "marginlex.cli.lsp_command": ("lsp",),
    "marginlex.cli.serve_command": ("serve",),
    "marginlex.cli.trust_commands": ("keys",),
}
"""Each command group's module and the commands it registers (a command not listed here
makes the console script register every group, so a new command is never hidden)."""


def build_app(modules: tuple[str, ...] = tuple(GROUPS)) -> typer.Typer:
    """The typer app with the command groups of ``modules`` registered."""
    import typer  # noqa: PLC0415 - the kept root help imports no typer

    from marginlex.cli.help_text import MARKUP, HelpGroup, examples  # noqa: PLC0415
    from marginlex.cli.root_options import EXAMPLES, SUMMARY, root  # noqa: PLC0415

    built = typer.Typer(
        name="marginlex",
        help=SUMMARY,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=HelpGroup,
        rich_markup_mode=MARKUP,
        epilog=examples(*EXAMPLES),
    )
    built.callback()(root)
    for name in modules:
        importlib.import_module(name).register(built)
    return built


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The groups to register for a command line: the command's own, else every group.

    >>> modules_for(["explain", "d-1"])
    ('marginlex.cli.audit_commands',)
    >>> len(modules_for(["--help"]))
    10
    """
    command = next((a for a in argv if not a.startswith("-")), None)
    owners = tuple(m for m, commands in GROUPS.items() if command in commands)
    return owners or tuple(GROUPS)


_full: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """``app``: built with every group on first use."""
    global _full  # noqa: PLW0603 - one app per process, built on demand
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _full is None:
        _full = build_app()
    return _full


_ENV_READ = ("MARGINLEX_LEDGER", "MARGINLEX_OPERATOR")
"""The variables whose text a command records in a ledger or prints as given."""


def undecodable_input(args: list[str], env: Mapping[str, str]) -> str | None:
    r"""What is wrong with the first argument (or ledger variable) that is not UTF-8 text,
    None when all are: Python hands such bytes on as lone surrogates (``\udcff``), which
    stopped ``validate`` and ``run --ledger`` with a UnicodeEncodeError traceback (the
    ledger file made and left behind) and made ``ledger --account`` and ``explain`` say the
    ledger "cannot be read ... (a value in it was edited by hand ...)".

    >>> print(undecodable_input(["run", "bo\udcffk"], {}).split(":")[0])
    the argument 'bo\xffk' is not UTF-8 text (the byte 0xff)
    >>> undecodable_input(["run", "book"], {"MARGINLEX_OPERATOR": "ops"}) is None
    True
    """
    from marginlex.printable import printable  # noqa: PLC0415 - standard library only

    named = [("the argument", a) for a in args]
    named += [(f"${k}", env[k]) for k in _ENV_READ if k in env]
    for what, text in named:
        raw = text.encode("utf-8", "surrogateescape")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            shown = printable(raw.decode("utf-8", "backslashreplace"))
            return (
                f"{what} '{shown}' is not UTF-8 text (the byte 0x{raw[exc.start]:02x}): "
                "marginlex reads its arguments as UTF-8, and a ledger records them so: give "
                "it in UTF-8 (rename a file or folder so named)"
            )
        except UnicodeEncodeError:  # a lone surrogate that came from no byte
            pass
    return None


def main() -> None:
    """Entry point of the ``marginlex`` console script.

    ``--help`` alone writes the kept root help and ``--version`` alone the version, neither
    importing typer; anything else goes to the app with the command's own group.
    """
    if (said := undecodable_input(sys.argv[1:], os.environ)) is not None:
        sys.stderr.write(f"error: {said}\n")
        raise SystemExit(2)
    alone = sys.argv[1:] if "_MARGINLEX_COMPLETE" not in os.environ else None
    if alone == ["--help"]:
        from marginlex.cli.root_help import print_root_help  # noqa: PLC0415

        print_root_help()
        return
    if alone == ["--version"]:
        from marginlex.engine.version import ENGINE_VERSION  # noqa: PLC0415

        sys.stdout.write(f"marginlex {ENGINE_VERSION}\n")
        return
    build_app(modules_for(sys.argv[1:]))()
