"""What differs between the CPython versions the plugin supports (3.10 to 3.14), in one place.

The plugin reads scopes, rewrites ASTs and makes code objects; these changed as follows.

* 3.10: code objects have no ``co_qualname``.  A function's ``__qualname__`` is a string
  constant of the code that makes it, so the transformer renames those strings instead.
* 3.12: PEP 709 inlines list/set/dict comprehensions into their function; a comprehension
  variable that a closure reads becomes a cell of the function, fresh for every run of the
  comprehension.  Nothing to do: the scope analysis follows the language, not the bytecode,
  and the factory's own ``__closure__`` holds whichever cell the closure reads.
* 3.12: PEP 695 type parameters live in an *annotation scope* between a generic def or
  class and its parent, compiled as extra code objects (``<generic parameters of f>``,
  one per lazily evaluated bound); the ``type`` statement binds a name.  New AST fields.
* 3.13: ``frame.f_locals`` is a write-through proxy (PEP 667): the plugin never reads or
  writes frame locals, so nothing to do.  ``linecache`` files the source of ``python -c``
  under ``"<string>"``, the name every ``exec()`` of a string also uses: see
  :func:`source_lines`.
* 3.14: annotations are deferred (PEP 649/749): each annotated def gets an ``__annotate__``
  code object, compiled where the def is (inside our factory), whose qualified name is
  fixed like the def's; a method's (a def directly in a class body) is compiled in the class
  scope, where it reads the class body's names, so its factory carries the method's
  annotations and type parameters there (see ``_transformer._SiteRewriter._carried``).
  Reading ``f.__annotations__`` evaluates them then, so a def in a loop whose annotations
  name the loop variable reads it late: its ``__annotate__`` is a closure that shares the
  def's cells (see :class:`_recorder.AnnotationReads`).
"""

from __future__ import annotations

import ast
import linecache
import sys
import types

# 3.11: code.co_qualname.  Before, qualified names are string constants (see module doc).
HAS_QUALNAME = sys.version_info >= (3, 11)
# PEP 649/749: a def's annotations are evaluated when read, by its __annotate__ closure.
LAZY_ANNOTATIONS = sys.version_info >= (3, 14)
# The position of a generator expression's GET_ITER (the iter() of its first iterable): the
# whole expression's before 3.13, the iterable's from 3.13.
GET_ITER_AT_ITERABLE = sys.version_info >= (3, 13)
# Where a decorator is applied: on its own line from 3.11, on the def's line before.
DECORATOR_CALL_AT_DECORATOR = sys.version_info >= (3, 11)

if sys.version_info >= (3, 11):
    from tomllib import loads as toml_loads
else:  # pytest's own dependency before 3.11
    from tomli import loads as toml_loads  # type: ignore[import-not-found, unused-ignore]

__all__ = ["DECORATOR_CALL_AT_DECORATOR", "GET_ITER_AT_ITERABLE", "HAS_QUALNAME", "LAZY_ANNOTATIONS",
           "factory_qualname", "function_def", "source_lines", "toml_loads", "type_alias_name", "type_param_names"]

_MADE_BY_LAMBDA = (".<locals>.<lambda>", ".<locals>.<genexpr>")


def factory_qualname(code: types.CodeType) -> str | None:
    """The qualified name of a lambda factory's code, as the compiler made it.

    3.10 has no ``co_qualname``: the factory makes exactly one function (the instrumented
    lambda or generator expression), whose qualified name is a string constant of the
    factory, ``<factory's qualname>.<locals>.<lambda>``.
    """
    if HAS_QUALNAME:
        return code.co_qualname  # type: ignore[attr-defined,no-any-return,unused-ignore]
    for const in code.co_consts:
        if isinstance(const, str) and const.endswith(_MADE_BY_LAMBDA):
            return const.rsplit(".<locals>.", 1)[0]
    return None


def type_param_names(node: ast.AST) -> list[str]:
    """The names a generic def or class binds in its annotation scope (PEP 695, 3.12)."""
    return [param.name for param in getattr(node, "type_params", ())]


def type_alias_name(node: ast.stmt) -> str | None:
    """The name a ``type X = ...`` statement binds (3.12), None for any other statement."""
    if sys.version_info >= (3, 12) and isinstance(node, ast.TypeAlias):
        return node.name.id
    return None


def function_def(name: str, args: ast.arguments, body: list[ast.stmt]) -> ast.FunctionDef:
    """A plain ``def`` node; 3.12 requires its ``type_params`` field to be set."""
    node = ast.FunctionDef(name=name, args=args, body=body, decorator_list=[], returns=None,
                           type_comment=None)
    if sys.version_info >= (3, 12):
        node.type_params = []
    return node


def source_lines(filename: str) -> list[str]:
    """The lines of ``filename`` from ``linecache``; none for ``"<string>"``.

    ``"<string>"`` names no one source: it is the filename of every ``exec()`` and
    ``compile()`` of a string, and 3.13 files the text of ``python -c`` (pytest-xdist's
    workers run that way) under it, which would be read as the source of unrelated code.
    """
    if filename == "<string>":
        return []
    linecache.checkcache(filename)
    return linecache.getlines(filename)
