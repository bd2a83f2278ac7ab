"""``latebind.assert_distinct()`` with async callbacks and async factories.

A coroutine is a new object at every call, so comparing coroutines would pass every
factory: ``assert_distinct`` awaits them (in a fresh event loop per example) and compares what
they return.  Every test here also checks that no coroutine is left un-awaited and unclosed:
Python's "coroutine ... was never awaited" RuntimeWarning would say so.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from pytest_latebind import LateBindingError
from pytest_latebind._fixture import Latebind

QUIET = settings(database=None, deadline=None, max_examples=30)


@contextmanager
def no_unawaited_coroutines() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()  # a coroutine dropped unclosed warns when it is collected
    unawaited = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert unawaited == []


def confirm(factory: Any, **kwargs: Any) -> None:
    kwargs.setdefault("settings", QUIET)
    with no_unawaited_coroutines():
        Latebind().assert_distinct(factory, **kwargs)


def failure(factory: Any, **kwargs: Any) -> str:
    with pytest.raises(LateBindingError) as excinfo:
        confirm(factory, **kwargs)
    return str(excinfo.value)


def raised(error: type[BaseException], factory: Any, **kwargs: Any) -> BaseException:
    with no_unawaited_coroutines(), pytest.raises(error) as excinfo:
        Latebind().assert_distinct(factory, settings=QUIET, **kwargs)
    return excinfo.value


# -- the README's story: polling tasks, one per host ---------------------------------------

async def ping(host: Any) -> str:
    await asyncio.sleep(0)  # really suspends: the result comes from a running loop
    return f"pong from {host}"


def pollers(hosts: Any) -> list[Any]:
    tasks = []
    for host in hosts:
        async def poll() -> str:
            return await ping(host)  # BUGGY
        tasks.append(poll)
    return tasks


def pollers_fixed(hosts: Any) -> list[Any]:
    tasks = []
    for host in hosts:
        async def poll(host: Any = host) -> str:
            return await ping(host)
        tasks.append(poll)
    return tasks


def buggy_line() -> int:
    lines, first = inspect.getsourcelines(pollers)
    return first + next(k for k, text in enumerate(lines) if "async def poll" in text)


def test_async_callbacks_that_all_poll_the_last_host_fail() -> None:
    text = failure(pollers)
    first, second = text.splitlines()[:2]
    assert first == "callbacks 0 and 1 of pollers(range(0, 2)) both returned 'pong from 1'"
    assert second.startswith(f"  they share the loop variable 'host' created at {__file__}:{buggy_line()} ")
    assert "fix: bind the value when the closure is made, e.g. `async def poll(host=host):`" in text


def test_async_callbacks_that_each_poll_their_host_pass() -> None:
    confirm(pollers_fixed)


async def async_pollers(hosts: Any) -> list[Any]:
    await asyncio.sleep(0)  # an async def factory: it runs in the example's loop
    return pollers(hosts)


async def async_pollers_fixed(hosts: Any) -> list[Any]:
    await asyncio.sleep(0)
    return pollers_fixed(hosts)


def test_an_async_def_factory() -> None:
    confirm(async_pollers_fixed)
    text = failure(async_pollers)
    assert text.startswith("callbacks 0 and 1 of async_pollers(range(0, 2)) both returned 'pong from 1'")
    assert "they share the loop variable 'host'" in text


def test_an_async_factory_may_start_tasks_in_the_examples_loop() -> None:
    loops: list[Any] = []

    async def starters(hosts: Any) -> list[Any]:
        loops.append(asyncio.get_running_loop())
        tasks = [asyncio.ensure_future(ping(host)) for host in hosts]  # needs a running loop
        return [lambda task=task: task for task in tasks]  # callbacks returning awaitables

    confirm(starters, values=st.text(max_size=2))
    assert loops and all(loop.is_closed() for loop in loops)


def test_an_async_generator_factory() -> None:
    async def generate(hosts: Any) -> Any:
        for host in hosts:
            yield lambda host=host: ping(host)

    confirm(generate)

    async def generate_late(hosts: Any) -> Any:
        for host in hosts:
            yield lambda: ping(host)

    assert "they share the loop variable 'host'" in failure(generate_late)


def test_async_generator_results_are_read_to_their_end() -> None:
    def streams(hosts: Any) -> list[Any]:
        out = []
        for host in hosts:
            async def stream(host: Any = host) -> Any:
                yield host
                yield await ping(host)
            out.append(stream)
        return out

    confirm(streams)

    def streams_late(hosts: Any) -> list[Any]:
        out = []
        for host in hosts:
            async def stream() -> Any:
                yield host
            out.append(stream)
        return out

    assert failure(streams_late).startswith("callbacks 0 and 1 of ") and "both returned [1]" in failure(streams_late)


class Reply:
    """An awaitable that is not a coroutine (a Future-like object)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        yield from asyncio.sleep(0).__await__()
        return self.value


def test_other_awaitables_are_awaited() -> None:
    confirm(lambda hosts: [lambda host=host: Reply(host) for host in hosts])
    text = failure(lambda hosts: [lambda: Reply("same") for _ in hosts])
    assert "both returned 'same'" in text.splitlines()[0]


def test_expected_receives_what_the_coroutine_returned() -> None:
    confirm(pollers_fixed, expected=lambda k, host, result: result == f"pong from {host}")
    text = failure(pollers, expected=lambda k, host, result: result == f"pong from {host}")
    assert text.splitlines()[0] == ("callback 0 of pollers(range(0, 2)) returned 'pong from 1', but "
                                    "expected(0, 0, 'pong from 1') is False")


