"""Fixes (``--latebind-fix``): for a site with findings, the smallest edit of its source that
binds each loop variable at creation, or the reason there is none.

The rules (docs/explanation/fixes.md):

- a ``lambda``, ``def`` or ``async def`` whose signature can take one more parameter without a
  caller noticing gets a keyword-only default (``lambda x, *, i=i: ...``): an extra positional
  argument still fails as before, and the bound value cannot be overridden by position;
- one whose signature must stay exactly as it was gets a factory instead: a ``**kwargs``
  closure (a keyword-only default would swallow a caller's ``i=``), a ``def`` with ``*args``
  or decorators (a decorator may read the signature: click, pluggy, pytest, dependency
  injection).  A lambda becomes ``(lambda i: <the lambda>)(i)``; a def is indented into
  ``def _bind_f(i): <the def>; return f``, called once and deleted, so no new name remains;
- a generator expression is wrapped the same way, ``(lambda i: (<genexp>))(i)``: its first
  iterable is still evaluated at once and the rest lazily, as before;
- no fix when the closure assigns the variable itself (``nonlocal``/``global``), when the
  wrapper would change what a name means (a walrus, ``await``, ``yield`` in a wrapped
  expression; a factory in a class body, which cannot see the class's names), or a
  re-indented def holds a multi-line string (its text would change).

Only the closure's own lines change; everything else, comments and layout, is kept.  A fix is
kept only once it is verified (``_fixverify``).  This module imports no pytest.
"""

from __future__ import annotations

import ast
import difflib
import io
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Fix:
    """The fix of one site (every loop variable of its findings), or why there is none."""

    file: str  # absolute path
    line: int
    column: int
    variables: list[str]
    form: str = ""  # "keyword-only default" or "factory"; "" when there is no fix
    reason: str = ""  # why there is no fix
    # (start line, start column, end line, end column, new text): lines 1-based, columns
    # 0-based in characters, end exclusive: what SARIF's replacements say.
    replacements: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    new_lines: tuple[int, int] = (0, 0)  # the site's first and last line in the fixed source
    # Filled by verification:
    status: str = "not verified"  # "fixed", "not fixed", "not verified"
    why: str = ""  # why a fix is not kept
    tests: list[str] = field(default_factory=list)  # the tests re-run
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)  # (nodeid, before, after)
    diff: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.replacements)


def propose(file: str, line: int, column: int, kind: str, variables: list[str], source: str) -> Fix:
    """The fix of the site at ``line``/``column`` (1-based characters) of ``source``."""
    fix = Fix(file, line, column, list(variables))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        fix.reason = "its source does not parse"
        return fix
    lines = source.splitlines(keepends=True)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    node = _find(tree, lines, line, column, kind)
    if node is None:
        fix.reason = "the site is not in its source file as it is now (generated code, or edited since)"
        return fix
    reason = _unsafe(node, variables)
    if reason is None:
        if isinstance(node, ast.GeneratorExp):
            reason = _wrap_expression(fix, node, lines, parents, variables)
        elif isinstance(node, ast.Lambda):
            if node.args.kwarg is not None:
                reason = _wrap_expression(fix, node, lines, parents, variables)
            else:
                reason = _keyword_only(fix, node, lines, variables)
        else:
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if node.decorator_list or node.args.vararg is not None or node.args.kwarg is not None:
                reason = _def_factory(fix, node, lines, parents, variables)
            else:
                reason = _keyword_only(fix, node, lines, variables)
    if reason is not None:
        fix.reason = reason
        fix.replacements = []
        fix.form = ""
    return fix


