"""The static scan (``python -m pytest_latebind scan``, ``--latebind-scan``): the sites
``_scopes`` finds, each classified from the source alone.

``bug``
    the closure escapes its round: appended, stored, yielded, kept by ``map``/``filter``/
    ``partial`` or a generator that outlives the round, or used in a later round;
``ok``
    provably used within its round only: called at once (``(lambda: i)()``), a key of
    ``sorted``/``min``/``max``/``groupby``/``list.sort``, a thread started and joined in the
    round, an awaited coroutine, a generator consumed by ``sum``/``list``/..., a callback a
    function of the same module only calls, or dropped unused;
``unverified``
    passed to something the scan cannot see into: only a run can decide (``--latebind``'s
    site coverage settles it when the site ran).

The scope rules (walrus, with/except/import/match targets, while loops, module-level loops,
variables assigned later, own-name recursion) are ``_scopes``'s, read only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from ._scopes import FunctionNode, Site, _children, find_sites

BUG, OK, UNVERIFIED = "bug", "ok", "unverified"
CODES = {BUG: "LB001", UNVERIFIED: "LB002"}

# Calls that run a function argument at once and keep nothing of it.
_RUN_NOW = {"sorted", "min", "max", "sort", "reduce", "sub", "subn", "nsmallest", "nlargest", "bisect",
            "bisect_left", "bisect_right", "insort", "callable", "run", "run_until_complete", "timeit",
            "call", "apply"}
# Lazy wrappers: what they return keeps the function (or generator) given to them.
_WRAPPERS = {"map", "filter", "partial", "partialmethod", "groupby", "iter", "zip", "enumerate", "reversed",
             "starmap", "filterfalse", "takewhile", "dropwhile", "accumulate", "chain", "islice",
             "cached_property", "property", "staticmethod", "classmethod", "wraps", "lru_cache", "cache"}
# Calls that consume an iterable (a generator, a map) before they return.
_CONSUME = {"list", "tuple", "set", "frozenset", "dict", "sum", "any", "all", "sorted", "min", "max", "join",
            "next", "len", "Counter", "deque", "update", "extend", "bytes", "bytearray", "str"}
# Calls that keep their argument beyond the round.
_KEEP = {"append", "add", "extend", "insert", "appendleft", "setdefault", "put", "put_nowait", "register",
         "connect", "submit", "call_soon", "call_later", "call_at", "call_soon_threadsafe", "create_task",
         "ensure_future", "add_done_callback", "subscribe", "on", "bind", "after", "schedule", "push",
         "Timer", "Process", "addCleanup", "callback", "enter_context", "__setitem__", "setattr"}
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class Verdict:
    site: Site
    status: str  # bug, ok or unverified
    reason: str

    @property
    def variable(self) -> str:
        return self.site.variables[0]

    def message(self) -> str:
        names = ", ".join(repr(v) for v in self.site.variables)
        what = "late" if self.status == BUG else "late, unless it is used within its round"
        what_site = {"lambda": "lambda", "genexp": "generator expression"}.get(
            self.site.kind, f"{self.site.kind} {self.site.name}")
        return (f"{what_site} made in a loop reads loop variable {names} {what}: "
                f"{self.reason}; bind it when it is made: {self.site.fix_hint(self.variable)}")


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _worst(verdicts: Iterable[tuple[str, str]]) -> tuple[str, str]:
    found = list(verdicts)
    for status in (BUG, UNVERIFIED):
        for verdict in found:
            if verdict[0] == status:
                return verdict
    return found[0] if found else (OK, "not used after it is made")


def _pos(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


class _Module:
    """The tree with its parents, and the module's own functions that only call a parameter."""

    def __init__(self, tree: ast.Module) -> None:
        self.parent: dict[int, ast.AST] = {}
        stack: list[ast.AST] = [tree]
        while stack:
            node = stack.pop()
            children = _children(node)
            for child in children:
                self.parent[id(child)] = node
            stack.extend(children)
        # Module-level functions only: a name the scan can resolve (the last def of a name).
        self.defs = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self._callers: dict[str, set[int]] = {}  # def name -> indexes of parameters it only calls

    def callers(self, name: str) -> set[int]:
        if name not in self._callers:
            node = self.defs.get(name)
            self._callers[name] = self._only_called(node) if node is not None else set()
        return self._callers[name]

    def _only_called(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[int]:
        names = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
        out = set()
        for index, name in enumerate(names):
            uses = [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == name]
            parents = [self.parent_of(n) for n in uses]
            if uses and all(isinstance(p, ast.Call) and p.func is n for n, p in zip(uses, parents, strict=True)):
                out.add(index)
        return out

    def parent_of(self, node: ast.AST) -> ast.AST | None:
        return self.parent.get(id(node))


class _Classifier:
    def __init__(self, module: _Module, site: Site, node: FunctionNode) -> None:
        self.m = module
        self.site = site
        self.node = node
        self.loop, self.loop_body = self._round()
        self.depth = 0

    # -- the round: the innermost loop around the site that rebinds a variable it reads --------
    def _round(self) -> tuple[ast.AST | None, list[ast.AST]]:
        wanted = set(self.site.variables)
        current: ast.AST | None = self.m.parent_of(self.node)
        child: ast.AST = self.node
        while current is not None:
            if isinstance(current, _SCOPES) and not (
                    isinstance(child, ast.arguments) or child in getattr(current, "decorator_list", ())):
                break  # a default or a decorator runs where the function is made: still in the loop
            if isinstance(current, _LOOPS) and child is not getattr(current, "iter", None) \
                    and child not in current.orelse and wanted & self._rebinds(current):
                body: list[ast.AST] = list(current.body)
                if isinstance(current, ast.While):
                    body.append(current.test)
                return current, body
            if isinstance(current, _COMPS) and child is not current.generators[0].iter:
                return current, [current]
            child, current = current, self.m.parent_of(current)
        return None, []

    @staticmethod
    def _rebinds(loop: ast.AST) -> set[str]:
        names = set()
        for sub in ast.walk(loop):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, ast.alias):
                names.add((sub.asname or sub.name).split(".")[0])
            elif isinstance(sub, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and sub.name:
                names.add(sub.name)
        return names

    def in_round(self, node: ast.AST) -> bool:
        current: ast.AST | None = node
        ids = {id(n) for n in self.loop_body}
        while current is not None:
            if id(current) in ids:
                return True
            current = self.m.parent_of(current)
        return False

    # -- the verdict ---------------------------------------------------------------------------
    def classify(self) -> tuple[str, str]:
        if not self.site.checked:
            return OK, "it assigns the variable itself (nonlocal/global)"
        if self.loop is None:
            return UNVERIFIED, "its loop could not be followed"
        if isinstance(self.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if self.node.decorator_list:
                return UNVERIFIED, "a decorator receives it"
            return self.name_uses(self.node.name, self.node, coroutine=isinstance(self.node, ast.AsyncFunctionDef))
        return self.use(self.node, coroutine=False)

    def use(self, node: ast.AST, *, coroutine: bool, thread: bool = False) -> tuple[str, str]:
        """What becomes of the value ``node`` computes (a closure, or something keeping one)."""
        self.depth += 1
        if self.depth > 40:
            return UNVERIFIED, "followed too far"
        parent = self.m.parent_of(node)
        if parent is None:
            return UNVERIFIED, "its use could not be followed"
        if isinstance(parent, ast.Call) and parent.func is node:
            if thread:
                return UNVERIFIED, "a thread made with it is used in a way the scan cannot follow"
            if coroutine:
                return self.awaited(parent)
            return self.deferred_check(parent, "called within its round")
        if isinstance(parent, ast.Call):
            return self.argument(parent, node, None, coroutine)
        if isinstance(parent, ast.keyword):
            call = self.m.parent_of(parent)
            if isinstance(call, ast.Call):
                return self.argument(call, node, parent.arg, coroutine)
        if isinstance(parent, ast.Await):
            return OK, "awaited within its round"
        if isinstance(parent, (ast.Yield, ast.YieldFrom)):
            return BUG, "it is yielded, and the loop goes on while the consumer keeps it"
        if isinstance(parent, ast.Return):
            return OK, "returned, which ends the loop"
        if isinstance(parent, ast.Expr):
            return OK, "dropped where it is made"
        if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if all(isinstance(t, ast.Name) for t in targets):
                return _worst(self.name_uses(t.id, parent, coroutine=coroutine, thread=thread)  # type: ignore[attr-defined]
                              for t in targets)
            return BUG, "it is stored in an attribute or an item, which outlives the round"
        if isinstance(parent, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Starred, ast.IfExp, ast.BoolOp)):
            return self.use(parent, coroutine=coroutine, thread=thread)
        if isinstance(parent, (ast.ListComp, ast.SetComp, ast.DictComp)) and node is not parent.generators[0].iter:
            if parent is self.loop:
                return BUG, "the comprehension keeps every closure it makes"
            return self.use(parent, coroutine=coroutine, thread=thread)
        if isinstance(parent, ast.GeneratorExp):
            return UNVERIFIED, "a generator hands it on, and whoever iterates it decides"
        if isinstance(parent, (ast.arguments, ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef)):
            return BUG, "it is a default argument, which the function keeps"
        if isinstance(parent, ast.comprehension):
            return self.use(self.m.parent_of(parent) or parent, coroutine=coroutine)  # iterated in a comprehension
        if isinstance(parent, (ast.For, ast.AsyncFor)) and node is parent.iter:
            return OK, "iterated within its round"
        return UNVERIFIED, f"used in a {type(parent).__name__} the scan does not follow"

    def awaited(self, call: ast.Call) -> tuple[str, str]:
        parent = self.m.parent_of(call)
        if isinstance(parent, ast.Await):
            return self.deferred_check(call, "its coroutine is awaited within its round")
        if isinstance(parent, ast.Call) and _callee(parent) in ("run", "run_until_complete"):
            return OK, "its coroutine is run within its round"
        if isinstance(parent, ast.Call) and _callee(parent) in ("create_task", "ensure_future", "gather"):
            return self.use(parent, coroutine=True)
        return self.use(call, coroutine=True)

    def argument(self, call: ast.Call, node: ast.AST, keyword: str | None, coroutine: bool) -> tuple[str, str]:
        name = _callee(call)
        is_thread = name == "Thread" and keyword == "target"
        if is_thread:
            return self.use(call, coroutine=False, thread=True)
        if coroutine and name in ("gather", "wait", "create_task", "ensure_future", "wait_for", "shield"):
            # a task or a gather: awaited in the round, or kept
            parent = self.m.parent_of(call)
            if isinstance(parent, ast.Await):
                return OK, "awaited within its round"
            return self.use(call, coroutine=True)
        if name in _KEEP:
            return BUG, f"it is passed to {name}(), which keeps it after its round"
        if name in _WRAPPERS:
            return self.use(call, coroutine=coroutine)
        if name in _CONSUME and isinstance(node, (ast.GeneratorExp, ast.Call, ast.Name)):
            return OK, f"consumed by {name}() within its round"
        if name in _RUN_NOW or keyword == "key":
            return OK, f"{name}() calls it within its round"
        index = next((k for k, arg in enumerate(call.args) if arg is node), None)
        if isinstance(call.func, ast.Name) and index is not None and index in self.m.callers(name):
            return OK, f"{name}() only calls it, within its round"
        return UNVERIFIED, f"it is passed to {name or 'a call'}(), which the scan cannot see into"

    def deferred_check(self, call: ast.AST, reason: str) -> tuple[str, str]:
        """A call before the round assigns a deferred variable reads the previous round's value."""
        if not self.in_round(call):
            return UNVERIFIED, "called after its round"
        made = _pos(self.node)
        # Deferred (``_scopes``): nothing binds it before the closure is made, so its round's
        # value is the one the round assigns after; a call before that reads the last round's.
        for variable in self.site.deferred:
            stores = [_pos(n) for stmt in self.loop_body for n in ast.walk(stmt)
                      if isinstance(n, ast.Name) and n.id == variable and isinstance(n.ctx, ast.Store)
                      and _pos(n) > made]
            if stores and _pos(call) < min(stores):
                return BUG, f"it is called before the round assigns {variable!r}, so it reads the previous round's"
        return OK, reason

    def name_uses(self, name: str, bound_at: ast.AST, *, coroutine: bool, thread: bool = False) -> tuple[str, str]:
        """Every read of the name the closure (or its keeper) is bound to."""
        verdicts = []
        started = joined = False
        for stmt in self.loop_body:
            for sub in ast.walk(stmt):
                if not (isinstance(sub, ast.Name) and sub.id == name and isinstance(sub.ctx, ast.Load)):
                    continue
                if _pos(sub) < _pos(bound_at):
                    verdicts.append((BUG, f"{name} is used in the next round, while the loop has rebound the variable"))
                    continue
                parent = self.m.parent_of(sub)
                if thread and isinstance(parent, ast.Attribute):
                    if parent.attr == "start":
                        started = True
                        continue
                    if parent.attr == "join":
                        joined = True
                        continue
                    if parent.attr in ("daemon", "name", "is_alive"):
                        continue
                verdicts.append(self.use(sub, coroutine=coroutine, thread=thread))
        if thread:
            if started and not joined:
                verdicts.append((UNVERIFIED, "a thread runs it, and is not joined within its round"))
            elif started:
                verdicts.append((OK, "a thread runs it, started and joined within its round"))
        return _worst(verdicts)


def classify(tree: ast.Module, lines: list[str]) -> list[Verdict]:
    """Every site of the module with its verdict, in source order."""
    module: _Module | None = None
    out = []
    for site, node in find_sites(tree, lines):
        module = module or _Module(tree)
        status, reason = _Classifier(module, site, node).classify()
        out.append(Verdict(site, status, reason))
    return out


def classify_source(source: str, filename: str = "<scan>") -> list[Verdict]:
    tree = ast.parse(source, filename)
    return classify(tree, source.splitlines())


# -- files: what the command line and the pytest items scan ----------------------------------
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}


