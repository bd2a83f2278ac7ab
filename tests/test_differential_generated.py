"""Generated programs for the differential harness (issue 16): Hypothesis writes small
deterministic programs mixing loops, closures (lambda, def, async def, generator functions),
comprehensions, generator expressions, classes, decorators, annotations, walrus, ``match``,
try/except, ``nonlocal``, ``del`` and star imports; each runs plain and instrumented in fresh
interpreters, and everything it observes must be the same (``tests/differential_harness.py``).

The shapes of issue 16's points that are still open are not generated (each place says which
point); ``tests/test_differential_cases.py`` pins them instead.

Profiles: ``differential`` (the default, a few examples, derandomized: the same ones on every
run) and ``differential-long`` (many, random), chosen with ``LATEBIND_DIFFERENTIAL=long``.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .differential_harness import Program, differential

settings.register_profile(
    "differential", max_examples=int(os.environ.get("LATEBIND_DIFFERENTIAL_EXAMPLES", "24")), deadline=None,
    derandomize=True, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile(
    "differential-long", max_examples=int(os.environ.get("LATEBIND_DIFFERENTIAL_EXAMPLES", "1000")),
    deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
PROFILE = settings.get_profile("differential-long" if os.environ.get("LATEBIND_DIFFERENTIAL") == "long"
                               else "differential")

# Loop values (ints: every expression below works on them) and expressions of the loop
# variable, some of which raise (ZeroDivisionError when it is 1): tracebacks are compared.
VALUES = ["[1, 2, 3]", "range(3)", "[2, 0]", "[5]", "[4, 4]", "[]"]
EXPRESSIONS = ["{v}", "{v} + 1", "{v} * 2", "str({v})", "({v}, {v} * 3)", "10 // ({v} - 1)", "[{v}] * 2",
               "{v} if {v} else -1"]
# A def site's annotations are strings or constants: point 1, annotations are evaluated in the
# factory, so a name in one (even a builtin's) leaves the enclosing code's co_names, and a
# class attribute, a walrus or an undefined name there fails or binds elsewhere.
ANNOTATIONS = ["'int'", "'list[int]'", "None", "'tuple'"]

PRELUDE = '''\
import functools, inspect
import difftools


def deco(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return ("wrapped", func(*args, **kwargs))
    return wrapper


class Base:
    def base(self):
        return "base"


def call(f):
    try:
        if inspect.isclass(f):
            return f().get()
        if inspect.iscoroutinefunction(f):
            return difftools.drive(f())
        if inspect.isgeneratorfunction(f):
            return list(f())
        if inspect.isgenerator(f):
            return list(f)
        return f()
    except Exception as exc:
        return difftools.exception(exc)


def observe(made):
    difftools.note([difftools.describe(f) for f in made if not inspect.isgenerator(f)])
    return [call(f) for f in made]
'''


@dataclass(frozen=True)
class Piece:
    """Lines making one or more closures in the loop body (``{v}`` the loop variable, ``{n}``
    a number unique in the program), and what the piece needs."""

    lines: str
    in_function: bool = False  # nonlocal: only inside a function
    decorated: bool = False
    site: bool = True  # a closure site (a generator expression with a walrus is left as it is)


def _expression(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(EXPRESSIONS))


@st.composite
def pieces(draw: st.DrawFn) -> Piece:
    expr = _expression(draw)
    kind = draw(st.sampled_from(["lambda", "def", "async", "generator", "genexp", "walrus_genexp", "comprehension",
                                 "class", "nested", "walrus_lambda", "nonlocal", "match", "try"]))
    if kind == "lambda":
        params = draw(st.sampled_from(["", "*args", "x=0", "x={v}"]))
        return Piece(f"made.append(lambda {params}: {expr})")
    if kind == "def":
        decorated = draw(st.booleans())
        default = draw(st.sampled_from(["", "a=1", "a={v}", "*, k: 'int' = 2"]))
        returns = draw(st.sampled_from(["", *(f" -> {a}" for a in ANNOTATIONS)]))
        doc = draw(st.sampled_from(["", '    """A closure."""\n']))
        # Point 4 and 5: the decorator and the defaults never raise.
        return Piece(("@deco\n" if decorated else "") + f"def f{{n}}({default}){returns}:\n{doc}    return {expr}\n"
                     "made.append(f{n})", decorated=decorated)
    if kind == "async":
        return Piece(f"async def c{{n}}():\n    return {expr}\nmade.append(c{{n}})")
    if kind == "generator":
        # The raising expression is on the last line: a closure's last line always runs
        # (point 6: coverage counts a closure's last line when it is made).
        return Piece(f"def g{{n}}():\n    yield {{v}}\n    yield {expr}\nmade.append(g{{n}})")
    if kind == "genexp":
        # Point 4: the first iterable is always iterable.
        return Piece("made.append(({v}, x) for x in range(2))")
    if kind == "walrus_genexp":
        return Piece("made.append((last := ({v}, x)) for x in range(2))", site=False)
    if kind == "comprehension":
        return Piece("made.extend([lambda: ({v}, w) for w in range(2)])")
    if kind == "class":
        # Point 1: the method's annotation is a builtin, never a class attribute.
        return Piece("class K{n}(Base):\n    attr = {v}\n    def get(self) -> tuple:\n"
                     "        return (self.attr, {v}, super().base(), __class__.__name__)\nmade.append(K{n})")
    if kind == "nested":
        return Piece(f"def o{{n}}():\n    def inner():\n        return {expr}\n    return inner()\nmade.append(o{{n}})")
    if kind == "walrus_lambda":
        return Piece("made.append(lambda: (w := {v}) and (w, {v}))")
    if kind == "nonlocal":
        return Piece(f"def b{{n}}():\n    nonlocal count\n    count += 1\n    return (count, {expr})\n"
                     "made.append(b{n})", in_function=True)
    if kind == "match":
        return Piece("def m{n}():\n    match {v}:\n        case 0:\n            r = 'zero'\n"
                     "        case int(big) if big > 1:\n            r = ('big', big)\n        case _:\n"
                     "            r = 'other'\n    return r\nmade.append(m{n})")
    return Piece(f"def t{{n}}():\n    try:\n        r = 10 // ({{v}} - 2)\n    except ZeroDivisionError as exc:\n"
                 f"        r = ('caught', difftools.exception(exc))\n    return (r, {expr})\nmade.append(t{{n}})")


@dataclass
class Block:
    text: str
    decorated: bool
    deletes: bool


@st.composite
def blocks(draw: st.DrawFn, number: int, module_level: bool) -> Block:
    v = draw(st.sampled_from(["i", "item", "k"]))
    values = draw(st.sampled_from(VALUES))
    chosen = [p for p in draw(st.lists(pieces(), min_size=1, max_size=3)) if not (module_level and p.in_function)]
    if not any(p.site for p in chosen):
        chosen.append(Piece("made.append(lambda: {v})"))
    body = []
    for index, piece in enumerate(chosen):
        body.append(piece.lines.replace("{v}", v).replace("{n}", f"{number}_{index}"))
    walrus = draw(st.booleans())
    if walrus:  # a walrus in a comprehension binds in the block's scope
        body.append(f"seen = [(last := {v} + x) for x in range(2)]")
    deletes = values != "[]" and draw(st.booleans())
    lines = ["made = []", "last = None", "count = 0", f"for {v} in {values}:",
             textwrap.indent("\n".join(body), "    ")]
    if deletes:
        lines.append(f"del {v}")  # the closures that read it raise NameError
    lines.append("results = observe(made)")
    lines.append("difftools.note(last, count)")
    decorated = any(p.decorated for p in chosen)
    if module_level:
        text = "\n".join(line.replace("made", f"made{number}").replace("results", f"results{number}")
                         for line in lines)
        text += f"\ndef block{number}():\n    return results{number}\n"
    else:
        text = f"def block{number}():\n" + textwrap.indent("\n".join([*lines, "return results"]), "    ") + "\n"
    return Block(text, decorated, deletes)


@st.composite
def programs(draw: st.DrawFn) -> Program:
    parts: list[Block] = []
    number = 0

    def module(name: str, count: int) -> tuple[str, list[str]]:
        nonlocal number
        texts, names = [], []
        for _ in range(count):
            block = draw(blocks(number, module_level=draw(st.booleans())))
            parts.append(block)
            texts.append(block.text)
            names.append(f"block{number}")
            number += 1
        return "\n\n".join(texts), names

    helper_text, helper_blocks = module("helper", draw(st.integers(0, 1)))
    main_text, main_blocks = module("prog", draw(st.integers(1, 3)))
    modules = {}
    header = PRELUDE
    if helper_blocks:
        exported = draw(st.booleans())
        modules["helper"] = PRELUDE + "\n" + (f"__all__ = {helper_blocks!r}\n\n" if exported else "") + helper_text
        header += "from helper import *\n"
    calls = ", ".join(f"{name}()" for name in [*helper_blocks, *main_blocks])
    modules["prog"] = header + "\n" + main_text + f"\n\ndef main():\n    return [{calls}]\n"
    # Coverage lines are compared unless a program has a decorated def site (new: coverage
    # of a decorated def's line) or deletes a loop variable its closures read (point 6: a
    # closure that raises before its last line has that line counted).
    coverage = not any(b.decorated or b.deletes for b in parts)
    return Program(modules, coverage=coverage)


@PROFILE
@given(programs())
def test_generated_programs_observe_the_same_plain_and_instrumented(program: Program) -> None:
    outcome = differential(program)
    made = outcome.instrumented.meta.get("made", 1)
    assert sum(n or 0 for n in outcome.instrumented.meta["sites"].values()), "no closure site was generated"
    # The program ran to the end (a generator bug that fails both runs alike compares equal).
    assert outcome.plain.observed["exit"] == 0, outcome.plain.observed["stderr"]
    assert outcome.plain.observed["import"] is None, outcome.plain.observed["import"]
    assert "value" in outcome.plain.observed["result"], outcome.plain.observed["result"]
    assert made, "no closure was made at a site"
    assert not outcome.differences, outcome.report() + "\n\n" + "\n\n".join(
        f"# {name}.py\n{source}" for name, source in program.modules.items()) + f"\n(closures made: {made})"
