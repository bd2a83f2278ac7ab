"""Find closure sites: functions created inside a loop that read a name the loop rebinds.

This is a small symbol table of our own rather than the ``symtable`` module: ``symtable``
cannot be mapped back to AST nodes reliably (several lambdas on one line) and its view of
comprehensions changed in 3.12 (PEP 709).  What we need is the *language* semantics, which
did not change: a comprehension's variables are private to it, its first iterable is
evaluated outside it, class bodies are skipped by nested scopes, and a walrus in a
comprehension binds in the enclosing function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._compat import LAZY_ANNOTATIONS, type_alias_name, type_param_names

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.GeneratorExp
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


# The first item of the constant that stands for a site in instrumented code, until
# ``_recorder.bind_sites`` puts the site's handle in its place (see ``_transformer``).
SITE_MARK = "\x00latebind-site"


@dataclass(frozen=True)
class Site:
    """One lambda, def, async def or generator expression created in a loop."""

    kind: str  # "lambda", "def", "async def" or "genexp"
    name: str  # the function's __name__: "<lambda>", "<genexpr>" or the def's name
    line: int  # of the lambda or the def keyword (not its decorators)
    column: int  # 1-based, in characters
    variables: tuple[str, ...]  # the loop variables it reads, in source order
    params: str  # the parameter list as written, for the suggested fix
    # Loop variables the loop assigns only after making the closure: their value at creation
    # is the previous round's, so the recorder takes the baseline when the round ends.
    deferred: tuple[str, ...] = ()
    # Indexes into ``variables`` of those whose reads are checked: all but the ones the closure
    # itself assigns (``nonlocal``/``global``), whose later value is the closure's own doing.
    checked: tuple[int, ...] = ()
    # Loop variables the round assigns both before and after making the closure (`k = 0`, the
    # closure, then `k += 1`): every value the round gives them is the closure's own, so a
    # read is stale only once the loop has made the next sibling on the same binding.
    later: tuple[str, ...] = ()
    # From 3.14, for a def: (loop variable, line) of each one its annotations read, first line
    # first.  Its __annotate__ is a closure too: reading the annotations late reads them late.
    annotated: tuple[tuple[str, int], ...] = ()
    # The name the statement making the closure binds it to, when the closure reads it (a def
    # that recurses, `f = lambda n: f(n - 1)`): deferred, and judged by behaviour, not identity.
    own: tuple[str, ...] = ()
    # The closure's qualified name, as Python would give it (``make.<locals>.<lambda>``), with
    # comprehensions transparent (as from 3.12, PEP 709) so that it is the same on every
    # version; a baseline keys findings by it (``_baseline``).
    qualname: str = ""

    def fix_hint(self, variable: str) -> str:
        """The closure rewritten to bind ``variable`` when it is made."""
        bind = f"{variable}={variable}"
        head, star, tail = self.params.partition("**")
        if star:  # nothing may follow **kwargs: bind before it
            params = f"{head}{bind}, **{tail}"
        elif self.params:
            params = f"{self.params}, {bind}"
        else:
            params = bind
        if self.kind == "lambda":
            return f"lambda {params}: ..."
        if self.kind == "genexp":
            return f"a function that takes {variable} and returns the generator"
        if variable in self.own:
            return f"a function that takes what it needs and returns the {self.kind} (so its {variable} is its own)"
        if any(name == variable for name, _ in self.annotated):
            # A default binds the body's reads, not the annotations': they read the scope around.
            return f"a function that takes {variable} and returns the {self.kind} (its annotations read {variable})"
        return f"{self.kind} {self.name}({params}):"

    def as_tuple(self) -> tuple[Any, ...]:
        """The site as a code constant (only constants marshal into a bytecode cache)."""
        return (self.kind, self.name, self.line, self.column, self.variables, self.params, self.deferred,
                self.checked, self.later, self.annotated, self.own, self.qualname)


@dataclass(eq=False)
class _Scope:
    kind: str  # module, class, function, comprehension, annotation (PEP 695), annotations (3.14)
    parent: _Scope | None
    bound: set[str] = field(default_factory=set)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    uses: list[str] = field(default_factory=list)
    children: list[_Scope] = field(default_factory=list)
    # What the qualified name of a closure made in this scope starts with (``make.<locals>.``);
    # list comprehensions are transparent (as from 3.12, PEP 709), and so are annotation scopes.
    prefix: str = ""

    def function_scope(self) -> _Scope:
        """Where a walrus inside this (comprehension) scope binds (PEP 572)."""
        scope = self
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        return scope

    def contains(self, other: _Scope) -> bool:
        scope: _Scope | None = other
        while scope is not None:
            if scope is self:
                return True
            scope = scope.parent
        return False


@dataclass(eq=False)
class _Loop:
    scope: _Scope
    # (scope of the binding statement, name): resolved only after the whole walk, because a
    # `nonlocal` may name a variable that its function's parent assigns further down.
    # The position is that of the binding statement; None for the loop's own header (its
    # target, a while test), which binds before anything else in the round.
    binds: list[tuple[_Scope, str, tuple[int, int] | None]] = field(default_factory=list)


def _resolve(name: str, scope: _Scope) -> _Scope:
    """The scope whose binding of ``name`` a use in ``scope`` reads (module for globals)."""
    current: _Scope | None = scope
    sees_class = True
    while current is not None:
        if current.kind == "module":
            return current
        # A class body is no enclosing scope of the functions in it: neither its bindings nor
        # its `global` declarations reach them.  An annotation scope directly in it (PEP 695
        # type parameters, 3.14's lazy annotations, one in the other), and only that, reads
        # its names through `__classdict__`.
        skip_class = current.kind == "class" and not sees_class
        if name in current.declared_global and not skip_class:
            break
        if not skip_class and name not in current.declared_nonlocal and name in current.bound:
            return current
        sees_class = sees_class and current.kind in ("annotation", "annotations")
        current = current.parent
    while scope.parent is not None:
        scope = scope.parent
    return scope


def _target_names(node: ast.AST) -> Iterator[str]:
    if type(node) is ast.Name:  # most targets: the walk below would yield just this
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            yield node.id
        return
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            yield sub.id
        elif isinstance(sub, ast.Starred) and isinstance(sub.value, ast.Name):
            yield sub.value.id


# What the walks below need not look into: fields that hold no node (names, flags), contexts
# (``ctx``), a ``type X`` alias's name, and nodes that hold no expression.  Any other node,
# from any Python version, is walked field by field (``_fields_of``).
_SCALAR_FIELDS = frozenset({"ctx", "id", "arg", "attr", "name", "module", "asname", "level", "is_async", "simple",
                            "conversion", "kind", "type_comment", "tag", "rest", "kwd_attrs", "n", "s"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {
    ast.Name: (), ast.Constant: (), ast.alias: (), ast.Global: (), ast.Nonlocal: (), ast.MatchSingleton: (),
    ast.Pass: (), ast.Break: (), ast.Continue: (),
}
# The pre-check's two tables: the same, but for the nodes it stops at (a loop or a
# comprehension outside loops; a closure inside one), which it handles apart.
_LOOPS = frozenset({ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp})
_MAKERS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.GeneratorExp})
_TYPE_ALIAS = getattr(ast, "TypeAlias", None)
_PLAIN_FIELDS: dict[type, tuple[str, ...]] = {}
_LOOPED_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields_of(kind: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS.get(kind)
    if fields is None:
        fields = _CHILD_FIELDS[kind] = tuple(f for f in getattr(kind, "_fields", ()) if f not in _SCALAR_FIELDS)
    if kind not in _LOOPS:
        _PLAIN_FIELDS[kind] = fields
    if kind not in _MAKERS:
        _LOOPED_FIELDS[kind] = fields
    return fields


for _kind in list(_CHILD_FIELDS):
    _fields_of(_kind)
del _kind

# Statements that bind nothing of their own (their children may): walked generically.
_PLAIN_STMTS = frozenset({ast.Expr, ast.Return, ast.If, ast.With, ast.AsyncWith, ast.Try, ast.Raise, ast.Assert,
                          ast.Delete, ast.Pass, ast.Break, ast.Continue, getattr(ast, "TryStar", ast.Try)})


def _children(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes(node)`` in the same order, but for the contexts and alias names
    (see ``_SCALAR_FIELDS``), for a fraction of its cost."""
    fields = _CHILD_FIELDS.get(type(node))
    if fields is None:
        fields = _fields_of(type(node))
    out: list[ast.AST] = []
    for name in fields:
        value = getattr(node, name, None)
        if value.__class__ is list:
            out.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            out.append(value)
    return out


