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
- A fenced block whose first line is ``$ pytest ...`` (or ``$ python ...``: a script of the
  project, ``python -m pytest_latebind scan``) is that command and its whole output (what it
  prints on stdout, then on stderr);
  ``<!-- doc-output: pytest ... -->`` before a block says the block is an excerpt of that
  command's output, ``<!-- doc-run: pytest ... -->`` that it is the whole output.  ``...``
  on a line of its own stands for any number of lines, and ``…`` (one character) in a line
  for any text in that line, such as the place a warning is attributed to.
- ``<!-- doc-written: NAME: pytest ... -->`` before a block: the block is the file ``NAME``
  as that command writes it (a report, a baseline, a patch), compared as an output is; the
  runs that follow have the file, as the block shows it.
- A command may start with environment variables, ``GITHUB_ACTIONS=true pytest ...``;
  ``/path/to/project`` in their values is the directory the run happens in.
- ``<!-- doc-skip: REASON -->`` before a block leaves it unchecked, with the reason (which
  should name the test that checks that behaviour instead).
- Fences and directives may be indented, as in a list item; the block is read dedented.

A block that is none of these and looks like an output (``unchecked_outputs``) is an error
of the page: an output shown is either checked or skipped with a reason.

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
_DIRECTIVE = re.compile(r"^\s*<!--\s*doc-([a-z]+):\s*(.*?)\s*-->\s*$")
_FENCE = re.compile(r"^( *)(`{3,})\s*([\w+-]*)")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=")
# What plugin or pytest output shows, and source code or configuration rarely does.
_LOOKS_LIKE_OUTPUT = re.compile(
    r"LateBinding(Error|Warning)|LatebindPluginWarning|\blatebind: |pytest-latebind: |Falsifying|"
    r"Failing test case|={4,}|_{4,} \w|\b\d+ (passed|failed|errors?|warnings?)\b|^E {2,}|"
    r"late-binding closure|\(stale-read\)|\(shared-binding\)|\bLB00\d\b|ERROR: |^FAILED ",
    re.MULTILINE)
# A line that is a command to type, not what it prints: a page shows commands without `$`.
_COMMAND = re.compile(r"^(pytest|pip|python|cd|git) .*$", re.MULTILINE)
# A block in one of these languages is source or configuration, which a page shows as it is.
_SOURCE = {"python", "py", "ini", "toml", "yaml", "yml", "cfg", "bash", "sh", "shell"}
_HEADER = re.compile(r"^(platform |rootdir:|plugins:|cachedir:|configfile:|testpaths:)")
_DURATION = re.compile(r" in \d+(\.\d+)?s( \(\d+:\d\d:\d\d\))?")
_RULER = re.compile(r"^([=_-])\1+ (.*?) \1+$")


@dataclass
class Step:
    """One thing a page does: write or edit a file, or run a command and show its output."""

    page: str
    line: int  # of the fenced block, 1-based
    kind: str  # "project", "file", "edit", "restore", "run", "skip", "written", "block"
    arg: str  # the name, the command, or a skip's reason; a "block"'s language
    text: str = ""
    excerpt: bool = False
    written: str = ""  # the file a "run" compares instead of the output, for doc-written


@dataclass
class Run:
    page: str
    line: int
    command: str
    expected: str
    excerpt: bool
    cwd: str  # "checkout" or "new"
    files: dict[str, str] = field(default_factory=dict)
    written: str = ""


def steps(path: Path) -> list[Step]:
    """What a page does, in order; a fenced block no directive claims is a ``block`` step."""
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
            elif kind in ("file", "edit", "output", "run", "skip", "written"):
                pending = (kind, arg)
            else:
                raise ValueError(f"{page}:{i + 1}: unknown directive doc-{kind}")
        elif fence:
            indent, ticks, language = fence.groups()
            end = next((j for j in range(i + 1, len(lines))
                        if lines[j].strip().startswith(ticks) and not lines[j].strip().strip("`")), None)
            if end is None:
                raise ValueError(f"{page}:{i + 1}: the fenced block is not closed")
            body = [b[len(indent):] if b.startswith(indent) else b.lstrip() for b in lines[i + 1:end]]
            kind, arg = pending or ("", "")
            if kind in ("file", "edit"):
                out.append(Step(page, i + 1, kind, arg, "\n".join(body) + "\n"))
            elif kind in ("output", "run"):
                out.append(Step(page, i + 1, "run", arg, "\n".join(body), excerpt=kind == "output"))
            elif kind == "written":
                name, sep, command = arg.partition(": ")
                if not sep:
                    raise ValueError(f"{page}:{i + 1}: doc-written needs NAME: COMMAND, not {arg!r}")
                out.append(Step(page, i + 1, "run", command, "\n".join(body), written=name))
            elif kind == "skip":
                out.append(Step(page, i + 1, "skip", arg, "\n".join(body)))
            elif body and body[0].startswith("$ "):
                out.append(Step(page, i + 1, "run", body[0][2:], "\n".join(body[1:])))
            else:
                out.append(Step(page, i + 1, "block", language, "\n".join(body)))
            pending = None
            i = end
        elif line.strip() and pending is not None and not line.lstrip().startswith("<!--"):
            raise ValueError(f"{page}:{i + 1}: doc-{pending[0]} is not followed by a fenced block")
        i += 1
    return out


def looks_like_output(text: str) -> bool:
    return _LOOKS_LIKE_OUTPUT.search(_COMMAND.sub("", text)) is not None


def unchecked_outputs(path: Path) -> list[Step]:
    """The blocks of a page that look like an output and are neither checked nor skipped."""
    return [step for step in steps(path) if step.kind == "block" and step.arg.lower() not in _SOURCE
            and looks_like_output(step.text)]


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
            out.append(Run(step.page, step.line, step.arg, step.text, step.excerpt, cwd, dict(files),
                           step.written))
            if step.written:  # what the run wrote is there for the runs that follow
                files[step.written] = step.text + "\n"
    return out


def run(spec: Run, where: Path) -> str:
    """The command's real output (or the file it wrote), run as a user would run it in ``where``."""
    argv = shlex.split(spec.command)
    assignments = {}
    while argv and _ENV.match(argv[0]):
        name, _, value = argv.pop(0).partition("=")
        assignments[name] = value.replace("/path/to/project", str(where))
    if not argv or argv[0] not in ("pytest", "python"):
        raise ValueError(f"{spec.page}:{spec.line}: only pytest and python commands are run, not {spec.command!r}")
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
    env.update(COLUMNS="80", PY_COLORS="0", PYTHONDONTWRITEBYTECODE="1", **assignments)
    # The `pytest` script beside this interpreter, as a user types it (`python -m pytest` names
    # itself so in a usage error, and puts the current directory on sys.path).
    script = Path(sys.executable).with_name("pytest")
    if argv[0] == "python":
        command = [sys.executable, *argv[1:]]
    else:
        command = [str(script)] if script.is_file() else [sys.executable, "-m", "pytest"]
        command += ["-p", "no:cacheprovider", *argv[1:]]
    done = subprocess.run(command, cwd=where, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    if spec.written:
        written = where / spec.written
        output = written.read_text(encoding="utf-8") if written.is_file() else f"(no {spec.written} written)"
    return output.replace(str(where), "/path/to/project")


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
    patterns = [re.compile(".*?".join(map(re.escape, line.split("…")))) for line in segment]
    for start in starts:
        lines = got[start:start + len(segment)]
        if len(lines) == len(segment) and all(p.fullmatch(line) for p, line in zip(patterns, lines, strict=True)):
            return start
    return None
