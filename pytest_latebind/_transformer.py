"""Instrument the closure sites of a module's AST.

Each site is wrapped in a per-instance *factory*: a function whose parameters are the token
of the closure about to be made and, for each loop variable it reads, the value to compare a
read with (a *fast baseline*) and a weak reference to it (a *weak baseline*).  All are fresh
cells for every closure, next to its real free variables.  Every read of a loop variable
inside the closure is checked where it happens::

    i if i is @latebind_b0_0 or @latebind_w0_0() is i else @latebind_token0.read(0, i)

The fast baseline is the value itself when the recorder may hold it (an int, a str: see
``_values``); an object it must not keep alive is reached through the weak baseline.  One of
the two identity tests is the whole cost while the value is its round's; anything else goes
to the token (the closure's record), which compares by the recorder's rules and notes a
stale read.
That is how the recorder tells which closure reads without ``sys.monitoring`` (3.10 and 3.11
have none), in whichever thread, task or generator frame the read runs; and the factory's own
``__closure__`` holds the very cells the closure reads, so their values can be snapshotted
without evaluating a name.  Names carry the site's index, so a read inside a nested site that
belongs to the outer one reaches the outer closure's token.

A lambda ``lambda x: x * i`` becomes::

    <site 0>.made(lambda @latebind_token0, @latebind_b0_0, @latebind_w0_0: lambda x: x * <checked i>)

where ``<site 0>`` is a constant of the code: a tuple with the site's row, which
``_recorder.bind_sites`` replaces with the site's handle when the module is loaded (so a
bytecode cache can hold the code, and the program sees no new global, star import or
class-namespace lookup),

and ``@deco def check(x=1): body`` becomes::

    def @latebind_f0(@latebind_token0, @latebind_b0_0, @latebind_w0_0, @latebind_d0):
        def @latebind_n0(x=@latebind_d0):
            body (every read of i checked)
        return @latebind_n0
    check = deco(<site 0>.made(@latebind_f0, 1))
    del @latebind_f0

On 3.14 a method's factory (a def site directly in a class body) carries the method's
deferred annotations and type parameters, so that they are compiled in the class scope as
Python compiles them (see ``_SiteRewriter._carried``); before 3.14, and with the
``annotations`` future import, a generic method's factory is generic and carries its type
parameters only.

Names with ``@`` cannot clash with user code (pytest's assertion rewriting uses the same
trick).  Defaults are evaluated where they were, in order; decorators are applied where
they were; the inner def gets its real name back in :func:`fix_names` after compiling,
so ``__name__``, ``__qualname__``, tracebacks and line numbers are unchanged.
"""

from __future__ import annotations

import ast
import copy
import dis
import re
import types
from collections.abc import Sequence
from typing import Any, TypeVar

from ._compat import (
    DECORATOR_CALL_AT_DECORATOR,
    GET_ITER_AT_ITERABLE,
    HAS_QUALNAME,
    LAZY_ANNOTATIONS,
    factory_qualname,
    function_def,
    type_param_names,
)
from ._scopes import SITE_MARK, FunctionNode, Site, locate_sites

TOKEN = "@latebind_token"  # + the site's index: the closure's record
_BASE = "@latebind_b"  # + site index, "_", variable index: the fast baseline
_WEAK = "@latebind_w"  # + site index, "_", variable index: the weak baseline
_FACTORY = "@latebind_f"
_INNER = "@latebind_n"
_DONOR = "@latebind_a"  # + site index: a method's annotations compiled in its class body (3.14)
_DONOR_NAME = re.compile(re.escape(_DONOR) + r"(\d+)")
_GENERIC_FACTORY = re.compile("<generic parameters of " + re.escape(_FACTORY) + r"(\d+)>")
_ITERATOR = "@latebind_i0"  # a genexp factory's parameter when it is given the iterator
_GET_ITER = dis.opmap["GET_ITER"]
_NOP = dis.opmap["NOP"]
_LOAD_FAST = dis.opmap["LOAD_FAST"]
_LOAD_FAST_BORROW = dis.opmap.get("LOAD_FAST_BORROW", -1)  # 3.14


