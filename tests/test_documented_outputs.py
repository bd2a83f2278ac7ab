"""Every command output shown in the README, the tutorial and the how-to guides is what the
plugin really prints (see ``doc_outputs`` for how a page marks its runs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .doc_outputs import ROOT, Run, looks_like_output, mismatch, run, runs, steps, unchecked_outputs

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
    skips = [step for page in PAGES for step in steps(page) if step.kind == "skip"]
    assert skips  # the pages skip a few blocks: a parser that lost them would check nothing here
    for step in skips:
        assert step.arg, f"{step.page}:{step.line}: doc-skip needs a reason"
        assert "tests/test_" in step.arg, f"{step.page}:{step.line}: doc-skip should name the test that checks it"


def test_every_output_shown_is_checked_or_skipped() -> None:
    # Each checked terminal output would be found if its directive were lost: the test below
    # knows what the pages' outputs look like, it does not pass for finding nothing.
    outputs = [step for page in PAGES for step in steps(page) if step.kind == "run" and not step.written]
    assert len(outputs) >= 30
    for step in outputs:
        assert looks_like_output(step.text), f"{step.page}:{step.line}: not seen as an output"
    unchecked = [f"{step.page}:{step.line}: {step.text.splitlines()[0]}" for page in PAGES
                 for step in unchecked_outputs(page)]
    assert not unchecked, ("blocks that look like an output but are neither checked nor skipped "
                           "(mark them, see tests/doc_outputs.py):\n" + "\n".join(unchecked))


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


def test_an_ellipsis_stands_for_any_text_in_a_line() -> None:
    assert mismatch("test_a.py … [100%]", OUTPUT, excerpt=True) is None
    assert mismatch("… 1 passed in … =", OUTPUT, excerpt=True) is None
    assert mismatch("test_a.py … [50%]", OUTPUT, excerpt=True)
    assert mismatch("…collected 2 items", OUTPUT, excerpt=True)


def test_a_command_sets_environment_variables_and_a_run_shows_what_it_wrote(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- doc-project: new -->\n<!-- doc-file: conftest.py -->\n```python\nimport os\n\n\n"
        "def pytest_sessionfinish():\n    open('out.txt', 'w').write(os.environ['SAID'] + '\\n')\n```\n"
        "<!-- doc-written: out.txt: SAID=hello pytest -->\n```\nhello\n```\n"
        "<!-- doc-written: out.txt: SAID=/path/to/project/x pytest -->\n```\n/path/to/project/x\n```\n")
    first, second = runs(page)
    assert (first.command, first.written) == ("SAID=hello pytest", "out.txt")
    assert second.files["out.txt"] == "hello\n"  # what the first run wrote, for the runs after it
    where = tmp_path / "project"
    where.mkdir()
    assert run(first, where) == "hello\n"
    assert run(second, where) == "/path/to/project/x\n"  # the run's directory, in a value too


def test_a_python_command_runs_a_script_of_the_project(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- doc-file: s.py -->\n```python\nimport sys\nprint('out')\nsys.exit('err')\n```\n"
                    "```\n$ python s.py\nout\nerr\n```\n")
    [spec] = runs(page)
    where = tmp_path / "project"
    where.mkdir()
    assert run(spec, where) == "out\nerr\n"  # stdout, then stderr
    assert mismatch(spec.expected, run(spec, where), excerpt=False) is None


def test_indented_blocks_and_skipped_blocks_are_read(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "1. A step:\n\n   <!-- doc-file: m.py -->\n   ```python\n   if True:\n       a = 1\n   ```\n\n"
        "   ```\n   $ pytest -q\n   1 passed\n   ```\n"
        "<!-- doc-skip: tests/test_x.py checks it -->\n```\nLateBindingError: not run\n```\n")
    specs = runs(page)
    assert specs[0].files == {"m.py": "if True:\n    a = 1\n"}
    assert (specs[0].command, specs[0].expected) == ("pytest -q", "1 passed")
    assert [(s.kind, s.arg) for s in steps(page)][-1] == ("skip", "tests/test_x.py checks it")
    assert unchecked_outputs(page) == []


def test_an_output_shown_without_a_check_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    blocks = {
        3: "LateBindingError: 2 closures created at m.py:3 share the loop variable 'i'",
        7: "  …: LatebindPluginWarning: pytest-latebind: cannot instrument m.py",
        11: "E       ValueError: negative id -1\nE       Falsifying example: f(",
        16: "========== 1 passed in 0.01s ==========",
        20: "latebind: 2 modules watched, 1 closure site",
    }
    text = "# Page\n\n"
    for line, body in blocks.items():
        text += "\n" * (line - 1 - text.count("\n")) + "```\n" + body + "\n```\n"
    text += ("\n```python\nf()  # latebind: ignore[i] on purpose\n```\n"  # source, not output
             "\n```\npytest --latebind -W error::pytest_latebind.LateBindingWarning\n```\n"  # a command
             "\n```ini\n[pytest]\nlatebind = true\n```\n\n```\npip install .\n```\n")
    page.write_text(text)
    assert [step.line for step in unchecked_outputs(page)] == list(blocks)


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
    assert [step.arg for step in steps(page) if step.kind == "skip"] == ["a reason"]
    assert [s.files for s in specs] == [{"m.py": "a = 1\nb = 3\n"}, {"m.py": "a = 1\nb = 2\n"}]
    assert [(s.command, s.excerpt) for s in specs] == [("pytest -q", False), ("pytest --co", True)]
