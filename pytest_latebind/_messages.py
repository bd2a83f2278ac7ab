"""The one place that words a finding: its title, values line, fix hint and call lines.

Every report says a finding with these functions (the test's failure text, the terminal
summary, GitHub annotations, SARIF, and the paths and values of the JSON report and JUnit
properties), so their words and numbers cannot drift apart.  A finding is read through
:class:`Worded`, the fields of ``_findings.Finding`` a message needs; a :class:`Context`
says how to show it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypedDict

from ._kinds import Kind

MESSAGE_VALUES = 8  # creation values a message lists before "..."
MESSAGE_FRAMES = 4  # innermost frames of the first stale read a message lists
HIDDEN = "values hidden (latebind_show_values = false)"
FIX_TAIL = "or functools.partial(...)"


class _Frame(TypedDict):
    file: str  # absolute
    line: int
    function: str


class Frame(_Frame, total=False):
    watched: bool  # a module the import hook loaded


class Worded(Protocol):
    """What a message reads of a finding."""

    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def variable(self) -> str: ...
    @property
    def site_kind(self) -> str: ...
    @property
    def site_name(self) -> str: ...
    @property
    def fix(self) -> str: ...
    @property
    def kinds(self) -> Sequence[Kind]: ...
    @property
    def created_with(self) -> Sequence[str]: ...
    @property
    def more_values(self) -> bool: ...
    @property
    def made_with(self) -> str | None: ...
    @property
    def thread(self) -> str | None: ...
    @property
    def stale_reads(self) -> int: ...
    @property
    def seen(self) -> str | None: ...
    @property
    def closures(self) -> int: ...
    @property
    def stack(self) -> Sequence[Frame]: ...


@dataclass(frozen=True)
class Context:
    """How to show findings: paths relative to ``root`` (absolute when None or outside it),
    and the values the closures were made with and see, or not."""

    root: str | os.PathLike[str] | None = None
    show_values: bool = True

    def path(self, file: str) -> str:
        return relative_path(file, self.root)


# -- the parts ----------------------------------------------------------------------------
def count(finding: Worded) -> int:
    """How many closures share the binding: the finding's own count, as every report states it
    (merged from several tests, the most any one made; not the values, which add up)."""
    return finding.closures


def plural(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def kinds(finding: Worded, sep: str = "; ") -> str:
    """``2 stale reads; shared binding``: how many reads were stale, and what else was seen."""
    return sep.join(plural(max(finding.stale_reads, 1), kind.words) if kind is Kind.STALE_READ else kind.words
                    for kind in finding.kinds)


def location(finding: Worded, context: Context) -> str:
    return f"{context.path(finding.file)}:{finding.line}"


def title(finding: Worded, context: Context) -> str:
    where, var = location(finding, context), finding.variable
    if count(finding) >= 2:
        return f"{count(finding)} closures created at {where} share the loop variable {var!r}"
    return f"a closure created at {where} reads the loop variable {var!r} after the loop rebound it"


def values(finding: Worded, context: Context, *, with_kinds: bool = True) -> str:
    """``created with i=0, 1; the closure made with i=0 read i=1 at m.py:3 (1 stale read)``,
    or that the values are hidden."""
    suffix = f" ({kinds(finding)})" if with_kinds else ""
    var = finding.variable
    if Kind.STALE_READ in finding.kinds:
        at = f" at {context.path(finding.stack[-1]['file'])}:{finding.stack[-1]['line']}" if finding.stack else ""
        if not context.show_values:
            return f"{HIDDEN}; read late{at}{suffix}"
        by = f"the closure made with {var}={finding.made_with} " if finding.made_with is not None else ""
        now = f"{by}read {var}={finding.seen}{at}"
    elif not context.show_values:
        return HIDDEN + suffix
    else:
        now = f"all of them now see {var}={finding.seen}"
    shown = finding.created_with[:MESSAGE_VALUES]
    more = ", ..." if finding.more_values or len(finding.created_with) > len(shown) else ""
    # check() on closures that were not instrumented cannot know their creation values.
    return (f"created with {var}={', '.join(shown)}{more}; {now}" if shown else now) + suffix


def fix_hint(finding: Worded) -> str:
    return f"bind the value when the closure is made, e.g. `{finding.fix}`"


def fix_lines(finding: Worded) -> list[str]:
    return [f"  fix: {fix_hint(finding)}", f"       {FIX_TAIL}"]


def call_frames(finding: Worded, context: Context) -> list[Frame]:
    """The first stale read's frames worth reading: the project's (under the root, outside
    site-packages) and every watched module's, a library's included; all when none is the
    project's."""
    stack = list(finding.stack)
    if context.root is None:
        return stack
    root = os.path.join(os.path.abspath(context.root), "")
    project = [f["file"].startswith(root) and "site-packages" not in f["file"] for f in stack]
    if not any(project):
        return stack  # nothing of the project's: every frame is worth showing
    return [f for f, mine in zip(stack, project, strict=True) if mine or f.get("watched")]


def call_lines(finding: Worded, context: Context) -> list[str]:
    frames = call_frames(finding, context)[-MESSAGE_FRAMES:]
    if not frames:
        return []
    where = f" (in thread {finding.thread!r})" if finding.thread else ""
    return [f"  first stale read{where}:",
            *(f"    {context.path(f['file'])}:{f['line']} in {f['function']}" for f in frames)]


# -- whole texts ----------------------------------------------------------------------------
def message(finding: Worded, context: Context) -> str:
    """The failure text, in the shape of pytest's own ``E   Error: ...`` lines."""
    return "\n".join([title(finding, context), f"  {values(finding, context)}", *fix_lines(finding),
                      *call_lines(finding, context)])


def messages(findings: Sequence[Worded], context: Context) -> str:
    return "\n".join(message(f, context) for f in findings)


def summary_lines(finding: Worded, context: Context) -> list[str]:
    """The finding in the terminal summary: where, what, and the values line."""
    return [f"{location(finding, context)}: {finding.site_kind} {finding.site_name}, loop variable "
            f"{finding.variable!r} ({kinds(finding, ', ')})",
            f"    {plural(count(finding), 'closure')}: {values(finding, context, with_kinds=False)}"]


def one_line(finding: Worded, context: Context) -> str:
    """The finding in a quiet run's one line."""
    return f"{location(finding, context)} {finding.variable!r}"


def headline(finding: Worded) -> str:
    """A GitHub annotation's title."""
    return f"late-binding closure: '{finding.variable}' ({kinds(finding, ', ')})"


def sarif_text(finding: Worded, context: Context) -> str:
    """A SARIF result's message: one sentence per part, the location given elsewhere."""
    made = f"{count(finding)} closures made here share" if count(finding) >= 2 else "A closure made here reads"
    text = f"{made} the loop variable '{finding.variable}' ({kinds(finding, ', ')})"
    if context.show_values:
        text += f": {values(finding, context, with_kinds=False)}"
    return f"{text}. Fix: {fix_hint(finding)}."


def relative_path(file: str, root: str | os.PathLike[str] | None) -> str:
    """Posix path relative to ``root``, or absolute when the file lies outside it."""
    if root is not None:
        try:
            rel = os.path.relpath(file, root)
        except ValueError:  # another drive, on Windows
            rel = None
        if rel is not None and not rel.startswith(os.pardir):
            return rel.replace(os.sep, "/")
    return os.path.normpath(os.path.abspath(file)).replace(os.sep, "/")