@dataclass(frozen=True)
class Result:
    """One reported site of one file (or a file that does not parse: ``verdict`` None)."""

    file: str
    line: int
    column: int
    code: str  # LB001 (bug), LB002 (unverified), LB000 (the file does not parse)
    message: str
    verdict: Verdict | None = None
    silenced: str = ""  # why it is silenced (an inline comment's reason, or "baseline")


def python_files(paths: Iterable[str]) -> list[str]:
    """The ``.py`` files under each path (a file as given), skipping hidden and virtualenv dirs."""
    import os

    out: list[str] = []
    for path in paths:
        if os.path.isfile(path):
            out.append(path)
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS
                             and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg")))
            out.extend(os.path.join(folder, f) for f in sorted(files) if f.endswith(".py"))
    return out


def scan_file(file: str, *, unverified: bool = True) -> list[Result]:
    """The bugs (and unverified sites) of one file, with inline ``# latebind: ignore[...]``
    comments applied as the runtime applies them: the comment on the site's line, naming the
    variable, with a reason."""
    from ._ignores import inline_comment

    try:
        with open(file, "rb") as handle:
            source = handle.read()
        tree = ast.parse(source, file)
    except SyntaxError as exc:
        return [Result(file, exc.lineno or 1, exc.offset or 1, "LB000", f"cannot parse: {exc.msg}")]
    except (OSError, ValueError) as exc:
        return [Result(file, 1, 1, "LB000", f"cannot read: {exc}")]
    lines = source.decode("utf-8", "replace").splitlines()
    out = []
    for verdict in classify(tree, lines):
        if verdict.status == OK or (verdict.status == UNVERIFIED and not unverified):
            continue
        site = verdict.site
        text = lines[site.line - 1] if 0 < site.line <= len(lines) else ""
        found = inline_comment(text) if "latebind" in text else None
        silenced = found[1] if found and found[1] and all(v in found[0] for v in site.variables) else ""
        out.append(Result(file, site.line, site.column, CODES[verdict.status], verdict.message(), verdict,
                          silenced))
    return out
