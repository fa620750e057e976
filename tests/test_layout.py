"""The package reads as a book: chapters on top in a stated order, machinery in named subpackages, no
import circles, no function shadowing its own module, and no measured figures in the code.

The import graph is read from the source (every ``import`` and ``from ... import`` of a minisbert module,
at module level or inside a function), so a circle hidden by an import inside a function is found too.
"""

from __future__ import annotations

import ast
import importlib
import re
import warnings
from pathlib import Path

import pytest

import minisbert

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "minisbert"
SUBPACKAGES = {"speed", "io", "checks", "grading", "parity", "views", "commands"}
NOT_CHAPTERS = {"__init__.py", "__main__.py", "_moved.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> list[tuple[str, ast.AST, bool]]:
    """(imported minisbert module, node, inside a function) for every import in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from package import submodule` imports the submodule
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        for target in targets:
            while target and target not in known:  # minisbert.io.files.write_json -> minisbert.io.files
                target = target.rpartition(".")[0]
            if target.startswith("minisbert"):
                found.append((target, node, id(node) in in_function))
    return found


def import_graph() -> dict[str, set[str]]:
    known = set(modules())
    graph = {}
    for name, path in modules().items():
        edges = {target for target, _, _ in imports(path, known) if target != name}
        # importing a.b.c runs a/__init__.py and a/b/__init__.py first, except the packages this module sits
        # in: their __init__ is already running when this module is imported
        edges |= {parent for t in edges for parent in parents(t)}
        graph[name] = edges - {name} - set(parents(name))
    return graph


def parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


@pytest.mark.fast
def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    # the graph of the package itself: a circle hidden inside a function is an edge like any other
    graph = import_graph()
    assert "minisbert.io.weights" in graph["minisbert.bert"]
    assert "minisbert.io.fetch" in graph["minisbert.io.weights"]


@pytest.mark.fast
def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph()) is None


@pytest.mark.fast
def test_imports_inside_functions_say_why():
    """An import inside a function is there for start-up cost only, and says so; never to dodge a circle.
    The command modules are the rule's one exception, stated in minisbert/commands/__init__.py: each
    imports its work in ``run`` so that ``python -m minisbert -h`` stays fast."""
    known = set(modules())
    unexplained = []
    for name, path in modules().items():
        if name.startswith("minisbert.commands"):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for target, node, inside in imports(path, known):
            text = " ".join(lines[node.lineno - 1: node.end_lineno])
            if inside and "start-up" not in text:
                unexplained.append(f"{path.relative_to(REPO)}:{node.lineno} imports {target}")
    assert unexplained == []


@pytest.mark.fast
def test_no_exported_function_shadows_its_own_module():
    shadowed = [name for name in minisbert.__all__
                if (PACKAGE / f"{name}.py").exists() or (PACKAGE / name / "__init__.py").exists()]
    assert shadowed == []
    for function in ("train", "pretrain", "fetch"):  # the functions, and their modules under other names
        assert callable(getattr(minisbert, function))


@pytest.mark.fast
def test_the_top_level_holds_the_chapters_in_the_stated_order():
    doc = minisbert.__doc__
    listed = re.findall(r"^\s+\d+\.\s+``(\w+\.py)``", doc, flags=re.M)
    on_disk = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in NOT_CHAPTERS)
    assert sorted(listed) == on_disk  # every chapter listed once, nothing else on top
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == SUBPACKAGES
    for folder in folders - {"commands", "views"}:  # each room of machinery says what it holds
        assert (PACKAGE / folder / "README.md").is_file(), folder


@pytest.mark.fast
@pytest.mark.parametrize("old, new", [
    ("minisbert.fast", "minisbert.speed.fast"), ("minisbert.batching", "minisbert.speed.batching"),
    ("minisbert.weights", "minisbert.io.weights"), ("minisbert.data", "minisbert.io.data"),
    ("minisbert.files", "minisbert.io.files"), ("minisbert.checkpoint", "minisbert.io.checkpoint"),
    ("minisbert.errors", "minisbert.checks.errors"), ("minisbert.trace", "minisbert.parity.trace"),
])
def test_an_old_module_path_reaches_the_new_module_with_a_warning(old, new):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert any(new in str(w.message) and w.category is DeprecationWarning for w in caught)


@pytest.mark.fast
@pytest.mark.parametrize("old, new", [("minisbert.train", "minisbert.training"),
                                      ("minisbert.pretrain", "minisbert.pretraining"),
                                      ("minisbert.fetch", "minisbert.io.fetch")])
def test_an_old_module_path_that_is_now_a_function_names_the_new_module(old, new):
    with pytest.raises(ModuleNotFoundError, match=re.escape(new)):
        importlib.import_module(old)
    assert callable(getattr(minisbert, old.rsplit(".", 1)[1]))  # the function is untouched


# Machine names and measured speeds belong on a docs page (docs/performance.md), not in the code. The
# SBERT paper's own figures ("about 65 hours on a V100") are citations, and may stay.
CPU_MODELS = re.compile(r"Sapphire|EPYC|\bZen ?\d|Xeon|Ryzen|Skylake|Ice ?Lake|Cascade ?Lake|Cooper ?Lake|Threadripper",
                        re.I)
SPEEDS = re.compile(r"\d\s*(ms|µs)\b|FLOP/s|\d\s*(MB|GB)/s|\d\s*(sent|sentences|pairs|steps|tokens)/s"
                    r"|\d(\.\d+)?\s*[x×]\s+(faster|slower)|\d(\.\d+)?\s*%\s+(faster|slower|off)"
                    r"|tried and not kept", re.I)


@pytest.mark.fast
def test_the_figure_patterns_catch_what_they_are_for():
    for line in ("2.8% faster on a Sapphire Rapids", "400 µs for 32 sentences", "1.3 TFLOP/s", "~5× slower",
                 "on the Zen 1", "Tried and not kept: plain-math attention"):
        assert CPU_MODELS.search(line) or SPEEDS.search(line), line
    for line in ("15% of the tokens", "about 65 hours on a V100", "(B, T, H) × (H, n)", "eps = 1e-12"):
        assert not (CPU_MODELS.search(line) or SPEEDS.search(line)), line


@pytest.mark.fast
def test_no_file_in_the_package_names_a_cpu_or_quotes_a_measured_speed():
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in {".py", ".md", ".js", ".css"}:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CPU_MODELS.search(line) or SPEEDS.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert found == []