class _Analyzer:
    """One walk over the module: scopes, bindings, uses, and the loops around each function."""

    def __init__(self) -> None:
        self.scope_of: dict[int, _Scope] = {}
        self.loops_around: dict[int, list[_Loop]] = {}
        self.binders: dict[int, set[str]] = {}  # names bound by the statement that creates a site
        self.binder_at: dict[int, tuple[int, int]] = {}  # ... and where that statement starts
        self.functions: list[tuple[FunctionNode, _Scope]] = []
        self.position: tuple[int, int] | None = None  # of the statement being walked
        # Every binding anywhere, with its position: (scope it is made in, name, position).
        self.bindings: list[tuple[_Scope, str, tuple[int, int]]] = []
        self.header: _Loop | None = None  # the loop whose header (target, test) is being walked
        self.loads: list[tuple[ast.Name, _Scope]] = []  # every read of a name, with its scope
        # A def's lazy annotations (3.14, without `from __future__ import annotations`): the
        # scope of its __annotate__ function.
        self.lazy_annotations = LAZY_ANNOTATIONS
        self.annotations_of: dict[int, _Scope] = {}

    # -- bindings -----------------------------------------------------------------------
    def bind(self, name: str, scope: _Scope, loops: list[_Loop], walrus: bool = False) -> None:
        owner = scope.function_scope() if walrus else scope
        owner.bound.add(name)
        if self.position is not None:
            self.bindings.append((owner, name, self.position))
        for loop in loops:
            loop.binds.append((owner, name, None if loop is self.header else self.position))

    def bind_target(self, target: ast.AST, scope: _Scope, loops: list[_Loop]) -> None:
        for name in _target_names(target):
            self.bind(name, scope, loops)

    # -- the walk -------------------------------------------------------------------------
    def run(self, tree: ast.Module) -> None:
        if any(isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
               and any(alias.name == "annotations" for alias in stmt.names) for stmt in tree.body):
            self.lazy_annotations = False  # annotations are strings: nothing is evaluated
        self.body(tree.body, _Scope("module", None), [])

    def body(self, stmts: list[ast.stmt], scope: _Scope, loops: list[_Loop]) -> None:
        for stmt in stmts:
            self.stmt(stmt, scope, loops)

    def stmt(self, node: ast.stmt, scope: _Scope, loops: list[_Loop]) -> None:
        self.position = (node.lineno, node.col_offset)
        kind = type(node)
        if kind in _PLAIN_STMTS:  # binds nothing itself: what its children do
            self.generic(node, scope, loops)
        elif kind is ast.Assign:
            self.assign_stmt(node, scope, loops)  # type: ignore[arg-type]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.def_stmt(node, scope, loops)
        elif isinstance(node, ast.ClassDef):
            self.class_stmt(node, scope, loops)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            self.loop_stmt(node, scope, loops)
        elif (type_alias := type_alias_name(node)) is not None:
            self.bind(type_alias, scope, loops)  # `type X = ...` rebinds X every time it runs
            self.generic(node, scope, loops)
        elif isinstance(node, ast.Global):
            scope.declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            scope.declared_nonlocal.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    self.bind(alias.asname or alias.name.split(".")[0], scope, loops)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self.assign_stmt(node, scope, loops)
        else:
            self.generic(node, scope, loops)

    def def_stmt(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: _Scope, loops: list[_Loop]) -> None:
        for expr in node.decorator_list:
            self.expr(expr, scope, loops)
        self.function(node, scope, loops)
        self.bind(node.name, scope, loops)
        self.binders[id(node)] = {node.name}
        self.binder_at[id(node)] = (node.lineno, node.col_offset)

    def class_stmt(self, node: ast.ClassDef, scope: _Scope, loops: list[_Loop]) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.expr(expr, scope, loops)
        inner = self.new_scope("class", node, self.type_params(node, scope))
        # A class body runs at once, so a class made in a loop is still in that loop.
        self.body(node.body, inner, loops)
        self.bind(node.name, scope, loops)

    def loop_stmt(self, node: ast.For | ast.AsyncFor | ast.While, scope: _Scope, loops: list[_Loop]) -> None:
        """A loop: its header (a for's target, a while's test) binds first in every round."""
        if not isinstance(node, ast.While):
            self.expr(node.iter, scope, loops)  # once, before the loop
        loop = _Loop(scope)
        inner_loops = [*loops, loop]
        self.header = loop
        if isinstance(node, ast.While):
            self.expr(node.test, scope, inner_loops)
        else:
            self.bind_target(node.target, scope, inner_loops)
        self.header = None
        self.body(node.body, scope, inner_loops)
        self.body(node.orelse, scope, loops)

    def assign_stmt(self, node: ast.Assign | ast.AnnAssign | ast.AugAssign, scope: _Scope,
                    loops: list[_Loop]) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if isinstance(node, ast.AugAssign):
            scope.uses.extend(_target_names(node.target))
        if node.value is not None:
            self.expr(node.value, scope, loops, binders=set().union(*map(set, map(_target_names, targets))))
        if isinstance(node, ast.AnnAssign) and node.value is None and isinstance(node.target, ast.Name):
            self.expr(node.annotation, scope, loops)
            scope.bound.add(node.target.id)  # makes the name local, but assigns nothing
            return
        for target in targets:
            self.bind_target(target, scope, loops)
            self.expr(target, scope, loops)
        if isinstance(node, ast.AnnAssign):
            self.expr(node.annotation, scope, loops)

    def generic(self, node: ast.AST, scope: _Scope, loops: list[_Loop]) -> None:
        """Statements and expressions with no scope of their own: bind what they bind, walk on."""
        if isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            self.bind(node.name, scope, loops)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.bind(node.rest, scope, loops)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self.bind_target(node.optional_vars, scope, loops)
        for child in _children(node):
            if isinstance(child, ast.stmt):
                self.stmt(child, scope, loops)
            elif isinstance(child, ast.expr):
                self.expr(child, scope, loops)
            else:
                self.generic(child, scope, loops)

    def expr(self, node: ast.expr, scope: _Scope, loops: list[_Loop], binders: set[str] | None = None) -> None:
        kind = type(node)
        if kind is ast.Constant:
            return
        if kind is ast.Attribute:  # its only child that is a node, but for its context
            self.expr(node.value, scope, loops, binders)  # type: ignore[attr-defined]
            return
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                scope.uses.append(node.id)
                self.loads.append((node, scope))
            return
        if isinstance(node, ast.NamedExpr):
            # Only a closure in the walrus's own value is bound to its target (`f := lambda:
            # f()`); a sibling in the same statement reads the target as a loop variable:
            # `[(last := x) and (lambda: last) for x in xs]`.
            self.expr(node.value, scope, loops, {*(binders or ()), node.target.id})
            self.bind(node.target.id, scope, loops, walrus=True)
            return
        if isinstance(node, ast.Lambda):
            self.function(node, scope, loops)
            if binders:
                self.binders[id(node)] = binders
                self.binder_at[id(node)] = self.position or (node.lineno, node.col_offset)
            return
        if isinstance(node, (ast.GeneratorExp, *_COMPREHENSIONS)):
            self.comprehension(node, scope, loops, binders)
            return
        for child in _children(node):
            if isinstance(child, ast.expr):
                self.expr(child, scope, loops, binders)
            else:
                self.generic(child, scope, loops)

    def type_params(self, node: ast.AST, scope: _Scope) -> _Scope:
        """The annotation scope of a generic def or class (PEP 695), or ``scope`` itself.

        It sits between the def or class and ``scope`` and binds the type parameters, so a
        ``T`` read in the body is the parameter, even where a loop around rebinds a ``T``.
        """
        names = type_param_names(node)
        if not names:
            return scope
        annotation = _Scope("annotation", scope, bound=set(names), prefix=scope.prefix)
        scope.children.append(annotation)
        return annotation

    def new_scope(self, kind: str, node: ast.AST, parent: _Scope) -> _Scope:
        if kind == "class":
            prefix = f"{parent.prefix}{node.name}."  # type: ignore[attr-defined]
        elif kind == "function":
            prefix = f"{parent.prefix}{getattr(node, 'name', '<lambda>')}.<locals>."
        elif isinstance(node, ast.GeneratorExp):
            prefix = f"{parent.prefix}<genexpr>.<locals>."
        else:
            prefix = parent.prefix
        scope = _Scope(kind, parent, prefix=prefix)
        parent.children.append(scope)
        self.scope_of[id(node)] = scope
        return scope

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, scope: _Scope,
                 loops: list[_Loop]) -> None:
        args = node.args
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.expr(default, scope, loops)
        outer = self.type_params(node, scope)
        if not isinstance(node, ast.Lambda):
            # Annotations are evaluated outside the body, when the def runs: never a read of
            # the closure's loop variable at call time.  From 3.14 they are a function of
            # their own, run when something reads them: a closure made with the def.
            annotations = [arg.annotation for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                                      args.vararg, args.kwarg]
                           if arg is not None and arg.annotation is not None]
            if node.returns is not None:
                annotations.append(node.returns)
            where, where_loops = scope, loops
            if annotations and self.lazy_annotations:
                where, where_loops = _Scope("annotations", outer, prefix=outer.prefix), []
                outer.children.append(where)
                self.annotations_of[id(node)] = where
            for annotation in annotations:
                self.expr(annotation, where, where_loops)
        inner = self.new_scope("function", node, outer)
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                inner.bound.add(arg.arg)
                self.bindings.append((inner, arg.arg, (node.lineno, node.col_offset)))
        self.loops_around[id(node)] = loops
        self.functions.append((node, scope))
        if isinstance(node, ast.Lambda):
            self.expr(node.body, inner, [])
        else:
            self.body(node.body, inner, [])

    def comprehension(self, node: ast.GeneratorExp | ast.ListComp | ast.SetComp | ast.DictComp,
                      scope: _Scope, loops: list[_Loop], binders: set[str] | None) -> None:
        self.expr(node.generators[0].iter, scope, loops, binders)
        inner = self.new_scope("comprehension", node, scope)
        if isinstance(node, ast.GeneratorExp):
            # A generator expression runs later, when it is iterated: like a function, it
            # is itself the closure made in the enclosing loop.
            self.loops_around[id(node)] = loops
            self.functions.append((node, scope))
            if binders:
                self.binders[id(node)] = binders
                self.binder_at[id(node)] = self.position or (node.lineno, node.col_offset)
            loops = []
        loop = _Loop(inner)
        inner_loops = [*loops, loop]
        outer_header, self.header = self.header, loop
        for index, gen in enumerate(node.generators):
            if index:
                self.expr(gen.iter, inner, inner_loops, binders)
            self.bind_target(gen.target, inner, inner_loops)
            for cond in gen.ifs:
                self.expr(cond, inner, inner_loops, binders)
        self.header = outer_header
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for element in elements:
            self.expr(element, inner, inner_loops, binders)


