"""The house: imports follow the pipeline, never back up it (``docs/development.md``).

dsl → engine → audit → the command line, and inside each package its stages in order. Every
``import`` and ``from ... import`` of every module is read with :mod:`ast` (type-checking-only
imports included: an arrow is an arrow), so a backward import fails here with the module, the
line and the two layers named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = {"dsl": ROOT / "dsl", "engine": ROOT / "engine", "audit": ROOT / "audit"}

# Layers, lowest first: a module may import its own layer and those before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("marginlex.printable",),  # text shown to a person, made safe: standard library only
    ("marginlex.dsl.model", "marginlex.dsl.cache"),
    ("marginlex.dsl.diagnostics", "marginlex.dsl.claims", "marginlex.dsl.limits"),
    ("marginlex.dsl.build", "marginlex.dsl.parser", "marginlex.dsl.format"),
    ("marginlex.dsl.resolve", "marginlex.dsl.hybrid"),
    ("marginlex.dsl.check",),
    ("marginlex.dsl.loader",),
    ("marginlex.dsl.provenance", "marginlex.dsl.diff"),
    ("marginlex.dsl.check.runner",),
    ("marginlex.dsl",),
    ("marginlex.engine.outcomes", "marginlex.engine.version", "marginlex.engine.kernels"),
    ("marginlex.engine.book",),
    ("marginlex.engine.synth", "marginlex.engine.graph"),
    ("marginlex.engine.plan",),
    ("marginlex.engine.evaluation", "marginlex.engine.phases"),
    ("marginlex.engine.evaluate",),
    (
        "marginlex.engine.run",
        "marginlex.engine.variants",
        "marginlex.engine.stress",
        "marginlex.engine.whatif",
        "marginlex.engine.distributed",
    ),
    ("marginlex.engine",),
    ("marginlex.audit.canonical", "marginlex.audit.trace"),
    ("marginlex.audit.ledger",),
    ("marginlex.audit.explain",),
    ("marginlex.audit",),
    ("marginlex.workbench",),
    ("marginlex.console",),
    ("marginlex.cli", "marginlex"),
)


def layer_of(module: str) -> int:
    """The index of the most specific layer ``module`` belongs to."""
    best, best_len = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS"
    return best


def modules() -> list[tuple[str, Path]]:
    """Every module of the three packages and the front door, with its dotted name."""
    found = []
    for name, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found.append((".".join(["marginlex", name, *parts]), path))
    for path in sorted((ROOT / "marginlex").glob("**/*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if rel.parts[1] in PACKAGES or rel.parts[1] == "rulebooks":
            continue
        found.append((".".join(p for p in rel.parts if p != "__init__"), path))
    return found


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every marginlex import of a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("marginlex")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{module}: relative import; imports are absolute here"
            if node.module.startswith("marginlex"):
                # `from pkg import sub` imports the sub-module where one exists
                out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def target_layer(imported: str) -> int:
    """The layer of an imported name: the longest prefix that is a module we know."""
    known = {m for m, _ in modules()}
    parts = imported.split(".")
    for k in range(len(parts), 0, -1):
        name = ".".join(parts[:k])
        if name in known:
            return layer_of(name)
    return layer_of(imported)


MODULES = modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_no_import_runs_back_up_the_pipeline(module: str, path: Path) -> None:
    own = layer_of(module)
    backward = [
        f"{path.relative_to(ROOT)}:{line}: {module} (layer {LAYERS[own][0]}) imports {name} "
        f"(layer {LAYERS[target_layer(name)][0]}), which comes later in the pipeline"
        for line, name in imports(path, module)
        if target_layer(name) > own
    ]
    assert not backward, "\n".join(backward)


def test_the_walk_sees_every_package_and_catches_a_backward_import(tmp_path: Path) -> None:
    names = {m for m, _ in MODULES}
    assert {"marginlex.dsl.model.domain", "marginlex.engine.phases.margin"} <= names
    assert "marginlex.audit.ledger.replay_run" in names and "marginlex.cli" in names
    bad = tmp_path / "bad.py"
    bad.write_text("from marginlex.engine.book.schema import FileSpec\n", "utf-8")
    ((_line, name),) = imports(bad, "marginlex.dsl.model.bad")
    assert target_layer(name) > layer_of("marginlex.dsl.model.bad")


@pytest.mark.parametrize("folder", ["dsl", "engine", "audit"])
def test_top_level_folders_stay_small_and_carry_no_family_prefix(folder: str) -> None:
    entries = [p for p in (ROOT / folder).iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 16, sorted(p.name for p in entries)  # engine: 16 with distributed/
    stems = [p.stem for p in entries if p.suffix == ".py"]
    prefixes = [s.split("_")[0] for s in stems if "_" in s]
    shared = {p for p in prefixes if prefixes.count(p) >= 2}
    assert not shared, f"{folder}/ has a family prefix a sub-package should carry: {shared}"
