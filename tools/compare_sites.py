"""Compare the site table and the scan's verdicts of two checkouts, file by file.

A change meant to make ``_scopes`` or ``_scan`` faster must not change what they find.  Each
checkout is imported in a fresh interpreter of its own (``PYTHONPATH``), which writes, for
every file, every ``Site`` field, the node each site is made by (type and position), the reads
it checks (position -> variable index), the scan's verdicts and its results (code, position,
message, silencing; these need pytest importable); the two dumps must be equal.

    python tools/compare_sites.py /tmp/sites-old .                 # the stdlib + scan_corpus
    python tools/compare_sites.py /tmp/sites-old . --paths src/    # other files

``/tmp/sites-old`` is a checkout of the commit to compare with (``git worktree add
/tmp/sites-old HEAD`` before the change).  Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_DUMP = r'''
import ast, importlib.util, json, sys
from pytest_latebind import _scan
from pytest_latebind._scopes import locate_sites

try:  # the inline comments need pytest: without it, the verdicts are compared, not the results
    import pytest  # noqa: F401
    scan_file = _scan.scan_file
except ImportError:
    scan_file = None

def pos(node):
    return [getattr(node, "lineno", None), getattr(node, "col_offset", None)]

out = {}
for file in json.load(open(sys.argv[1])):
    entry = {}
    try:
        source = open(file, "rb").read()
        tree = ast.parse(source, file)
    except (SyntaxError, ValueError, OSError) as exc:
        entry["error"] = type(exc).__name__
    else:
        lines = importlib.util.decode_source(source).splitlines()
        loads = {id(n): pos(n) for n in ast.walk(tree) if isinstance(n, ast.Name)}
        entry["sites"] = [[list(site.as_tuple()), type(node).__name__, pos(node),
                           sorted([loads[read], index] for read, index in checks.items())]
                          for site, node, checks in locate_sites(tree, lines)]
        entry["verdicts"] = [[list(v.site.as_tuple()), v.status, v.reason, v.message()]
                             for v in _scan.classify(tree, lines)]
    if scan_file is not None:
        entry["scan"] = [[r.file, r.line, r.column, r.code, r.message, r.silenced,
                          r.verdict.status if r.verdict else None] for r in scan_file(file, unverified=True)]
    out[file] = entry
json.dump(out, open(sys.argv[2], "w"))
'''


def default_files() -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = [p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts]
    files += (ROOT / "benchmarks" / "scan_corpus").glob("*.py")
    return sorted(str(p) for p in files)


def dump(checkout: str, files: list[str], tmp: str) -> dict[str, Any]:
    listing, result = os.path.join(tmp, "files.json"), os.path.join(tmp, "out.json")
    with open(listing, "w") as handle:
        json.dump(files, handle)
    env = {**os.environ, "PYTHONPATH": os.path.abspath(checkout), "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "-c", _DUMP, listing, result], env=env, check=True, cwd=tmp)
    with open(result) as handle:
        return json.load(handle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="the checkout to compare with")
    parser.add_argument("new", help="the checkout changed")
    parser.add_argument("--paths", nargs="*", help="files or directories (default: the stdlib and scan_corpus)")
    args = parser.parse_args(argv)
    if args.paths:
        sys.path.insert(0, str(ROOT))
        from pytest_latebind._scan import python_files

        files = sorted(os.path.abspath(f) for f in python_files(args.paths))
    else:
        files = default_files()
    with tempfile.TemporaryDirectory() as tmp:
        old, new = dump(args.old, files, tmp), dump(args.new, files, tmp)
    differ = [file for file in files if old.get(file) != new.get(file)]
    for file in differ[:20]:
        print(f"differs: {file}\n  old: {old.get(file)}\n  new: {new.get(file)}")
    sites = sum(len(entry.get("sites", ())) for entry in old.values())
    results = sum(len(entry.get("scan", entry.get("verdicts", ()))) for entry in old.values())
    print(f"{len(files)} files, {sites} sites, {results} scan results/verdicts: "
          f"{len(differ)} file(s) differ" if differ else
          f"{len(files)} files, {sites} sites, {results} scan results/verdicts: identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
