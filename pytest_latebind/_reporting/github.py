"""GitHub Actions annotations: one ``::error`` (or ``::warning``) workflow command per finding.

Printed by the controller at the end of the run when ``GITHUB_ACTIONS=true``, which the
runner sets; GitHub shows them on the pull request's diff at the closure's line. Paths are
relative to the repository root, as the runner resolves them (see ``files.source_root``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .. import _messages
from .._findings import Finding
from .._kinds import Mode
from .._messages import Context


def enabled() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """The message, as the runner unescapes it (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A ``key=value`` property (``escapeProperty``): ``:`` and ``,`` delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _path(file: str, root: Path) -> str:
    path = Path(file)
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def annotation(finding: Finding, context: Context, *, root: Path, mode: Mode, patch: str | None = None) -> str:
    """``patch``: the --latebind-fix file holding a verified fix of the finding's site."""
    command = "error" if mode == Mode.FAIL else "warning"
    properties = ",".join(f"{key}={escape_property(value)}" for key, value in (
        ("file", _path(finding.file, root)), ("line", str(finding.line)),
        ("col", str(finding.column)), ("title", _messages.headline(finding))))
    text = _messages.message(finding, context)
    if patch is not None:
        text += f"\n\nA verified fix is available: git apply {patch}"
    return f"::{command} {properties}::{escape_data(text)}"


def commands(findings: Sequence[Finding], context: Context, *, root: Path, mode: Mode,
             patches: dict[tuple[str, int, int], str] | None = None) -> list[str]:
    """``patches``: per site (file, line, column) with a verified fix, the patch file."""
    return [annotation(f, context, root=root, mode=mode, patch=(patches or {}).get(f.key[:3])) for f in findings]
