"""House rules on code size (issue 15): no function in ``analysis/`` or ``dashboard/`` has a body
over 50 lines.  McCabe complexity (<= 10) is ruff's C901, checked by ``ruff check .``."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_BODY_LINES = 50

#: Functions still over the limit, by "path:name" (none; an entry that is no longer over the
#: limit fails the test below).
ALLOWED: frozenset[str] = frozenset()


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the function's last line."""
    body = function.body
    if (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        if len(body) == 1:
            return 0
        body = body[1:]
    assert function.end_lineno is not None
    return function.end_lineno - body[0].lineno + 1


def long_functions(source: str, where: str) -> dict[str, int]:
    """``{"where:name": body lines}`` of every function (nested ones too) over the limit."""
    return {
        f"{where}:{node.name}": body_lines(node)
        for node in ast.walk(ast.parse(source, where))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and body_lines(node) > MAX_BODY_LINES
    }


def test_the_measure_counts_body_lines_without_the_docstring():
    def function(n_body: int, docstring: bool) -> str:
        doc = '    """A docstring\n    over two lines."""\n' if docstring else ""
        return f"def f():\n{doc}" + "    x = 1\n" * n_body

    assert long_functions(function(50, docstring=True), "m.py") == {}
    assert long_functions(function(51, docstring=True), "m.py") == {"m.py:f": 51}
    assert long_functions(function(51, docstring=False), "m.py") == {"m.py:f": 51}
    nested = "def outer():\n    def inner():\n" + "        x = 1\n" * 51
    assert long_functions(nested, "m.py") == {"m.py:outer": 52, "m.py:inner": 51}
    multi_line_call = (
        textwrap.dedent(
            """\
        def g():
            call(
        """
        )
        + "        1,\n" * 50
        + "    )\n"
    )
    assert long_functions(multi_line_call, "m.py") == {"m.py:g": 52}


def test_no_function_over_50_lines_in_analysis_and_dashboard():
    found: dict[str, int] = {}
    for package in ("analysis", "dashboard"):
        for path in sorted((REPO / package).rglob("*.py")):
            found |= long_functions(path.read_text(encoding="utf-8"), path.relative_to(REPO).as_posix())
    over = {name: n for name, n in found.items() if name not in ALLOWED}
    assert not over, "split these functions (body over 50 lines): " + ", ".join(
        f"{name} ({n} lines)" for name, n in sorted(over.items())
    )
    stale = sorted(ALLOWED - set(found))
    assert not stale, f"no longer over the limit: remove from ALLOWED in {Path(__file__).name}: {', '.join(stale)}"
