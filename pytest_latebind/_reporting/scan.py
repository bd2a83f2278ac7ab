"""The static scan's outputs: ``path:line:col: LB001 message`` lines, JSON and SARIF 2.1.0.

SARIF reuses the runtime report's driver, locations and help text (``sarif``), under rules of
its own (``LB001`` late binding found from the source, ``LB002`` unverified), so a code-scanning
upload of the scan and one of a ``--latebind`` run do not close each other's alerts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from .._baseline import Baseline
from .._messages import Context
from .._scan import Result
from .sarif import _EXAMPLE, _HELP, DOCS_URL, RULES_PAGE, SCHEMA_URI, SRCROOT, _indent, _location

_RULES = {
    "LB001": ("LateBindingInLoop", "error",
              "A closure made in a loop reads its loop variable late, and it outlives its round.",
              "A lambda, def, async def or generator expression made inside a loop reads a variable the "
              "loop rebinds, and the source shows it escaping its round (stored, appended, yielded, "
              "kept by map/filter/partial or a generator consumed later): when it runs, it sees a "
              "later round's value."),
    "LB002": ("LateBindingUnverified", "note",
              "A closure made in a loop reads its loop variable; only a run can tell whether late.",
              "The closure is handed to code the scan cannot see into. Run the tests with --latebind: "
              "site coverage says whether the site is buggy, clean, or was not run."),
    "LB000": ("SourceNotParsed", "error", "The file could not be parsed.", "The scan could not parse this file."),
}


def baselined(result: Result, baseline: Baseline | None, context: Context) -> bool:
    """Whether the baseline accepts the site: an entry for its path, qualified name and
    variables, of any kind (the scan tells no stale read from a shared binding)."""
    if baseline is None or result.verdict is None:
        return False
    site = result.verdict.site
    known = {(path, qualname, variable) for path, qualname, variable, _kind in baseline.entries}
    return all((context.path(result.file), site.qualname, v) in known for v in site.variables)


def ini_ignored(result: Result, ignores: Mapping[tuple[str, str, str], Any], context: Context) -> bool:
    """Whether ``latebind_ignore`` lines (``context``: relative to their rootdir) silence the
    site: one for every variable it reads."""
    if result.verdict is None:
        return False
    site = result.verdict.site
    path = context.path(result.file)
    return all((path, site.qualname, v) in ignores for v in site.variables)


def text(results: Sequence[Result], context: Context) -> list[str]:
    return [f"{context.path(r.file)}:{r.line}:{r.column}: {r.code} {r.message}" for r in results]


def as_json(results: Sequence[Result], context: Context) -> str:
    rows = []
    for r in results:
        row: dict[str, Any] = {"path": context.path(r.file), "line": r.line, "column": r.column, "code": r.code,
                               "message": r.message}
        if r.verdict is not None:
            site = r.verdict.site
            row.update(status=r.verdict.status, reason=r.verdict.reason, kind=site.kind, name=site.name,
                       qualname=site.qualname, variables=list(site.variables))
        rows.append(row)
    return json.dumps({"version": 1, "tool": f"pytest-latebind {__version__}", "results": rows}, indent=2) + "\n"


def _rules() -> list[dict[str, Any]]:
    out = []
    for code, (name, level, short, full) in _RULES.items():
        help_text = full + ("\n\n" + _HELP.format(example=_indent(_EXAMPLE)) if code == "LB001" else "")
        out.append({"id": code, "name": name, "shortDescription": {"text": short},
                    "fullDescription": {"text": full}, "help": {"text": help_text},
                    "helpUri": f"{RULES_PAGE}#{code.lower()}", "defaultConfiguration": {"level": level},
                    "properties": {"tags": ["correctness", "late-binding", "closures", "static"]}})
    return out


def as_sarif(results: Sequence[Result], context: Context, root: Path) -> str:
    codes = list(_RULES)
    out = []
    for r in results:
        where = _location(r.file, r.line, root, r.column)
        key = "\0".join([where["physicalLocation"]["artifactLocation"]["uri"], r.code,
                         r.verdict.site.qualname if r.verdict else "", r.message])
        out.append({"ruleId": r.code, "ruleIndex": codes.index(r.code), "level": _RULES[r.code][1],
                    "message": {"text": r.message}, "locations": [where],
                    "partialFingerprints": {"latebindScan/v1": hashlib.sha256(key.encode()).hexdigest()[:32]}})
    return json.dumps({
        "$schema": SCHEMA_URI, "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "pytest-latebind scan", "version": __version__,
                                      "semanticVersion": __version__, "informationUri": DOCS_URL,
                                      "rules": _rules()}},
                  "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri().rstrip("/") + "/"}},
                  "columnKind": "unicodeCodePoints", "results": out}],
    }, indent=2) + "\n"
