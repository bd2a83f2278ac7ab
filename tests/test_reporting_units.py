"""The reporters' pure parts: escaping, merging, fingerprints, paths, the xdist payload, the schema."""

from __future__ import annotations

import json
import linecache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import execnet
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_latebind._findings import Finding
from pytest_latebind._kinds import Kind, Mode
from pytest_latebind._messages import Context
from pytest_latebind._reporting import github, json_report, sarif, xdist
from pytest_latebind._reporting.collect import Collector
from pytest_latebind._reporting.files import source_root, write_atomically

from .helpers import DATA, PROPERTY, parse_workflow_command, unescape


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)


text = st.text(st.characters(codec="utf-8"), max_size=60)


@given(text)
def test_escaped_data_reads_back_as_written(message: str) -> None:
    escaped = github.escape_data(message)
    assert "\n" not in escaped and "\r" not in escaped
    assert unescape(escaped, DATA) == message


@given(text)
def test_escaped_property_reads_back_and_never_splits(value: str) -> None:
    escaped = github.escape_property(value)
    assert not set(escaped) & set(",:\r\n")
    assert unescape(escaped, PROPERTY) == value


def _finding(file: str = "/repo/pkg/mod.py", variable: str = "i", **kw: Any) -> Finding:
    defaults: dict[str, Any] = dict(line=3, column=9, site_kind="lambda", site_name="<lambda>",
                                    fix=f"lambda {variable}={variable}: ...", kinds=[Kind.STALE_READ],
                                    created_with=["0", "1"], seen="1", closures=2, stale_reads=1,
                                    tests=["test_mod.py::test_a"])
    defaults.update(kw)
    return Finding(file=file, variable=variable, **defaults)


@settings(max_examples=50)
@given(name=st.text(st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1, max_size=20),
       seen=text)
def test_annotation_survives_any_file_name_and_value(name: str, seen: str) -> None:
    finding = _finding(file=f"/repo/pkg/{name}.py", seen=seen, kinds=[Kind.STALE_READ, Kind.SHARED_BINDING])
    command, props, message = parse_workflow_command(
        github.annotation(finding, Context("/repo"), root=Path("/repo"), mode=Mode.FAIL))
    assert command == "error"
    assert props == {"file": f"pkg/{name}.py", "line": "3", "col": "9",
                     "title": "late-binding closure: 'i' (1 stale read, shared binding)"}
    assert message == finding.message("/repo", True)


def test_annotation_is_a_warning_in_warn_mode_and_hides_values() -> None:
    finding = _finding(created_with=["'s3cr3t-a'", "'s3cr3t-b'"], seen="'s3cr3t-b'")
    line = github.annotation(finding, Context("/repo", show_values=False), root=Path("/repo"), mode=Mode.WARN)
    command, _, message = parse_workflow_command(line)
    assert command == "warning"
    assert "s3cr3t" not in line
    assert message.splitlines()[1] == "  values hidden (latebind_show_values = false); read late (1 stale read)"


