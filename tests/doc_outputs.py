"""Documented outputs, read from the Markdown pages and checked against real runs.

A page marks what a run needs with HTML comments (invisible on GitHub and in the built site):

- ``<!-- doc-project: new -->`` starts an empty project in a temporary directory for the runs
  that follow; ``<!-- doc-project: checkout -->`` runs them beside a copy of this repository's
  ``examples/`` (as from the repository's root, whose reports are not to be written there).
  ``<!-- doc-project: docs/tutorial.md -->`` starts from the files another page wrote
  (as its ``doc-file`` blocks first wrote them).  The directory a run happens in is shown
  as ``/path/to/project``.
- ``<!-- doc-file: NAME -->`` before a fenced block: the block is the file ``NAME``.
- ``<!-- doc-edit: NAME:A-B -->`` (or ``NAME:A``): the block replaces lines A to B of ``NAME``;
  ``<!-- doc-restore: NAME -->`` puts back the file as ``doc-file`` first wrote it.
- A fenced block whose first line is ``$ pytest ...`` is that command and its whole output;
  ``<!-- doc-output: pytest ... -->`` before a block says the block is an excerpt of that
  command's output, ``<!-- doc-run: pytest ... -->`` that it is the whole output.  ``...``
  on a line of its own stands for any number of lines.
- ``<!-- doc-skip: REASON -->`` before a ``$`` block leaves it unchecked, with the reason.

Outputs are compared after normalising what changes from run to run and machine to machine:
the header's platform, rootdir, plugins and configfile lines, durations, and the width of
rulers and padding.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_DIRECTIVE = re.compile(r"^<!--\s*doc-([a-z]+):\s*(.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(`{3,})")
_HEADER = re.compile(r"^(platform |rootdir:|plugins:|cachedir:|configfile:|testpaths:)")
_DURATION = re.compile(r" in \d+(\.\d+)?s( \(\d+:\d\d:\d\d\))?")
_RULER = re.compile(r"^([=_-])\1+ (.*?) \1+$")


@dataclass
class Step:
    """One thing a page does: write or edit a file, or run a command and show its output."""

    page: str
    line: int  # of the fenced block, 1-based
    kind: str  # "project", "file", "edit", "restore", "run", "skip"
    arg: str
    text: str = ""
    excerpt: bool = False


@dataclass
class Run:
    page: str
    line: int
    command: str
    expected: str
    excerpt: bool
    cwd: str  # "checkout" or "new"
    files: dict[str, str] = field(default_factory=dict)


def steps(path: Path) -> list[Step]:
    page = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Step] = []
    pending: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        fence = _FENCE.match(line)
        if directive:
            kind, arg = directive.groups()
            if kind in ("project", "restore"):
                out.append(Step(page, i + 1, kind, arg))
            elif kind in ("file", "edit", "output", "run", "skip"):
                pending = (kind, arg)
            else:
                raise ValueError(f"{page}:{i + 1}: unknown directive doc-{kind}")
        elif fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith(fence.group(1)))
            body = lines[i + 1:end]
            kind, arg = pending or ("", "")
            if kind in ("file", "edit"):
                out.append(Step(page, i + 1, kind, arg, "\n".join(body) + "\n"))
            elif kind in ("output", "run"):
                out.append(Step(page, i + 1, "run", arg, "\n".join(body), excerpt=kind == "output"))
            elif body and body[0].startswith("$ "):
                out.append(Step(page, i + 1, "skip" if kind == "skip" else "run", body[0][2:],
                                "\n".join(body[1:])))
            pending = None
            i = end
        elif line.strip() and pending is not None and not line.startswith("<!--"):
            raise ValueError(f"{page}:{i + 1}: doc-{pending[0]} is not followed by a fenced block")
        i += 1
    return out


def runs(path: Path) -> list[Run]:
    """Each checked run of a page, with the project's files as they are at that point."""
    files: dict[str, str] = {}
    first: dict[str, str] = {}
    cwd = "new"
    out: list[Run] = []
    for step in steps(path):
        if step.kind == "project":
            cwd, files, first = step.arg, {}, {}
            if step.arg not in ("new", "checkout"):  # another page's project
                cwd = "new"
                first = {s.arg: s.text for s in reversed(steps(ROOT / step.arg)) if s.kind == "file"}
                files = dict(first)
        elif step.kind == "file":
            files[step.arg] = step.text
            first.setdefault(step.arg, step.text)
        elif step.kind == "restore":
            files[step.arg] = first[step.arg]
        elif step.kind == "edit":
            name, _, span = step.arg.rpartition(":")
            start, _, stop = span.partition("-")
            old = files[name].splitlines(keepends=True)
            a, b = int(start), int(stop or start)
            files[name] = "".join(old[:a - 1]) + step.text + "".join(old[b:])
        elif step.kind == "run":
            out.append(Run(step.page, step.line, step.arg, step.text, step.excerpt, cwd, dict(files)))
    return out


def run(spec: Run, where: Path) -> str:
    """The command's real output, run as a user would run it in ``where``."""
    argv = shlex.split(spec.command)
    if argv[0] != "pytest":
        raise ValueError(f"{spec.page}:{spec.line}: only pytest commands are run, not {spec.command!r}")
    if spec.cwd == "checkout":
        shutil.copytree(ROOT / "examples", where / "examples")
    for name, text in spec.files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text, encoding="utf-8")
    # The environment of a terminal: CI changes pytest's truncation, GitHub Actions adds
    # annotations, and the width is the usual 80 columns.
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "BUILD_NUMBER", "GITHUB_ACTIONS", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")
           and not k.startswith("PYTEST_XDIST")}
    env.update(COLUMNS="80", PY_COLORS="0", PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *argv[1:]],
                          cwd=where, env=env, capture_output=True, text=True, timeout=300)
    return done.stdout.replace(str(where), "/path/to/project")


def normalise(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if _HEADER.match(line):
            continue
        line = _DURATION.sub(" in N.NNs", line)
        line = _RULER.sub(lambda m: f"{m.group(1)} {m.group(2)} {m.group(1)}", line)
        out.append(" ".join(line.split()))
    while out and not out[-1]:
        out.pop()
    return out


def mismatch(expected: str, actual: str, *, excerpt: bool) -> str | None:
    """Why ``actual`` is not what ``expected`` documents, or None when it is."""
    want, got = normalise(expected), normalise(actual)
    segments: list[list[str]] = [[]]
    for line in want:
        if line == "...":
            segments.append([])
        else:
            segments[-1].append(line)
    if excerpt:
        segments = [[], *segments, []]
    pos = 0
    for n, segment in enumerate(segments):
        anchored = n == 0
        last = n == len(segments) - 1
        found = _find(got, segment, pos, anchored=anchored, to_end=last)
        if found is None:
            where = "at the start" if anchored else "in order"
            diff = difflib.unified_diff(want, got, "documented", "real", lineterm="", n=2)
            return (f"these documented lines are not in the real output {where}:\n  "
                    + "\n  ".join(segment) + "\n(normalised) documented vs real output:\n" + "\n".join(diff))
        pos = found + len(segment)
    return None


def _find(got: list[str], segment: list[str], pos: int, *, anchored: bool, to_end: bool) -> int | None:
    if not segment:  # a leading or trailing "...": anything
        return pos
    starts = [pos] if anchored else range(pos, len(got) - len(segment) + 1)
    if to_end:
        starts = [s for s in starts if s == len(got) - len(segment)]
    for start in starts:
        if got[start:start + len(segment)] == segment:
            return start
    return None
