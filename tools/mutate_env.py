"""Where ``tools/mutate.py`` runs tests: a snapshot of one revision and an interpreter bound to it.

The working tree is never touched (others edit it while a run goes on).  The revision is
exported with ``git archive``; a throw-away venv (no pip, a second or so to make) gets a
``.pth`` file naming the snapshot first and then the runner's site-packages.  Its interpreter
is what every test process runs as ``sys.executable``, so the snapshot's ``pytest_latebind``
is the one imported everywhere: in the pytest process, by the ``pytest11`` entry point, and in
every subprocess a test starts, even one that sets its own ``PYTHONPATH``.  The site-packages
are added as plain paths, so their ``.pth`` files, among them the editable install's pointer
to the working tree, are never read.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
import textwrap
from collections import defaultdict
from pathlib import Path

PACKAGE = "pytest_latebind"
FIXTURE = "fixture:"  # the coverage context of a shared fixture's setup: "fixture:<baseid>::<name>"

# Copied into the snapshot for the coverage run only (inert without MUTATE_COVERAGE_DATA):
# every Python process of the run, the pytest process and each subprocess of a test, measures
# the package and labels its lines with the outer test's node id, which the context plugin
# below puts in the environment before each test, so subprocess runs count for their test.
_SITECUSTOMIZE = """\
import os
if os.environ.get("MUTATE_COVERAGE_DATA"):
    import coverage
    _cov = coverage.Coverage(data_file=os.environ["MUTATE_COVERAGE_DATA"], data_suffix=True, auto_data=True,
                             config_file=False, source=[os.environ["MUTATE_COVERAGE_SOURCE"]],
                             context=os.environ.get("MUTATE_CONTEXT") or None)
    # A process that never imports the package (a test's script) measures nothing; coverage
    # would say so on its stderr, which tests of a command's exact output read.
    _cov.set_option("run:disable_warnings", ["no-data-collected", "module-not-imported"])
    _cov.start()
"""
_CONTEXT_PLUGIN = """\
import json, os, time
import coverage
import pytest

_durations = {}
_users = {}  # a shared fixture's label -> the tests that use its value


def _label(fixturedef):
    return f"fixture:{fixturedef.baseid}::{fixturedef.argname}"


def _switch(context):
    if context:
        os.environ["MUTATE_CONTEXT"] = context
    else:
        os.environ.pop("MUTATE_CONTEXT", None)
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(context)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    for name in item.fixturenames:
        defs = item._fixtureinfo.name2fixturedefs.get(name)
        if defs and defs[-1].scope != "function":
            _users.setdefault(_label(defs[-1]), []).append(item.nodeid)
    _switch(item.nodeid)
    start = time.perf_counter()
    yield
    _durations[item.nodeid] = time.perf_counter() - start
    _switch("")


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    # What a shared fixture computes (a corpus run in a subprocess) is read by every test that
    # uses it, not only by the first, whose setup runs it: its lines get a label of their own.
    if fixturedef.scope == "function":
        yield
        return
    outer = os.environ.get("MUTATE_CONTEXT", "")
    _switch(_label(fixturedef))
    try:
        yield
    finally:
        _switch(outer)


def pytest_sessionfinish(session):
    with open(os.environ["MUTATE_DURATIONS"], "w") as f:
        json.dump({"durations": _durations, "users": _users}, f)
"""


def snapshot(repo: Path, rev: str, dest: Path) -> str:
    """Export ``rev`` of ``repo`` into ``dest``; return the full commit id."""
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                            check=True, capture_output=True, text=True).stdout.strip()
    dest.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(repo), "archive", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {commit} failed")
    (dest / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    (dest / "_mutate_context.py").write_text(_CONTEXT_PLUGIN)
    return commit


def bound_python(copy: Path, where: Path) -> Path:
    """A venv at ``where`` whose interpreter imports the project from ``copy``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(where), "platbase": str(where)}))
    ours = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if Path(p).is_dir()]
    # The runner's coverage may live outside its site-packages (pip install --target DIR, with
    # DIR on PYTHONPATH, which the test processes do not inherit): every process needs it.
    import coverage

    home = str(Path(coverage.__file__).resolve().parent.parent)
    if home not in ours:
        ours.append(home)
    (purelib / "_mutate_snapshot.pth").write_text("\n".join([str(copy), *ours]) + "\n")
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # The `pytest` script beside the interpreter, as in the runner's venv: the documented
    # outputs run it (its usage line says `pytest`, not `python -m pytest`).
    script = Path(sys.executable).with_name("pytest")
    if os.name != "nt" and script.is_file():
        lines = script.read_text().splitlines(keepends=True)
        if lines and lines[0].startswith("#!"):
            (where / "bin" / "pytest").write_text("".join([f"#!{python}\n", *lines[1:]]))
            (where / "bin" / "pytest").chmod(0o755)
    return python


