"""What the recorder remembers of a loop variable's value, without keeping it alive.

A program can watch an object die (``weakref.finalize``, ``__del__``, a weak dictionary), and
everything reachable from that object with it.  So the recorder never holds a user's object:

* exact builtin atoms (``int``, ``str``, ``bytes``, ``float``, ``complex``, ``bool``, ``None``)
  and exact tuples and frozensets of them are held as they are: nothing a program can watch
  dies with them, and two equal ones are the same value to the program (an equal string
  built anew each round changes nothing);
* an object that can be weakly referenced is remembered by CPython's shared weak reference
  to it (one per live object), which tells "the same object" even after it died;
* an exact tuple of other values is remembered item by item;
* anything else (lists, dicts, sets, builtin exceptions, objects with ``__slots__`` but no
  ``__weakref__``) by its type and address, and for an exception its ``args`` too.  Holding it
  would keep its contents alive (an exception's traceback holds frames, and their locals), and
  it cannot be weakly referenced, so once it is freed a new object of the same type that
  CPython places at the same address (it does so at once in a tight loop) looks like it, unless
  its ``args`` differ.  The trade-off, documented for users: a stale read or a shared binding
  of such a value can be missed, never invented.

Reprs for messages are taken when they are needed (see :func:`describe`), bounded.
"""

from __future__ import annotations

import builtins
import math
import re
import reprlib
import types
import weakref
from typing import Any

ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None), type(Ellipsis)})
_MAX_ITEMS = 64  # a longer tuple is remembered by its address, not held or walked

_MAX_TEXT = 100  # a value's text is at most this long: longer ones lose their middle to "..."
# The reprs CPython gives objects without one of their own: "<mod.Cls object at 0x7f...>",
# "<function f at 0x7f...>", "<bound method A.f of <A object at 0x7f...>>".
_ADDRESSED = re.compile(r"<[^\n]* at 0x[0-9a-fA-F]+>")


