"""A process that forks while other threads make and call closures: the child never hangs.

A lock held by another thread at the fork stays held for ever in the child, where that
thread does not exist; the recorder gives the child fresh locks.  The bound is the test's
own: a child that has not finished in 10 s is killed and the run fails at once.
"""

from __future__ import annotations

import os
import sys

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs os.fork")

WORKLOAD = '''
import os
import threading
import time

STOP = threading.Event()


def churn():
    total = 0
    while not STOP.is_set():
        for i in range(50):
            f = lambda: i  # made and called within its round: correct, and recorded
            total += f()
    return total


def fork_while_busy(rounds):
    threads = [threading.Thread(target=churn, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    hung = 0
    try:
        for _ in range(rounds):
            pid = os.fork()
            if pid == 0:  # the child: make and call closures, as a worker would
                code = 3
                try:
                    values = []
                    for j in range(20):
                        g = lambda: j
                        values.append(g())
                    code = 0 if values == list(range(20)) else 2
                finally:
                    os._exit(code)
            deadline = time.monotonic() + 10
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    assert os.waitstatus_to_exitcode(status) == 0
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    hung += 1
                    break
                time.sleep(0.001)
            if hung:
                break
    finally:
        STOP.set()
        for thread in threads:
            thread.join()
    return hung
'''

TEST = '''
import workload


def test_fork_while_busy():
    assert workload.fork_while_busy(50) == 0
'''


def test_a_child_forked_while_threads_record_never_hangs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(workload=WORKLOAD, test_workload=TEST)
    # DeprecationWarning: Python 3.12+ warns that forking a multi-threaded process may deadlock.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", "-W",
                                           "ignore::DeprecationWarning", timeout=120)
    result.assert_outcomes(passed=1)
