"""The code stays readable as it grows: short functions, and kernels that read their
arguments by name."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "reriskmc"
MAX_LINES = 80
#: the kernels' named-tuple arguments (layout.Params, scratch.Work, Trajectories, Partials)
NAMED = {"pk", "w", "work", "traj", "partials"}


def _functions():
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(SRC), node


def test_functions__are_at_most_80_lines():
    long = [
        f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path, node in _functions()
        if node.end_lineno - node.lineno + 1 > MAX_LINES
    ]
    assert not long, "split these by the model stages or config sections they handle: " + ", ".join(
        long
    )


def test_kernels__read_their_argument_tuples_by_name():
    """``pk.th_fixed``, never ``pk[3]``: a position says nothing and breaks silently when
    a field is added."""
    by_number = []
    for path in sorted((SRC / "kernels").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Name)
                and node.value.id in NAMED
            ):
                by_number.append(f"kernels/{path.name}:{node.lineno} {ast.unparse(node)}")
    assert not by_number, ", ".join(by_number)