def _free_reads(node: FunctionNode, analyzer: _Analyzer) -> dict[str, _Scope]:
    """Names the closure reads from outside itself, with the scope that binds each."""
    own = analyzer.scope_of[id(node)]
    reads: dict[str, _Scope] = {}
    stack = [own]
    while stack:
        scope = stack.pop()
        stack.extend(scope.children)
        for name in scope.uses:
            if name in reads:
                continue
            owner = _resolve(name, scope)
            if not own.contains(owner):
                reads[name] = owner
    return reads


def _binds_outside(node: ast.GeneratorExp) -> bool:
    """Whether a walrus in the generator expression (or a comprehension in it) binds in the
    enclosing function (PEP 572); one inside a lambda in it binds in the lambda."""
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.NamedExpr):
            return True
        stack.extend(child for child in ast.iter_child_nodes(current) if not isinstance(child, ast.Lambda))
    return False


def _in_annotations(scope: _Scope, own: _Scope) -> bool:
    current: _Scope | None = scope
    while current is not None and current is not own:
        if current.kind == "annotations":
            return True
        current = current.parent
    return False


def _annotation_reads(lazy: _Scope, analyzer: _Analyzer) -> dict[str, tuple[_Scope, int]]:
    """Names a def's lazy annotations read from outside them: the binding scope, first line."""
    reads: dict[str, tuple[_Scope, int]] = {}
    for load, scope in analyzer.loads:
        if scope is lazy and load.id not in reads:
            owner = _resolve(load.id, scope)
            if owner is not lazy:
                reads[load.id] = (owner, load.lineno)
    return reads


