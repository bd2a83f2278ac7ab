"""Issue 16, point 4's follow-up: a generator expression made at a site calls its first
iterable's ``__iter__`` once, in the user's frame, as plain Python does.  The transformer
hoists ``iter(first iterable)`` into the make call; the factory's own GET_ITER is taken out
(``_transformer._given_iterator``), or a user iterator's ``__iter__`` would run twice."""

from __future__ import annotations

import dis
import types
from collections.abc import Iterator

import pytest

from pytest_latebind._recorder import bind_sites
from pytest_latebind._transformer import compile_module, instrument_source

from .helpers import run

SOURCE = """
class Counted:
    calls = 0
    def __iter__(self):
        Counted.calls += 1
        return self
    def __next__(self):
        raise StopIteration
def main():
    out = []
    for k in [1, 2, 3]:
        out.append(list(x * k for x in [1, 2]))
        out.append(list(x * k for x in Counted()))
    return out, Counted.calls
"""


def run_module(source: str, instrumented: bool) -> object:
    namespace: dict[str, object] = {"__name__": "subject"}
    if instrumented:
        tree, sites = instrument_source(source.encode(), "subject.py")
        assert sites, "the genexps are sites"
        code = bind_sites(compile_module(tree, "subject.py", sites), "subject.py")
    else:
        code = compile(source, "subject.py", "exec")
    exec(code, namespace)
    return namespace["main"]()  # type: ignore[operator]


def test_iter_is_called_once_per_generator_expression() -> None:
    assert run_module(SOURCE, instrumented=False) == ([[1, 2], [], [2, 4], [], [3, 6], []], 3)
    assert run_module(SOURCE, instrumented=True) == run_module(SOURCE, instrumented=False)


def test_the_factory_hands_the_iterator_over_without_get_iter() -> None:
    tree, sites = instrument_source(b"def f(xs):\n    for k in [1]:\n        return (x * k for x in xs)\n",
                                    "m.py")
    code = compile_module(tree, "m.py", sites)

    def codes(code: types.CodeType) -> Iterator[types.CodeType]:
        yield code
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from codes(const)
    factories = [c for c in codes(code) if c.co_name == "<lambda>"]
    assert len(factories) == 1
    assert "GET_ITER" not in [i.opname for i in dis.get_instructions(factories[0])]


def test_a_user_iterator_is_asked_once_under_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(subject=SOURCE)
    pytester.makepyfile(test_subject="""
        import subject

        def test_it():
            assert subject.main() == ([[1, 2], [], [2, 4], [], [3, 6], []], 3)
            assert any(n.startswith("@latebind") for c in subject.main.__code__.co_consts
                       if hasattr(c, "co_varnames") for n in c.co_varnames)
    """)
    run(pytester, "--latebind").assert_outcomes(passed=1)
