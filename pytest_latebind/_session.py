"""The state of one pytest run: settings, the import hook, windows, and all findings.

``plugin.py`` holds the hooks and calls into this; nothing here is a hook.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import _pytest_compat
from ._findings import Finding, FindingStore
from ._importhook import ImportHook, WatchPolicy, imported_before, install, uninstall
from ._judge import judge
from ._options import Settings, check_report_path, read_settings
from ._recorder import RECORDER, Window
from ._warnings import LateBindingWarning, LatebindPluginWarning

MARKER = "latebind"
_MARKER_IN_SOURCE = re.compile(rb"\bmark\s*\.\s*latebind\b")


class LatebindRun:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.rootdir = config.rootpath
        self.hook: ImportHook | None = None
        self.store = FindingStore()
        self.session_window = Window(None)
        self.window: Window | None = None
        self.report_path: Path | None = None
        self.broken = False
        self.started = False  # pytest_sessionstart has run: warnings.warn is captured from now on
        self._warned: set[str] = set()
        self._checked: dict[str, list[Finding]] = {}

    @classmethod
    def start(cls, config: pytest.Config) -> LatebindRun:
        run = cls(config, read_settings(config))
        RECORDER.window = run.session_window
        if run.settings.enabled:
            run.install_hook()
        return run

    # -- warnings and internal errors ---------------------------------------------------
    def warn(self, message: str, category: type[Warning] = LatebindPluginWarning) -> None:
        warning = category(f"pytest-latebind: {message}")
        if self.started:
            warnings.warn(warning, stacklevel=2)
        else:
            self.config.issue_config_time_warning(warning, stacklevel=2)

    @contextlib.contextmanager
    def guard(self, where: str) -> Iterator[None]:
        """Our bug is never the user's failure: warn once, stop checking, keep their results."""
        if self.broken:
            yield
            return
        try:
            yield
        except Exception as exc:
            self.broken = True
            RECORDER.window = None
            self.warn(f"internal error in {where}: {type(exc).__name__}: {exc}. Late-binding checks "
                      "are off for the rest of this run; your test results stand. Please report this.")

    # -- the import hook ----------------------------------------------------------------
    def install_hook(self) -> None:
        if self.hook is not None:
            return
        policy = WatchPolicy(self.rootdir, self.settings.modules, self.settings.test_modules)
        rewrite = _pytest_compat.rewrite_hook(self.config)
        # Test modules collected before a marker-only run met its first marked test file are
        # not worth a warning: what matters is the code under test.
        early = [name for name in imported_before(policy) if rewrite is None or not rewrite.rewrote(name)]
        self.hook = ImportHook(policy, rewrite, self.warn)
        install(self.hook)
        if early:
            shown = ", ".join(early[:10]) + (f" and {len(early) - 10} more" if len(early) > 10 else "")
            self.warn(f"{len(early)} watched module(s) were imported before the import hook was "
                      f"installed and are not instrumented: {shown}. Import them from tests or "
                      "conftest.py, not from plugins loaded earlier, or run with --latebind.")

    def maybe_install_for(self, path: Path) -> None:
        """Marker-only runs: install the hook before the first test module using the marker.

        Only files pytest collects as test modules (``python_files``) and conftest files are
        read, once each, and only until the hook is installed.
        """
        if self.hook is not None or self.broken or path.suffix != ".py":
            return
        patterns = self.config.getini("python_files")
        if path.name != "conftest.py" and not any(
                fnmatch.fnmatch(path.name, p) or fnmatch.fnmatch(path.as_posix(), f"*/{p}") for p in patterns):
            return
        try:
            source = path.read_bytes()
        except OSError:
            return
        if _MARKER_IN_SOURCE.search(source):
            self.install_hook()

    def close(self) -> None:
        if self.hook is not None:
            uninstall(self.hook)
        RECORDER.window = None

    # -- tests --------------------------------------------------------------------------
    def watches(self, item: pytest.Item) -> bool:
        return not self.broken and (self.settings.enabled or item.get_closest_marker(MARKER) is not None)

    def open_window(self, item: pytest.Item) -> None:
        if self.watches(item):
            if self.hook is None and "unhooked" not in self._warned:
                self._warned.add("unhooked")
                self.warn(f"{item.nodeid} is marked latebind, but its test file does not mention "
                          "the marker, so no module was instrumented for it; run with --latebind "
                          "or set latebind = true")
            self.window = Window(item.nodeid)
            RECORDER.window = self.window
        else:
            self.window = None
            RECORDER.window = None

    def close_window(self) -> None:
        self.window = None
        RECORDER.window = None if self.broken else self.session_window

    def judge_test(self, *, shared: bool) -> list[Finding]:
        if self.window is None:
            return []
        return judge(self.window, shared=shared, context=self.session_window)

    def checked(self, nodeid: str, findings: list[Finding]) -> None:
        """Findings of ``latebind.check()``: reported, not failed on again (check raised)."""
        self._checked.setdefault(nodeid, []).extend(findings)

    def take_checked(self, nodeid: str) -> list[Finding]:
        found = self._checked.pop(nodeid, [])
        for finding in found:
            finding.tests = [nodeid]
        return found

    def messages(self, findings: list[Finding]) -> str:
        return "\n".join(f.message(str(self.rootdir), self.settings.show_values) for f in findings)

    def warn_findings(self, findings: list[Finding]) -> None:
        warnings.warn(LateBindingWarning(self.messages(findings)), stacklevel=2)

    # -- the end ------------------------------------------------------------------------
    def finish(self) -> list[Finding]:
        """Findings made outside any test (import time), judged at the end of the session."""
        if self.broken:
            return []
        found = judge(self.session_window, shared=True)
        self.store.extend(found)
        return found


def finding_dicts(findings: list[Finding]) -> list[dict[str, Any]]:
    return [f.to_dict() for f in findings]


def validate_report(run: LatebindRun) -> None:
    if run.settings.report is not None:
        run.report_path = check_report_path(run.settings.report, run.config.invocation_params.dir)