def environment(copy: Path) -> dict[str, str]:
    """The environment of every test process: no inherited pytest or coverage settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COVERAGE_", "MUTATE_"))}
    env.update(PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    return env


def check_binding(python: Path, copy: Path) -> None:
    """Fail unless the bound interpreter imports the package and the plugin from ``copy``.

    Run from elsewhere with a foreign ``PYTHONPATH``: as a test's subprocess might be.
    """
    probe = textwrap.dedent(f"""
        import importlib.metadata, {PACKAGE}
        ep = [e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "latebind"]
        print({PACKAGE}.__file__)
        print(ep[0].load().__file__ if ep else "no pytest11 entry point")
    """)
    env = {**environment(copy), "PYTHONPATH": str(copy.parent)}
    out = subprocess.run([str(python), "-c", probe], cwd=copy.parent, env=env, capture_output=True, text=True)
    paths = out.stdout.split()
    if out.returncode or len(paths) != 2 or not all(Path(p).is_relative_to(copy / PACKAGE) for p in paths):
        raise SystemExit(f"the snapshot's interpreter does not import {PACKAGE} from {copy}:\n"
                         f"{out.stdout}{out.stderr}")


def coverage_map(python: Path, copy: Path, work: Path, tests: list[str],
                 deselect: tuple[str, ...] | list[str] = ()) -> tuple[dict[str, dict[int, set[str]]], dict[str, float]]:
    """Run ``tests`` once under coverage: {module: {line: test ids}}, and each test's seconds."""
    data = work / "coverage"
    data.mkdir()
    durations = work / "durations.json"
    env = {**environment(copy), "MUTATE_COVERAGE_DATA": str(data / ".coverage"),
           "MUTATE_COVERAGE_SOURCE": str(copy / PACKAGE), "MUTATE_DURATIONS": str(durations)}
    cmd = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-p", "_mutate_context", "-q", "-rfE",
           *(f"--deselect={t}" for t in deselect)]
    log_path = work / "coverage-run.log"
    with open(log_path, "w") as log:
        rc = subprocess.run([*cmd, *tests], cwd=copy, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    summary = log_path.read_text().rpartition("short test summary info")[2].splitlines()  # the outer run's
    failed = [line.split()[1] for line in summary if line.startswith(("FAILED tests/", "ERROR tests/"))]
    if rc == 1 and failed:
        # On shared cores a timing check (a Hypothesis health check) can fail once: the
        # failures run again, alone, and only a second failure stops the run.
        retry = {**env, "MUTATE_DURATIONS": str(work / "durations-retry.json")}
        with open(work / "coverage-retry.log", "w") as log:
            rc = subprocess.run([*cmd, *failed], cwd=copy, env=retry, stdout=log, stderr=subprocess.STDOUT).returncode
        log_path = work / "coverage-retry.log"
        if rc == 0:
            print(f"coverage run: {len(failed)} test(s) failed once and passed alone: {' '.join(failed)}", flush=True)
    if rc != 0:
        raise SystemExit(f"the unmutated snapshot fails its tests (exit {rc}); see {log_path}:\n"
                         + "".join(log_path.read_text().splitlines(keepends=True)[-30:]))
    import coverage  # the runner's own: the snapshot's interpreter shares its site-packages

    cov = coverage.Coverage(data_file=str(data / ".coverage"), config_file=False)  # combine() reads .coverage.*
    cov.combine([str(data)], keep=True)
    measured = cov.get_data()
    measured_durations: dict[str, float] = {}
    users: dict[str, set[str]] = defaultdict(set)
    for path in (durations, work / "durations-retry.json"):
        if path.is_file():
            saved = json.loads(path.read_text())
            measured_durations.update(saved["durations"])
            for label, tests in saved["users"].items():
                users[label].update(tests)
    lines: dict[str, dict[int, set[str]]] = {}
    for file in measured.measured_files():
        path = Path(file)
        if not path.is_relative_to(copy):
            continue
        by_line: dict[int, set[str]] = defaultdict(set)
        for line, contexts in measured.contexts_by_lineno(file).items():
            for context in contexts:  # "": at import, outside any test
                if context.startswith(FIXTURE):
                    by_line[line].update(users.get(context, ()))  # a shared fixture's: all its users
                elif context:
                    by_line[line].add(context)
        lines[path.relative_to(copy).as_posix()] = dict(by_line)
    return lines, measured_durations