def _first_reads(node: ast.AST) -> dict[str, tuple[int, int]]:
    first: dict[str, tuple[int, int]] = {}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            where = (sub.lineno, sub.col_offset)
            if where < first.get(sub.id, (1 << 30, 0)):
                first[sub.id] = where
    return first


def _column(lines: list[str], line: int, byte_offset: int) -> int:
    try:
        text = lines[line - 1]
    except IndexError:
        return byte_offset + 1
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "replace")) + 1


def _params(node: FunctionNode) -> str:
    if isinstance(node, ast.GeneratorExp):
        return ""
    return ast.unparse(node.args)


# A site, the node that creates it, and the reads to check: id(Name node) -> variable index.
SiteReads = tuple[Site, FunctionNode, dict[int, int]]


def find_sites(tree: ast.Module, source_lines: list[str]) -> list[tuple[Site, FunctionNode]]:
    """Every closure site of ``tree`` with the AST node that creates it, in source order."""
    return [(site, node) for site, node, _ in locate_sites(tree, source_lines, with_reads=False)]


def _assigned_inside(own: _Scope, name: str) -> bool:
    """Whether the closure (or a scope inside it) assigns ``name`` through nonlocal/global."""
    stack = [own]
    while stack:
        scope = stack.pop()
        stack.extend(scope.children)
        if name in scope.bound and (name in scope.declared_nonlocal or name in scope.declared_global):
            return True
    return False


