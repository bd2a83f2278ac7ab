"""Warning categories, for ``-W`` and ``filterwarnings``."""

from __future__ import annotations

import pytest


class LateBindingWarning(pytest.PytestWarning):
    """A late-binding closure, reported in ``latebind_mode = warn`` instead of failing."""


class LatebindPluginWarning(pytest.PytestWarning):
    """pytest-latebind could not do part of its job: a module it could not instrument,
    modules imported before its hook, or an internal error.  Your test results stand."""


for _category in (LateBindingWarning, LatebindPluginWarning):
    _category.__module__ = "pytest_latebind"  # as -W and filterwarnings name them
