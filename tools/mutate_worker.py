"""The test runner of ``tools/mutate.py``: a fork server started with the snapshot's interpreter.

Starting pytest costs more than most mutants' tests: importing pytest, Hypothesis and the
pytester machinery is most of it.  This process imports them once (never ``pytest_latebind``,
which each mutant must import fresh) and forks one child per mutant, which writes nothing but
runs ``pytest.main`` on the mutated snapshot.  The parent writes the mutant's text before the
fork and the original back after, enforces the timeout on the child's whole process group
(its tests' subprocesses included), and answers with one JSON line per request.

Two limits bound a mutant.  The parent kills the child's process group when the whole run
exceeds ``timeout``.  The child itself gives each test ``test_limits[node id]`` seconds (setup,
call and teardown): a ``SIGALRM`` past it writes the test's name to the log and ends the child
with exit code ``TIMEOUT_EXIT``, so a mutant that hangs one test is stopped after a few times
that test's own time, not after the whole budget; the parent then ends what the test started.

Requests on stdin, one JSON object a line: ``file``, ``text`` (the mutated source, or null
for none), ``tests``, ``timeout`` (seconds), ``test_limits`` (optional: seconds per node id),
``log`` (the child's output goes there).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

for _name in ("_pytest.pytester", "hypothesis", "xdist", "execnet", "jsonschema"):
    with contextlib.suppress(ImportError):
        __import__(_name)

ARGS = ["-x", "-q", "-p", "no:cacheprovider", "--no-header", "-rfE"]
TIMEOUT_EXIT = 124  # the child's exit code when one test ran past its own limit


class _TestLimits:
    """A pytest plugin: each test that has a limit gets ``SIGALRM`` when it runs past it."""

    def __init__(self, limits: dict[str, float], log: int) -> None:
        self.limits, self.log = limits, log  # the log's own descriptor: pytest captures fd 2

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        limit = self.limits.get(item.nodeid)
        if limit is None:
            yield
            return

        def expired(signum: int, frame: Any) -> None:
            os.write(self.log, f"\nmutate: {item.nodeid} ran past its limit of {limit:.0f}s\n".encode())
            os._exit(TIMEOUT_EXIT)

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Run one mutant's tests in a forked child; restore the file whatever happens."""
    path = Path(request["file"])
    original = path.read_bytes()
    if request["text"] is not None:
        path.write_text(request["text"])
    start = time.monotonic()
    try:
        pid = os.fork()
        if pid == 0:  # the child: its own process group, so a timeout ends its subprocesses too
            os.setpgid(0, 0)
            _child(request)
        timed_out, rc = _wait(pid, float(request["timeout"]))
        if rc == TIMEOUT_EXIT:  # one test ran past its own limit: end what it started
            timed_out = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    finally:
        path.write_bytes(original)
    return {"rc": rc, "timeout": timed_out, "seconds": round(time.monotonic() - start, 2)}


def _child(request: dict[str, Any]) -> None:
    rc = 3
    try:
        fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.dont_write_bytecode = True
        plugins = [_TestLimits(request["test_limits"], fd)] if request.get("test_limits") else []
        rc = int(pytest.main([*ARGS, *request["tests"]], plugins=plugins))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)  # no atexit handlers, no parent state flushed twice


def _wait(pid: int, timeout: float) -> tuple[bool, int]:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return False, os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return True, -9
        time.sleep(0.02)


def main() -> None:
    for line in sys.stdin:
        print(json.dumps(run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
