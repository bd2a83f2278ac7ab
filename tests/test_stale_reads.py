"""Stale reads: the check is at every read of a loop variable, wherever and whenever it runs.

Each buggy shape below makes a plain test fail (its callbacks see the last value), and the
plugin must name the read; each correct twin must stay quiet.  The rule is general: a read
of a loop variable, inside a closure made at a site, that sees another value than its round
gave it.  A call that reads nothing stale is no finding.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

SHAPES = '''
import asyncio
import concurrent.futures
import threading


def thread_blocks_then_reads(hosts):
    start = threading.Event()
    seen, threads = [], []
    for host in hosts:
        def probe():
            start.wait()
            seen.append(host)
        thread = threading.Thread(target=probe)
        thread.start()
        threads.append(thread)
    start.set()
    for thread in threads:
        thread.join()
    return sorted(seen)


def thread_copies_before_blocking(hosts):
    start = threading.Event()
    seen, threads, ready = [], [], []
    for host in hosts:
        def probe():
            mine = host
            ready.append(mine)
            start.wait()
            seen.append(mine)
        thread = threading.Thread(target=probe)
        thread.start()
        while len(ready) < len(threads) + 1:
            pass
        threads.append(thread)
    start.set()
    for thread in threads:
        thread.join()
    return sorted(seen)


def polling_threads(feeds, rounds=3):
    seen = {feed: [] for feed in feeds}
    go = [threading.Event() for _ in range(rounds)]
    threads = []
    for feed in feeds:
        def pump():
            for tick in go:
                seen[feed].append(feed)
                tick.wait()
        thread = threading.Thread(target=pump)
        thread.start()
        threads.append(thread)
        while len(seen[feed]) < 1:
            pass
    for tick in go:
        tick.set()
    for thread in threads:
        thread.join()
    return {feed: len(pings) for feed, pings in seen.items()}


async def tasks_read_after_await(hosts):
    results = []
    gate = asyncio.Event()
    tasks = []
    for host in hosts:
        async def check():
            await gate.wait()
            results.append(host)
        tasks.append(asyncio.create_task(check()))
        await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    return sorted(results)


async def tasks_read_before_await(hosts):
    results = []
    gate = asyncio.Event()
    tasks = []
    for host in hosts:
        async def check():
            mine = host
            await gate.wait()
            results.append(mine)
        tasks.append(asyncio.create_task(check()))
        await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    return sorted(results)


def generators_resumed_late(names):
    gens = []
    for name in names:
        def gen():
            yield name
            yield name
        g = gen()
        next(g)
        gens.append(g)
    return [next(g) for g in gens]


def generators_consumed_in_their_round(names):
    out = []
    for name in names:
        def gen():
            yield name
            yield name
        out.append(list(gen()))
    return out


async def async_generators_resumed_late(names):
    gens = []
    for name in names:
        async def agen():
            yield name
            yield name
        g = agen()
        await g.__anext__()
        gens.append(g)
    return [await g.__anext__() for g in gens]


def nested_closure_reads(values):
    out = []
    for v in values:
        def outer():
            def inner():
                return v
            return inner()
        out.append(outer)
    return [f() for f in out]


def pool_workers_run_late(items):
    gate = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = []
        for item in items:
            def work():
                gate.wait()
                return item
            futures.append(pool.submit(work))
        gate.set()
        return sorted(f.result() for f in futures)


def late_call_that_never_reads(values):
    out = []
    for i in values:
        out.append(lambda x=None: x if x is not None else i)
    return [f(k) for k, f in enumerate(out)]


handlers = []
for code in (1, 2):
    handlers.append(lambda: code)
'''

TESTS = '''
import asyncio

import shapes


def test_thread_blocks_then_reads():
    assert shapes.thread_blocks_then_reads(["a", "b"]) == ["a", "b"]


def test_thread_copies_before_blocking():
    assert shapes.thread_copies_before_blocking(["a", "b"]) == ["a", "b"]


def test_polling_threads():
    assert shapes.polling_threads(["a", "b"]) == {"a": 3, "b": 3}


def test_tasks_read_after_await():
    assert asyncio.run(shapes.tasks_read_after_await(["a", "b"])) == ["a", "b"]


def test_tasks_read_before_await():
    assert asyncio.run(shapes.tasks_read_before_await(["a", "b"])) == ["a", "b"]


def test_generators_resumed_late():
    assert shapes.generators_resumed_late(["a", "b"]) == ["a", "b"]


def test_generators_consumed_in_their_round():
    assert shapes.generators_consumed_in_their_round(["a", "b"]) == [["a", "a"], ["b", "b"]]


def test_async_generators_resumed_late():
    assert asyncio.run(shapes.async_generators_resumed_late(["a", "b"])) == ["a", "b"]


def test_nested_closure_reads():
    assert shapes.nested_closure_reads([1, 2]) == [1, 2]


def test_pool_workers_run_late():
    assert shapes.pool_workers_run_late(["a", "b"]) == ["a", "b"]


def test_late_call_that_never_reads():
    assert shapes.late_call_that_never_reads([5, 6]) == [0, 1]


def test_module_level_loop():
    assert [f() for f in shapes.handlers] == [1, 2]
'''

BUGGY = {
    # test name: the loop variable its closures read late
    "test_thread_blocks_then_reads": "host",
    "test_polling_threads": "feed",
    "test_tasks_read_after_await": "host",
    "test_generators_resumed_late": "name",
    "test_async_generators_resumed_late": "name",
    "test_nested_closure_reads": "v",
    "test_pool_workers_run_late": "item",
    "test_module_level_loop": "code",
}
QUIET = ["test_thread_copies_before_blocking", "test_tasks_read_before_await",
         "test_generators_consumed_in_their_round", "test_late_call_that_never_reads"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(shapes=textwrap.dedent(SHAPES), test_shapes=textwrap.dedent(TESTS))
    return pytester


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    found = {}
    for line in result.outlines:
        for outcome in ("PASSED", "FAILED"):
            if line.startswith("test_shapes.py::") and f" {outcome}" in line:
                found[line.split("::")[1].split()[0]] = outcome.lower()
    return found


def test_plain_runs_show_the_bugs_fail(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-v", timeout=120)
    outcomes = _outcomes(result)
    assert {name for name, outcome in outcomes.items() if outcome == "failed"} == set(BUGGY)
    assert all(outcomes[name] == "passed" for name in QUIET)


def test_every_stale_read_is_found_where_it_runs(project: pytest.Pytester) -> None:
    report = project.path / "latebind.json"
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--latebind",
                                          f"--latebind-report={report}", timeout=120)
    outcomes = _outcomes(result)
    assert all(outcomes[name] == "passed" for name in QUIET), result.stdout.str()
    assert {name for name, outcome in outcomes.items() if outcome == "failed"} == set(BUGGY)
    findings = json.loads(report.read_text())["findings"]
    source = (project.path / "shapes.py").read_text().splitlines()
    found = {}
    for finding in findings:
        if "stale-read" not in finding["kinds"]:
            continue
        for test in finding["tests"]:
            found[test.split("::")[1]] = (finding["variable"], finding["line"])
    for test, variable in BUGGY.items():
        assert test in found, f"{test}: no stale read reported"
        assert found[test][0] == variable
        line = source[found[test][1] - 1]
        assert "def " in line or "lambda" in line, (test, line)
    # The stack of the first stale read ends at the read itself, in the closure.
    stacks = {f["variable"]: f["first_stale_read"] for f in findings if "stale-read" in f["kinds"]}
    assert stacks["item"][-1]["function"] == "work"
    assert stacks["name"][-1]["function"] in {"gen", "agen"}
    assert [f for f in findings if any(t.split("::")[1] in QUIET for t in f["tests"])] == []


def test_a_variable_the_round_updates_after_the_closure_is_its_own(pytester: pytest.Pytester) -> None:
    """`k = 0`, the closure, then `k += 1` in the same round: every k it reads in its round is
    its own (a look-ahead generator checked against a counter, as real suites do).  Read
    after the loop has moved on, it is stale."""
    pytester.makepyfile(counting="""
        def within_the_round():
            seen = []
            for n in range(1, 4):
                k = 0
                def bounded():
                    while True:
                        yield n * k
                gen = bounded()
                while k < 2:
                    seen.append(next(gen))
                    k += 1
            return seen

        def after_the_loop():
            gens = []
            for n in range(1, 4):
                k = 0
                def bounded():
                    while True:
                        yield n * 10 + k
                gens.append(bounded())
                k += 1
            return [next(g) for g in gens]
    """, test_counting="""
        import counting

        def test_within_the_round():
            assert counting.within_the_round() == [0, 1, 0, 2, 0, 3]

        def test_after_the_loop():
            assert counting.after_the_loop() == [11, 21, 31]
    """)
    report = pytester.path / "r.json"
    result = pytester.runpytest("-p", "no:cacheprovider", "--latebind", f"--latebind-report={report}")
    result.assert_outcomes(passed=1, failed=1)
    findings = json.loads(report.read_text())["findings"]
    # After the loop both are read in a later round than their own (k's value is the one its
    # round ended with, but the read happens once the loop has moved on: its round is over).
    assert {(f["variable"], tuple(f["tests"])) for f in findings} == {
        ("n", ("test_counting.py::test_after_the_loop",)), ("k", ("test_counting.py::test_after_the_loop",))}


LATE_ANNOTATIONS = """
    import typing

    def handlers(kinds):
        out = []
        for kind in kinds:
            def handler(raw) -> kind:  # the annotations of a def made in a loop
                return raw
            out.append(handler)
        return out

    def handler_for(kind):
        def handler(raw) -> kind:
            return raw
        return handler

    def handlers_made_by_a_function(kinds):
        return [handler_for(kind) for kind in kinds]

    def hints_read_in_their_round(kinds):
        hints = []
        for kind in kinds:
            def handler(raw) -> kind:
                return raw
            hints.append(typing.get_type_hints(handler)["return"])
        return hints
