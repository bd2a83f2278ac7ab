"""The test runner of ``tools/mutate.py``: a fork server started with the snapshot's interpreter.

Starting pytest costs more than most mutants' tests: importing pytest, Hypothesis and the
pytester machinery is most of it.  This process imports them once (never ``pytest_latebind``,
which each mutant must import fresh) and forks one child per mutant, which writes nothing but
runs ``pytest.main`` on the mutated snapshot.  The parent writes the mutant's text before the
fork and the original back after, enforces the timeout on the child's whole process group
(its tests' subprocesses included), and answers with one JSON line per request.

Requests on stdin, one JSON object a line: ``file``, ``text`` (the mutated source, or null
for none), ``tests``, ``timeout`` (seconds), ``log`` (the child's output goes there).
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
        rc = int(pytest.main([*ARGS, *request["tests"]]))
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
