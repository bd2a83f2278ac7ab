"""The equivalent-mutant list and the Markdown report of ``tools/mutate.py``.

Equivalents live in ``tools/mutation-equivalents.txt``: a mutant's key on a line of its own
(module::qualname operator: before -> after, as the report prints it; no line number, so the
entry survives edits elsewhere in the file), then one or more indented lines arguing why no
test can tell the mutant from the original.  ``#`` starts a comment line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mutate_ops import Mutant

KILLED, TIMEOUT, SURVIVED, NOT_COVERED, EQUIVALENT = "killed", "timeout", "survived", "not covered", "equivalent"


@dataclass
class Result:
    """What became of one mutant."""

    mutant: Mutant
    status: str
    tests: int = 0  # how many tests were selected for it
    seconds: float = 0.0
    source: str = ""  # the original line(s) the mutant changes
    argument: str = ""  # for an equivalent: why


@dataclass
class Run:
    """One measurement: what was mutated where, and how it went."""

    commit: str
    command: str
    started: str
    seconds: float
    results: list[Result] = field(default_factory=list)
    stale_equivalents: list[str] = field(default_factory=list)  # listed, but no such mutant now


def read_equivalents(path: Path) -> dict[str, str]:
    """{mutant key: argument} from the equivalents file (empty when there is none)."""
    if not path.is_file():
        return {}
    entries: dict[str, str] = {}
    key = None
    for raw in path.read_text().splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace():
            if key is None:
                raise SystemExit(f"{path}: an argument line before any mutant key: {raw.strip()!r}")
            entries[key] = (entries[key] + " " + raw.strip()).strip()
        else:
            key = raw.strip()
            entries[key] = ""
    missing = [k for k, why in entries.items() if not why]
    if missing:
        raise SystemExit(f"{path}: equivalent mutants need an argument (an indented line): {missing}")
    return entries


def score(results: list[Result]) -> tuple[int, int, float]:
    """(killed, total less equivalents, killed share in %); survivors include the uncovered."""
    killed = sum(r.status in (KILLED, TIMEOUT) for r in results)
    counted = sum(r.status != EQUIVALENT for r in results)
    return killed, counted, 100.0 * killed / counted if counted else 100.0


def markdown(run: Run) -> str:
    """The report: scores per module, the survivors with their source, the equivalents argued."""
    modules = sorted({r.mutant.module for r in run.results})
    killed, counted, total = score(run.results)
    out = [
        "# Mutation testing: the last run",
        "",
        "Written by `tools/mutate.py` (how to run it and how to judge a survivor: "
        "[contributing.md](contributing.md#mutation-testing)).",
        "",
        f"- revision measured: `{run.commit}`",
        f"- started: {run.started}, took {run.seconds / 60:.0f} min",
        f"- reproduce: `{run.command}`",
        f"- score: **{total:.1f}%** ({killed} of {counted} non-equivalent mutants killed)",
        "",
        "| module | mutants | killed | timeout | survived | not covered | equivalent | score |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for module in modules:
        mine = [r for r in run.results if r.mutant.module == module]
        counts = Counter(r.status for r in mine)
        s = score(mine)[2]
        out.append(f"| `{module}` | {len(mine)} | {counts[KILLED]} | {counts[TIMEOUT]} | {counts[SURVIVED]} "
                   f"| {counts[NOT_COVERED]} | {counts[EQUIVALENT]} | {s:.1f}% |")
    out += ["", "Score: killed (timeouts included) / (mutants - equivalent); an uncovered mutant counts as a "
            "survivor.", "", "## Survivors", ""]
    survivors = [r for r in run.results if r.status in (SURVIVED, NOT_COVERED)]
    if not survivors:
        out.append("None.")
    for r in survivors:
        m = r.mutant
        how = "no test runs this line" if r.status == NOT_COVERED else f"{r.tests} test(s) ran, none failed"
        out += [f"- `{m.where}` {m.operator} in `{m.qualname}`: `{m.before}` -> `{m.after}` ({how})",
                "  ```python", *(f"  {line}" for line in r.source.splitlines()), "  ```"]
    out += ["", "## Equivalent mutants", "",
            "Listed in `tools/mutation-equivalents.txt`; not counted in the score.", ""]
    equivalents = [r for r in run.results if r.status == EQUIVALENT]
    if not equivalents:
        out.append("None.")
    for r in equivalents:
        out.append(f"- `{r.mutant.where}` `{r.mutant.key}`: {r.argument}")
    if run.stale_equivalents:
        out += ["", "Listed as equivalent but no longer produced (the code changed; remove or re-key them):", ""]
        out += [f"- `{key}`" for key in run.stale_equivalents]
    return "\n".join(out) + "\n"
