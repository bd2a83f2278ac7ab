"""Every command output shown in the README, the tutorial and the how-to guides is what the
plugin really prints (see ``doc_outputs`` for how a page marks its runs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .doc_outputs import ROOT, Run, mismatch, run, runs, steps

PAGES = [ROOT / "README.md", ROOT / "docs" / "tutorial.md", *sorted((ROOT / "docs" / "how-to").glob("*.md"))]
RUNS = [spec for page in PAGES for spec in runs(page)]


# The pages show runs on Python 3.11; from 3.12 comprehensions are inlined (PEP 709), so a
# stale read's stack has no `<listcomp>` frame, and other versions word the same run apart.
@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the documented outputs are Python 3.11's")
@pytest.mark.parametrize("spec", [pytest.param(s, id=f"{s.page}:{s.line}") for s in RUNS])
def test_a_documented_output_is_the_real_one(spec: Run, tmp_path: Path) -> None:
    problem = mismatch(spec.expected, run(spec, tmp_path), excerpt=spec.excerpt)
    assert problem is None, f"{spec.page}:{spec.line}: `{spec.command}`: {problem}"


def test_the_pages_document_runs() -> None:
    # The tutorial shows five runs and the README one excerpt: a parser that found none would
    # make the test above pass vacuously.
    pages = {spec.page for spec in RUNS}
    assert {"README.md", "docs/tutorial.md"} <= pages
    assert sum(spec.page == "docs/tutorial.md" for spec in RUNS) >= 4


def test_unchecked_runs_say_why() -> None:
    for page in PAGES:
        for step in steps(page):
            if step.kind == "skip":
                assert step.arg, f"{step.page}:{step.line}: doc-skip needs a reason"


# -- the checker itself ------------------------------------------------------------------
OUTPUT = """\
============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.2.0, pluggy-1.7.0
rootdir: /tmp/x
collected 1 item

test_a.py .                                                              [100%]

============================== 1 passed in 0.01s ===============================
"""


def test_the_checker_ignores_what_changes_between_machines() -> None:
    documented = OUTPUT.replace("0.01s", "2.26s").replace("/tmp/x", "/path/to/x").replace("3.11.7", "3.12.1")
    documented = documented.replace("=== 1 passed in 2.26s ===", "= 1 passed in 2.26s =")
    assert mismatch(documented, OUTPUT, excerpt=False) is None


def test_the_checker_finds_a_changed_line_a_missing_line_and_an_extra_line() -> None:
    assert mismatch(OUTPUT.replace("1 passed", "1 failed"), OUTPUT, excerpt=False)
    assert mismatch(OUTPUT.replace("collected 1 item\n", ""), OUTPUT, excerpt=False)
    assert mismatch(OUTPUT + "latebind: something new\n", OUTPUT, excerpt=False)
    assert mismatch(OUTPUT, OUTPUT + "latebind: something new\n", excerpt=False)


def test_dots_stand_for_any_lines_and_an_excerpt_for_a_part() -> None:
    assert mismatch("...\ntest_a.py . [100%]\n...", OUTPUT, excerpt=False) is None
    assert mismatch("test_a.py . [100%]", OUTPUT, excerpt=True) is None
    assert mismatch("test_a.py . [100%]", OUTPUT, excerpt=False)  # not the whole output
    assert mismatch("test_b.py . [100%]", OUTPUT, excerpt=True)
    assert mismatch("...\n1 passed\n...\ncollected 1 item", OUTPUT, excerpt=False)  # out of order


def test_files_and_edits_build_the_project(tmp_path: Path) -> None:
    page = tmp_path / "page.md"  # a page outside the checkout: nothing is written into it
    page.write_text(
        "<!-- doc-project: new -->\n<!-- doc-file: m.py -->\n```python\na = 1\nb = 2\n```\n"
        "<!-- doc-edit: m.py:2 -->\n```python\nb = 3\n```\n"
        "```\n$ pytest -q\n...\n```\n"
        "<!-- doc-restore: m.py -->\n<!-- doc-skip: a reason -->\n```\n$ pytest\n```\n"
        "<!-- doc-output: pytest --co -->\n```\nno tests\n```\n")
    specs = runs(page)
    kinds = [step.kind for step in steps(page)]
    assert kinds == ["project", "file", "edit", "run", "restore", "skip", "run"]
    assert [s.files for s in specs] == [{"m.py": "a = 1\nb = 3\n"}, {"m.py": "a = 1\nb = 2\n"}]
    assert [(s.command, s.excerpt) for s in specs] == [("pytest -q", False), ("pytest --co", True)]