def _may_have_sites(tree: ast.AST) -> bool:
    """Whether a lambda, def or generator expression made in a loop (or a comprehension)
    anywhere in ``tree`` may read a name the loop binds: without one there is no site, and no
    need for the symbol table.

    One walk of every node, cheaper than the analysis by far (most modules have no such
    closure at all).  It errs on the side of yes: every name a closure in the loop mentions
    counts as read, every name stored anywhere in the loop (nested functions too) as bound by
    it, and a comprehension's first iterable as in its loop."""
    fields_of = _PLAIN_FIELDS.get
    plain: list[Any] = [tree]  # outside any loop of its scope
    loops: list[list[Any]] = []  # each outermost loop's parts that run in it
    pop, push, extend = plain.pop, plain.append, plain.extend
    while plain:
        node = pop()
        fields = fields_of(type(node))
        if fields is None:
            kind = type(node)
            if kind in _LOOPS:
                if kind is ast.For or kind is ast.AsyncFor:
                    push(node.iter)
                if kind is ast.For or kind is ast.AsyncFor or kind is ast.While:
                    extend(node.orelse)
                loops.append(_loop_parts(node))  # type: ignore[arg-type]
                continue
            if not isinstance(node, ast.AST):
                continue  # None, in a Dict's keys
            fields = _fields_of(kind)
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                extend(value)
            elif value is not None:
                push(value)
    return any(_loop_may_have_sites(parts) for parts in loops)


