"""``python -m pytest_latebind scan``: linter exit codes, the line format, JSON and SARIF,
inline ignores and the baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_latebind.__main__ import main

BUGGY = "def make(xs):\n    out = []\n    for x in xs:\n        out.append(lambda: x)\n    return out\n"
CLEAN = "def run(xs):\n    return [(lambda: x)() for x in xs]\n"
UNKNOWN = "def run(xs, process):\n    for x in xs:\n        process(lambda: x)\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "buggy.py").write_text(BUGGY)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    return tmp_path


def test_findings_exit_1_with_path_line_col_lines(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "pkg"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("pkg/buggy.py:4:20: LB001 lambda made in a loop reads loop variable 'x' late")


def test_nothing_found_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "pkg/clean.py"]) == 0
    assert capsys.readouterr().out == ""


def test_usage_errors_exit_2(project: Path) -> None:
    assert main(["scan", "missing.py"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["scan"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["scan", "pkg", "--format", "xml"])
    assert exc.value.code == 2


def test_unverified_only_when_asked(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pkg" / "buggy.py").write_text(UNKNOWN)
    assert main(["scan", "pkg"]) == 0
    assert main(["scan", "pkg", "--unverified"]) == 1
    assert " LB002 " in capsys.readouterr().out


def test_json_and_sarif(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "pkg", "--format", "json"]) == 1
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert row["path"] == "pkg/buggy.py" and row["status"] == "bug" and row["variables"] == ["x"]
    assert row["qualname"] == "make.<locals>.<lambda>"
    assert main(["scan", "pkg", "--format", "sarif", "-o", "out.sarif"]) == 1
    sarif = json.loads((project / "out.sarif").read_text())
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "LB001"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 4, "startColumn": 20}
    assert [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]][result["ruleIndex"]] == "LB001"


def test_inline_ignore_needs_its_variable_and_a_reason(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = project / "pkg" / "buggy.py"
    source.write_text(BUGGY.replace("(lambda: x)", "(lambda: x)  # latebind: ignore[x]"))
    assert main(["scan", "pkg"]) == 1  # no reason: it does not apply
    source.write_text(BUGGY.replace("(lambda: x)", "(lambda: x)  # latebind: ignore[y] called at once"))
    assert main(["scan", "pkg"]) == 1  # another variable
    source.write_text(BUGGY.replace("(lambda: x)", "(lambda: x)  # latebind: ignore[x] called at once"))
    capsys.readouterr()
    assert main(["scan", "pkg"]) == 0
    assert "1 silenced" in capsys.readouterr().out


def test_baseline(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = {"path": "pkg/buggy.py", "qualname": "make.<locals>.<lambda>", "variable": "x", "kind": "stale-read"}
    (project / "baseline.json").write_text(json.dumps({"version": 1, "findings": [entry]}))
    assert main(["scan", "pkg", "--baseline", "baseline.json"]) == 0
    (project / "baseline.json").write_text(json.dumps({"version": 1, "findings": [{**entry, "variable": "y"}]}))
    assert main(["scan", "pkg", "--baseline", "baseline.json"]) == 1
    (project / "baseline.json").write_text("{not json")
    assert main(["scan", "pkg", "--baseline", "baseline.json"]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_a_file_that_does_not_parse_is_a_finding(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pkg" / "clean.py").write_text("def (:\n")
    assert main(["scan", "pkg/clean.py"]) == 1
    assert "pkg/clean.py:1:" in capsys.readouterr().out


def test_as_a_module(project: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest_latebind", "scan", "pkg"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 1 and done.stdout.startswith("pkg/buggy.py:4:20: LB001 ")


IGNORE = "pkg/buggy.py::make.<locals>.<lambda>:x  the callbacks are called within their round"
CONFIGS = {
    "pyproject.toml": f"[tool.pytest.ini_options]\nlatebind_ignore = [\"{IGNORE}\"]\n",
    "pytest.ini": f"[pytest]\nlatebind_ignore =\n    {IGNORE}\n",
    "tox.ini": f"[tox]\nenvlist = py\n\n[pytest]\nlatebind_ignore =\n    {IGNORE}\n",
    "setup.cfg": f"[metadata]\nname = x\n\n[tool:pytest]\nlatebind_ignore =\n    {IGNORE}\n",
}


@pytest.mark.parametrize("name", CONFIGS)
def test_the_projects_latebind_ignore_lines_apply(project: Path, capsys: pytest.CaptureFixture[str],
                                                  name: str) -> None:
    # As a pytest run there reads them: from the configuration file pytest would find, with
    # paths relative to its folder, whatever --root shows paths relative to.
    (project / name).write_text(CONFIGS[name])
    assert main(["scan", "pkg"]) == 0
    assert "1 silenced by an ignore comment, a latebind_ignore line or the baseline" in capsys.readouterr().out
    assert main(["scan", "pkg", "--root", "pkg"]) == 0
    (project / name).write_text(CONFIGS[name].replace(":x  ", ":y  "))
    assert main(["scan", "pkg"]) == 1  # another variable: the site is still reported


def test_a_config_that_does_not_configure_pytest_is_passed_over(project: Path) -> None:
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (project / "setup.cfg").write_text(CONFIGS["setup.cfg"])  # pytest would take this one
    assert main(["scan", "pkg"]) == 0
    (project / "pytest.ini").write_text("[pytest]\n")  # first, even without the option: nothing silenced
    assert main(["scan", "pkg"]) == 1


def test_a_bad_latebind_ignore_line_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pytest.ini").write_text("[pytest]\nlatebind_ignore =\n    pkg/buggy.py::make.<locals>.<lambda>:x\n")
    assert main(["scan", "pkg"]) == 2
    assert "has no reason" in capsys.readouterr().err