# -- merging: the same findings in any order, from any number of workers ----------------
contributions = st.lists(st.builds(
    lambda key, test, values, seen, stale, stack: _finding(
        file=f"/repo/m{key % 2}.py", variable="ij"[key // 2], tests=[f"t.py::test_{test}"],
        created_with=values, seen=seen, stale_reads=stale,
        kinds=[Kind.STALE_READ] if stale else [Kind.SHARED_BINDING],
        stack=[{"file": "/repo/t.py", "line": stack, "function": "f"}] if stale else []),
    st.integers(0, 3), st.integers(0, 5), st.lists(st.sampled_from(["0", "1", "2", "'a'"]), max_size=3),
    st.sampled_from(["0", "1", "2"]), st.integers(0, 2), st.integers(1, 9)), max_size=8)


def _merged(tests: list[Finding], outside: list[Finding]) -> list[dict[str, Any]]:
    collector = Collector()
    collector.add_tests(f.to_dict() for f in tests)
    collector.add_outside(outside)
    return [f.to_dict() for f in collector.merged()]


@given(contributions, contributions, st.randoms(use_true_random=False), st.integers(1, 3))
def test_merge_ignores_arrival_order_and_worker_count(tests: list[Finding], outside: list[Finding],
                                                       rnd: Any, workers: int) -> None:
    expected = _merged(tests, outside)
    shuffled = tests[:]
    rnd.shuffle(shuffled)
    # Every worker imports the same modules: each sends the same outside-test findings.
    assert _merged(shuffled, outside * workers) == expected
    assert len({(d["file"], d["line"], d["column"], d["variable"]) for d in expected}) == len(expected)


def test_merge_adds_tests_and_counts_but_not_repeated_imports() -> None:
    a = _finding(tests=["t.py::test_a"], stale_reads=2, created_with=["0", "1"])
    b = _finding(tests=["t.py::test_b"], stale_reads=1, created_with=["2", "1"], seen="2")
    at_import = _finding(tests=[], kinds=[Kind.SHARED_BINDING], stale_reads=0, created_with=["5"])
    [merged] = _merged([b, a], [at_import, at_import])
    assert merged["tests"] == ["t.py::test_a", "t.py::test_b"]
    assert merged["stale_reads"] == 3
    assert merged["kinds"] == [Kind.STALE_READ, Kind.SHARED_BINDING]
    assert merged["created_with"] == ["5", "0", "1", "2"]  # outside first, then tests by node id
    assert merged["outside_tests"] is True


# -- the xdist payload ---------------------------------------------------------------
def test_worker_payload_is_plain_data_and_reads_back() -> None:
    config = SimpleNamespace(workeroutput={})
    found = [_finding(stack=[{"file": "/repo/t.py", "line": 4, "function": "test_a"}])]
    xdist.send(config, found)  # type: ignore[arg-type]
    execnet.dumps(config.workeroutput)  # raises on anything but builtins
    node = SimpleNamespace(workeroutput=config.workeroutput, gateway=SimpleNamespace(id="gw3"))
    assert xdist.receive(node) == [found[0].to_dict()]


@pytest.mark.parametrize("node", [
    SimpleNamespace(gateway=SimpleNamespace(id="gw1")),  # crashed: no workeroutput at all
    SimpleNamespace(workeroutput={"exitstatus": 0}),  # a worker without pytest-latebind's payload
    SimpleNamespace(workeroutput={"latebind": {"version": 99, "outside": []}}),
], ids=["crashed", "no-payload", "other-version"])
def test_worker_that_sent_nothing_usable_is_none(node: Any) -> None:
    assert xdist.receive(node) is None


# -- SARIF fingerprints and paths ----------------------------------------------------
def _write(path: Path, source: str) -> None:
    path.write_text(source)
    linecache.checkcache(str(path))


def test_fingerprint_follows_the_code_not_its_line(tmp_path: Path) -> None:
    mod = tmp_path / "mod.py"
    site = "    fs.append(lambda: i)\n"
    _write(mod, f"fs = []\nfor i in range(3):\n{site}")
    before = sarif.fingerprint(_finding(str(mod), line=3), tmp_path)
    _write(mod, f"import os\n\n\nfs = []\nfor i in range(3):\n{site}")
    assert sarif.fingerprint(_finding(str(mod), line=6), tmp_path) == before
    assert sarif.fingerprint(_finding(str(mod), "j", line=6), tmp_path) != before
    # The same text twice in a file: two sites, two fingerprints.
    _write(mod, f"fs = []\nfor i in range(3):\n{site}for i in range(3):\n{site}")
    assert sarif.fingerprint(_finding(str(mod), line=3), tmp_path) == before
    assert sarif.fingerprint(_finding(str(mod), line=5), tmp_path) != before


def test_sarif_paths_relative_to_the_source_root_or_absolute_uris(tmp_path: Path) -> None:
    inside = sarif.result(_finding(str(tmp_path / "pkg" / "mod.py")), Context(tmp_path), root=tmp_path, mode=Mode.FAIL)
    location = inside["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "pkg/mod.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 3, "startColumn": 9}
    outside = sarif.result(_finding("/elsewhere/site-packages/lib.py"), Context(tmp_path), root=tmp_path,
                           mode=Mode.WARN)
    assert outside["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///elsewhere/site-packages/lib.py"}
    assert outside["level"] == "warning"


def test_source_root_prefers_the_workspace_then_git_then_rootdir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rootdir = tmp_path / "repo" / "examples" / "app"
    rootdir.mkdir(parents=True)
    assert source_root(rootdir) == rootdir.resolve()
    (tmp_path / "repo" / ".git").mkdir()
    assert source_root(rootdir) == (tmp_path / "repo").resolve()
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    assert source_root(rootdir) == tmp_path.resolve()
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "unrelated"))
    assert source_root(rootdir) == (tmp_path / "repo").resolve()


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_atomically(target, "one\n")
    write_atomically(target, "two\n")
    assert target.read_text() == "two\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


# -- the JSON schema ships with the package and describes every field ----------------
SCHEMA = json.loads(json_report.SCHEMA.read_text())


def test_schema_is_a_valid_schema_documenting_every_field() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    produced = json_report.finding_to_json(_finding(), Context("/repo"))
    only_with_a_baseline = {"baseline"}  # --latebind-baseline: the finding's state, the fixed entries
    only_when_watching = {"sites"}  # site coverage: only in a run whose import hook watched modules
    only_when_fixing = {"fixes"}  # --latebind-fix
    assert set(produced) | only_with_a_baseline == set(SCHEMA["$defs"]["finding"]["properties"])
    assert set(json_report.report([], Context("/repo"))) | only_with_a_baseline | only_when_watching \
        | only_when_fixing == set(SCHEMA["properties"])


findings = st.builds(
    _finding,
    file=st.sampled_from(["/repo/a.py", "/other/b.py"]),
    variable=st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
    kinds=st.sampled_from([[Kind.STALE_READ], [Kind.SHARED_BINDING], [Kind.STALE_READ, Kind.SHARED_BINDING]]),
    created_with=st.lists(text, max_size=4), seen=st.none() | text,
    tests=st.lists(st.text(min_size=1, max_size=30), unique=True, max_size=3),
    outside_tests=st.booleans(),
    stack=st.lists(st.fixed_dictionaries({"file": st.sampled_from(["/repo/t.py", "/x/y.py"]),
                                          "line": st.integers(1, 500), "function": text}), max_size=3))


@given(st.lists(findings, max_size=4), st.booleans())
def test_every_report_validates_against_the_schema(found: list[Finding], show_values: bool) -> None:
    data = json.loads(json.dumps(json_report.report(found, Context("/repo", show_values))))
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    if not show_values:
        assert all(f["created_with"] is None and f["seen"] is None for f in data["findings"])
