"""The largest classes and functions of the package, by lines and (classes) methods.

`python -m tools.code_sizes [--top N] [PACKAGE_DIR]` prints two markdown tables, so a
structural change can show what it did to the biggest units of code.
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Unit:
    kind: str  # "class" or "function"
    name: str  # module-qualified
    lines: int
    methods: int = 0


def units(root: Path) -> list[Unit]:
    """Every class and every function or method under `root`, with its size in lines."""
    out: list[Unit] = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        out.extend(_walk(tree, module))
    return out


def _walk(node: ast.AST, prefix: str) -> list[Unit]:
    found: list[Unit] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            methods = sum(isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef)) for c in child.body)
            found.append(Unit("class", f"{prefix}.{child.name}", _lines(child), methods))
            found.extend(_walk(child, f"{prefix}.{child.name}"))
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(Unit("function", f"{prefix}.{child.name}", _lines(child)))
    return found


def _lines(node: ast.AST) -> int:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return node.end_lineno - first + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.code_sizes", description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="thulium_desktop", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    found = units(args.root)
    classes = sorted((u for u in found if u.kind == "class"), key=lambda u: -u.lines)[: args.top]
    functions = sorted((u for u in found if u.kind == "function"), key=lambda u: -u.lines)[: args.top]
    print("| class | lines | methods |\n|---|---|---|")
    for u in classes:
        print(f"| {u.name} | {u.lines} | {u.methods} |")
    print("\n| function | lines |\n|---|---|")
    for u in functions:
        print(f"| {u.name} | {u.lines} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
