"""``check(callables)``: do sibling closures share a loop variable's cell or global?

Works on any callables, instrumented or not.  Siblings are functions with the same code
object: made by one ``lambda`` or ``def`` run several times.  Which of their free names are
loop variables comes from the instrumentation when there is one (which also knows the
values each closure was made with), and otherwise from the scope analysis of the module's
source, so a shared ``self`` is never taken for a loop variable.
"""

from __future__ import annotations

import ast
import functools
import types
from collections.abc import Iterable, Mapping
from typing import Any

from . import _builder, _messages
from ._compat import LAZY_ANNOTATIONS, source_lines
from ._errors import LateBindingError
from ._findings import Finding, describe
from ._kinds import Kind
from ._recorder import UNBOUND, read, record_of
from ._scopes import Site, find_sites


def check(callables: Iterable[Any]) -> list[Finding]:
    """The findings among ``callables`` (a mapping's values are checked); raise nothing."""
    __tracebackhide__ = True  # a bad argument: pytest shows the user's call, not our frames
    if isinstance(callables, Mapping):
        callables = callables.values()
    if callable(callables) or not isinstance(callables, Iterable):
        raise TypeError(
            f"latebind.check() takes an iterable of callables, got {describe(callables)}; "
            "pass a list, e.g. check([callback]) or check(handlers.values())")
    siblings: dict[types.CodeType, list[types.FunctionType]] = {}
    for position, item in enumerate(callables):
        if not callable(item):
            raise TypeError(
                f"latebind.check(): item {position} is not callable: {describe(item)}; "
                "pass the callbacks themselves (functions, lambdas, methods, partials)")
        for func in _functions(item):
            group = siblings.setdefault(func.__code__, [])
            if not any(func is other for other in group):
                group.append(func)
    findings = []
    for code, group in siblings.items():
        if len(group) >= 2:
            findings.extend(_check_siblings(code, group))
    return findings


def raise_for(findings: list[Finding], *, rootdir: str | None = None, show_values: bool = True) -> None:
    __tracebackhide__ = True  # pytest shows the user's line, not ours
    if findings:
        raise LateBindingError(_messages.messages(findings, _messages.Context(rootdir, show_values)), findings)


def _functions(obj: Any, depth: int = 0) -> list[types.FunctionType]:
    """The Python functions behind a callable: partials, methods and wrappers unwrapped."""
    if depth > 20:
        return []
    if isinstance(obj, functools.partial):
        return _functions(obj.func, depth + 1)
    if isinstance(obj, types.MethodType):
        return _functions(obj.__func__, depth + 1)
    if isinstance(obj, types.FunctionType):
        wrapped = obj.__dict__.get("__wrapped__")
        return [obj, *(_functions(wrapped, depth + 1) if wrapped is not None else [])]
    return []  # builtins, classes, callable objects: no cells of their own


def _check_siblings(code: types.CodeType, group: list[types.FunctionType]) -> list[Finding]:
    records = [record_of(f) for f in group]
    if all(records):
        known = [r for r in records if r is not None]
        return _builder.shared_bindings(known[0].info, known)
    site, file = _site_of(code, group[0])
    if site is None:
        shared = [name for k, name in enumerate(code.co_freevars)
                  if not name.startswith("@") and len({id((f.__closure__ or ())[k]) for f in group}) < len(group)]
        if not shared:
            return []
        raise LateBindingError(
            f"latebind.check() cannot tell whether {code.co_name} at {code.co_filename}:"
            f"{code.co_firstlineno} reads loop variables: its source is not available, and the "
            f"{len(group)} closures given share {', '.join(map(repr, shared))}. check() reads the "
            "source to find the loops: define the callbacks in a module with a .py file.")
    findings = []
    for variable in site.variables:
        if any(variable in free for free, _ in _closures(group[0])):
            buckets: dict[int, list[types.CellType]] = {}
            for func in group:
                cell = _cell(func, variable)
                if cell is not None:
                    buckets.setdefault(id(cell), []).append(cell)
            for cells in buckets.values():
                if len(cells) >= 2:
                    findings.append(_unknown_values(site, file, variable, len(cells), read(cells[0])))
        elif variable in _names(group[0]):
            namespace = group[0].__globals__
            value = namespace.get(variable, UNBOUND)
            findings.append(_unknown_values(site, file, variable, len(group), value))
    return findings


def _closures(func: types.FunctionType) -> list[tuple[tuple[str, ...], tuple[types.CellType, ...]]]:
    """The free names and cells of ``func``, and from 3.14 of its ``__annotate__``: the
    annotations of a def are a closure of their own, evaluated when first asked for."""
    found = [(func.__code__.co_freevars, func.__closure__ or ())]
    annotate = getattr(func, "__annotate__", None) if LAZY_ANNOTATIONS else None
    if isinstance(annotate, types.FunctionType):
        found.append((annotate.__code__.co_freevars, annotate.__closure__ or ()))
    return found


def _cell(func: types.FunctionType, variable: str) -> types.CellType | None:
    for free, cells in _closures(func):
        if variable in free:
            return cells[free.index(variable)]
    return None


def _names(func: types.FunctionType) -> set[str]:
    """The globals ``func`` reads, its annotations' included (3.14)."""
    names = set(func.__code__.co_names)
    annotate = getattr(func, "__annotate__", None) if LAZY_ANNOTATIONS else None
    if isinstance(annotate, types.FunctionType):
        names |= set(annotate.__code__.co_names)
    return names


def _unknown_values(site: Site, file: str, variable: str, closures: int, now: Any) -> Finding:
    """Closures that were not instrumented share a binding: what they were made with is unknown."""
    return _builder.finding(site, file, variable, Kind.SHARED_BINDING, created=[], now=now, closures=closures)


_sites_by_file: dict[str, list[Site]] = {}


def _site_of(code: types.CodeType, func: types.FunctionType) -> tuple[Site | None, str]:
    """The site that compiled to ``code``, found by name and line in its module's source.

    None when there is no source; a site with no variables when the code is no site.
    """
    file = code.co_filename
    sites = _sites_by_file.get(file)
    if sites is None:
        lines = source_lines(file)
        if not lines:
            return None, file
        try:
            tree = ast.parse("".join(lines), filename=file)
        except (SyntaxError, ValueError):
            return None, file
        sites = _sites_by_file[file] = [site for site, _ in find_sites(tree, [ln.rstrip("\n") for ln in lines])]
    names = {name for free, _ in _closures(func) for name in free} | _names(func)
    # A decorated def's code starts at its first decorator, above the def itself.
    candidates = [site for site in sites if site.name == code.co_name and site.line >= code.co_firstlineno
                  and (site.line == code.co_firstlineno or site.kind.endswith("def"))
                  and set(site.variables) <= names]
    if candidates:
        return min(candidates, key=lambda site: site.line), file
    return Site("lambda", code.co_name, code.co_firstlineno, 1, (), ""), file
