"""The only module that touches pytest's private internals, each behind one function.

* Test modules are loaded by pytest's ``AssertionRewritingHook``.  To instrument one we ask
  that hook, through its public ``find_spec``, whether it would claim the module; if so we
  load it ourselves, apply our transform and then pytest's ``rewrite_asserts``, and tell the
  hook that the module was rewritten (its private ``_rewritten_names``: so it neither warns
  that the module came too late nor loses track of it for ``get_resource_reader``).
* Our cache tag for a test module includes pytest's (``PYTEST_TAG``).
* Findings go into ``--junitxml`` through pytest's JUnit writer (``xml_key``).

Each door degrades when its internal is gone or changed, with one clear warning, and
tests/test_compat.py fails loudly when one changes.  pyproject.toml bounds pytest to the
versions known to work.
"""

from __future__ import annotations

import ast
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from _pytest import junitxml as _junitxml
from _pytest.assertion import rewrite as _rewrite

Warn = Callable[[str], None]
_warned: set[str] = set()


def _degrade(what: str, consequence: str, warn: Warn) -> None:
    if what not in _warned:
        _warned.add(what)
        warn(f"this pytest ({pytest.__version__}) has no {what} as pytest-latebind knows it: "
             f"{consequence}. Please report this, with your pytest version.")


def pytest_tag(config: pytest.Config, warn: Warn) -> str:
    """pytest's part of a rewritten test module's cache tag (its version, and the pass hook)."""
    tag = getattr(_rewrite, "PYTEST_TAG", None)
    if not isinstance(tag, str):
        _degrade("_pytest.assertion.rewrite.PYTEST_TAG", "test modules are cached under a tag "
                 "of pytest's version alone", warn)
        tag = f"pytest-{pytest.__version__}"
    passhook = "-passhook" if config.getini("enable_assertion_pass_hook") else ""
    return tag.replace(sys.implementation.cache_tag + "-", "") + passhook


def _rewritten_names(hook: Any, warn: Warn) -> dict[str, Any] | None:
    names = getattr(hook, "_rewritten_names", None)
    if not isinstance(names, dict):
        _degrade("AssertionRewritingHook._rewritten_names", "pytest may warn that test modules "
                 "loaded by pytest-latebind were imported too early", warn)
        return None
    return names


class PytestRewrite:
    def __init__(self, config: pytest.Config, hook: _rewrite.AssertionRewritingHook, warn: Warn) -> None:
        self.config = config
        self.hook = hook
        self.warn = warn
        # Assertion rewriting depends on pytest's version and on this ini option: both go
        # into our cache tag, as they would if pytest cached the module itself.
        self.tag = pytest_tag(config, warn)

    def claims(self, name: str, path: Sequence[str] | None, target: types.ModuleType | None) -> bool:
        spec = self.hook.find_spec(name, path, target)
        return spec is not None and spec.loader is self.hook

    def rewrite(self, tree: ast.Module, source: bytes, filename: str) -> None:
        _rewrite.rewrite_asserts(tree, source, filename, self.config)

    def loaded(self, name: str, filename: str) -> None:
        names = _rewritten_names(self.hook, self.warn)
        if names is not None:
            names[name] = Path(filename)

    def rewrote(self, name: str) -> bool:
        """Whether pytest loaded ``name`` itself: a test module or conftest.py."""
        names = _rewritten_names(self.hook, self.warn)
        return names is not None and name in names


def rewrite_hook(config: pytest.Config, warn: Warn) -> PytestRewrite | None:
    """pytest's assertion rewriting hook, when ``--assert=rewrite`` installed one."""
    for finder in sys.meta_path:
        if isinstance(finder, _rewrite.AssertionRewritingHook):
            return PytestRewrite(config, finder, warn)
    return None


def junit_xml(config: pytest.Config, warn: Warn) -> Any | None:
    """pytest's JUnit writer (``add_global_property``), when ``--junitxml`` is on (never on
    an xdist worker)."""
    key = getattr(_junitxml, "xml_key", None)
    if not isinstance(key, pytest.StashKey):
        if getattr(config.option, "xmlpath", None):
            _degrade("_pytest.junitxml.xml_key", "findings are not added to the --junitxml file "
                     "(the JSON and SARIF reports have them)", warn)
        return None
    xml = config.stash.get(key, None)
    return xml if hasattr(xml, "add_global_property") else None