class _Repr(reprlib.Repr):
    """``reprlib`` bounds, and an object's repr that says what it is."""

    def repr_instance(self, x: Any, level: int) -> str:
        cls = type(x)
        if _already_shown(cls):
            return builtins.repr(x)  # a text this module (or the recorder) made: bounded, one line
        if isinstance(x, types.ModuleType):  # its repr holds a machine's absolute path
            return f"<module {getattr(x, '__name__', '?')!r}>"
        try:
            text = builtins.repr(x)
        except Exception:  # as reprlib says it: two such objects stay apart by their address
            return f"<{cls.__name__} instance at {id(x):#x}>"
        if _ADDRESSED.fullmatch(text):
            # Never cut (the type's name is the point); the address tells objects apart.
            if cls.__repr__ is object.__repr__:  # type: ignore[comparison-overlap]
                return f"<{cls.__qualname__} object at {id(x):#x}>"  # without the module's path
            return text
        if len(text) > self.maxother:
            head = max(0, (self.maxother - 3) // 2)
            tail = max(0, self.maxother - 3 - head)
            text = f"{text[:head]}...{text[len(text) - tail:]}"
        return text


def _already_shown(cls: type) -> bool:
    return cls in (Weak, Address, Items) or (cls.__module__ == "pytest_latebind._recorder"
                                             and cls.__name__ == "Shown")


_repr = _Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 4
_repr.maxlevel = 2


def short_repr(value: Any) -> str:
    """A short repr that never raises, on one line: values are the user's objects.

    Characters that are not printable (newlines, tabs, ...) are escaped as ``repr`` escapes
    them, and a text longer than ``_MAX_TEXT`` keeps its start and end around ``...``.
    """
    try:
        text = _repr.repr(value)
    except Exception as exc:  # a broken __repr__ must not break the report
        text = f"<{type(value).__name__} object (repr raised {type(exc).__name__})>"
    return _one_line(text)


def _one_line(text: str) -> str:
    if not text.isprintable():
        text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    if len(text) > _MAX_TEXT:
        head = (_MAX_TEXT - 3) // 2
        text = f"{text[:head]}...{text[len(text) - (_MAX_TEXT - 3 - head):]}"
    return text


def holdable(value: Any, depth: int = 0) -> bool:
    """Whether holding ``value`` keeps nothing alive a program could watch die."""
    cls = value.__class__
    if cls in ATOMS:
        return True
    if (cls is tuple or cls is frozenset) and depth < 3 and len(value) <= _MAX_ITEMS:
        return all(holdable(item, depth + 1) for item in value)
    return False


class Weak:
    """A weakly referenced value: CPython's shared reference to it, and its type's name."""

    __slots__ = ("ref", "text", "type_name")

    def __init__(self, ref: weakref.ref[Any], type_name: str) -> None:
        self.ref = ref
        self.type_name = type_name
        self.text: str | None = None  # its bounded repr when it was made (see keep_text)

    def __repr__(self) -> str:
        if self.text is not None:
            return self.text
        value = self.ref()
        return f"<{self.type_name} object, freed>" if value is None else short_repr(value)


class Address:
    """A value that can neither be held nor weakly referenced: its type, address and, for an
    exception, its ``args`` (told apart from a new exception at a freed one's address)."""

    __slots__ = ("address", "args", "text", "type")

    def __init__(self, value: Any) -> None:
        self.address = id(value)
        self.type = value.__class__
        self.args = _args(value)
        self.text: str | None = None  # its bounded repr when it was made (see keep_text)

    def __repr__(self) -> str:
        if self.text is not None:
            return self.text
        if self.args is not None:
            shown = ", ".join(describe(arg) for arg in self.args.items) if isinstance(self.args, Items) \
                else ", ".join(short_repr(arg) for arg in self.args)
            return f"{self.type.__name__}({shown})"
        return f"<{self.type.__name__} object at {self.address:#x}>"


def _args(value: Any) -> Any:
    if isinstance(value, BaseException):
        args = value.args
        if args.__class__ is tuple:
            return remember(args)
    return None


class Items:
    """An exact tuple holding values that are not all holdable: remembered item by item."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[Any, ...]) -> None:
        self.items = items

    def __repr__(self) -> str:
        shown = ", ".join(repr(item) if isinstance(item, (Weak, Address, Items)) else short_repr(item)
                          for item in self.items[:4])
        more = ", ..." if len(self.items) > 4 else ""
        return f"({shown}{more}{',' if len(self.items) == 1 else ''})"


def remember(value: Any, depth: int = 0) -> Any:
    """What the recorder keeps of ``value`` (see the module docstring)."""
    if holdable(value):
        return value
    cls = value.__class__
    if cls.__weakrefoffset__:
        try:
            return Weak(weakref.ref(value), cls.__qualname__)
        except TypeError:  # a type that declares the slot but refuses references
            pass
    if cls is tuple and depth < 3 and len(value) <= _MAX_ITEMS:
        return Items(tuple(remember(item, depth + 1) for item in value))
    return Address(value)


def keep_text(remembered: Any, value: Any) -> None:
    """Take the bounded repr of ``value`` now, for a message written after it may be gone.

    Called for the few creations per site that a message lists, and only when values are
    shown: a repr is the user's code, and it may be slow.
    """
    if remembered.__class__ is Weak or remembered.__class__ is Address:
        remembered.text = short_repr(value)
    elif remembered.__class__ is Items:
        for item, sub in zip(remembered.items, value, strict=True):
            keep_text(item, sub)


def matches(remembered: Any, value: Any) -> bool:
    """Whether ``value`` is the value that was remembered (the rules of the module docstring)."""
    if remembered is value:
        return True
    cls = remembered.__class__
    if cls is Weak:
        return remembered.ref() is value
    if cls is Address:
        return (id(value) == remembered.address and value.__class__ is remembered.type
                and (remembered.args is None or same(remembered.args, _args(value))))
    if cls is Items:
        return (value.__class__ is tuple and len(value) == len(remembered.items)
                and all(matches(r, v) for r, v in zip(remembered.items, value, strict=True)))
    return value.__class__ is cls and _equal(remembered, value)


def same(a: Any, b: Any) -> bool:
    """Whether two remembered values are one value (two closures made with the same one)."""
    if a is b:
        return True
    cls = a.__class__
    if cls is not b.__class__:
        return False
    if cls is Weak:
        return a.ref is b.ref  # one shared reference per object, dead or alive
    if cls is Address:
        return a.address == b.address and a.type is b.type and (a.args is b.args or same(a.args, b.args))
    if cls is Items:
        return len(a.items) == len(b.items) and all(same(x, y) for x, y in zip(a.items, b.items, strict=True))
    return _equal(a, b)


def _equal(a: Any, b: Any) -> bool:
    """Equality of two holdable values of one type; a NaN equals a NaN (both were "the same")."""
    if a.__class__ is float and math.isnan(a):
        return math.isnan(b)
    try:
        return bool(a == b)
    except Exception:  # pragma: no cover - builtin atoms compare without raising
        return False


def describe(remembered: Any) -> str:
    """A bounded one-value text for messages."""
    if isinstance(remembered, (Weak, Address, Items)):
        return repr(remembered)
    return short_repr(remembered)