def _loop_parts(node: Any) -> list[Any] | None:
    """The parts of a loop or comprehension that run in each of its rounds (None: no loop)."""
    kind = type(node)
    if kind is ast.For or kind is ast.AsyncFor:
        return [node.target, *node.body]
    if kind is ast.While:
        return [node.test, *node.body]
    if kind is ast.DictComp:
        return [node.key, node.value, *node.generators]
    if kind in _LOOPS:
        return [node.elt, *node.generators]
    return None


def _loop_may_have_sites(parts: list[Any]) -> bool:
    """Whether a closure made in these parts of a loop mentions a name bound in them, or one
    made in a loop inside such a closure does."""
    fields_of = _LOOPED_FIELDS.get
    bound: set[str] = set()
    inside: list[Any] = []  # the parts of the closures made in the loop that run later
    stack = parts
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        kind = type(node)
        if kind is ast.Name:
            if node.ctx.__class__ is not ast.Load:
                bound.add(node.id)
            continue
        fields = fields_of(kind)
        if fields is None:
            if kind in _MAKERS:
                # What runs where the closure is made is in the loop; the rest is the
                # closure's (a def's annotations both: from 3.14 they are read late).
                if kind is ast.GeneratorExp:
                    first, *rest = node.generators
                    push(first.iter)
                    inside.extend((node.elt, first.target, *first.ifs, *rest))
                elif kind is ast.Lambda:
                    push(node.args)
                    inside.append(node.body)
                else:
                    bound.add(node.name)
                    extend((*node.decorator_list, node.args, node.returns))
                    inside.extend((*node.body, node.args, node.returns))
                continue
            if not isinstance(node, ast.AST):
                continue
            fields = _fields_of(kind)
        # What binds a name without a Name node: a class, an import, an except or match
        # capture, a type alias (its name is not walked).
        if kind is ast.ClassDef or kind is ast.ExceptHandler or kind is ast.MatchAs or kind is ast.MatchStar:
            if node.name:
                bound.add(node.name)
        elif kind is ast.alias:
            bound.add((node.asname or node.name).split(".")[0])
        elif kind is ast.MatchMapping:
            if node.rest:
                bound.add(node.rest)
        elif kind is _TYPE_ALIAS:
            bound.add(node.name.id)
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                extend(value)
            elif value is not None:
                push(value)
    # What the closures read (an AugAssign's target too), and the loops in them: what the
    # closures bind is theirs, not the loop's, but a loop in a closure may make sites of its own.
    read: set[str] = set()
    nested: list[list[Any]] = []
    fields_of = _CHILD_FIELDS.get
    stack = inside
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        kind = type(node)
        if kind is ast.Name:
            read.add(node.id)
            continue
        fields = fields_of(kind)
        if fields is None:
            if not isinstance(node, ast.AST):
                continue
            fields = _fields_of(kind)
        if kind in _LOOPS:
            nested.append(_loop_parts(node))  # type: ignore[arg-type]
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                extend(value)
            elif value is not None:
                push(value)
    return not bound.isdisjoint(read) or any(_loop_may_have_sites(group) for group in nested)