def _char_col(lines: list[str], lineno: int, byte_col: int) -> int:
    return len(lines[lineno - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace"))


def _start(lines: list[str], node: ast.AST) -> tuple[int, int]:
    return node.lineno, _char_col(lines, node.lineno, node.col_offset)  # type: ignore[attr-defined]


def _end(lines: list[str], node: ast.AST) -> tuple[int, int]:
    end_line = node.end_lineno  # type: ignore[attr-defined]
    return end_line, _char_col(lines, end_line, node.end_col_offset)  # type: ignore[attr-defined]


def _find(tree: ast.AST, lines: list[str], line: int, column: int, kind: str) -> ast.AST | None:
    types: dict[str, type[ast.AST]] = {"lambda": ast.Lambda, "def": ast.FunctionDef,
                                       "async def": ast.AsyncFunctionDef, "genexp": ast.GeneratorExp}
    wanted = types.get(kind)
    for node in ast.walk(tree):
        if (wanted is not None and isinstance(node, wanted) and node.lineno == line  # type: ignore[attr-defined]
                and _start(lines, node)[1] + 1 == column):
            return node
    return None


def _own_nodes(node: ast.AST) -> list[ast.AST]:
    """The nodes of the closure's own scope (not of functions or classes nested in it)."""
    out: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(node))
    while todo:
        child = todo.pop()
        out.append(child)
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            todo.extend(ast.iter_child_nodes(child))
    return out


def _unsafe(node: ast.AST, variables: list[str]) -> str | None:
    for child in ast.walk(node):
        if isinstance(child, ast.Nonlocal | ast.Global):
            assigned = sorted(set(child.names) & set(variables))
            if assigned:
                word = "nonlocal" if isinstance(child, ast.Nonlocal) else "global"
                return (f"the closure assigns {', '.join(map(repr, assigned))} itself ({word}): binding "
                        "it at creation would change what the program does")
    return None


def _wrapped_problem(node: ast.AST) -> str | None:
    """Why ``node`` cannot move into a lambda: what would mean something else there."""
    # A lambda's body is its own scope already: only its defaults are evaluated where it is made.
    if isinstance(node, ast.Lambda):
        nodes = [n for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None for n in ast.walk(d)]
    else:
        nodes = [node, *_own_nodes(node)]
    for child in nodes:
        if isinstance(child, ast.NamedExpr):
            return "a walrus (:=) in it would bind its target in a wrapper instead of the loop's scope"
        if isinstance(child, ast.Await | ast.Yield | ast.YieldFrom):
            return "an await or yield in it cannot move into a wrapper function"
        if isinstance(child, ast.comprehension) and child.is_async:
            return "an async for in it cannot move into a wrapper function"
    return None


def _in_class_body(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.ClassDef):
            return True
        if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return False
        parent = parents.get(parent)
    return False


def _tokens_from(lines: list[str], start: tuple[int, int]) -> list[tokenize.TokenInfo]:
    """The source's tokens from ``start`` on (the whole file is tokenized: a slice may not)."""
    tokens = tokenize.generate_tokens(io.StringIO("".join(lines)).readline)
    out = []
    try:
        for token in tokens:
            if token.start >= start:
                out.append(token)
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


_SKIP = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}


def _keyword_only(fix: Fix, node: ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef,
                  lines: list[str], variables: list[str]) -> str | None:
    """Add ``*, i=i`` (or ``, i=i`` after ``*args`` or keyword-only parameters) at the end of the
    parameter list."""
    taken = {a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]}
    clash = sorted(taken & set(variables))
    if clash:
        return f"the closure has a parameter named {', '.join(map(repr, clash))} already"
    tokens = _tokens_from(lines, _start(lines, node))
    last: tokenize.TokenInfo | None = None
    end: tokenize.TokenInfo | None = None
    if isinstance(node, ast.Lambda):
        pending, depth = 0, 0
        for token in tokens:
            if token.type == tokenize.NAME and token.string == "lambda" and depth == 0:
                pending += 1
            elif token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
            elif token.type == tokenize.OP and token.string == ":" and depth == 0:
                pending -= 1
                if pending == 0:
                    end = token
                    break
            if token.type not in _SKIP:
                last = token
    else:
        depth = 0
        opened = False
        for token in tokens:
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
                opened = True
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
                if opened and depth == 0:
                    end = token
                    break
            if token.type not in _SKIP:
                last = token
    if end is None or last is None:
        return "its parameter list could not be read"
    star = "" if node.args.vararg is not None or node.args.kwonlyargs else "*, "
    bound = ", ".join(f"{v}={v}" for v in variables)
    if last.string in ("lambda", "("):
        text = f" {star}{bound}" if last.string == "lambda" else f"{star}{bound}"
    elif last.string == ",":
        text = f" {star}{bound}"
    else:
        text = f", {star}{bound}"
    row, col = last.end
    fix.replacements = [(row, col, row, col, text)]
    fix.form = "keyword-only default"
    fix.new_lines = (fix.line, node.end_lineno or fix.line)
    return None


def _wrap_expression(fix: Fix, node: ast.Lambda | ast.GeneratorExp, lines: list[str],
                     parents: dict[ast.AST, ast.AST], variables: list[str]) -> str | None:
    problem = _wrapped_problem(node)
    if problem is not None:
        return problem
    if _in_class_body(node, parents):
        return "it is made in a class body, where a wrapper function could not see the class's names"
    (sl, sc), (el, ec) = _start(lines, node), _end(lines, node)
    text = _segment(lines, (sl, sc), (el, ec))
    names = ", ".join(variables)
    parent = parents.get(node)
    # f(x for x in xs): the genexp's span is the call's parentheses; keep one pair for the call.
    shares = (isinstance(parent, ast.Call) and parent.args == [node] and not parent.keywords
              and _end(lines, parent) == (el, ec))
    wrapped = f"(lambda {names}: {text})({names})"
    fix.replacements = [(sl, sc, el, ec, f"({wrapped})" if shares else wrapped)]
    fix.form = "factory"
    fix.new_lines = (sl, el)
    return None


