"""The ``latebind`` fixture's object."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import _cells
from ._errors import LateBindingError
from ._findings import Finding


class Latebind:
    """What the ``latebind`` fixture gives a test.

    ``latebind.error`` is :class:`LateBindingError`, for ``pytest.raises(latebind.error)``.
    """

    error = LateBindingError

    def __init__(self, rootdir: str | None = None, show_values: bool = True,
                 report: Callable[[list[Finding]], None] | None = None) -> None:
        self._rootdir = rootdir
        self._show_values = show_values
        self._report = report  # hands findings to the run's reports, watched test or not

    def check(self, callables: Iterable[Any]) -> None:
        """Raise :class:`LateBindingError` if sibling closures among ``callables`` share a loop
        variable's cell (or, for a loop at module level, its global).

        ``callables`` is any iterable of callables (a mapping's values are used): functions,
        lambdas, bound methods and ``functools.partial`` objects are unwrapped; builtins,
        classes and other callable objects have no cells and are accepted as they are.
        Works with or without ``--latebind``; with it, closures made with identical values
        (harmless) are told apart from those made with different ones.  Findings are added
        to the run's reports.  A non-callable item is a ``TypeError`` naming it.
        """
        findings = _cells.check(callables)
        if findings and self._report is not None:
            self._report(findings)
        _cells.raise_for(findings, self._rootdir, self._show_values)
