"""Alive means reachable in the user's program (issue 10, point 2).

Siblings that share a binding are a finding only while the program can still call them:
held through a module, a running frame, a live thread, a suspended generator, or from C
(``atexit``).  Held only through a frame that has finished (a decorator that stores
``sys._getframe``) or a traceback, they are not: nobody can act on them.
"""

from __future__ import annotations

import json

import pytest

SHAPES = """
    import atexit
    import sys
    import threading

    FRAMES = []
    ERRORS = []
    REGISTRY = []
    STOP = threading.Event()

    def remembers_its_caller(func):
        FRAMES.append(sys._getframe(1))  # a debugging decorator: keeps the caller's frame
        return func

    def used_in_their_rounds(n):
        out = []
        for i in range(n):
            f = lambda: i
            out.append(f())  # each called in its own round
            remembers_its_caller(f)
        return out

    def failed_after_making(n):
        fs = []
        for i in range(n):
            fs.append(lambda: i)
        try:
            raise ValueError("kept with its traceback")
        except ValueError as exc:
            ERRORS.append(exc)
        return n

    def registered(n):
        for i in range(n):
            REGISTRY.append(lambda: i)

    def at_exit(n):
        for i in range(n):
            atexit.register(lambda: i)  # held by atexit, in C
        for _ in range(n):
            atexit.unregister  # the callbacks stay registered: the bug runs at exit

    def in_a_daemon_thread(n):
        callbacks = []
        for i in range(n):
            callbacks.append(lambda: i)
        def serve(callbacks=callbacks):
            STOP.wait()
        threading.Thread(target=serve, daemon=True).start()
        del callbacks

    def in_a_suspended_generator(n):
        def gen():
            callbacks = []
            for i in range(n):
                callbacks.append(lambda: i)
            yield len(callbacks)
            yield [f() for f in callbacks]
        g = gen()
        next(g)
        return g
"""

TESTS = """
    import shapes

    def test_frame_kept_by_a_decorator():
        assert shapes.used_in_their_rounds(3) == [0, 1, 2]

    def test_traceback_kept():
        assert shapes.failed_after_making(3) == 3

    def test_registered_in_a_module():
        shapes.registered(3)

    def test_held_by_atexit():
        shapes.at_exit(3)

    def test_held_by_a_daemon_thread():
        shapes.in_a_daemon_thread(3)

    KEPT = []

    def test_held_by_a_suspended_generator():
        KEPT.append(shapes.in_a_suspended_generator(3))
"""

QUIET = {"test_frame_kept_by_a_decorator", "test_traceback_kept"}
FOUND = {"test_registered_in_a_module", "test_held_by_atexit", "test_held_by_a_daemon_thread",
         "test_held_by_a_suspended_generator"}


@pytest.fixture
def run(pytester: pytest.Pytester) -> tuple[pytest.RunResult, dict[str, list[str]]]:
    pytester.makepyfile(shapes=SHAPES, test_shapes=TESTS)
    report = pytester.path / "latebind.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", f"--latebind-report={report}")
    found: dict[str, list[str]] = {}
    for finding in json.loads(report.read_text())["findings"]:
        for test in finding["tests"]:
            found.setdefault(test.split("::")[1], []).extend(finding["kinds"])
    return result, found


def test_held_only_through_finished_frames_or_tracebacks_is_not_alive(
        run: tuple[pytest.RunResult, dict[str, list[str]]]) -> None:
    result, found = run
    assert not QUIET & set(found), found
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == len(QUIET), result.stdout.str()


def test_held_by_the_program_is_alive(run: tuple[pytest.RunResult, dict[str, list[str]]]) -> None:
    result, found = run
    assert set(found) >= FOUND, found
    assert all(found[test] == ["shared-binding"] for test in FOUND), found
    assert result.parseoutcomes().get("failed") == len(FOUND)
