"""``python -m pytest_latebind``: the package's own command line.

``scan PATH...`` is the static scan (``_scan``) as a linter: exit status 0 when nothing is
found, 1 for findings, 2 for a usage error; ``path:line:col: LB001 message`` lines, or
``--format json|sarif``.  Inline ignore comments, the ``latebind_ignore`` lines of the pytest
configuration found from ``--root`` (as pytest finds it) and ``--baseline`` silence a site.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_latebind",
        description="pytest-latebind catches late-binding closures as your tests run them: "
                    "run pytest with --latebind (see pytest --help).",
    )
    parser.add_argument("--version", action="version", version=f"pytest-latebind {__version__}")
    commands = parser.add_subparsers(dest="command")
    scan = commands.add_parser(
        "scan", prog="python -m pytest_latebind scan",
        help="find late-binding closures in the source, without running it",
        description="Static scan: every closure made in a loop that reads a loop variable, reported "
                    "when the source shows it escaping its round (LB001), or, with --unverified, when "
                    "only a run can tell (LB002). Exit status: 0 nothing found, 1 findings, 2 usage error.")
    scan.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (recursed for *.py)")
    scan.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                      help="text (default): path:line:col: CODE message lines; json; sarif (2.1.0)")
    scan.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    scan.add_argument("--unverified", action="store_true",
                      help="also report the sites only a run can decide (LB002); they count as findings")
    scan.add_argument("--baseline", metavar="FILE",
                      help="a pytest-latebind baseline file: sites it lists (path, qualname, variable) are "
                           "not reported")
    scan.add_argument("--root", metavar="DIR", default=".",
                      help="paths are shown, and matched with the baseline, relative to DIR (default: .); "
                           "the latebind_ignore lines of the pytest configuration file found from DIR "
                           "upwards, as pytest finds it, apply too")
    return parser


def _scan(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pytest

    from . import _baseline, _ignores, _scan
    from ._messages import Context
    from ._reporting import scan as out
    from ._reporting.files import write_atomically

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        print(f"python -m pytest_latebind scan: error: no such file or directory: {missing[0]}", file=sys.stderr)
        return 2
    root = Path(args.root).resolve()
    context = Context(root=str(root))
    baseline = None
    if args.baseline:
        try:
            baseline = _baseline.load(Path(args.baseline).resolve(), args.baseline, update=False)
        except pytest.UsageError as exc:
            print(f"python -m pytest_latebind scan: error: {exc}", file=sys.stderr)
            return 2
    # The project's latebind_ignore lines, as a pytest run there would read them.
    ignores: dict[tuple[str, str, str], Any] = {}
    ini_context = context
    found = _ignores.configured_ignores(root)
    if found is not None:
        folder, lines = found
        try:
            ignores = _ignores.parse_ini(lines)
        except pytest.UsageError as exc:
            print(f"python -m pytest_latebind scan: error: {exc}", file=sys.stderr)
            return 2
        ini_context = Context(root=str(folder))
    results = [r for file in _scan.python_files(args.paths)
               for r in _scan.scan_file(file, unverified=args.unverified)]
    shown = [r for r in results if not r.silenced and not out.baselined(r, baseline, context)
             and not out.ini_ignored(r, ignores, ini_context)]
    if args.format == "json":
        text = out.as_json(shown, context)
    elif args.format == "sarif":
        text = out.as_sarif(shown, context, root)
    else:
        lines = out.text(shown, context)
        quiet = len(results) - len(shown)
        if quiet:
            lines.append(f"{quiet} silenced by an ignore comment, a latebind_ignore line or the baseline")
        text = "".join(line + "\n" for line in lines)
    if args.output:
        write_atomically(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 1 if shown else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "scan":
        return _scan(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
