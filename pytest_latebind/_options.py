"""Every option of the plugin, declared once: a command-line flag and its ini twin.

The command line wins over the ini file.  :func:`read_settings` works both on the early
config (``pytest_load_initial_conftests``, where only ``known_args_namespace`` is parsed)
and on the full one, so the import hook and the rest of the plugin read the same values.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ._fixverify import BUDGET, MAX_FIXES, TIMEOUT, Limits
from ._kinds import Mode

MARKER = "latebind"  # @pytest.mark.latebind: watch this test
JUNIT_PROPERTIES = ("suite", "testcase", "none")  # see _reporting/junit.py
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    enabled: bool  # watch every test (--latebind); marked tests are watched regardless
    mode: Mode
    modules: tuple[str, ...]  # packages to watch explicitly; empty: modules under the rootdir
    test_modules: bool  # instrument test modules and conftest.py too
    report: Path | None  # the JSON report
    show_values: bool  # loop variables' values in messages and reports
    sarif: Path | None = None  # the SARIF report
    junit_properties: str = "suite"  # where findings go in --junitxml: suite, testcase or none
    baseline: Path | None = None  # the baseline file (absolute): known findings do not fail
    baseline_shown: str = ""  # the baseline path as the user gave it, for messages
    update_baseline: bool = False  # write the baseline from this run's findings
    ignores: tuple[str, ...] = ()  # latebind_ignore lines: "path::qualname:variable  reason"
    modules_option: str = "latebind_modules"  # where ``modules`` came from, for messages
    report_option: str = "--latebind-report"  # ... ``report``: the flag, or "latebind_report (ini)"
    sarif_option: str = "--latebind-sarif"
    explain: bool = False  # say, for each site that ran, why it is or is not a finding
    sites: bool = False  # list every closure site of the watched modules with its status
    fix: Path | None = None  # --latebind-fix: where the verified fixes' patch goes
    fix_limits: Limits = field(default_factory=Limits)  # how many fixes are verified, and for how long
    scan: bool = False  # the static scan, one pytest item per watched file (_scanitems)
    scan_unverified: bool = False  # its items fail on unverified sites (LB002) too


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


def _mode(text: str) -> Mode:
    try:
        return Mode(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(Mode)}, got {text!r}") from None


def _junit_properties(text: str) -> str:
    if text not in JUNIT_PROPERTIES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(JUNIT_PROPERTIES)}, got {text!r}")
    return text


def _count(text: Any) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of fixes, 1 or more (e.g. {MAX_FIXES}), "
                                         f"got {text!r}")
    return value


def _seconds(text: Any) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds greater than 0 (e.g. {TIMEOUT:g} "
                                         f"or 0.5), got {text!r}")
    return value


def _modules(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.replace("\n", ",").split(",") if n.strip())
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise argparse.ArgumentTypeError(f"{name!r} is not a module or package name")
    return names


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("latebind", "late-binding closures (pytest-latebind)")
    group.addoption("--latebind", action="store_true", default=None, dest="latebind",
                    help="watch every test for late-binding closures (default: only tests "
                         "marked @pytest.mark.latebind). ini: latebind")
    group.addoption("--latebind-mode", type=_mode, default=None, dest="latebind_mode", metavar="MODE",
                    help="fail: a test with a late-binding closure fails (default); warn: it passes "
                         "with a LateBindingWarning. ini: latebind_mode")
    group.addoption("--latebind-modules", type=_modules, default=None, dest="latebind_modules",
                    metavar="PKG[,PKG...]",
                    help="instrument these packages (installed ones too) instead of the modules "
                         "under the rootdir. ini: latebind_modules")
    group.addoption("--latebind-test-modules", type=_bool, default=None, dest="latebind_test_modules",
                    metavar="yes|no", help="instrument test modules and conftest.py files as well "
                                           "(default: yes). ini: latebind_test_modules")
    group.addoption("--latebind-report", default=None, dest="latebind_report", metavar="PATH",
                    help="write the findings as JSON to PATH at the end of the run. ini: latebind_report")
    group.addoption("--latebind-sarif", default=None, dest="latebind_sarif", metavar="PATH",
                    help="write the findings as SARIF 2.1.0 to PATH at the end of the run, for "
                         "GitHub code scanning. ini: latebind_sarif")
    group.addoption("--latebind-junit-properties", type=_junit_properties, default=None,
                    dest="latebind_junit_properties", metavar="WHERE",
                    help="where --junitxml gets the findings as properties: suite (default; valid "
                         "xunit2, complete under xdist), testcase (xunit1 only) or none. "
                         "ini: latebind_junit_properties")
    group.addoption("--latebind-show-values", type=_bool, default=None, dest="latebind_show_values",
                    metavar="yes|no", help="show loop variables' values in messages and reports "
                                           "(default: yes). ini: latebind_show_values")
    group.addoption("--latebind-baseline", default=None, dest="latebind_baseline", metavar="PATH",
                    help="compare the findings with the baseline file PATH (JSON, committed with the "
                         "project): findings listed there are reported as known and do not fail; new "
                         "ones fail; entries no longer found are listed as fixed. A relative path is "
                         "relative to the current directory; the ini twin's, to the ini file's. "
                         "ini: latebind_baseline")
    group.addoption("--latebind-update-baseline", action="store_true", default=False,
                    dest="latebind_update_baseline",
                    help="write the baseline file (--latebind-baseline or latebind_baseline) from this "
                         "run's findings instead of failing on them; entries whose tests did not run "
                         "are kept, fixed ones removed. Command line only")
    group.addoption("--latebind-explain", action="store_true", default=None, dest="latebind_explain",
                    help="after the run, say for each closure site that ran (in each test, and outside "
                         "tests) why it is or is not a finding: the closures made, the values they were "
                         "made with, the bindings, stale reads, and how many were alive at the end. "
                         "ini: latebind_explain")
    group.addoption("--latebind-sites", action="store_true", default=None, dest="latebind_sites",
                    help="after the run, list every closure site of the watched modules, sorted by file "
                         "and line, with its status: buggy, clean, trivial (never made with two values) "
                         "or not run. ini: latebind_sites")
    group.addoption("--latebind-fix", default=None, dest="latebind_fix", metavar="PATH",
                    help="after the run, write a fix for each finding, verified by re-running the tests "
                         "that found it, as one unified diff to PATH (apply it with git apply PATH). "
                         "ini: latebind_fix")
    group.addoption("--latebind-fix-max", type=_count, default=None, dest="latebind_fix_max", metavar="N",
                    help=f"with --latebind-fix, verify at most N fixes per run (default {MAX_FIXES}); the "
                         "others are reported as not verified. ini: latebind_fix_max")
    group.addoption("--latebind-fix-timeout", type=_seconds, default=None, dest="latebind_fix_timeout",
                    metavar="SECONDS",
                    help=f"with --latebind-fix, stop a fix's re-run after SECONDS (default {TIMEOUT:g}); that "
                         "fix is reported as not verified. ini: latebind_fix_timeout")
    group.addoption("--latebind-fix-budget", type=_seconds, default=None, dest="latebind_fix_budget",
                    metavar="SECONDS",
                    help=f"with --latebind-fix, spend at most SECONDS on all the re-runs together (default "
                         f"{BUDGET:g}); the fixes left are reported as not verified. ini: latebind_fix_budget")
    group.addoption("--latebind-scan", action="store_true", default=None, dest="latebind_scan",
                    help="also collect one item per Python file under the rootdir (outside virtualenvs) "
                         "that scans its source statically and fails with the closures made in loops it "
                         "shows escaping their round; marked latebind_scan, so -m latebind_scan runs the "
                         "scan alone. ini: latebind_scan")
    group.addoption("--latebind-scan-unverified", action="store_true", default=None,
                    dest="latebind_scan_unverified",
                    help="with --latebind-scan, fail the items on unverified sites too (LB002: closures "
                         "handed to code the scan cannot see into), as the scan command's --unverified. "
                         "ini: latebind_scan_unverified")
    parser.addini("latebind", type="bool", default=False, help="watch every test (like --latebind)")
    parser.addini("latebind_mode", default="fail", help="fail or warn (like --latebind-mode)")
    parser.addini("latebind_modules", type="args", default=[],
                  help="packages to instrument (like --latebind-modules)")
    parser.addini("latebind_test_modules", type="bool", default=True,
                  help="instrument test modules too (like --latebind-test-modules)")
    parser.addini("latebind_report", default="", help="JSON report path (like --latebind-report)")
    parser.addini("latebind_sarif", default="", help="SARIF report path (like --latebind-sarif)")
    parser.addini("latebind_junit_properties", default="suite",
                  help="suite, testcase or none (like --latebind-junit-properties)")
    parser.addini("latebind_show_values", type="bool", default=True,
                  help="show values in messages and reports (like --latebind-show-values)")
    parser.addini("latebind_baseline", default="",
                  help="baseline file, relative to the ini file (like --latebind-baseline)")
    parser.addini("latebind_sites", type="bool", default=False,
                  help="list every closure site's status at the end (like --latebind-sites)")
    parser.addini("latebind_fix", default="", help="verified fixes' patch path (like --latebind-fix)")
    parser.addini("latebind_fix_max", default=str(MAX_FIXES),
                  help="most fixes verified per run (like --latebind-fix-max)")
    parser.addini("latebind_fix_timeout", default=f"{TIMEOUT:g}",
                  help="seconds for one fix's re-run (like --latebind-fix-timeout)")
    parser.addini("latebind_fix_budget", default=f"{BUDGET:g}",
                  help="seconds for all the re-runs (like --latebind-fix-budget)")
    parser.addini("latebind_scan", type="bool", default=False,
                  help="collect the static scan's items (like --latebind-scan)")
    parser.addini("latebind_scan_unverified", type="bool", default=False,
                  help="the scan's items fail on unverified sites too (like --latebind-scan-unverified)")
    parser.addini("latebind_explain", type="bool", default=False,
                  help="explain each site's verdict at the end (like --latebind-explain)")
    parser.addini("latebind_ignore", type="linelist", default=[],
                  help="findings judged harmless, one a line: 'path::qualname:variable  reason' "
                       "(a reason is required), e.g. 'app/jobs.py::make.<locals>.<lambda>:host  "
                       "called in its round only'")


def read_settings(config: pytest.Config) -> Settings:
    """The effective settings; a bad ini value is a ``pytest.UsageError`` naming it."""
    namespace = getattr(config, "known_args_namespace", None) or config.option

    def pick(dest: str, ini: str, convert: Callable[[Any], Any]) -> Any:
        cli = getattr(config.option, dest, None)
        if cli is None:
            cli = getattr(namespace, dest, None)
        if cli is not None:
            return cli
        try:
            return convert(config.getini(ini))
        # getini raises ValueError (pytest < 9) or UsageError (9) for a bad bool, without its name
        except (argparse.ArgumentTypeError, ValueError, pytest.UsageError) as exc:
            where = f" in {config.inipath}" if config.inipath is not None else ""
            raise pytest.UsageError(f"ini option {ini}{where}: {_ini_problem(exc)}") from None

    for dest, flag in (("latebind_report", "--latebind-report"), ("latebind_sarif", "--latebind-sarif"),
                       ("latebind_baseline", "--latebind-baseline")):
        given = getattr(config.option, dest, None)
        if given is None:
            given = getattr(namespace, dest, None)
        if given is not None and not str(given).strip():
            example = {"latebind_sarif": "latebind.sarif", "latebind_baseline": "latebind-baseline.json"}
            raise pytest.UsageError(f"{flag}= is an empty path: give the file to write, e.g. "
                                    f"{flag}={example.get(dest, 'latebind.json')}, or leave the option out")

    modules = pick("latebind_modules", "latebind_modules", lambda raw: _modules(",".join(raw)))
    modules_cli = getattr(config.option, "latebind_modules", None) or getattr(namespace, "latebind_modules", None)
    report = pick("latebind_report", "latebind_report", str)
    sarif = pick("latebind_sarif", "latebind_sarif", str)
    baseline_shown = getattr(config.option, "latebind_baseline", None) or getattr(namespace, "latebind_baseline", None)
    if baseline_shown:
        baseline: Path | None = config.invocation_params.dir / os.path.expanduser(baseline_shown)
    else:
        baseline_shown = str(config.getini("latebind_baseline") or "")
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        baseline = base / os.path.expanduser(baseline_shown) if baseline_shown else None
    update = bool(getattr(config.option, "latebind_update_baseline", False)
                  or getattr(namespace, "latebind_update_baseline", False))
    if update and baseline is None:
        raise pytest.UsageError("--latebind-update-baseline needs the file to write: give "
                                "--latebind-baseline=PATH, or set latebind_baseline in the ini file")
    return Settings(
        enabled=bool(pick("latebind", "latebind", bool)),
        mode=pick("latebind_mode", "latebind_mode", _mode),
        modules=modules,
        test_modules=bool(pick("latebind_test_modules", "latebind_test_modules", bool)),
        report=Path(os.path.expanduser(report)) if report else None,
        show_values=bool(pick("latebind_show_values", "latebind_show_values", bool)),
        sarif=Path(os.path.expanduser(sarif)) if sarif else None,
        junit_properties=pick("latebind_junit_properties", "latebind_junit_properties", _junit_properties),
        baseline=baseline,
        baseline_shown=baseline_shown,
        update_baseline=update,
        ignores=tuple(line for line in config.getini("latebind_ignore") if line.strip()),
        modules_option="--latebind-modules" if modules_cli is not None else "latebind_modules (ini)",
        explain=bool(pick("latebind_explain", "latebind_explain", bool)),
        sites=bool(pick("latebind_sites", "latebind_sites", bool)),
        fix=_fix_path(config, pick("latebind_fix", "latebind_fix", str)),
        fix_limits=Limits(pick("latebind_fix_max", "latebind_fix_max", _count),
                          pick("latebind_fix_timeout", "latebind_fix_timeout", _seconds),
                          pick("latebind_fix_budget", "latebind_fix_budget", _seconds),
                          *(_source(config, namespace, dest, "--" + dest.replace("_", "-"))
                            for dest in ("latebind_fix_max", "latebind_fix_timeout", "latebind_fix_budget"))),
        scan=bool(pick("latebind_scan", "latebind_scan", bool)),
        scan_unverified=bool(pick("latebind_scan_unverified", "latebind_scan_unverified", bool)),
        report_option=_source(config, namespace, "latebind_report", "--latebind-report"),
        sarif_option=_source(config, namespace, "latebind_sarif", "--latebind-sarif"),
    )


def _fix_path(config: pytest.Config, given: str) -> Path | None:
    """--latebind-fix: relative to the invocation directory; never in a fix's own child run."""
    if not given or os.environ.get("PYTEST_LATEBIND_FIX_CHILD"):
        return None
    return config.invocation_params.dir / os.path.expanduser(given)