def locate_sites(tree: ast.Module, source_lines: list[str], *, with_reads: bool = True) -> list[SiteReads]:
    """Every closure site with its node and the reads of its loop variables, in source order.

    A read belongs to a site when it lies in the site's own scopes (its body, functions nested
    in it, comprehensions in it; not its defaults, decorators or a generator expression's first
    iterable, which run when the closure is made) and resolves to the binding the loop rebinds.
    ``with_reads=False``: the reads are left out (empty), for a caller that only needs the sites.
    """
    if not _may_have_sites(tree):
        return []
    analyzer = _Analyzer()
    analyzer.run(tree)
    found: list[SiteReads] = []
    for node, _scope in analyzer.functions:
        loops = analyzer.loops_around.get(id(node), [])
        if not loops:
            continue
        rebound: dict[tuple[int, str], list[tuple[int, int] | None]] = {}
        for loop in loops:
            for owner, bound, position in loop.binds:
                rebound.setdefault((id(_resolve(bound, owner)), bound), []).append(position)
        own_name = analyzer.binders.get(id(node), set())
        if isinstance(node, ast.GeneratorExp) and any(gen.is_async for gen in node.generators):
            continue  # an async genexp cannot be wrapped in a plain function
        if isinstance(node, ast.GeneratorExp) and any(isinstance(n, ast.Await) for n in ast.walk(node)):
            continue
        if isinstance(node, ast.GeneratorExp) and _binds_outside(node):
            continue  # its walrus binds in the enclosing function: a factory around it would take that
        reads = _free_reads(node, analyzer)
        lazy = analyzer.annotations_of.get(id(node))
        annotation_reads = _annotation_reads(lazy, analyzer) if lazy is not None else {}
        for name, (owner, _line) in list(annotation_reads.items()):
            if owner.kind == "class":
                # A method's annotations read a name the class body binds from the class
                # namespace, not from a loop around the class, and the recorder finds a loop
                # variable only as a cell of the factory or a global: a loop in the class body
                # itself is not checked there (a miss).
                del annotation_reads[name]
                continue
            reads.setdefault(name, owner)
        first_read = _first_reads(node)
        variables = tuple(sorted(
            (name for name, owner in reads.items() if (id(owner), name) in rebound),
            key=lambda name: first_read.get(name, (0, 0)),
        ))
        if not variables:
            continue
        made_at = (node.lineno, node.col_offset)
        # Its own name is bound by the statement that makes it, so its round's value is the one
        # the round ends with: deferred, when nothing in the loop binds it before.
        bound_at = analyzer.binder_at.get(id(node), made_at)
        recursive = tuple(
            name for name in variables if name in own_name
            and all(pos is not None and pos >= bound_at for pos in rebound[(id(reads[name]), name)]))
        variables = tuple(name for name in variables if name not in own_name or name in recursive)
        if not variables:
            continue
        annotated = tuple(sorted(((name, line) for name, (owner, line) in annotation_reads.items()
                                  if name in variables and owner is reads[name]), key=lambda pair: pair[1]))
        kind = {ast.Lambda: "lambda", ast.FunctionDef: "def", ast.AsyncFunctionDef: "async def",
                ast.GeneratorExp: "genexp"}[type(node)]
        name = getattr(node, "name", None) or ("<lambda>" if kind == "lambda" else "<genexpr>")
        deferred = tuple(
            name for name in variables
            if name in recursive
            or (all(pos is not None and pos > made_at for pos in rebound[(id(reads[name]), name)])
                and not any(bound == name and pos < made_at and _resolve(bound, where) is reads[name]
                            for where, bound, pos in analyzer.bindings)))
        later = tuple(name for name in variables if name not in deferred
                      and any(pos is not None and pos > made_at for pos in rebound[(id(reads[name]), name)]))
        own = analyzer.scope_of[id(node)]
        checked = tuple(k for k, name in enumerate(variables) if not _assigned_inside(own, name))
        index = {variables[k]: k for k in checked}
        # Reads in lazy annotations are left as written: annotationlib turns their code back
        # into text (the STRING format); the recorder checks them when they are evaluated.
        checks = {} if not with_reads else {id(load): index[load.id] for load, scope in analyzer.loads
                  if load.id in index and own.contains(scope) and _resolve(load.id, scope) is reads[load.id]
                  and not _in_annotations(scope, own)}
        site = Site(kind, name, node.lineno, _column(source_lines, node.lineno, node.col_offset),
                    variables, _params(node), deferred, checked, later, annotated, recursive,
                    _scope.prefix + name)
        found.append((site, node, checks))
    found.sort(key=lambda pair: (pair[0].line, pair[0].column))
    return found
