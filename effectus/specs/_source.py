"""Reading a predicate's source: the lambda or def node a code object was compiled from.

Shared by the run-time checks (`effectus.specs`, which quote a predicate in their messages
and inline simple ones) and the z3 translation (`effectus.proofs`), so that both read the same
node; z3-free, so that ``import effectus`` stays light.
"""

from __future__ import annotations

import ast
import functools
import linecache
import types
from typing import Any

__all__ = ["body_after_docstring", "find_node", "returned_expr"]


def find_node(code: types.CodeType, module_globals: dict[str, Any] | None = None) -> ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The node ``code`` was compiled from, found in its file (None when the source is gone)."""
    tree = _parse("".join(linecache.getlines(code.co_filename, module_globals)), code.co_filename)
    if tree is None:
        return None
    known = _found.get(code)
    if known is not None and known[0] is tree:  # the same parse of the same file: the same node
        return known[1]
    node = _find(tree, code)
    if len(_found) > 4096:
        _found.clear()
    _found[code] = (tree, node)
    return node


# code -> (the parse it was found in, its node): walking a file's tree per lookup is what a
# cached `fx.check` would otherwise spend its time on
_found: dict[types.CodeType, tuple[ast.Module, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef | None]] = {}


def returned_expr(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    """The expression of a def that is a single ``return expr`` after an optional docstring."""
    body = body_after_docstring(node)
    first = body[0] if body else None
    if isinstance(node, ast.FunctionDef) and len(body) == 1 and isinstance(first, ast.Return):
        return first.value
    return None


def body_after_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    """The statements of a def, its docstring left out."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


@functools.lru_cache(maxsize=64)
def _parse(text: str, file: str) -> ast.Module | None:
    try:
        return ast.parse(text, file)
    except SyntaxError:
        return None



def _find(
    tree: ast.Module, code: types.CodeType
) -> ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The node that compiled to ``code``: among the lambdas (or defs) on its first line with
    its parameter names, the innermost whose span holds the positions of all its instructions
    (so several lambdas on one line are told apart)."""
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    spans = [(a, c, b, d) for a, b, c, d in code.co_positions()
             if a is not None and b is not None and c is not None and d is not None
             and (a, c) < (b, d)]
    found: list[tuple[tuple[int, int], ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda) and code.co_name == "<lambda>":
            first = node.lineno
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        else:
            continue
        args = node.args
        params = tuple(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])
        start = (node.lineno, node.col_offset)
        end = (node.end_lineno or node.lineno, node.end_col_offset or 0)
        inside = all(start <= (a, c) and (b, d) <= end for a, c, b, d in spans)
        if first == code.co_firstlineno and params == names and inside:
            found.append((start, node))
    if not found or (not spans and len(found) > 1):  # no positions (python -X no_debug_ranges)
        return None
    # Candidates all hold the same instructions, so they nest: the innermost starts last.
    return max(found, key=lambda f: f[0])[1]
