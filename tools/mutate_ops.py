"""The mutation operators of ``tools/mutate.py``: one AST change per mutant, spliced into the source.

Each mutant replaces the source text of one node with the text of its mutated copy
(``ast.unparse``).  Splicing instead of unparsing the whole module keeps every other line,
comment and column as written, so tracebacks and coverage line numbers still match the
original; the replacement is padded to the node's line count for the same reason.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

# Comparison operators and the one each becomes: the negation for equality, identity and
# membership; the off-by-one neighbour for orderings (negating an ordering is killed by any
# test that runs it, the boundary is what a missing edge-case test lets through).
_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
}
_SWAPPED_CALLS = {"min": "max", "max": "min", "any": "all", "all": "any"}


@dataclass(frozen=True)
class Mutant:
    """One mutant of one file: where, which operator, and the text before and after."""

    module: str  # path relative to the project root, e.g. pytest_latebind/_judge.py
    qualname: str  # enclosing class and function names, "<module>" at top level
    operator: str
    line: int
    col: int
    end_line: int
    before: str
    after: str
    in_function: bool  # False: runs at import (module or class level, defaults, decorators)
    occurrence: int = 1  # among mutants with the same key, in source order

    @property
    def key(self) -> str:
        """A key that survives edits elsewhere in the file: no line number in it."""
        suffix = f" #{self.occurrence}" if self.occurrence > 1 else ""
        return f"{self.module}::{self.qualname} {self.operator}: {self.before} -> {self.after}{suffix}"

    @property
    def where(self) -> str:
        return f"{self.module}:{self.line}:{self.col + 1}"


def mutants(module: str, source: str) -> list[tuple[Mutant, str]]:
    """Every mutant of ``source`` with the mutated module's text; uncompilable ones are dropped."""
    tree = ast.parse(source)
    found: list[tuple[Mutant, str]] = []
    seen: dict[str, int] = {}
    for node, replacement, operator, context in _candidates(tree):
        text = _splice(source, node, replacement)
        try:
            compile(text, module, "exec")
        except SyntaxError:  # a splice the surrounding text does not allow: not a mutant
            continue
        qualname, in_function = context
        m = Mutant(module, qualname, operator, node.lineno, node.col_offset, node.end_lineno or node.lineno,
                   _one_line(node), _one_line(replacement), in_function)
        seen[m.key] = seen.get(m.key, 0) + 1
        if seen[m.key] > 1:
            m = Mutant(**{**m.__dict__, "occurrence": seen[m.key]})
        found.append((m, text))
    return found


def _one_line(node: ast.AST) -> str:
    return " ".join(ast.unparse(node).split())


Context = tuple[str, bool]


def _candidates(tree: ast.Module) -> Iterator[tuple[ast.AST, ast.AST, str, Context]]:
    """(node, replacement node, operator name, (qualname, in a function body)) in source order."""
    skip = _skipped(tree)
    out: list[tuple[ast.AST, ast.AST, str, Context]] = []

    def visit(node: ast.AST, names: list[str], in_function: bool) -> None:
        if id(node) in skip:
            return
        context = (".".join(names) or "<module>", in_function)
        for replacement, operator in _mutations(node):
            out.append((node, replacement, operator, context))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # Decorators, defaults and bases run where the def is, its body when it is called.
            for field in ("decorator_list", "bases", "keywords"):
                for child in getattr(node, field, []):
                    visit(child, names, in_function)
            if not isinstance(node, ast.ClassDef):
                visit(node.args, [*names, node.name], in_function)
            inner = in_function or not isinstance(node, ast.ClassDef)
            for child in node.body:
                visit(child, [*names, node.name], inner)
            return
        if isinstance(node, ast.Lambda):
            visit(node.args, names, in_function)
            visit(node.body, [*names, "<lambda>"], True)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, names, in_function)

    visit(tree, [], False)
    out.sort(key=lambda c: (getattr(c[0], "lineno", 0), getattr(c[0], "col_offset", 0)))
    yield from out


def _skipped(tree: ast.Module) -> set[int]:
    """Ids of nodes never mutated: docstrings, annotations, f-string text, TYPE_CHECKING, ``__all__``."""
    skip: set[int] = set()

    def subtree(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                subtree(body[0])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            subtree(node.returns)
        elif isinstance(node, (ast.arg, ast.AnnAssign)):
            subtree(node.annotation)
        elif isinstance(node, ast.JoinedStr):
            # Only the literal parts of an f-string: its {values} are expressions like any other.
            for part in node.values:
                if isinstance(part, ast.Constant):
                    skip.add(id(part))
                elif isinstance(part, ast.FormattedValue):
                    subtree(part.format_spec)
        elif isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            subtree(node)
        elif isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__":
            subtree(node)  # only star imports read it, and the project has none
    return skip


def _mutations(node: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """The replacement nodes for ``node``, one per mutant, with the operator's name."""
    if isinstance(node, ast.Compare):
        for k, op in enumerate(node.ops):
            new = copy.deepcopy(node)
            new.ops[k] = _COMPARE[type(op)]()
            yield new, "compare"
    elif isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield new, "boolean"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield copy.deepcopy(node.operand), "drop-not"
    elif isinstance(node, ast.Constant):
        yield from _constant(node)
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        yield ast.Pass(), "delete-call"
    elif isinstance(node, ast.Return) and node.value is not None \
            and not (isinstance(node.value, ast.Constant) and node.value.value is None):
        yield ast.Return(value=ast.Constant(None)), "return-none"
    elif isinstance(node, ast.Break):
        yield ast.Continue(), "break-continue"
    elif isinstance(node, ast.Continue):
        yield ast.Break(), "break-continue"
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SWAPPED_CALLS:
        new = copy.deepcopy(node)
        assert isinstance(new.func, ast.Name)
        new.func.id = _SWAPPED_CALLS[node.func.id]
        yield new, "swap-call"


def _constant(node: ast.Constant) -> Iterator[tuple[ast.AST, str]]:
    value = node.value
    if isinstance(value, bool):
        yield ast.Constant(not value), "constant"
    elif isinstance(value, int):
        yield ast.Constant({0: 1, 1: 0}.get(value, value + 1)), "constant"
    elif isinstance(value, str):
        yield ast.Constant("" if value else "XX"), "constant"


def _splice(source: str, node: ast.AST, replacement: ast.AST) -> str:
    """``source`` with ``node``'s text replaced by ``replacement``'s, keeping the line count.

    AST columns are UTF-8 byte offsets, so the splice works on bytes.
    """
    lines = source.encode().splitlines(keepends=True)
    start, end = node.lineno - 1, (node.end_lineno or node.lineno) - 1  # type: ignore[attr-defined]
    head = lines[start][: node.col_offset]  # type: ignore[attr-defined]
    tail = lines[end][node.end_col_offset:]  # type: ignore[attr-defined]
    text = ast.unparse(replacement)
    extra = end - start
    if isinstance(replacement, ast.stmt):
        text += " \\\n" * extra  # continuation lines: the statement's old lines become blank
    elif not isinstance(replacement, (ast.Name, ast.Constant)) or extra:
        text = "(" + text + "\n" * extra + ")"  # a newline inside parentheses ends nothing
    new = head + text.encode() + tail
    return b"".join([*lines[:start], new, *lines[end + 1:]]).decode()