def _segment(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    (sl, sc), (el, ec) = start, end
    if sl == el:
        return lines[sl - 1][sc:ec]
    return lines[sl - 1][sc:] + "".join(lines[sl:el - 1]) + lines[el - 1][:ec]


def _def_factory(fix: Fix, node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str],
                 parents: dict[ast.AST, ast.AST], variables: list[str]) -> str | None:
    if _in_class_body(node, parents):
        return "it is defined in a class body, where a factory function could not see the class's names"
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    last = node.end_lineno or node.lineno
    head = lines[first - 1]
    indent = head[:len(head) - len(head.lstrip())]
    if lines[node.lineno - 1][:len(indent)] != indent or head.lstrip().startswith(("def", "async", "@")) is False:
        return "the def does not start its own line"
    for token in _tokens_from(lines, (first, 0)):
        if token.start[0] > last:
            break
        if token.type == tokenize.STRING and token.start[0] != token.end[0]:
            return "a multi-line string in the def would change if the def were indented into a factory"
    rest = lines[last - 1][_end(lines, node)[1]:]
    if rest.strip() and not rest.strip().startswith("#"):
        return "the def's last line holds more code"
    factory = f"_bind_{node.name}"
    names = ", ".join(variables)
    newline = "\n" if not lines[last - 1].endswith("\r\n") else "\r\n"
    body = "".join(("    " + text) if text.strip() else text for text in lines[first - 1:last])
    if not body.endswith(("\n", "\r")):
        body += newline
    text = (f"{indent}def {factory}({names}):{newline}{body}{indent}    return {node.name}{newline}"
            f"{indent}{node.name} = {factory}({names}){newline}{indent}del {factory}{newline}")
    end_col = len(lines[last - 1])
    fix.replacements = [(first, 0, last, end_col, text)]
    fix.form = "factory"
    fix.new_lines = (first, last + 4)
    return None


def apply(source: str, replacements: list[tuple[int, int, int, int, str]]) -> str:
    """``source`` with ``replacements`` (which do not overlap) made."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for text in lines:
        starts.append(starts[-1] + len(text))

    def offset(row: int, col: int) -> int:
        return starts[row - 1] + col if row - 1 < len(lines) else len(source)

    out = source
    for sl, sc, el, ec, text in sorted(replacements, reverse=True):
        out = out[:offset(sl, sc)] + text + out[offset(el, ec):]
    return out


def unified_diff(relpath: str, before: str, after: str) -> str:
    """A ``git apply``-able diff of one file (``a/``/``b/`` prefixes)."""
    relpath = relpath.replace("\\", "/")
    diff = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                f"a/{relpath}", f"b/{relpath}")
    out = []
    for text in diff:
        out.append(text if text.endswith("\n") else text + "\n\\ No newline at end of file\n")
    return "".join(out)


def for_findings(findings: list[Any], rootdir: Path) -> list[Fix]:
    """One fix (or the reason for none) per site of ``findings`` (``Finding`` objects), in
    their order: only sites in the project's own files, under ``rootdir`` and outside
    virtualenvs and site-packages."""
    by_site: dict[tuple[str, int, int], list[Any]] = {}
    for finding in findings:
        by_site.setdefault((finding.file, finding.line, finding.column), []).append(finding)
    fixes = []
    sources: dict[str, str | None] = {}
    for (file, line, column), group in by_site.items():
        variables = list(dict.fromkeys(f.variable for f in group))
        path = Path(file)
        if not _own_file(path, rootdir):
            fix = Fix(file, line, column, variables,
                      reason="its file is not one of the project's (outside the rootdir, or installed)")
        else:
            if file not in sources:
                try:
                    sources[file] = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    sources[file] = None
            source = sources[file]
            if source is None:
                fix = Fix(file, line, column, variables, reason="its source file cannot be read")
            else:
                fix = propose(file, line, column, group[0].site_kind, variables, source)
        fix.tests = sorted({t for f in group for t in f.tests})
        fixes.append(fix)
    return fixes


def _own_file(path: Path, rootdir: Path) -> bool:
    try:
        relative = path.resolve().relative_to(rootdir.resolve())
    except ValueError:
        return False
    parts = relative.parts
    if any(part in ("site-packages", "dist-packages") for part in parts):
        return False
    directory = rootdir
    for part in parts[:-1]:
        directory = directory / part
        if (directory / "pyvenv.cfg").is_file():
            return False
    return True
