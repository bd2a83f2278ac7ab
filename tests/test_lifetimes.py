"""The plugin keeps no user object alive: finalizers fire at the same moment with and without it.

Each program below logs, in order, the rounds of its loop and the moment each object it makes
is freed (``weakref.finalize``).  It runs once plain and once with ``--latebind``; the logs
must be the same, and these correct programs must give no finding.  The creation values are
the kinds that used to be kept alive: a plain object, an exception bound by ``except ... as``
(Python deletes the name when the handler ends), a task awaited within its round, and the
function a ``functools.wraps`` wrapper made in a loop captures.
"""

from __future__ import annotations

import json
import textwrap

import pytest

PROGRAMS = '''
import asyncio
import functools
import gc
import weakref

LOG = []


class Conn:
    pass


class Boom(Exception):
    pass


def used_within_its_round():
    for k in range(3):
        conn = Conn()
        weakref.finalize(conn, LOG.append, ("freed conn", k))
        query = lambda: conn
        query()
        del query
        LOG.append(("round", k))
    del conn
    LOG.append(("returned",))


def kept_while_the_loop_moves_on():
    kept = []
    for k in range(3):
        conn = Conn()
        weakref.finalize(conn, LOG.append, ("freed kept conn", k))
        kept.append(lambda: conn)
        LOG.append(("round", k))
    del conn
    LOG.append(("loop done",))
    kept.clear()
    LOG.append(("cleared",))


def exception_bound_by_except_as():
    for k in range(3):
        try:
            raise Boom(k)
        except Boom as err:
            weakref.finalize(err, LOG.append, ("freed error", k))
            handlers = [lambda: err]  # made, never called, dropped with the handler
            del handlers
        LOG.append(("round", k))


async def _job(k):
    await asyncio.sleep(0)
    return k


async def tasks_awaited_within_their_round():
    for k in range(3):
        task = asyncio.ensure_future(_job(k))
        weakref.finalize(task, LOG.append, ("freed task", k))
        done = lambda: task.result()
        await task
        LOG.append(("result", done()))
        del done
    del task
    gc.collect()  # the event loop's own references to a finished task
    LOG.append(("returned",))


def wrappers_made_in_a_loop():
    class Service:
        pass

    wrappers = []
    for name in ("get", "put"):
        def original(self, name=name):
            return name
        weakref.finalize(original, LOG.append, ("freed original", name))

        @functools.wraps(original)
        def wrapper(self, *args):
            return original(self, *args)
        wrappers.append(wrapper)
        del original
    LOG.append(("made",))
    del wrapper
    wrappers.clear()
    LOG.append(("cleared",))
'''

TESTS = '''
import asyncio
import json

import programs


def test_used_within_its_round():
    programs.used_within_its_round()


def test_kept_while_the_loop_moves_on():
    programs.kept_while_the_loop_moves_on()


def test_exception_bound_by_except_as():
    programs.exception_bound_by_except_as()


def test_tasks_awaited_within_their_round():
    asyncio.run(programs.tasks_awaited_within_their_round())


def test_wrappers_made_in_a_loop():
    programs.wrappers_made_in_a_loop()


def test_write_the_log():
    with open("log.json", "w") as out:
        json.dump(programs.LOG, out)
'''


def _run(pytester: pytest.Pytester, *args: str) -> list[list[object]]:
    pytester.makepyfile(programs=textwrap.dedent(PROGRAMS), test_programs=textwrap.dedent(TESTS))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args, timeout=120)
    result.assert_outcomes(passed=6)
    log: list[list[object]] = json.loads((pytester.path / "log.json").read_text())
    return log


def test_finalizers_fire_when_they_would_without_the_plugin(pytester: pytest.Pytester) -> None:
    plain = _run(pytester)
    report = pytester.path / "latebind.json"
    watched = _run(pytester, "--latebind", f"--latebind-report={report}")
    assert watched == plain
    # What Python does, which the plugin must not change: each connection is freed when the
    # next round rebinds `conn`, kept closures or not; each error when its handler ends.
    assert plain[:7] == [["round", 0], ["freed conn", 0], ["round", 1], ["freed conn", 1],
                         ["round", 2], ["freed conn", 2], ["returned"]]
    assert plain[7:13] == [["round", 0], ["freed kept conn", 0], ["round", 1], ["freed kept conn", 1],
                           ["round", 2], ["freed kept conn", 2]]
    assert plain[15:17] == [["freed error", 0], ["round", 0]]
    assert json.loads(report.read_text())["findings"] == []


def test_memory_stays_flat_when_closures_are_made_and_dropped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(churn="""
        def churn(n):
            total = 0
            for i in range(n):
                payload = [i] * 10
                f = lambda: payload
                total += len(f())
            return total
    """, test_churn="""
        import tracemalloc

        import churn


        def test_churn():
            churn.churn(1_000)  # warm up: the site's tables exist before measuring
            tracemalloc.start()
            churn.churn(100_000)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            # 100,000 closures made and dropped; what one site may keep is bounded.
            assert peak < 2_000_000, peak
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", timeout=120)
    result.assert_outcomes(passed=1)
