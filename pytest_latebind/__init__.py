"""pytest-latebind: catch late-binding closures in your own test run.

Public API: :class:`LateBindingError`, :class:`LateBindingWarning`,
:class:`LatebindPluginWarning`, :class:`Finding` and :func:`check`; the ``latebind``
fixture and ``@pytest.mark.latebind`` come with the plugin.  The warning classes need
pytest and are imported on first use, so the core (scopes, transformer, recorder) stays
importable without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._cells import check as _check
from ._cells import raise_for as _raise_for
from ._errors import LateBindingError
from ._findings import Finding

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ._warnings import LateBindingWarning, LatebindPluginWarning


def check(callables: Iterable[Any]) -> None:
    """Raise :class:`LateBindingError` if sibling closures among ``callables`` share a loop
    variable.  The same as the ``latebind`` fixture's ``check``, usable outside pytest."""
    _raise_for(_check(callables))


def __getattr__(name: str) -> Any:
    if name in ("LateBindingWarning", "LatebindPluginWarning"):
        from . import _warnings

        return getattr(_warnings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Finding",
    "LateBindingError",
    "LateBindingWarning",
    "LatebindPluginWarning",
    "__version__",
    "check",
]