def instrument(tree: ast.Module, source_lines: list[str], *, another_transform: bool = False) -> list[Site]:
    """Rewrite ``tree`` in place; return its site table (empty: nothing was changed).

    ``another_transform``: another import hook's transform reads the tree after us (typeguard
    reads a def's annotations from it to write its checks): a def's annotations stay in it,
    unless evaluating them there would mean something else (see ``_SiteRewriter``)."""
    found = locate_sites(tree, source_lines)
    if not found:
        return []
    reads = {read: (index, k) for index, (_, _, checks) in enumerate(found) for read, k in checks.items()}
    # Annotations evaluated when the def runs (before 3.14, without the __future__ import) are
    # hoisted with the defaults; strings (the import) and 3.14's __annotate__ are left alone.
    future = any(isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
                 and any(alias.name == "annotations" for alias in stmt.names) for stmt in tree.body)
    _SiteRewriter({id(node): index for index, (_, node, _) in enumerate(found)}, reads, found,
                  not LAZY_ANNOTATIONS and not future, _builtin_iter(tree), another_transform,
                  LAZY_ANNOTATIONS and not future).visit(tree)
    ast.fix_missing_locations(tree)
    return [site for site, _, _ in found]


def _builtin_iter(tree: ast.Module) -> bool:
    """Whether the name ``iter`` is the builtin everywhere in the module's own code.

    A generator expression calls ``iter()`` on its first iterable in the enclosing frame; the
    transformer says so with the name ``iter`` (a code constant cannot be a builtin function),
    unless the module could bind that name: a binding of it anywhere, or a star import.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "iter" and not isinstance(node.ctx, ast.Load):
            return False
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == "iter":
            return False
        if isinstance(node, ast.arg) and node.arg == "iter":
            return False
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (alias.asname or alias.name.partition(".")[0]) in ("iter", "*") for alias in node.names):
            return False
        if isinstance(node, (ast.Global, ast.Nonlocal)) and "iter" in node.names:
            return False
        if isinstance(node, ast.ExceptHandler) and node.name == "iter":
            return False
        if isinstance(node, ast.alias):
            continue
        if any(getattr(node, field, None) == "iter" for field in ("name", "rest", "asname")):
            return False  # match patterns (MatchAs, MatchStar, MatchMapping's rest), PEP 695 params
    return True


def fix_names(code: types.CodeType, sites: Sequence[Site]) -> types.CodeType:
    """Give the code made by the factories the names the compiler gave the original."""
    return _fix(code, sites, ())


def _fix(code: types.CodeType, sites: Sequence[Site], renames: tuple[tuple[str, str], ...]) -> types.CodeType:
    inner = renames
    generic = _GENERIC_FACTORY.fullmatch(code.co_name)
    donor = _DONOR_NAME.search(code.co_name)
    if donor is not None:
        # A method's annotations made in its class body (3.14), and a generic one's type
        # parameters: the __annotate__ function takes its __qualname__ from the def it is made
        # with, and everything is named as the method's own.
        inner = renames = (*renames, (donor.group(), sites[int(donor.group(1))].name))
    elif generic is not None:
        # The generic scope of a factory that carries a generic method's type parameters:
        # named as the method's, and so is everything in it.
        inner = renames = (*renames, (f"{_FACTORY}{generic.group(1)}", sites[int(generic.group(1))].name))
    elif code.co_varnames[:1] and code.co_varnames[0].startswith(TOKEN):
        if code.co_name.startswith(_FACTORY):
            # Everything compiled inside a def factory (the def, and from 3.12/3.14 its
            # `<generic parameters of f>` and `__annotate__` code) is named as if the
            # factory were not there, and the def gets its own name back.
            index = int(code.co_name[len(_FACTORY):])
            inner = (*renames, (f"{_FACTORY}{index}.<locals>.", ""), (f"{_INNER}{index}", sites[index].name))
            if LAZY_ANNOTATIONS:
                # A factory that carries a method's annotations (3.14) gives its __annotate__
                # function its own __qualname__ (+ ".__annotate__"): the method's.
                renames = (*renames, (f"{_FACTORY}{index}", sites[index].name))
        else:
            factory = factory_qualname(code)
            if factory is not None:
                inner = (*renames, (factory + ".<locals>.", factory[: -len(code.co_name)]))
    consts = tuple(
        _fix(const, sites, inner) if isinstance(const, types.CodeType)
        else _rename(const, inner) if isinstance(const, str) and not HAS_QUALNAME
        else const
        for const in code.co_consts
    )
    changes: dict[str, Any] = {"co_consts": consts}
    if code.co_varnames[-1:] == (_ITERATOR,) and code.co_name == "<lambda>":
        changes["co_code"] = _given_iterator(code.co_code)
    if _INNER in code.co_name or generic is not None:
        changes["co_name"] = _rename(code.co_name, renames)
    if HAS_QUALNAME:
        changes["co_qualname"] = _rename(code.co_qualname, renames)  # type: ignore[attr-defined,unused-ignore]
    if LAZY_ANNOTATIONS and code.co_name.startswith(_FACTORY) and any(
            line is not None and line < code.co_firstlineno - 1 for _, _, line in code.co_lines()):
        changes["co_linetable"] = _lines_from(code, code.co_firstlineno - 1)
    return code.replace(**changes)


def _lines_from(code: types.CodeType, lowest: int) -> bytes:
    """``code``'s location table (3.11+ format) with every line above ``lowest`` moved to its
    first line, without columns.

    A carrying factory (3.14) starts on its method's def line, so that the ``__annotate__`` it
    carries starts there, but the method it makes starts on its first decorator: CPython keeps
    every instruction of a code object at most one line above its first line, and from 3.14
    ``sys.monitoring`` reports one further up as line -1 (coverage.py then records a line the
    file does not have).  The def statement inside runs on the def line instead, in the
    factory's own code, which nothing but a line tracer sees."""
    table = bytearray()

    def varint(value: int) -> None:
        while value >= 64:
            table.append(0x40 | (value & 63))
            value >>= 6
        table.append(value)

    def svarint(value: int) -> None:
        varint((-value << 1) | 1 if value < 0 else value << 1)
    positions = list(code.co_positions())  # type: ignore[attr-defined,unused-ignore]
    previous = first = code.co_firstlineno
    k = 0
    while k < len(positions):
        size = 1  # code units sharing the position, at most 8 an entry
        while size < 8 and k + size < len(positions) and positions[k + size] == positions[k]:
            size += 1
        line, end_line, column, end_column = positions[k]
        if line is not None and line < lowest:
            line, end_line, column, end_column = first, first, None, None
        if line is None:  # no location
            table.append(0x80 | 15 << 3 | (size - 1))
        elif column is None or end_line is None or end_column is None or end_line < line:  # a line only
            table.append(0x80 | 13 << 3 | (size - 1))
            svarint(line - previous)
            previous = line
        else:  # the long form
            table.append(0x80 | 14 << 3 | (size - 1))
            svarint(line - previous)
            varint(end_line - line)
            varint(column + 1)
            varint(end_column + 1)
            previous = line
        k += size
    return bytes(table)


