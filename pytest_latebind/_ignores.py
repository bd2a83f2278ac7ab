"""Deliberate silencing: a finding judged harmless, silenced where a reviewer sees it and why.

Three ways, each naming the loop variable and each requiring a reason (there is no blanket
switch):

* an inline comment on the closure's line (the ``lambda``, or the ``def`` keyword)::

      callbacks.append(lambda: host)  # latebind: ignore[host] called within its round only

* the ini list ``latebind_ignore``, one ``path::qualname:variable  reason`` a line (the
  path relative to the rootdir, the qualified name as the baseline spells it);
* for one test, ``@pytest.mark.latebind(ignore=["host"], reason="...")``.

A silenced finding does not fail and is not reported as a finding; the terminal summary lists
it with its reason.  An ignore that matched no finding is listed as unused at the end of the
run: a marker's, whenever its test ran; a comment's or an ini line's, when the whole suite ran
(a run that left tests out cannot tell, see ``_baseline.complete_run``).
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import iniconfig
import pytest

from ._compat import toml_loads
from ._findings import Finding
from ._messages import Context

_INLINE = re.compile(r"#\s*latebind:\s*ignore\[([^\]]*)\]([^#]*)")
_EXAMPLE_REASON = "called within its round only"


@dataclass(frozen=True)
class Ignore:
    by: str  # "comment", "latebind_ignore" or "marker"
    where: str  # file:line, path::qualname, or the test's node id
    variables: tuple[str, ...]
    reason: str

    @property
    def label(self) -> str:
        """How the summary names it: ``app.py:5 ignore[host]``."""
        if self.by == "latebind_ignore":
            return f"latebind_ignore {self.where}:{self.variables[0]}"
        if self.by == "marker":
            return f"{self.where} @pytest.mark.latebind(ignore={list(self.variables)!r})"
        return f"{self.where} # latebind: ignore[{','.join(self.variables)}]"


def _variables(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def inline_comment(line_text: str) -> tuple[tuple[str, ...], str] | None:
    """The variables and the reason of a ``# latebind: ignore[...]`` comment on a line."""
    match = _INLINE.search(line_text)
    if match is None:
        return None
    return _variables(match.group(1)), match.group(2).strip()


def scan(files: Iterable[str], context: Context) -> list[str]:
    """The labels of every inline ignore in ``files`` (the watched modules), to tell unused ones."""
    labels = []
    for file in sorted(files):
        for number, text in enumerate(linecache.getlines(file), 1):
            found = inline_comment(text) if "latebind" in text else None
            if found is not None:
                labels.append(Ignore("comment", f"{context.path(file)}:{number}", found[0], found[1]).label)
    return labels