"""

LATE_ANNOTATION_TESTS = """
    import typing

    import annotationlib
    import handlers

    def test_hints_read_after_the_loop():
        made = handlers.handlers([int, str])
        assert annotationlib.get_annotations(made[0], format=annotationlib.Format.STRING) == {"return": "kind"}
        assert [typing.get_type_hints(h)["return"] for h in made] == [str, str]

    def test_handlers_made_by_a_function():
        made = handlers.handlers_made_by_a_function([int, str])
        assert [typing.get_type_hints(h)["return"] for h in made] == [int, str]

    def test_hints_read_in_their_round():
        assert handlers.hints_read_in_their_round([int, str]) == [int, str]
"""


@pytest.mark.skipif(sys.version_info < (3, 14), reason="annotations are evaluated lazily from 3.14 (PEP 649)")
def test_annotations_read_after_the_loop_are_stale_reads(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(handlers=textwrap.dedent(LATE_ANNOTATIONS),
                        test_handlers=textwrap.dedent(LATE_ANNOTATION_TESTS))
    report = pytester.path / "latebind.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", f"--latebind-report={report}")
    result.assert_outcomes(passed=2, failed=1)
    [finding] = json.loads(report.read_text())["findings"]
    source = (pytester.path / "handlers.py").read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if text.endswith("# the annotations of a def made in a loop"))
    assert (finding["variable"], finding["line"], finding["tests"]) == (
        "kind", line, ["test_handlers.py::test_hints_read_after_the_loop"])
    assert (finding["created_with"], finding["seen"]) == (["<class 'int'>", "<class 'str'>"], "<class 'str'>")
    assert finding["first_stale_read"][-1] == {"file": "handlers.py", "line": line, "function": "__annotate__"}
    assert "a function that takes kind and returns the def (its annotations read kind)" in result.stdout.str()


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="before 3.14 annotations are evaluated when the def runs")
def test_annotations_evaluated_when_the_def_runs_are_no_reads(pytester: pytest.Pytester) -> None:
    tests = textwrap.dedent(LATE_ANNOTATION_TESTS).replace("import annotationlib\n", "").replace(
        "assert annotationlib.get_annotations(made[0], format=annotationlib.Format.STRING) == "
        '{"return": "kind"}', "")
    pytester.makepyfile(handlers=textwrap.dedent(LATE_ANNOTATIONS),
                        test_handlers=tests.replace("== [str, str]", "== [int, str]"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind")
    result.assert_outcomes(passed=3)
