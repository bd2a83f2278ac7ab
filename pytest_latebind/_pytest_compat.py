"""The only module that touches pytest's private internals: its assertion rewriting hook,
and its JUnit XML writer.

Test modules are loaded by pytest's ``AssertionRewritingHook``.  To instrument one we ask
that hook, through its public ``find_spec``, whether it would claim the module; if so we
load it ourselves, apply our transform and then pytest's ``rewrite_asserts``, and tell the
hook that the module was rewritten (so it neither warns that it came too late nor loses
track of it for ``get_resource_reader``).
"""

from __future__ import annotations

import ast
import sys
import types
from collections.abc import Sequence
from pathlib import Path

import pytest
from _pytest import junitxml as _junitxml
from _pytest.assertion import rewrite as _rewrite


class PytestRewrite:
    def __init__(self, config: pytest.Config, hook: _rewrite.AssertionRewritingHook) -> None:
        self.config = config
        self.hook = hook
        # Assertion rewriting depends on pytest's version and on this ini option: both go
        # into our cache tag, as they would if pytest cached the module itself.
        passhook = "-passhook" if config.getini("enable_assertion_pass_hook") else ""
        self.tag = _rewrite.PYTEST_TAG.replace(sys.implementation.cache_tag + "-", "") + passhook

    def claims(self, name: str, path: Sequence[str] | None, target: types.ModuleType | None) -> bool:
        spec = self.hook.find_spec(name, path, target)
        return spec is not None and spec.loader is self.hook

    def rewrite(self, tree: ast.Module, source: bytes, filename: str) -> None:
        _rewrite.rewrite_asserts(tree, source, filename, self.config)

    def loaded(self, name: str, filename: str) -> None:
        self.hook._rewritten_names[name] = Path(filename)

    def rewrote(self, name: str) -> bool:
        """Whether pytest loaded ``name`` itself: a test module or conftest.py."""
        return name in self.hook._rewritten_names


def rewrite_hook(config: pytest.Config) -> PytestRewrite | None:
    """pytest's assertion rewriting hook, when ``--assert=rewrite`` installed one."""
    for finder in sys.meta_path:
        if isinstance(finder, _rewrite.AssertionRewritingHook):
            return PytestRewrite(config, finder)
    return None


def junit_xml(config: pytest.Config) -> _junitxml.LogXML | None:
    """pytest's JUnit writer, when ``--junitxml`` is on (never on an xdist worker)."""
    return config.stash.get(_junitxml.xml_key, None)