def configured_ignores(start: Path) -> tuple[Path, list[str]] | None:
    """The directory and the ``latebind_ignore`` lines of the pytest configuration file that
    pytest would take from ``start`` (for the scan outside pytest): in ``start`` and each of
    its parents, the first of ``pytest.ini``, ``.pytest.ini``, ``pyproject.toml`` with
    ``[tool.pytest.ini_options]``, ``tox.ini`` with ``[pytest]``, ``setup.cfg`` with
    ``[tool:pytest]``.  None: no such file."""
    for folder in (start, *start.parents):
        for name, section in (("pytest.ini", "pytest"), (".pytest.ini", "pytest"), ("pyproject.toml", None),
                              ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
            path = folder / name
            if not path.is_file():
                continue
            if section is None:
                table = toml_loads(path.read_text(encoding="utf-8")).get("tool", {}).get("pytest", {})
                if "ini_options" not in table:
                    continue
                value = table["ini_options"].get("latebind_ignore", [])
                return folder, [value] if isinstance(value, str) else [str(v) for v in value]
            config = iniconfig.IniConfig(str(path))
            if section not in config:
                if name.endswith("pytest.ini"):  # pytest takes it even without the section
                    return folder, []
                continue
            raw = config[section].get("latebind_ignore", "")
            return folder, [line for line in (part.strip() for part in raw.split("\n")) if line]
    return None


def parse_ini(lines: Iterable[str]) -> dict[tuple[str, str, str], Ignore]:
    """``latebind_ignore`` lines, by (path, qualname, variable); a bad line is a usage error."""
    out: dict[tuple[str, str, str], Ignore] = {}
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        target, _, reason = line.partition(" ")
        path, sep, rest = target.partition("::")
        qualname, colon, variable = rest.rpartition(":")
        if not (sep and colon and path and qualname and variable.isidentifier()):
            raise pytest.UsageError(
                f"ini option latebind_ignore: {line!r} is not 'path::qualname:variable  reason'; write "
                f"e.g. 'app/jobs.py::make.<locals>.<lambda>:host  {_EXAMPLE_REASON}' (the path relative "
                "to the rootdir; the terminal summary and the baseline spell findings this way)")
        if "*" in target or "?" in target:
            raise pytest.UsageError(
                f"ini option latebind_ignore: {line!r}: patterns are not accepted; name one site and one "
                "variable, so that each silenced finding is reviewed on its own")
        if not reason.strip():
            raise pytest.UsageError(
                f"ini option latebind_ignore: {line!r} has no reason. Say after the entry why the finding "
                f"is harmless (e.g. '{target}  {_EXAMPLE_REASON}'), so that a reviewer can judge it")
        out[(path, qualname, variable)] = Ignore("latebind_ignore", f"{path}::{qualname}", (variable,),
                                                 reason.strip())
    return out


def marker_ignore(marker: Any, nodeid: str) -> Ignore | None:
    """The ``ignore=``/``reason=`` of a ``latebind`` marker (checked by ``check_marker``)."""
    if marker is None or "ignore" not in marker.kwargs:
        return None
    ignore = marker.kwargs["ignore"]
    variables = (ignore,) if isinstance(ignore, str) else tuple(ignore)
    return Ignore("marker", nodeid, variables, str(marker.kwargs.get("reason", "")).strip())


def check_marker_kwargs(kwargs: Mapping[str, Any], marker: str) -> str | None:
    """Why the marker's ``ignore=``/``reason=`` are wrong, or None."""
    unknown = sorted(set(kwargs) - {"ignore", "reason"})
    if unknown:
        return f"unknown argument {unknown[0]!r}"
    if "ignore" not in kwargs:
        return "reason= goes with ignore=[...], the loop variables to silence in this test"
    ignore = kwargs["ignore"]
    names = [ignore] if isinstance(ignore, str) else ignore
    if not isinstance(names, (list, tuple)) or not names or not all(
            isinstance(n, str) and n.isidentifier() for n in names):
        return f"ignore= takes the loop variables' names, e.g. ignore=['host'], got {ignore!r}"
    reason = kwargs.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return (f"ignore={ignore!r} needs reason='...': a silenced finding "
                f"must say why it is harmless, e.g. reason={_EXAMPLE_REASON!r}")
    return None


class Silencer:
    """Matches findings with the ignores; remembers which applied, to tell unused ones."""

    def __init__(self, ini_lines: Iterable[str], context: Context, warn: Callable[[str], None]) -> None:
        self.ini = parse_ini(ini_lines)
        self.context = context
        self.warn = warn
        self._warned: set[str] = set()

    def match(self, finding: Finding, marker: Ignore | None = None) -> Ignore | None:
        where = f"{self.context.path(finding.file)}:{finding.line}"
        found = inline_comment(linecache.getline(finding.file, finding.line))
        if found is not None and finding.variable in found[0]:
            variables, reason = found
            if reason:
                return Ignore("comment", where, variables, reason)
            if where not in self._warned:
                self._warned.add(where)
                self.warn(f"{where}: '# latebind: ignore[{','.join(variables)}]' has no reason, so it does "
                          f"not apply and the finding stands. Say why it is harmless after the brackets, "
                          f"e.g. '# latebind: ignore[{finding.variable}] {_EXAMPLE_REASON}'")
        qualname = finding.qualname or f"{finding.site_name}@{finding.line}"
        ini = self.ini.get((self.context.path(finding.file), qualname, finding.variable))
        if ini is not None:
            return ini
        if marker is not None and finding.variable in marker.variables:
            return marker
        return None

    def split(self, findings: Iterable[Finding], marker: Ignore | None = None
              ) -> tuple[list[Finding], list[dict[str, str]]]:
        """The findings that stand, and what was silenced (builtins: it travels on reports)."""
        kept, silenced = [], []
        for finding in findings:
            ignore = self.match(finding, marker)
            if ignore is None:
                kept.append(finding)
            else:
                silenced.append({"ignore": ignore.label, "reason": ignore.reason,
                                 "finding": f"{self.context.path(finding.file)}:{finding.line} "
                                            f"{finding.qualname or finding.site_name}, loop variable "
                                            f"{finding.variable!r}",
                                 # The site, for site coverage: a silenced site is still a buggy one.
                                 "site": f"{self.context.path(finding.file)}:{finding.line}:{finding.column}"})
        return kept, silenced
