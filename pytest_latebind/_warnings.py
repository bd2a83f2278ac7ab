"""Warning categories, for ``-W`` and ``filterwarnings``, and how a finding is warned about.

``latebind_mode = warn`` promises to report without failing.  Many projects turn every
warning into an error (``filterwarnings = error``, ``-W error``); such a *blanket* filter does
not name :class:`LateBindingWarning`, so it does not turn warn mode into fail mode: the
warning is emitted as the next filter that matches it says (by default, shown).  A filter
whose category is ``LateBindingWarning`` itself (``error::pytest_latebind.LateBindingWarning``)
does what it says.  See ``docs/how-to/warn-instead-of-fail.md``.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import pytest


class LateBindingWarning(pytest.PytestWarning):
    """A late-binding closure, reported in ``latebind_mode = warn`` instead of failing."""


class LatebindPluginWarning(pytest.PytestWarning):
    """pytest-latebind could not do part of its job: a module it could not instrument,
    modules imported before its hook, or an internal error.  Your test results stand."""


for _category in (LateBindingWarning, LatebindPluginWarning):
    _category.__module__ = "pytest_latebind"  # as -W and filterwarnings name them


def _matches(entry: Any, text: str, category: type[Warning], module: str, lineno: int) -> bool:
    """Whether a ``warnings.filters`` entry applies (the test ``warnings.warn_explicit`` makes)."""
    try:
        _action, message, cat, mod, line = entry
        return bool((message is None or message.match(text)) and issubclass(category, cat)
                    and (mod is None or mod.match(module)) and (line == 0 or line == lineno))
    except Exception:  # an entry someone put in by hand: not ours to judge
        return False


def _blanket_error(entry: Any) -> bool:
    """An ``error`` filter whose category is broader than ours (``Warning``, ``PytestWarning``)."""
    try:
        return bool(entry[0] == "error" and not issubclass(entry[2], LateBindingWarning))
    except Exception:
        return False


def action_without_blanket_errors(text: str, module: str, lineno: int,
                                  filters: Sequence[Any] | None = None) -> str | None:
    """The action to take instead of a blanket ``error``, or None when none is in the way.

    The first filter that matches the warning decides, as in :mod:`warnings`; when that one is a
    blanket ``error``, the first matching filter that is not one decides instead (and without
    any, the default action).
    """
    entries = _current_filters() if filters is None else list(filters)
    matching = [e for e in entries if _matches(e, text, LateBindingWarning, module, lineno)]
    if not matching or not _blanket_error(matching[0]):
        return None
    for entry in matching:
        if not _blanket_error(entry):
            return str(entry[0])
    default = str(getattr(warnings, "defaultaction", "default"))  # what warnings does then
    return default if default != "error" else "default"


def _current_filters() -> list[Any]:
    # Python 3.14 with context-aware warnings (free-threaded builds) keeps the filters that
    # catch_warnings() set in a context variable, which warnings.filters does not show.
    get = getattr(warnings, "_get_filters", None)
    try:
        return list(get() if callable(get) else warnings.filters)
    except Exception:
        return list(warnings.filters)


def module_of(file: str) -> tuple[str | None, dict[str, Any] | None]:
    """The name and globals of the imported module of ``file`` (an absolute path), if any."""
    wanted = os.path.normcase(os.path.abspath(file))
    for name, module in list(sys.modules.items()):
        found = getattr(module, "__file__", None)
        if isinstance(found, str) and os.path.normcase(os.path.abspath(found)) == wanted:
            return name, getattr(module, "__dict__", None)
    return None, None


def warn_at(warning: LateBindingWarning, file: str, shown: str, lineno: int) -> None:
    """Warn with ``warning`` at the closure site: ``file`` (absolute) shown as ``shown``.

    The filters' ``module`` field is matched against the site's module name.  No registry is
    written into the user's module (pytest records each test's warnings itself), so every
    test with the finding reports it.
    """
    name, module_globals = module_of(file)
    if name is None:
        stem = shown[:-3] if shown.endswith(".py") else shown
        name = stem.replace("/", ".").removesuffix(".__init__")
    action = action_without_blanket_errors(str(warning), name, lineno)
    if action is None:
        warnings.warn_explicit(warning, type(warning), shown, lineno, module=name, registry=None,
                               module_globals=module_globals)
        return
    with warnings.catch_warnings():  # keeps pytest's recording of the test's warnings
        warnings.filterwarnings(action, category=LateBindingWarning)  # type: ignore[arg-type]
        warnings.warn_explicit(warning, type(warning), shown, lineno, module=name, registry=None,
                               module_globals=module_globals)