def _given_iterator(co_code: bytes) -> bytes:
    """A genexp factory's bytecode without its GET_ITER: it is given ``iter(first iterable)``,
    taken in the user's frame, and hands it to the generator as is, as plain Python does, so a
    user's ``__iter__`` runs once.  Every instruction is two bytes (GET_ITER has no cache
    entries), so opcodes are at even offsets.  From 3.14 the load before it may borrow its
    reference, which only GET_ITER made a strong one: it becomes a LOAD_FAST."""
    code = bytearray(co_code)
    for offset in range(0, len(code), 2):
        if code[offset] == _GET_ITER:
            code[offset], code[offset + 1] = _NOP, 0
            if offset >= 2 and code[offset - 2] == _LOAD_FAST_BORROW:
                code[offset - 2] = _LOAD_FAST
            break
    return bytes(code)


def _rename(qualname: str, renames: tuple[tuple[str, str], ...]) -> str:
    for old, new in reversed(renames):  # innermost factory first
        qualname = qualname.replace(old, new, 1)
    return qualname


def _name(id_: str) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Load())


def _call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func=func, args=list(args), keywords=[])


def _arguments(names: list[str]) -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[ast.arg(arg=n) for n in names], vararg=None,
                         kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


_Node = TypeVar("_Node", bound=ast.AST)


