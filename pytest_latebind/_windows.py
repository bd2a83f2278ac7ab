"""Which window the recorder writes into: the session's, outside tests, or one per watched test.

Every window is opened with ``RECORDER.recording()``, the only way to set the current one:
the session's from the start of the run to its end, a test's around its protocol (setup,
call, teardown), and none at all once an internal error has switched the checks off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ._findings import Finding
from ._judge import judge
from ._recorder import RECORDER, Window


class Windows:
    def __init__(self) -> None:
        self.session = Window(None)  # what happens outside tests: imports, work between tests
        self.stopped = False
        self._blocks = contextlib.ExitStack()

    def open(self, show_values: bool) -> None:
        # With values hidden the recorder takes no repr of a user's value, ever.
        RECORDER.show_values = show_values
        self._blocks.callback(setattr, RECORDER, "show_values", True)
        self._blocks.enter_context(RECORDER.recording(self.session))

    def stop(self) -> None:
        """Record nothing from now on, in this test and after it (an internal error)."""
        if not self.stopped:
            self.stopped = True
            self._blocks.enter_context(RECORDER.recording(None))

    def close(self) -> None:
        self._blocks.close()

    @contextlib.contextmanager
    def test(self, nodeid: str | None) -> Iterator[Window | None]:
        """A window for the test ``nodeid`` (None: an unwatched test, which records nothing)."""
        window = Window(nodeid) if nodeid is not None and not self.stopped else None
        with RECORDER.recording(window):
            yield window

    def judge_test(self, window: Window | None, *, shared: bool) -> list[Finding]:
        """A test's findings so far; its stale closures' siblings may be the session's."""
        if window is None or self.stopped:
            return []
        return judge(window, shared=shared, context=self.session)

    def judge_session(self) -> list[Finding]:
        """Findings made outside any test (import time), judged at the end of the session."""
        return [] if self.stopped else judge(self.session, shared=True)
