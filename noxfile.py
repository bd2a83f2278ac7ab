"""The test matrix: CPython 3.10 to 3.14, one nox session per version.

    nox -s versions-3.13      the version-sensitive tests and the acceptance corpus on 3.13
    nox -s tests-3.12         the whole suite on 3.12 (extra arguments go to pytest)
    nox -l                    every session

nox looks for ``python3.X`` on PATH; ``../shared/tools/install-pythons.sh`` puts them in
``/opt/py/3.X/bin`` (``.ci/run`` adds those folders to PATH).  Why the split, and what differs
between the versions: ``docs/explanation/python-versions.md``.
"""

from __future__ import annotations

from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
ROOT = Path(__file__).parent
ACCEPTANCE = ROOT.parent / "shared" / "acceptance" / "run"

# Tests that exercise nothing a CPython version changes: the report formats (JSON, SARIF,
# JUnit, GitHub annotations: strings and files), the Hypothesis strategies (pure data), and
# what a team adopting the plugin works with (summary lines, values hidden, the baseline's
# fingerprints and file, inline and ini silencing: text and report merging over findings that
# the core's tests, run on every version, produce).  Those three files are also the slowest
# (dozens of pytest runs under -n 2 each), which CI's time budget cannot pay five times.
# Everything else touches scopes, ASTs, code objects, cells, frames or the import system,
# and runs on every version; a new test file is version-sensitive until listed here.
VERSION_INSENSITIVE = [
    "tests/test_reporting_units.py",
    "tests/test_reporting_outputs.py",
    "tests/test_reporting_behaviour.py",
    "tests/test_strategies.py",
    "tests/test_adoption.py",
    "tests/test_baseline.py",
    "tests/test_ignores.py",
]

nox.options.default_venv_backend = "venv"  # the interpreters' own venv: no virtualenv seeding
nox.options.error_on_missing_interpreters = True  # a version that cannot run is a failure
nox.options.sessions = ["versions"]


def _install(session: nox.Session) -> None:
    """The project, editable, with its test extra but not the linters (they run once, in CI)."""
    extra = nox.project.load_toml(ROOT / "pyproject.toml")["project"]["optional-dependencies"]["test"]
    session.install("-e", ".", *(req for req in extra if not req.startswith(("mypy", "ruff"))))


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite."""
    _install(session)
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", *session.posargs)


@nox.session(python=PYTHONS)
def versions(session: nox.Session) -> None:
    """The version-sensitive tests, then the acceptance corpus (when ../shared is there)."""
    _install(session)
    ignored = [f"--ignore={path}" for path in VERSION_INSENSITIVE]
    failed = []
    try:
        session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-q", *ignored,
                    *session.posargs)
    except nox.command.CommandFailed:
        failed.append("the tests")  # run the corpus all the same: one run shows both
    if ACCEPTANCE.is_file():
        try:
            session.run("python", str(ACCEPTANCE))
        except nox.command.CommandFailed:
            failed.append("the acceptance corpus")
    else:
        session.warn(f"{ACCEPTANCE} not found: acceptance corpus skipped on {session.python}")
    if failed:
        session.error(f"{' and '.join(failed)} failed on Python {session.python}")


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing of the core (tools/mutate.py; slow, not in CI): nox -s mutation -- [MODULE ...]."""
    _install(session)
    session.install("coverage>=7.10")  # the runner maps lines to tests with coverage contexts
    session.run("python", "tools/mutate.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, as CI builds it: warnings are errors, internal links checked.

    Output in docs/_build/html (not committed); ``nox -s docs -- -E`` rebuilds from scratch.
    """
    session.install("-e", ".[docs]")
    session.run("sphinx-build", "-W", "--keep-going", "-n", "-b", "dirhtml", *session.posargs,
                "docs", "docs/_build/html")
    session.run("python", "docs/_ext/check_links.py", "docs/_build/html")