def test_one_fresh_event_loop_per_example() -> None:
    loops: list[Any] = []

    async def where(host: Any) -> Any:
        loops.append(asyncio.get_running_loop())
        return host

    def recording(hosts: Any) -> list[Any]:
        return [functools.partial(where, host) for host in hosts]

    confirm(recording, max_size=2)
    per_example = {id(loop) for loop in loops}
    assert len(per_example) > 1  # not one loop for the whole run
    assert all(loop.is_closed() for loop in loops)


# -- nothing left un-awaited ----------------------------------------------------------------

def test_coroutines_returned_instead_of_callbacks_are_a_clear_error_and_closed() -> None:
    error = raised(TypeError, lambda hosts: [ping(host) for host in hosts])
    assert str(error).startswith("latebind.assert_distinct(): item 0 of what ")
    assert str(error).endswith("returned is a coroutine (ping), not a callback: the factory called the "
                               "async function instead of returning it; return the async functions "
                               "themselves (`poll`, not `poll()`), and assert_distinct calls and "
                               "awaits each one")


def test_a_callback_that_raises_closes_the_coroutines_made_before_it() -> None:
    def factory(hosts: Any) -> list[Any]:
        def broken() -> Any:
            raise KeyError("no such host")
        return [*pollers_fixed(hosts), broken]

    error = raised(KeyError, factory)
    assert any(note.startswith("raised by callback 2 of ") for note in error.__notes__)


def test_a_coroutine_that_raises_is_the_users_error_and_the_rest_are_closed() -> None:
    def factory(hosts: Any) -> list[Any]:
        out = []
        for host in hosts:
            async def poll(host: Any = host) -> str:
                if host == 1:
                    raise ConnectionError(f"host {host} is down")
                return await ping(host)
            out.append(poll)
        return out

    error = raised(ConnectionError, factory)
    assert str(error) == "host 1 is down"
    notes = error.__notes__
    assert any(note.startswith("raised while awaiting what callback ") and "fresh asyncio event loop" in note
               for note in notes)


# -- inside a running event loop (an async def test) --------------------------------------

def test_inside_a_running_loop_async_callbacks_are_a_clear_error() -> None:
    async def an_async_test() -> str:
        with pytest.raises(RuntimeError) as excinfo:
            Latebind().assert_distinct(pollers_fixed, settings=QUIET)
        return str(excinfo.value)  # not the error: its traceback would keep the coroutines alive

    with no_unawaited_coroutines():
        message = asyncio.run(an_async_test())
    assert message.startswith("latebind.assert_distinct(): callback 0 of pollers_fixed(range(0, 2)) "
                              "returned a coroutine (pollers_fixed.<locals>.poll), which must be awaited "
                              "to compare what it produces, but assert_distinct was called inside a "
                              "running asyncio event loop")
    assert "Call it from a plain `def` test" in message


def test_inside_a_running_loop_an_async_factory_is_a_clear_error() -> None:
    async def an_async_test() -> str:
        with pytest.raises(RuntimeError) as excinfo:
            Latebind().assert_distinct(async_pollers_fixed, settings=QUIET)
        return str(excinfo.value)

    with no_unawaited_coroutines():
        message = asyncio.run(an_async_test())
    assert message.startswith("latebind.assert_distinct(): the factory async_pollers_fixed is "
                                 "asynchronous: async_pollers_fixed(range(0, 2)) returned a coroutine")


def test_inside_a_running_loop_sync_callbacks_still_work() -> None:
    async def an_async_test() -> None:
        Latebind().assert_distinct(lambda values: [lambda v=v: v for v in values], settings=QUIET)

    asyncio.run(an_async_test())


# -- a real run, with the warning an error -----------------------------------------------

HEALTH = """
import asyncio


async def ping(host):
    await asyncio.sleep(0)
    return f"pong from {host}"


def make_checks(hosts):
    checks = []
    for host in hosts:
        async def check():
            return await ping(host)
        checks.append(check)
    return checks


def make_checks_fixed(hosts):
    checks = []
    for host in hosts:
        async def check(host=host):
            return await ping(host)
        checks.append(check)
    return checks
"""


def test_run_of_async_checks_with_never_awaited_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(health=HEALTH, test_health="""
        from hypothesis import strategies as st
        from health import make_checks, make_checks_fixed

        HOSTS = st.sampled_from(["db", "cache", "api"])

        def test_buggy(latebind):
            latebind.assert_distinct(make_checks, values=HOSTS)

        def test_fixed(latebind):
            latebind.assert_distinct(make_checks_fixed, values=HOSTS)
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--hypothesis-profile=default",
                                           "-W", "error::RuntimeWarning", "--latebind", timeout=300)
    result.assert_outcomes(failed=1, passed=1)
    text = (pytester.path / "health.py").read_text()
    line = next(n for n, code in enumerate(text.splitlines(), 1) if "async def check():" in code)
    result.stdout.fnmatch_lines([
        "E*LateBindingError: callbacks 0 and 1 of make_checks(?'db', 'cache'?) both returned 'pong from cache'",
        f"E*they share the loop variable 'host' created at health.py:{line} "
        "(created with host='db', 'cache'; now host='cache')",
        "E*fix: bind the value when the closure is made, e.g. `async def check(host=host):`",
    ])
    assert "never awaited" not in result.stdout.str() + result.stderr.str()
