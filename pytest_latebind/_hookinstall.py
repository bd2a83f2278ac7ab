"""When and how the import hook goes in: at start-up with ``--latebind``, or in a marker-only
run before the first test file that uses the marker; out again when the run ends.

While it is in, it stays first in ``sys.meta_path``: another import hook installed after it
(typeguard's pytest plugin installs its own in ``pytest_configure``, a ``conftest.py`` can
install one) is moved behind it at the next pytest hook, so that ours sees the modules
first and combines with the other hook's loader (see ``_importhook``)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from . import _pytest_compat
from ._importhook import ImportHook, WatchPolicy, imported_before, install, uninstall
from ._options import Settings

_MARKER_IN_SOURCE = re.compile(rb"\bmark\s*\.\s*latebind\b")


class HookInstall:
    def __init__(self, config: pytest.Config, settings: Settings, warn: Callable[[str], None]) -> None:
        self.config = config
        self.settings = settings
        self.warn = warn
        self.hook: ImportHook | None = None
        self._keeper: _KeepFirst | None = None

    def install(self) -> None:
        if self.hook is not None:
            return
        policy = WatchPolicy(self.config.rootpath, self.settings.modules, self.settings.test_modules)
        rewrite = _pytest_compat.rewrite_hook(self.config, self.warn)
        # Test modules collected before a marker-only run met its first marked test file are
        # not worth a warning: what matters is the code under test.
        early = [name for name in imported_before(policy) if rewrite is None or not rewrite.rewrote(name)]
        self.hook = ImportHook(policy, rewrite, self.warn)
        install(self.hook)
        self._keeper = _KeepFirst(self.hook)
        self.config.pluginmanager.register(self._keeper, "latebind-keep-first")
        if early:
            self.warn(_too_early(early, self.settings.enabled))

    def maybe_install_for(self, path: Path) -> None:
        """Marker-only runs: install the hook before the first test module using the marker.

        Only files pytest collects as test modules (``python_files``) and conftest files are
        read, once each, and only until the hook is installed.
        """
        if self.hook is not None or path.suffix != ".py":
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
            self.install()

    def not_combined(self) -> list[str]:
        """Warnings for the modules other import hooks loaded without our transform."""
        return self.hook.not_combined() if self.hook is not None else []

    def close(self) -> None:
        if self._keeper is not None and self.config.pluginmanager.is_registered(self._keeper):
            self.config.pluginmanager.unregister(self._keeper)
        self._keeper = None
        if self.hook is not None:
            uninstall(self.hook)


class _KeepFirst:
    """Puts the import hook back in front after each plugin or conftest.py is registered, at
    the start of the session, and before each test file is collected and each test runs."""

    def __init__(self, hook: ImportHook) -> None:
        self.hook = hook

    def pytest_plugin_registered(self) -> None:
        self.hook.keep_first()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self) -> None:
        self.hook.keep_first()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_file(self) -> None:
        self.hook.keep_first()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self) -> None:
        self.hook.keep_first()


def _too_early(names: list[str], enabled: bool) -> str:
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    if enabled:
        advice = ("They were imported by a plugin loaded before pytest-latebind (-p, or a "
                  "pytest11 entry point); import them from tests or conftest.py instead.")
    else:
        advice = ("In marker-only runs the hook is installed when collection meets the first "
                  "test file using the marker; run with --latebind (or set latebind = true) "
                  "to install it before conftest.py files and earlier test files import them.")
    return (f"{len(names)} watched module(s) were imported before the import hook was "
            f"installed and are not instrumented: {shown}. {advice}")
