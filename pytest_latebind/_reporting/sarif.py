"""SARIF 2.1.0 (``--latebind-sarif=PATH``), for GitHub code scanning and other SARIF viewers.

One rule per finding kind; one result per finding (a finding with both kinds is reported
under ``stale-read``, the bug that happened, and lists both kinds in its properties).
Locations are relative to ``%SRCROOT%``, the repository root (see ``files.source_root``).
The partial fingerprint hashes what identifies a site in the source, not its line number,
so an alert survives code moving above it.
"""

from __future__ import annotations

import hashlib
import json
import linecache
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__, _messages
from .._baseline import Comparison, describe
from .._findings import Finding
from .._kinds import Kind, Mode
from .._messages import Context, call_frames
from .files import write_atomically

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# Where the documentation is published; help URIs point at the rules' sections in it.
DOCS_URL = "https://pytest-latebind.readthedocs.io/en/stable/"
RULES_PAGE = DOCS_URL + "reference/reports/"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "latebindSite/v1"

_RULES: dict[Kind, dict[str, Any]] = {
    Kind.STALE_READ: {
        "name": "LateBindingStaleRead",
        "short": "A closure made in a loop read its loop variable after the loop rebound it.",
        "full": "A lambda, def or async def made inside a loop reads the loop variable when it "
                "runs, not when it was made. A closure made here read the variable while it held "
                "a later value than the one the closure was made with: it computed with the wrong value.",
    },
    Kind.SHARED_BINDING: {
        "name": "LateBindingSharedBinding",
        "short": "Closures made in a loop share one binding of the loop variable.",
        "full": "Two or more closures made here were still alive at the end of a test (or of the "
                "session) and read the same binding of a loop variable, although they were made "
                "with different values. Whichever runs next sees the last value.",
    },
}
_EXAMPLE = """for host in hosts:
    async def check(host=host):      # or functools.partial(ping, host)
        return await ping(host)"""
_HELP = ("Bind the value when the closure is made, so each closure keeps its own:\n\n{example}\n\n"
         "A default argument is evaluated when the `def` or `lambda` runs, and functools.partial "
         "stores its arguments: both keep the current value, where a plain closure keeps the variable.")


def rules() -> list[dict[str, Any]]:
    out = []
    for kind, rule in _RULES.items():
        out.append({
            "id": str(kind),
            "name": rule["name"],
            "shortDescription": {"text": rule["short"]},
            "fullDescription": {"text": rule["full"]},
            "help": {"text": rule["full"] + "\n\n" + _HELP.format(example=_indent(_EXAMPLE)),
                     "markdown": rule["full"] + "\n\n" + _HELP.format(example=f"```python\n{_EXAMPLE}\n```")
                     + f"\n\n[Documentation]({RULES_PAGE}#{kind})"},
            "helpUri": f"{RULES_PAGE}#{kind}",
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["correctness", "late-binding", "closures"], "precision": "very-high",
                           "problem.severity": "error"},
        })
    return out


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _artifact(file: str, root: Path) -> dict[str, Any]:
    path = Path(file)
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:  # outside the repository (an installed package watched by name)
        return {"uri": path.resolve().as_uri()}
    return {"uri": relative.as_posix(), "uriBaseId": SRCROOT}


def _location(file: str, line: int, root: Path, column: int | None = None) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(line, 1)}
    if column is not None:
        region["startColumn"] = max(column, 1)
    return {"physicalLocation": {"artifactLocation": _artifact(file, root), "region": region}}


def fingerprint(finding: Finding, root: Path) -> str:
    """Stable across runs and across edits elsewhere in the file: the site's path, kind,
    name, variable and source line, and how many identical lines precede it."""
    linecache.checkcache(finding.file)  # a long-lived process may have seen an older version
    lines = linecache.getlines(finding.file)
    text = lines[finding.line - 1].strip() if 0 < finding.line <= len(lines) else f"line {finding.line}"
    ordinal = sum(1 for other in lines[:finding.line - 1] if other.strip() == text)
    artifact = _artifact(finding.file, root)["uri"]
    key = "\0".join([artifact, finding.site_kind, finding.site_name, finding.variable, text, str(ordinal)])
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def result(finding: Finding, context: Context, *, root: Path, mode: Mode,
           comparison: Comparison | None = None) -> dict[str, Any]:
    kind = Kind.STALE_READ if Kind.STALE_READ in finding.kinds else Kind.SHARED_BINDING
    properties: dict[str, Any] = {
        "variable": finding.variable,
        "kinds": [str(k) for k in finding.kinds],
        "tests": sorted(finding.tests),
        "outsideTests": finding.outside_tests,
        "closures": finding.closures,
        "staleReads": finding.stale_reads,
        "site": {"kind": finding.site_kind, "name": finding.site_name},
    }
    if context.show_values:
        properties["createdWith"] = list(finding.created_with)
        properties["seen"] = finding.seen
    out: dict[str, Any] = {
        "ruleId": str(kind),
        "ruleIndex": list(_RULES).index(kind),
        "level": "error" if mode == Mode.FAIL else "warning",
        "message": {"text": _messages.sarif_text(finding, context)},
        "locations": [_location(finding.file, finding.line, root, finding.column)],
        "partialFingerprints": {FINGERPRINT: fingerprint(finding, root)},
        "properties": properties,
    }
    if comparison is not None:
        # "unchanged": in the baseline and found again; "new": not in it.
        out["baselineState"] = "unchanged" if comparison.state(finding) == "known" else "new"
        properties["qualname"] = finding.qualname
    frames = call_frames(finding, context)
    if frames:
        out["stacks"] = [{
            "message": {"text": "first stale read"},
            # SARIF lists frames innermost first; ours are outermost first.
            "frames": [{"location": {**_location(f["file"], f["line"], root),
                                     "logicalLocations": [{"name": f["function"], "kind": "function"}]}}
                       for f in reversed(frames)],
        }]
    return out


