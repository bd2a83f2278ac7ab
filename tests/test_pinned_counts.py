"""Pinned counts and merges (issue 22, theme 3): how many closures a finding counts, which
values and calls it holds once merged, and which frames its stack keeps.

Each scenario is a module ``count_<name>.py`` of its own (findings merge per site and
variable across tests, so scenarios must not share a site) with a test file; the corpus runs
once.  The xdist merge of import-time findings needs its own run with ``-n 2``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .pinned_helpers import LatebindRun, marked_line, run_latebind, run_latebind_in, source, write_project

SCENARIOS: dict[str, tuple[str, str]] = {}


def scenario(name: str, module: str, tests: str) -> str:
    SCENARIOS[name] = (module, tests)
    return module


TEARDOWN = scenario("teardown", """
    KEPT = []

    def make(names):
        for name in names:
            KEPT.append(lambda: name)  # SITE:site
        return KEPT[0]()
    """, """
    import pytest

    @pytest.fixture
    def made_in_teardown():
        yield
        assert mod.make("abc") == "c"  # a stale read, and three closures kept alive

    def test_teardown(made_in_teardown):
        pass
    """)

SETUP_FAILED = scenario("setup_failed", """
    KEPT = []

    def make(names):
        for name in names:
            KEPT.append(lambda: name)  # SITE:site
    """, """
    import pytest

    @pytest.fixture
    def broken():
        mod.make("ab")
        raise RuntimeError("setup fails after making the closures")

    def test_setup_failed(broken):
        pass
    """)

IMPORTED = scenario("imported", """
    HANDLERS = []
    for n in range(3):
        HANDLERS.append(lambda: n)  # SITE:site
    """, """
    import pytest

    @pytest.fixture
    def handlers():
        yield mod.HANDLERS
        mod.HANDLERS.clear()  # dead before the session ends: no finding of the session's own

    def test_imported(handlers):
        assert handlers[0]() == 2
    """)

TWO_SITES = scenario("two_sites", """
    KEPT = []

    def make():
        for a in ["only"]:
            KEPT.append(lambda: a)  # SITE:first
        for b in [1, 2]:
            KEPT.append(lambda: b)  # SITE:second
    """, """
    def test_two_sites():
        mod.make()
    """)

GROUPS_SHARED = scenario("groups_shared", """
    KEPT = []

    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: name)  # SITE:site
        return fs
    """, """
    def test_groups_shared():
        mod.KEPT.extend(mod.make("ab"))
        mod.KEPT.extend(mod.make("xyz"))
    """)

GROUPS_STALE = scenario("groups_stale", """
    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: name)  # SITE:site
        return fs
    """, """
    def test_groups_stale():
        first, second = mod.make("ab"), mod.make("xyz")
        assert first[0]() == "b"
        assert len(second) == 3
    """)

MERGED = scenario("merged", """
    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: name)  # SITE:site
        return fs
    """, """
    def test_one():
        fs = mod.make("ab")
        assert fs[0]() == "b"

    def test_two():
        fs = mod.make("xyz")
        assert (fs[0](), fs[1]()) == ("z", "z")
    """)

STACK = scenario("stack", """
    import threading

    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: OUT.append(name))  # SITE:site
        return fs

    OUT = []

    def run_in_place(f):
        threading.Thread(target=f).run()  # SITE:run
    """, """
    def test_stack():
        fs = mod.make("ab")
        mod.run_in_place(fs[0])  # SITE:test
        assert mod.OUT == ["b"]
    """)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> LatebindRun:
    root: Path = tmp_path_factory.mktemp("counts")
    (root / "pytest.ini").write_text("[pytest]\n")
    for name, (module, tests) in SCENARIOS.items():
        write_project(root, **{f"count_{name}": module,
                               f"test_count_{name}": f"import count_{name} as mod\n\n{source(tests)}"})
    return run_latebind_in(root)


def found(corpus: LatebindRun, name: str, mark: str = "site") -> dict[str, object]:
    """The one finding of scenario ``name``, at its line marked ``mark``; none elsewhere in it."""
    line = marked_line(SCENARIOS[name][0], mark)
    assert [at for at, _ in corpus.in_file(f"count_{name}.py")] == [line], corpus.summary()
    (variable,) = {variable for at, variable in corpus.in_file(f"count_{name}.py")}
    return corpus.one(f"count_{name}.py", line, variable)


def test_scenarios_fail_only_by_the_plugins_verdict(corpus: LatebindRun) -> None:
    # Each test's own assertions (what the bug does to the program) hold.
    assert corpus.own_failures() == []


def test_teardown_judges_stale_reads_but_not_shared_bindings(corpus: LatebindRun) -> None:
    # Three closures made in teardown and kept alive: only the stale read is reported there.
    finding = found(corpus, "teardown")
    assert finding["kinds"] == ["stale-read"]
    assert (finding["closures"], finding["stale_reads"]) == (3, 1)
    assert finding["tests"] == ["test_count_teardown.py::test_teardown"]
    assert corpus.outcome("test_count_teardown.py::test_teardown") == "passed"  # teardown does not fail it


def test_test_whose_setup_failed_still_has_its_shared_bindings_judged(corpus: LatebindRun) -> None:
    finding = found(corpus, "setup_failed")
    assert finding["kinds"] == ["shared-binding"]
    assert (finding["closures"], finding["created_with"], finding["seen"]) == (2, ["'a'", "'b'"], "'b'")
    assert finding["tests"] == ["test_count_setup_failed.py::test_setup_failed"]


def test_closures_made_in_another_window_count_for_a_stale_read(corpus: LatebindRun) -> None:
    # Made at import (the session's window), called stale in a test: the test's finding,
    # counting and listing its siblings made at import.
    finding = found(corpus, "imported")
    assert finding["kinds"] == ["stale-read"]
    assert (finding["closures"], finding["created_with"], finding["seen"]) == (3, ["0", "1", "2"], "2")
    assert (finding["tests"], finding["outside_tests"]) == (["test_count_imported.py::test_imported"], False)


def test_two_sites_alive_in_one_window_the_first_with_one_closure(corpus: LatebindRun) -> None:
    finding = found(corpus, "two_sites", "second")  # the first site's single closure is no finding
    assert (finding["variable"], finding["kinds"]) == ("b", ["shared-binding"])
    assert (finding["closures"], finding["created_with"], finding["seen"]) == (2, ["1", "2"], "2")


def test_two_binding_groups_at_one_site_are_counted_apart(corpus: LatebindRun) -> None:
    # make() run twice: two cells, 2 and 3 closures; one finding, counting the larger group.
    finding = found(corpus, "groups_shared")
    assert finding["kinds"] == ["shared-binding"]
    assert finding["closures"] == 3
    assert finding["created_with"] == ["'a'", "'b'", "'x'", "'y'", "'z'"]
    assert finding["seen"] == "'z'"


def test_stale_read_counts_only_its_own_binding_group(corpus: LatebindRun) -> None:
    finding = found(corpus, "groups_stale")
    assert finding["kinds"] == ["stale-read"]
    assert (finding["closures"], finding["created_with"], finding["seen"]) == (2, ["'a'", "'b'"], "'b'")
    assert finding["stale_reads"] == 1


def test_findings_of_two_tests_merge_counts_calls_and_values(corpus: LatebindRun) -> None:
    finding = found(corpus, "merged")
    assert finding["tests"] == ["test_count_merged.py::test_one", "test_count_merged.py::test_two"]
    assert finding["closures"] == 3  # the most any one test made, not the sum
    assert finding["stale_reads"] == 3  # 1 + 2: each test's calls happened
    assert finding["created_with"] == ["'a'", "'b'", "'x'", "'y'", "'z'"]
    # One read, the first: test_one's closure made with 'a' read 'b' (never 'a' with test_two's 'z').
    assert (finding["made_with"], finding["seen"]) == ("'a'", "'b'")
    assert finding["first_stale_read"][0]["function"] == "test_one"


def test_report_stack_holds_only_user_frames(corpus: LatebindRun) -> None:
    # The stale read went through pytest, pluggy and threading.Thread.run: none of them is listed.
    module, tests = SCENARIOS["stack"]
    finding = found(corpus, "stack")
    assert [(f["file"], f["line"], f["function"]) for f in finding["first_stale_read"]] == [
        ("test_count_stack.py", marked_line(f"import count_stack as mod\n\n{source(tests)}", "test"), "test_stack"),
        ("count_stack.py", marked_line(module, "run"), "run_in_place"),
        ("count_stack.py", marked_line(module, "site"), "<lambda>"),
    ]


OUTSIDE_ROOT = """
    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: name)  # SITE:site
        return fs[0]()  # SITE:call
    """


def test_stack_outside_the_root_still_has_no_pytest_or_plugin_frames(pytester: pytest.Pytester) -> None:
    # No frame lies under the root, so the report keeps every frame it has: the user's only.
    pytester.mkdir("elsewhere")
    test = "import outside\n\ndef test_outside():\n    assert outside.make('ab') == 'b'\n"
    write_project(pytester.path, outside=OUTSIDE_ROOT, test_outside=test)
    run = run_latebind(pytester, "--rootdir=elsewhere", "--latebind-modules=outside", "test_outside.py")
    (finding,) = run.findings
    here = pytester.path.resolve().as_posix()
    assert [(f["file"], f["line"], f["function"]) for f in finding["first_stale_read"]] == [
        (f"{here}/test_outside.py", 4, "test_outside"),
        (f"{here}/outside.py", marked_line(OUTSIDE_ROOT, "call"), "make"),
        (f"{here}/outside.py", marked_line(OUTSIDE_ROOT, "site"), "<lambda>"),
    ]


XDIST_MODULE = """
    import os

    fs = []
    for n in range(3):
        fs.append(lambda: n)  # SITE:site
    # The same import in each worker, but not quite the same events: gw0 sees 1 stale read, gw1 2.
    CALLS = 1 if os.environ.get("PYTEST_XDIST_WORKER") == "gw0" else 2
    for k in range(CALLS):
        fs[k]()
    """


def test_import_time_stale_reads_seen_by_every_xdist_worker_are_counted_once(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    write_project(pytester.path, at_import=XDIST_MODULE,
                  test_a="import at_import\n\ndef test_a():\n    pass\n",
                  test_b="import at_import\n\ndef test_b():\n    pass\n")
    run = run_latebind(pytester, "-n", "2")
    (finding,) = run.findings
    assert (finding["file"], finding["line"]) == ("at_import.py", marked_line(XDIST_MODULE, "site"))
    assert (finding["outside_tests"], finding["tests"]) == (True, [])
    # Both workers imported the module: one import's events, seen twice, are the most either saw.
    assert (finding["stale_reads"], finding["closures"]) == (2, 3)
    assert run.ret == 1  # found outside any test: the session fails
