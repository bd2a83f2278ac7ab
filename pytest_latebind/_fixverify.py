"""Verifying fixes (``--latebind-fix``): each fix is tried in a child pytest run over a temporary
copy of the rootdir, and kept only when its finding is gone and no test that passed before fails.

How (docs/explanation/fixes.md): the rootdir is copied once into a temporary directory (without
``.git``, virtualenvs and caches); for each fix, its file in the copy is replaced by the fixed
source and ``python -m pytest --latebind <the tests that hit the site>`` runs there, in a child
process, with the copy first on ``PYTHONPATH`` (an editable install of the project would
otherwise import the original files), its JSON report and each test's outcome written into the
temporary directory; then the file is put back.  The user's files are never written, and the
child's reports go nowhere else, so the user's run and its reports stay as they were.  Bounded
(:class:`Limits`, set by ``latebind_fix_max``, ``latebind_fix_timeout`` and
``latebind_fix_budget``): at most so many fixes are tried, each child run for so many seconds,
all of them for so many; what is beyond is reported as not verified, with the reason and the
option that set the bound.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._fixes import Fix, apply

MAX_FIXES = 20  # the defaults of Limits
TIMEOUT = 300.0  # seconds, one child run
BUDGET = 900.0  # seconds, every child run of a session
CHILD = "PYTEST_LATEBIND_FIX_CHILD"  # set in a child run: it verifies, it does not fix
_OUTCOMES = "PYTEST_LATEBIND_FIX_OUTCOMES"  # where the child writes each test's outcome
_IGNORED = {".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
            ".tox", ".nox", "node_modules", ".hypothesis"}


@dataclass(frozen=True)
class Limits:
    """How many fixes are verified, and for how long; ``*_option``: where each was set, for
    the reasons (the flag, or the ini key)."""

    max_fixes: int = MAX_FIXES
    timeout: float = TIMEOUT
    budget: float = BUDGET
    max_fixes_option: str = "latebind_fix_max (ini)"
    timeout_option: str = "latebind_fix_timeout (ini)"
    budget_option: str = "latebind_fix_budget (ini)"


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name in _IGNORED
            or os.path.isfile(os.path.join(directory, name, "pyvenv.cfg"))}


def verify(fixes: list[Fix], rootdir: Path, invocation_dir: Path, before: dict[str, str],
           run: Callable[[list[str], Path, dict[str, str], float], None] | None = None,
           limits: Limits = Limits()) -> None:
    """Verify ``fixes`` in place (their ``status``, ``why``, ``tests``, ``outcomes``);
    ``before``: each test's outcome in the user's run."""
    todo = [fix for fix in fixes if fix.ok]
    if not todo:
        return
    with tempfile.TemporaryDirectory(prefix="latebind-fix-") as temp:
        copy = Path(temp) / "root"
        shutil.copytree(rootdir, copy, ignore=_ignore, symlinks=True)
        started = time.monotonic()  # the budget is the re-runs' alone, as its option says
        tried = 0  # child runs started: a fix with no test to re-run costs none
        for fix in todo:
            left = limits.budget - (time.monotonic() - started)
            if not fix.tests:
                fix.why = "no test hit the site (it was found outside tests), so none can be re-run"
            elif tried >= limits.max_fixes:
                fix.why = (f"at most {_fixes_text(limits.max_fixes)} verified per run, "
                           f"set by {limits.max_fixes_option}; raise it, or run again once the patch is applied")
            elif left <= 0:
                fix.why = (f"the {_seconds(limits.budget)} for all re-runs, set by "
                           f"{limits.budget_option}, were spent on the fixes before it; raise it, or run "
                           "again once the patch is applied")
            else:
                tried += 1
                _verify_one(fix, rootdir, copy, Path(temp), invocation_dir, before, limits, left, run)


def _fixes_text(number: int) -> str:
    return "1 fix is" if number == 1 else f"{number} fixes are"


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.2g} s"


def _verify_one(fix: Fix, rootdir: Path, copy: Path, temp: Path, invocation_dir: Path,
                before: dict[str, str], limits: Limits, left: float,
                run: Callable[[list[str], Path, dict[str, str], float], None] | None) -> None:
    fix.tests = sorted(fix.tests)
    relative = Path(fix.file).relative_to(rootdir)
    target = copy / relative
    original = target.read_text(encoding="utf-8")
    report, outcomes = temp / "report.json", temp / "outcomes.json"
    for path in (report, outcomes):
        path.unlink(missing_ok=True)
    target.write_text(apply(original, fix.replacements), encoding="utf-8")
    try:
        args = [sys.executable, "-m", "pytest", "--latebind", f"--latebind-report={report}",
                "-p", "pytest_latebind._fixchild", "-p", "no:cacheprovider", "-q",
                "-o", "latebind_sarif=", "-o", "latebind_baseline=", "-o", "latebind_fix=", *fix.tests]
        env = {**os.environ, CHILD: "1", _OUTCOMES: str(outcomes), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTEST_ADDOPTS", None)  # the user's extra flags may name the fix file or reports
        paths = [str(copy), *([str(copy / "src")] if (copy / "src").is_dir() else [])]
        env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [os.environ.get("PYTHONPATH")])])
        cwd = copy / invocation_dir.relative_to(rootdir) if invocation_dir.is_relative_to(rootdir) else copy
        try:
            (run or _run)(args, cwd, env, min(limits.timeout, left))
        except subprocess.TimeoutExpired:
            if limits.timeout <= left:
                fix.why = (f"the re-run took longer than {_seconds(limits.timeout)}, the "
                           f"limit for one re-run set by {limits.timeout_option}; raise it")
            else:
                fix.why = (f"the re-run took longer than the {_seconds(left)} left "
                           f"of the {_seconds(limits.budget)} for all re-runs, set by {limits.budget_option}; "
                           "raise it")
            return
    finally:
        target.write_text(original, encoding="utf-8")
    _judge(fix, _read(outcomes), _read(report), before, rootdir)


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> None:
    subprocess.run(args, cwd=cwd, env=env, timeout=timeout, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=False)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _judge(fix: Fix, outcomes: dict[str, str] | None, report: dict[str, Any] | None,
           before: dict[str, str], rootdir: Path) -> None:
    if outcomes is None or report is None:
        fix.why = "the re-run did not finish (see `pytest " + " ".join(fix.tests) + "`)"
        return
    fix.outcomes = [(t, before.get(t, "not run"), outcomes.get(t, "not run")) for t in fix.tests]
    relative = Path(fix.file).relative_to(rootdir).as_posix()
    low, high = fix.new_lines
    still = [f for f in report.get("findings", [])
             if f.get("file") == relative and f.get("variable") in fix.variables and low <= f.get("line", 0) <= high]
    # Stricter than "no test that passed fails": a test that fails with the fix (even one the
    # finding failed before) may rely on the late read, which may then be intended.
    # A test another site's finding still fails (its fix is verified on its own) is no evidence
    # against this fix: the child's report names the tests of every finding it still has.
    others = {t for f in report.get("findings", []) if f not in still for t in f.get("tests", [])}
    broken = [t for t, _, now in fix.outcomes if now == "failed" and t not in others]
    # The child's report names its own files relative to the copy; the original's stay absolute.
    elsewhere = [f for f in report.get("findings", []) if str(f.get("file", "")).startswith(str(rootdir))]
    if elsewhere:
        fix.why = "the re-run imported the original files, not the fixed copy"
    elif all(now == "not run" for _, _, now in fix.outcomes):
        fix.why = "the re-run ran none of the tests that hit the site"
    elif still:
        fix.status = "not fixed"
        fix.why = "the re-run still finds it"
    elif broken:
        fix.status = "not fixed"
        fix.why = (f"{', '.join(broken)} fails with the fix (the late read may be intended, "
                   "or the test relies on it)")
    else:
        fix.status = "fixed"


def transitions(fix: Fix) -> str:
    """``failed -> passed`` (every test alike), else ``1 failed -> passed, 1 passed -> passed``."""
    counts: dict[str, int] = {}
    for _, was, now in fix.outcomes:
        counts[f"{was} -> {now}"] = counts.get(f"{was} -> {now}", 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{n} {change}" for change, n in counts.items())


def worst(outcomes: Iterable[str]) -> str:
    """A test's outcome from its phases' (setup, call, teardown)."""
    seen = set(outcomes)
    for outcome in ("failed", "skipped", "passed"):
        if outcome in seen:
            return outcome
    return "not run"
