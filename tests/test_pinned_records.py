"""Pinned records (issue 22, themes 6 and 7): the values a finding says its closures were made
with, for deferred variables (assigned after the closure in its round), several loop
variables in one closure, ``None`` values, and values whose ``repr`` raises.

Each scenario is a module ``rec_<name>.py`` whose loop also calls its closures in their own
round (quiet: the value each sees is its round's) and a test that calls them after the
loop (stale).  The corpus runs once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .pinned_helpers import LatebindRun, marked_line, run_latebind_in, source, write_project

SCENARIOS: dict[str, tuple[str, str]] = {}


def scenario(name: str, module: str, tests: str) -> str:
    SCENARIOS[name] = (module, tests)
    return module


MODULE_DEFERRED = scenario("module_deferred", """
    FS = []
    IN_ROUND = []
    for item in range(3):
        log = lambda: total  # SITE:site
        total = item * 10
        IN_ROUND.append(log())
        FS.append(log)
    """, """
    import pytest

    @pytest.fixture
    def fs():
        yield mod.FS
        mod.FS.clear()  # dead before the session ends: the finding is the test's alone

    def test_module_deferred(fs):
        assert mod.IN_ROUND == [0, 10, 20]
        assert fs[0]() == 20
    """)

NOT_LAST = scenario("not_last", """
    KEPT = []

    def make(items):
        in_round = []
        for i, item in enumerate(items):
            get = lambda: (label, i)  # SITE:site
            label = item.upper()
            in_round.append(get())
            KEPT.append(get)
        return in_round, KEPT
    """, """
    import pytest

    @pytest.fixture
    def kept():
        yield
        mod.KEPT.clear()

    def test_not_last(kept):
        in_round, fs = mod.make(["a", "b"])
        assert in_round == [("A", 0), ("B", 1)]
        assert fs[0]() == ("B", 1)
    """)

DEAD_SIBLINGS = scenario("dead_siblings", """
    def make(items):
        fs, in_round = [], []
        for i, item in enumerate(items):
            get = lambda: (label, i)  # SITE:site
            label = item.upper()
            in_round.append(get())
            fs.append(get)
        return in_round, fs
    """, """
    def test_dead_siblings():
        in_round, fs = mod.make(["a", "b", "c"])
        assert in_round == [("A", 0), ("B", 1), ("C", 2)]
        first = fs[0]
        del fs  # the siblings die before the test ends; their values must still be listed
        assert first() == ("C", 2)
    """)

AFTER_LOOP = scenario("after_loop", """
    def make(items, after):
        fs = []
        for item in items:
            fs.append(lambda: item)  # SITE:site
        item = after
        return fs
    """, """
    def test_after_loop():
        fs = mod.make(["b", "c", "d"], "z")
        first = fs[0]
        del fs
        assert first() == "z"
    """)

OTHER_BINDING = scenario("other_binding", """
    KEPT = []

    def make(items):
        fs = []
        for item in items:
            fs.append(lambda: item)  # SITE:site
        return fs
    """, """
    import pytest

    @pytest.fixture
    def kept():
        yield
        mod.KEPT.clear()

    def test_other_binding(kept):
        first = mod.make(["b", "c", "d"])[0]
        # Another binding of the site, alive at the end: made with one value, so shared by nothing.
        mod.KEPT.extend(mod.make(["q", "q", "q", "q"]))
        assert first() == "d"
    """)

THREE = scenario("three", """
    def make(rows):
        fs, in_round = [], []
        for a, b, c in rows:
            fs.append(lambda: (a, b, c))  # SITE:site
            in_round.append(fs[-1]())
        return in_round, fs
    """, """
    def test_three():
        in_round, fs = mod.make([(1, "x", 1.5), (2, "y", 2.5), (3, "z", 3.5)])
        assert in_round == [(1, "x", 1.5), (2, "y", 2.5), (3, "z", 3.5)]
        assert fs[0]() == (3, "z", 3.5)
    """)

ORDER = scenario("order", """
    KEPT = []

    def make(rows):
        for a, b in rows:
            KEPT.append(lambda: (b, a, b))  # SITE:site
    """, """
    import pytest

    @pytest.fixture
    def kept():
        yield
        mod.KEPT.clear()

    def test_order(kept):
        mod.make([(1, 2), (3, 4)])
    """)

NONE = scenario("none", """
    KEPT = []

    def make(items):
        in_round = []
        for item in items:
            get = lambda: result  # SITE:site
            result = None if item is None else item.upper()
            in_round.append(get())
            KEPT.append(get)
        return in_round, KEPT
    """, """
    import pytest

    @pytest.fixture
    def kept():
        yield
        mod.KEPT.clear()

    def test_none(kept):
        in_round, fs = mod.make([None, "b", None, "d"])
        assert in_round == [None, "B", None, "D"]
        # Made with None, 'B', None, 'D'; all now see 'D': the first three read stale.
        assert [f() for f in fs] == ["D", "D", "D", "D"]
    """)

BAD_REPR = scenario("bad_repr", """
    class Loud:
        def __init__(self, n):
            self.n = n

        def __repr__(self):
            raise RuntimeError("no repr for you")

    def make(n):
        fs = []
        for value in [Loud(k) for k in range(n)]:
            fs.append(lambda: value.n)  # SITE:site
        return fs
    """, """
    def test_bad_repr():
        fs = mod.make(2)
        assert fs[0]() == 1
    """)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> LatebindRun:
    root: Path = tmp_path_factory.mktemp("records")
    (root / "pytest.ini").write_text("[pytest]\n")
    for name, (module, tests) in SCENARIOS.items():
        write_project(root, **{f"rec_{name}": module,
                               f"test_rec_{name}": f"import rec_{name} as mod\n\n{source(tests)}"})
    return run_latebind_in(root)


def found(corpus: LatebindRun, name: str, kinds: tuple[str, ...] = ("stale-read",)) -> dict[str, dict[str, Any]]:
    """The findings of scenario ``name`` by variable; all at its site, of ``kinds``, of its test."""
    line = marked_line(SCENARIOS[name][0], "site")
    file = f"rec_{name}.py"
    assert {at for at, _ in corpus.in_file(file)} == {line}, corpus.summary()
    findings = {f["variable"]: f for f in corpus.at(file, line)}
    for finding in findings.values():
        assert tuple(finding["kinds"]) == kinds
        assert finding["tests"] == [f"test_rec_{name}.py::test_{name}"]
    assert corpus.failed_by_latebind(f"test_rec_{name}.py::test_{name}")
    return findings


BOTH = ("stale-read", "shared-binding")


def values(finding: dict[str, Any]) -> tuple[list[str], str, int]:
    return finding["created_with"], finding["seen"], finding["stale_reads"]


def test_deferred_loop_variable_at_module_level(corpus: LatebindRun) -> None:
    # Assigned after the closure: each made with its round's end value, quiet in its round.
    assert values(found(corpus, "module_deferred")["total"]) == (["0", "10", "20"], "20", 1)


def test_deferred_variable_that_is_not_the_last_of_several(corpus: LatebindRun) -> None:
    # `label` is read first and assigned after the closure; `i` is the loop's target.
    findings = found(corpus, "not_last", BOTH)
    assert sorted(findings) == ["i", "label"]
    assert values(findings["label"]) == (["'A'", "'B'"], "'B'", 1)
    assert values(findings["i"]) == (["0", "1"], "1", 1)


def test_deferred_variable_of_dead_siblings_reads_stale(corpus: LatebindRun) -> None:
    findings = found(corpus, "dead_siblings")
    assert sorted(findings) == ["i", "label"]
    assert values(findings["i"]) == (["0", "1", "2"], "2", 1)
    label = findings["label"]
    assert (label["created_with"][0], label["seen"], label["stale_reads"], label["closures"]) == ("'A'", "'C'", 1, 3)


def test_deferred_values_of_dead_siblings_are_still_listed(corpus: LatebindRun) -> None:
    assert found(corpus, "dead_siblings")["label"]["created_with"] == ["'A'", "'B'", "'C'"]


def test_a_value_assigned_after_the_loop_is_seen_but_not_listed(corpus: LatebindRun) -> None:
    # The closures were made with 'b', 'c', 'd' (each round ended with the next closure); 'z',
    # assigned after the loop, is what the stale read saw, never a value one was made with.
    finding = found(corpus, "after_loop")["item"]
    assert values(finding) == (["'b'", "'c'", "'d'"], "'z'", 1)
    assert finding["closures"] == 3


def test_another_binding_of_the_site_adds_neither_values_nor_closures(corpus: LatebindRun) -> None:
    finding = found(corpus, "other_binding")["item"]
    assert values(finding) == (["'b'", "'c'", "'d'"], "'d'", 1)
    assert (finding["closures"], finding["more_values"]) == (3, False)


def test_three_loop_variables_in_one_closure(corpus: LatebindRun) -> None:
    findings = found(corpus, "three")
    assert sorted(findings) == ["a", "b", "c"]
    assert values(findings["a"]) == (["1", "2", "3"], "3", 1)
    assert values(findings["b"]) == (["'x'", "'y'", "'z'"], "'z'", 1)
    assert values(findings["c"]) == (["1.5", "2.5", "3.5"], "3.5", 1)
    assert {f["closures"] for f in findings.values()} == {3}


def test_shared_binding_blocks_follow_the_order_of_first_reads(corpus: LatebindRun) -> None:
    findings = found(corpus, "order", ("shared-binding",))
    assert (values(findings["b"]), values(findings["a"])) == ((["2", "4"], "4", 0), (["1", "3"], "3", 0))
    titles = [line for line in corpus.failure_text("test_order").splitlines() if " closures created at " in line]
    assert [title.rsplit(" ", 1)[1] for title in titles] == ["'b'", "'a'"]  # b is read first


def test_deferred_variable_whose_value_is_none(corpus: LatebindRun) -> None:
    # None is a value like any other, not "not assigned yet": the closures made with None
    # read 'D' stale, as the one made with 'B' does.
    finding = found(corpus, "none", BOTH)["result"]
    assert values(finding) == (["None", "'B'", "'D'"], "'D'", 3)
    assert finding["closures"] == 4


def test_value_whose_repr_raises(corpus: LatebindRun) -> None:
    # The report is written; each object is told by a repr of its own type and address.
    finding = found(corpus, "bad_repr")["value"]
    assert finding["closures"] == 2
    first, second = finding["created_with"]
    assert re.fullmatch(r"<Loud instance at 0x[0-9a-f]+>", first) and first != second
    assert finding["seen"] == second
