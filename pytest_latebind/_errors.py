"""The exception a late-binding bug raises (pure: importable without pytest)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._findings import Finding


class LateBindingError(Exception):
    """Closures made in a loop read a loop variable's current value, not their own.

    ``findings`` holds the :class:`~pytest_latebind.Finding` objects behind the message.
    """

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)


LateBindingError.__module__ = "pytest_latebind"  # as users import it, and as tracebacks show it
