"""What ``--help`` shows: examples under every command and types a person reads.

typer shows an option's Python type (``<bool>``, ``<list[str]>``, ``<Decimal>``); the root
group renames them (``TEXT``, ``PATH``, ``AMOUNT``) and hides them on flags, for every
command it hands out. Help texts are Markdown, so that a docstring's paragraphs reflow to
the terminal instead of keeping the source's line breaks.
"""

from __future__ import annotations

from typing import Any, Literal

from typer.core import TyperGroup

MARKUP: Literal["markdown"] = "markdown"

_READABLE = {
    "str": "TEXT",
    "path": "PATH",
    "file": "FILE",
    "directory": "DIR",
    "int": "INTEGER",
    "int range": "INTEGER",
    "float": "NUMBER",
    "float range": "NUMBER",
    "Decimal": "AMOUNT",
    "datetime": "DATETIME",
    "list[str]": "TEXT",
    "list[path]": "PATH",
}


def examples(*lines: str) -> str:
    """An epilog: ``Examples`` and one command a line, as a code block.

    >>> examples("marginlex check rulebooks/").splitlines()[0]
    '**Examples**'
    """
    block = "\n".join(lines)
    return f"**Examples**\n\n```\n{block}\n```"


def _metavar(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False):
        return ""
    shown = str(param.display_type(ctx)).strip("<>")
    return _READABLE.get(shown, shown)


def readable_types(command: Any, ctx: Any) -> None:
    """Give every option of ``command`` (and of its sub-commands) a readable metavar."""
    options = [*command.params, command.get_help_option(ctx)]
    for param in options:
        if param is None or param.metavar is not None:
            continue
        shown = _metavar(param, ctx)
        if param.param_type_name == "option":
            param.metavar = shown
        else:  # an argument's metavar would rename it in the usage line: only its type
            param.display_type_rich = lambda ctx, shown=shown: shown
    for sub in getattr(command, "commands", {}).values():
        readable_types(sub, ctx)


class HelpGroup(TyperGroup):
    """The root group: every command it hands out shows readable option types."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, its option types made readable."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            readable_types(command, ctx)
            _dash_arguments_hinted(command)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The root's own help, with readable types too."""
        readable_types(self, ctx)
        super().format_help(ctx, formatter)


def dash_argument_hint(command_path: str, option: str, args: list[str]) -> str | None:
    """What to do when ``option`` (a short option no command has) came from an argument that
    starts with ``-``, as an id may (``-14``, ``-L33``): click read it as options. None when
    no such argument is among ``args``.

    >>> dash_argument_hint("marginlex explain", "-1", ["-14", "-r", "sec"]).split(": ")[1]
    'marginlex explain [OPTIONS] -- -14'
    >>> dash_argument_hint("marginlex explain", "--nope", ["--nope"]) is None
    True
    """
    if option.startswith("--"):
        return None
    token = next((a for a in args if a.startswith(option) and not a.startswith("--")), None)
    if token is None:
        return None
    return (
        f"if {token!r} is an argument (an id that starts with '-'), give it after --: "
        f"{command_path} [OPTIONS] -- {token}"
    )


def _dash_arguments_hinted(command: Any) -> None:
    """Make ``command``'s parse error for an unknown short option say how to give an argument
    that starts with ``-`` (``explain -14 -r sec`` said only ``No such option: -1``)."""
    parse = command.parse_args
    if getattr(parse, "hinted", False):
        return

    def parse_args(ctx: Any, args: list[str]) -> list[str]:
        given = list(args)
        try:
            return list(parse(ctx, args))
        except Exception as exc:  # typer's own copy of click's NoSuchOption, by its field
            option = getattr(exc, "option_name", None)
            hint = dash_argument_hint(ctx.command_path, option, given) if option else None
            if hint is not None:
                exc.message = f"{exc.message}: {hint}"  # type: ignore[attr-defined]
            raise

    parse_args.hinted = True  # type: ignore[attr-defined]
    command.parse_args = parse_args
