"""What a student's file may use: the teacher's call, checked by reading the source (never by running it).

By default a file may not import ``minisbert`` (the answer key), ``transformers`` or
``sentence_transformers``: an attempt is ``FORBIDDEN``, with the line. Each exercise names the torch
built-ins that would do it for the student (``F.triplet_margin_loss`` for the triplet loss,
``F.scaled_dot_product_attention`` for attention, ``F.layer_norm`` where LayerNorm is the point): their use
is flagged in the report, and is ``FORBIDDEN`` when the teacher says so. The teacher decides with
``--allow NAME`` / ``--forbid NAME`` or a ``grading.toml`` in the submissions folder:

    [integrity]
    allow = ["triplet_margin_loss"]        # neither flagged nor forbidden
    forbid = ["scaled_dot_product_attention", "numpy"]

    [points]                               # points per exercise (default 1 each)
    attention_head = 2
    bert_layer = 3

The child process also refuses the forbidden modules at run time (an import by a computed name).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

FORBIDDEN_MODULES = ("minisbert", "transformers", "sentence_transformers")
CONFIG_FILE = "grading.toml"


@dataclass
class Policy:
    allow: set[str] = field(default_factory=set)
    forbid: set[str] = field(default_factory=set)
    points: dict[str, float] = field(default_factory=dict)

    def modules(self) -> list[str]:
        """The top-level modules a file may not import."""
        return sorted((set(FORBIDDEN_MODULES) | self.forbid) - self.allow)

    def merged(self, other: Policy) -> Policy:
        """This policy with ``other``'s choices on top (the command line over grading.toml)."""
        return Policy((self.allow - other.forbid) | other.allow, (self.forbid - other.allow) | other.forbid,
                      {**self.points, **other.points})


def read_config(folder: str | Path) -> Policy:
    """``folder/grading.toml`` as a Policy (an empty one when there is no such file)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        return Policy()
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise ValueError(f"{path}: reading grading.toml needs Python 3.11 or later (tomllib)") from None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None
    integrity, points = data.get("integrity", {}), data.get("points", {})
    for key in ("allow", "forbid"):
        if not (isinstance(integrity.get(key, []), list) and all(isinstance(x, str) for x in integrity.get(key, []))):
            raise ValueError(f"{path}: [integrity] {key} must be a list of names")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in points.values()):
        raise ValueError(f"{path}: [points] values must be numbers >= 0")
    return Policy(set(integrity.get("allow", [])), set(integrity.get("forbid", [])),
                  {str(k): float(v) for k, v in points.items()})


@dataclass
class Use:
    name: str  # the module or built-in
    line: int
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.text}"


def _line(source_lines: list[str], n: int) -> str:
    return source_lines[n - 1].strip() if 0 < n <= len(source_lines) else ""


def imports(source: str) -> list[Use]:
    """Every module the source imports by name: import statements, ``__import__("x")``,
    ``importlib.import_module("x")``. A file that does not parse has none (the child reports the error)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    lines, out = source.splitlines(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Use(a.name, node.lineno, _line(lines, node.lineno)) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append(Use(node.module, node.lineno, _line(lines, node.lineno)))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in ("__import__", "import_module"):
                out.append(Use(node.args[0].value, node.lineno, _line(lines, node.lineno)))
    return sorted(out, key=lambda u: u.line)


def names_used(source: str, wanted) -> list[Use]:
    """Uses of the torch built-ins in ``wanted``: an attribute (``F.triplet_margin_loss``,
    ``nn.LayerNorm``) or a name imported from torch (``from torch.nn.functional import layer_norm``).
    A function of the student's own with the same name is not one."""
    wanted = set(wanted)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    lines, out = source.splitlines(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            out += [Use(a.name, node.lineno, _line(lines, node.lineno)) for a in node.names if a.name in wanted]
        elif isinstance(node, ast.Attribute) and node.attr in wanted:
            out.append(Use(node.attr, node.lineno, _line(lines, node.lineno)))
    seen, unique = set(), []
    for u in sorted(out, key=lambda u: u.line):
        if (u.name, u.line) not in seen:
            seen.add((u.name, u.line))
            unique.append(u)
    return unique


def review(source: str, builtins, policy: Policy) -> tuple[list[Use], list[Use]]:
    """(forbidden uses, flagged uses) of one file under ``policy``: forbidden modules and forbidden built-ins
    first; the exercise's built-ins that are neither allowed nor forbidden are flagged."""
    modules = policy.modules()
    forbidden = [u for u in imports(source) if u.name.split(".")[0] in modules]
    forbid_names = policy.forbid - policy.allow
    lines = {u.line for u in forbidden}
    forbidden += [u for u in names_used(source, forbid_names) if u.line not in lines]
    flagged = names_used(source, set(builtins) - policy.allow - forbid_names)
    return sorted(forbidden, key=lambda u: u.line), flagged