# Site coverage (--latebind): a site no test ran is a note, not an alert: it is unverified.
NOT_RUN_RULE: dict[str, Any] = {
    "id": "not-run",
    "name": "LateBindingSiteNotRun",
    "shortDescription": {"text": "A closure made in a loop that no test ran: late binding there is unverified."},
    "fullDescription": {"text": "The tests never made a closure at this site, so the run cannot tell whether it "
                                "reads its loop variable late. Make its closures in a test, with at least "
                                "two loop values, to verify it; `python -m pytest_latebind scan` (or "
                                "--latebind-scan) says what its source shows meanwhile."},
    "helpUri": f"{RULES_PAGE}#not-run",
    "defaultConfiguration": {"level": "note"},
    "properties": {"tags": ["late-binding", "coverage"]},
}


def not_run_results(sites: Sequence[Any], rootpath: Path, root: Path) -> list[dict[str, Any]]:
    """A note per ``not run`` site (``SiteStatus`` rows, paths as shown: relative to ``rootpath``)."""
    index = len(_RULES)
    return [{"ruleId": "not-run", "ruleIndex": index, "level": "note", "kind": "review",
             "message": {"text": "no test made a closure at this site: late binding here is unverified"},
             "locations": [_location(str(rootpath / s.path), s.line, root, s.column)]}
            for s in sites if s.status == "not run"]


def fix_object(fix: Any, root: Path) -> dict[str, Any]:
    """A verified ``--latebind-fix`` fix (``_fixes.Fix``) as a SARIF ``fix``: its replacements,
    columns 1-based with the end exclusive, as SARIF counts them."""
    return {"description": {"text": f"Bind {', '.join(fix.variables)} when the closure is made ({fix.form}); "
                                    f"verified by re-running {len(fix.outcomes)} test(s)"},
            "artifactChanges": [{"artifactLocation": _artifact(fix.file, root), "replacements": [
                {"deletedRegion": {"startLine": sl, "startColumn": sc + 1, "endLine": el, "endColumn": ec + 1},
                 "insertedContent": {"text": text}} for sl, sc, el, ec, text in fix.replacements]}]}


def report(findings: Sequence[Finding], context: Context, *, root: Path, mode: Mode,
           comparison: Comparison | None = None, notes: Sequence[dict[str, Any]] = (),
           fixes: Sequence[Any] = ()) -> dict[str, Any]:
    """``notes``: the ``not run`` sites' results (:func:`not_run_results`), after the findings;
    ``fixes``: ``--latebind-fix``'s, whose verified ones go on their findings' results."""
    run: dict[str, Any] = {}
    if comparison is not None:
        # Entries the run covered and did not find are no "absent" results: a viewer that
        # ignores baselineState (GitHub code scanning does) would open an alert for each.
        run["properties"] = {"latebindBaseline": {"file": comparison.baseline.shown,
                                                  "fixed": [describe(fp) for fp in comparison.fixed]}}
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "pytest-latebind", "version": __version__,
                                "semanticVersion": __version__, "informationUri": DOCS_URL,
                                "rules": [*rules(), NOT_RUN_RULE] if notes else rules()}},
            "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": [*(_with_fix(result(f, context, root=root, mode=mode, comparison=comparison), f,
                                    fixes, root) for f in findings),
                        *notes],
            **run,
        }],
    }


def _with_fix(out: dict[str, Any], finding: Finding, fixes: Sequence[Any], root: Path) -> dict[str, Any]:
    for fix in fixes:
        if fix.status == "fixed" and (fix.file, fix.line, fix.column) == finding.key[:3]:
            out["fixes"] = [fix_object(fix, root)]
    return out


def write(path: Path, findings: Sequence[Finding], context: Context, *, root: Path, mode: Mode,
          comparison: Comparison | None = None, notes: Sequence[dict[str, Any]] = (),
          fixes: Sequence[Any] = ()) -> None:
    text = json.dumps(report(findings, context, root=root, mode=mode, comparison=comparison, notes=notes,
                             fixes=fixes), indent=2) + "\n"
    write_atomically(path, text)