def _on_line(node: _Node, where: ast.AST) -> _Node:
    """Give ``node`` and every child the first position of ``where``, on one line."""
    line, column = where.lineno, where.col_offset  # type: ignore[attr-defined]
    for sub in ast.walk(node):
        if "lineno" in sub._attributes:
            sub.lineno = sub.end_lineno = line  # type: ignore[attr-defined]
            sub.col_offset = sub.end_col_offset = column  # type: ignore[attr-defined]
    return node


def _located(node: _Node, where: ast.AST) -> _Node:
    """Give ``node`` and every child still without a position the position of ``where``."""
    for sub in ast.walk(node):
        if not hasattr(sub, "lineno") and "lineno" in sub._attributes:
            ast.copy_location(sub, where)
    return node


class _SiteRewriter(ast.NodeTransformer):
    def __init__(self, index: dict[int, int], reads: dict[int, tuple[int, int]],
                 found: Sequence[tuple[Site, FunctionNode, dict[int, int]]], eager: bool = False,
                 builtin_iter: bool = False, annotations_in_place: bool = False, lazy: bool = False) -> None:
        self.eager = eager
        self.lazy = lazy
        self.annotations_in_place = annotations_in_place
        # Where a def statement runs: the names a class body binds, None outside class bodies.
        self.class_names: list[set[str] | None] = [None]
        self.builtin_iter = builtin_iter
        self.index = index
        self.reads = reads
        self.sites = [site for site, _, _ in found]

    def visit_Name(self, node: ast.Name) -> ast.AST:
        where = self.reads.get(id(node))
        if where is None:
            return node
        index, k = where
        # Every piece takes the read's own position: an unbound variable raises at the same
        # line and columns as in the plain source.
        def load() -> ast.Name:
            return ast.copy_location(ast.Name(id=node.id, ctx=ast.Load()), node)
        token = ast.copy_location(_name(f"{TOKEN}{index}"), node)
        slow = _call(ast.copy_location(ast.Attribute(value=token, attr="read", ctx=ast.Load()), node),
                     ast.copy_location(ast.Constant(k), node), load())
        held = ast.Compare(left=load(), ops=[ast.Is()],
                           comparators=[ast.copy_location(_name(f"{_BASE}{index}_{k}"), node)])
        weak = ast.Compare(left=_call(ast.copy_location(_name(f"{_WEAK}{index}_{k}"), node)), ops=[ast.Is()],
                           comparators=[load()])
        test = ast.BoolOp(op=ast.Or(), values=[_located(held, node), _located(weak, node)])
        return _located(ast.IfExp(test=ast.copy_location(test, node), body=load(),
                                  orelse=ast.copy_location(slow, node)), node)

    def _hoist_defaults(self, args: ast.arguments, hoisted: list[ast.expr],
                        node: ast.FunctionDef | ast.AsyncFunctionDef | None = None,
                        class_names: set[str] | None = None) -> ast.arguments:
        """Defaults stay evaluated where they were: passed into the factory as arguments.

        So do a def's eager annotations (``node``), after the defaults and in the compiler's
        order (args, positional-only args, ``*args``, keyword-only args, ``**kwargs``, return,
        the same on 3.10-3.13): a class attribute, a walrus, a ``yield`` or a bad name in one
        means what it means in plain Python, in the frame it is in there.  A generic def's
        (PEP 695) annotations that name a type parameter stay in place (in the factory, where
        the parameters are), so they run after the hoisted ones."""
        def take(expr: ast.expr) -> ast.expr:
            hoisted.append(expr)
            return _located(_name(f"@latebind_d{len(hoisted) - 1}"), expr)
        defaults = [take(d) for d in args.defaults]
        kw_defaults: list[ast.expr | None] = [None if d is None else take(d) for d in args.kw_defaults]
        if node is not None and self.eager and self._hoists_annotations(node, class_names):
            params = set(type_param_names(node))

            def hoistable(expr: ast.expr) -> bool:
                return not any(isinstance(sub, ast.Name) and sub.id in params for sub in ast.walk(expr))
            for arg in [*args.args, *args.posonlyargs, args.vararg, *args.kwonlyargs, args.kwarg]:
                if arg is not None and arg.annotation is not None and hoistable(arg.annotation):
                    arg.annotation = take(arg.annotation)
            if node.returns is not None and hoistable(node.returns):
                node.returns = take(node.returns)
        return ast.arguments(posonlyargs=args.posonlyargs, args=args.args, vararg=args.vararg,
                             kwonlyargs=args.kwonlyargs, kw_defaults=kw_defaults, kwarg=args.kwarg,
                             defaults=defaults)

    def _hoists_annotations(self, node: ast.FunctionDef | ast.AsyncFunctionDef,
                            class_names: set[str] | None) -> bool:
        """Whether a def's annotations are hoisted (all of them, so they keep their order).

        For a transform after ours they stay in the def, where it reads them, when they mean
        the same in the factory: no name the class body around binds (a function nested in it
        does not see them), nothing that binds a name or suspends a frame.  What still differs
        there is the traceback of an annotation that raises (the factory's frames), and a name
        a metaclass's ``__prepare__`` namespace provides."""
        if not self.annotations_in_place:
            return True
        annotations = [arg.annotation for arg in (*node.args.posonlyargs, *node.args.args, node.args.vararg,
                                                  *node.args.kwonlyargs, node.args.kwarg) if arg is not None]
        subs = [sub for expr in (*annotations, node.returns) if expr is not None for sub in ast.walk(expr)]
        return any(isinstance(sub, (ast.NamedExpr, ast.Yield, ast.YieldFrom, ast.Await))
                   or (class_names is not None and isinstance(sub, ast.Name) and sub.id in class_names)
                   for sub in subs)

    def _made(self, index: int, factory: ast.expr, hoisted: list[ast.expr], where: ast.AST) -> ast.Call:
        # A constant, not a global: the program sees no new name, and the handle is one
        # LOAD_CONST away.  The index keeps two alike sites' constants apart.
        mark: Any = (SITE_MARK, index, self.sites[index].as_tuple())
        func = ast.Attribute(value=ast.Constant(mark), attr="made", ctx=ast.Load())
        # On the site's first line only: a method call's instructions take the line its
        # attribute ends on (3.11+), and a line event there would count the closure's last
        # line as run for coverage.py, which plain Python never reaches unless it is called.
        _on_line(func, where)
        return _located(_call(func, factory, *hoisted), where)

    def _factory_args(self, index: int, extra: int) -> ast.arguments:
        checked = self.sites[index].checked
        bases = [f"{prefix}{index}_{k}" for prefix in (_BASE, _WEAK) for k in checked]
        return _arguments([f"{TOKEN}{index}", *bases, *(f"@latebind_d{k}" for k in range(extra))])

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        index = self.index.get(id(node))
        if index is None:
            return node
        hoisted: list[ast.expr] = []
        args = self._hoist_defaults(node.args, hoisted)
        inner = _located(ast.Lambda(args=args, body=node.body), node)
        factory = _located(ast.Lambda(args=self._factory_args(index, len(hoisted)), body=inner), node)
        return self._made(index, factory, hoisted, node)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.AST:
        self.generic_visit(node)
        index = self.index.get(id(node))
        if index is None:
            return node
        first, *rest = node.generators
        # The first iterable is evaluated at once, in the enclosing scope: keep it there.  So
        # is iter() of it (a sync one's), whose TypeError then has the user's frames only;
        # the genexp is given the iterator, as plain Python gives it.
        outer_iter = first.iter
        if self.builtin_iter and not first.is_async:
            # Where the compiler puts its GET_ITER: the generator expression (3.10-3.12), the
            # iterable (3.13+).
            where = outer_iter if GET_ITER_AT_ITERABLE else node
            outer_iter = _located(ast.copy_location(_call(_located(_name("iter"), where), outer_iter), where), where)
        param = _ITERATOR if outer_iter is not first.iter else "@latebind_d0"
        first = ast.comprehension(target=first.target, iter=_located(_name(param), outer_iter),
                                  ifs=first.ifs, is_async=first.is_async)
        inner = _located(ast.GeneratorExp(elt=node.elt, generators=[first, *rest]), node)
        args = self._factory_args(index, 1)
        args.args[-1].arg = param  # _fix takes the GET_ITER of a factory given the iterator out
        factory = _located(ast.Lambda(args=args, body=inner), node)
        return self._made(index, factory, [outer_iter], node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST | list[ast.stmt]:
        return self._visit_def(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST | list[ast.stmt]:
        return self._visit_def(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.class_names.append(_bound_in(node.body) if self.annotations_in_place else set())
        self.generic_visit(node)
        self.class_names.pop()
        return node

    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST | list[ast.stmt]:
        class_names = self.class_names[-1]  # where the def statement runs
        self.class_names.append(None)
        self.generic_visit(node)
        self.class_names.pop()
        index = self.index.get(id(node))
        if index is None:
            return node
        # The function is made, and bound, on the def's line, as plain Python makes it, so a
        # line tracer (coverage.py) sees that line run; the factory is defined where plain
        # Python's first instruction is, on the first decorator's line.
        at_def = ast.copy_location(ast.Pass(), node)
        factory_name = f"{_FACTORY}{index}"
        # A method's deferred annotations (3.14) read the class body's names, which code
        # compiled in the factory cannot: they are compiled in the class body (see _carried).
        method = self.lazy and class_names is not None and _lazily_annotated(node)
        carried = method and not self.annotations_in_place and not self._clashes(index, node)
        donor = self._donor(index, node) if method and not carried else None
        # A generic method's type parameters (whose bounds, constraints and defaults are
        # evaluated lazily, in the class scope) when its annotations are not carried (before
        # 3.14, or strings): its factory is generic, in the class body, and carries them only.
        generic = not method and class_names is not None and bool(type_param_names(node))
        hoisted: list[ast.expr] = []
        node.args = self._hoist_defaults(node.args, hoisted, node, class_names)
        body: list[ast.stmt] = [node]
        type_params: list[Any] = []
        if method or generic:
            # Passed in after the defaults (and hoisted annotations); the factory gives the def
            # its annotations (and type parameters) before made() sees it, so that made() wraps
            # them for the read check.  All on the def's first line: an attribute's
            # instructions take the line it ends on.
            hoisted.append(_on_line(_name(factory_name if donor is None else donor.name), at_def))
            given = f"@latebind_d{len(hoisted) - 1}"
            attributes = ["__annotate__"] if method else []
            params = type_param_names(node)
            if params:
                # The def is no longer generic: its body and annotations read the type
                # parameters made with its annotations, from the factory's generic scope (or
                # as locals of the factory, taken from the donor's).
                attributes.append("__type_params__")
                type_params = node.type_params  # type: ignore[union-attr,unused-ignore]
                node.type_params = []  # type: ignore[union-attr,unused-ignore]
                if donor is not None:
                    body.insert(0, _on_line(ast.Assign(
                        targets=[ast.Tuple(elts=[ast.Name(id=p, ctx=ast.Store()) for p in params], ctx=ast.Store())],
                        value=ast.Attribute(value=_name(given), attr="__type_params__", ctx=ast.Load())), at_def))
            body.extend(_on_line(ast.Assign(
                targets=[ast.Attribute(value=_name(f"{_INNER}{index}"), attr=attribute, ctx=ast.Store())],
                value=ast.Attribute(value=_name(given), attr=attribute, ctx=ast.Load())), at_def)
                for attribute in attributes)
        decorators, node.decorator_list = node.decorator_list, []
        name = node.name
        node.name = f"{_INNER}{index}"
        if decorators:
            # co_firstlineno stays on the first decorator, as inspect.getsource expects.
            node.lineno = decorators[0].lineno
        body.append(_located(ast.Return(value=_name(node.name)), node))
        if carried:
            factory = self._carried(index, node, len(hoisted), body, type_params)
            # On the def's line, not the first decorator's: its __annotate__ code takes its
            # first line and positions from it, and the method's has the def statement's.
            ast.copy_location(factory, at_def)
        else:
            factory = function_def(factory_name, self._factory_args(index, len(hoisted)), body)
            if generic:
                factory.type_params = type_params  # type: ignore[attr-defined,unused-ignore]
        _located(factory, node)
        value: ast.expr = self._made(index, _name(factory_name), hoisted, at_def)
        for decorator in reversed(decorators):
            value = _located(_call(decorator, value), decorator if DECORATOR_CALL_AT_DECORATOR else at_def)
        assign = _located(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value), at_def)
        made = [factory] if donor is None else [factory, donor]
        delete = _located(ast.Delete(targets=[ast.Name(id=made_.name, ctx=ast.Del()) for made_ in made]), at_def)
        return [*made, assign, delete]

    def _carried(self, index: int, node: ast.FunctionDef | ast.AsyncFunctionDef, extra: int,
                 body: list[ast.stmt], type_params: list[Any]) -> ast.FunctionDef:
        """The factory of a method with deferred annotations (3.14), carrying them.

        Plain Python compiles a method's ``__annotate__`` in the class scope, where it reads
        the class body's names through ``__classdict__``; code compiled in the factory cannot.
        So the annotations go on the factory, a def of the class body: after its own
        parameters come the method's, each defaulting to None and never passed, in the same
        kinds and order, so that the factory's ``__annotate__`` is the method's (its keys and
        their order, name mangling, cells), and the factory hands it to the method.  A generic
        method's factory is generic: its type parameters (their bounds, constraints and
        defaults evaluated lazily, in the class scope too) are made once per def statement,
        as the method's are.  The loop variables the annotations read are read once more after
        the factory's ``return`` (never run: no instruction is compiled), so that they stay
        cells of the factory, where the recorder finds the binding its read check compares."""
        own = self._factory_args(index, extra).args
        args = node.args

        def moved(arg: ast.arg) -> ast.arg:
            annotation, arg.annotation = arg.annotation, None
            return ast.copy_location(ast.arg(arg=arg.arg, annotation=annotation), arg)

        def none() -> ast.expr:
            return _located(ast.Constant(None), node)
        positional = [*map(moved, args.posonlyargs), *map(moved, args.args)]
        signature = ast.arguments(
            posonlyargs=[*own, *positional[:len(args.posonlyargs)]] if args.posonlyargs else [],
            args=positional[len(args.posonlyargs):] if args.posonlyargs else [*own, *positional],
            vararg=None if args.vararg is None else moved(args.vararg),
            kwonlyargs=[moved(arg) for arg in args.kwonlyargs], kw_defaults=[none() for _ in args.kwonlyargs],
            kwarg=None if args.kwarg is None else moved(args.kwarg), defaults=[none() for _ in positional])
        reads = [_located(ast.Expr(value=_name(variable)), node) for variable, _ in self.sites[index].annotated]
        factory = function_def(f"{_FACTORY}{index}", signature, [*body, *reads])
        factory.returns, node.returns = node.returns, None
        if type_params:
            factory.type_params = type_params  # type: ignore[attr-defined,unused-ignore]
        return factory

    def _clashes(self, index: int, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """Whether a loop variable the annotations read is also a parameter's name: a carrying
        factory would have it as a local, not as the cell the read check needs."""
        args = node.args
        names = {arg.arg for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg)
                 if arg is not None}
        return any(variable in names for variable, _ in self.sites[index].annotated)

    def _donor(self, index: int, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.FunctionDef:
        """A def of a method's signature and annotations (3.14), without defaults or body,
        made in the class body, when its factory cannot carry them (see ``_carried``): for a
        transform after ours, which reads the method's annotations from the tree and would
        check the factory's too, and when a parameter has the name of a loop variable the
        annotations read.  Its ``__annotate__`` is compiled in the class scope; the factory
        gives it to the method, which keeps its own annotations (for that transform, and so
        that their loop variables stay cells of the factory).  A generic method's donor is
        generic, and the factory gives its type parameters to the method."""
        args = node.args
        signature = ast.arguments(
            posonlyargs=copy.deepcopy(args.posonlyargs), args=copy.deepcopy(args.args),
            vararg=copy.deepcopy(args.vararg), kwonlyargs=copy.deepcopy(args.kwonlyargs),
            kw_defaults=[None] * len(args.kwonlyargs), kwarg=copy.deepcopy(args.kwarg), defaults=[])
        donor = function_def(f"{_DONOR}{index}", signature, [ast.copy_location(ast.Pass(), node)])
        donor.returns = copy.deepcopy(node.returns)
        if type_param_names(node):
            donor.type_params = node.type_params  # type: ignore[attr-defined,union-attr,unused-ignore]
        # The annotate code's positions are the def's (its first line the def keyword's).
        ast.copy_location(donor, node)
        return _located(donor, node)


def _lazily_annotated(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a def has annotations or type parameters (whose bounds are evaluated lazily)."""
    args = node.args
    return node.returns is not None or bool(type_param_names(node)) or any(
        arg is not None and arg.annotation is not None
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg))


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)


def _bound_in(body: list[ast.stmt]) -> set[str]:
    """The names statements of a class body bind in it (nested scopes' own names left out)."""
    names: set[str] = set()
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            todo.extend([*node.decorator_list, *getattr(node, "bases", ())])
            continue
        if isinstance(node, _SCOPES):
            continue  # a lambda's or a comprehension's names are its own
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).partition(".")[0])
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.NamedExpr):
            names.add(node.target.id)
        todo.extend(ast.iter_child_nodes(node))
    return names


def instrument_source(source: bytes, filename: str) -> tuple[ast.Module, list[Site]]:
    """Parse and instrument; the caller compiles (perhaps after pytest's own rewrite)."""
    tree = ast.parse(source, filename=filename)
    from importlib.util import decode_source

    return tree, instrument(tree, decode_source(source).splitlines())


def compile_module(tree: ast.Module, filename: str, sites: Sequence[Site]) -> types.CodeType:
    code = compile(tree, filename, "exec", dont_inherit=True)
    return fix_names(code, sites) if sites else code


__all__ = ["FunctionNode", "compile_module", "fix_names", "instrument", "instrument_source"]