def _source(config: pytest.Config, namespace: Any, dest: str, flag: str) -> str:
    """The flag when the command line gave the option, else the ini key: what messages name."""
    given = getattr(config.option, dest, None)
    if given is None:
        given = getattr(namespace, dest, None)
    return flag if given is not None else f"{dest} (ini)"


def _ini_problem(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("invalid truth value"):
        return f"{text}; expected true or false (yes/no, on/off, 1/0)"
    return text


def check_distinct_paths(paths: dict[str, Path | None]) -> None:
    """Two reports (or a report and the baseline, or ``--junitxml``) at one path would overwrite
    each other at the end of the run: say so before it starts."""
    seen: dict[str, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        key = os.path.normcase(os.path.realpath(path))
        if key in seen:
            raise pytest.UsageError(f"{seen[key]} and {option} both name {path}: each report is "
                                    "written to its own file, and one would overwrite the other; "
                                    "give them different paths")
        seen[key] = option


def check_report_path(path: Path, base: Path, option: str = "--latebind-report") -> Path:
    """Resolve the report path against the invocation directory (as ``--junitxml`` is),
    failing early, not after the run, when it cannot be written.  ``option`` is what the
    messages name: the flag, or the ini key (``latebind_report (ini)``)."""
    shown = f"{option}={path}" if option.startswith("--") else f"ini option {option.removesuffix(' (ini)')} = {path}"
    target = path if path.is_absolute() else base / path
    parent = target.parent
    if target.is_dir():
        raise pytest.UsageError(f"{shown}: {target} is a directory; name a file")
    above = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if above is not None and not above.is_dir():
        raise pytest.UsageError(f"{shown}: {above} is a file, not a directory, so nothing can "
                                "be written under it; choose another path")
    if not parent.is_dir():
        raise pytest.UsageError(f"{shown}: the directory {parent} does not exist; "
                                "create it or choose another path")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise pytest.UsageError(f"{shown}: {target} is not writable; "
                                "choose a path you can write to")
    return target
