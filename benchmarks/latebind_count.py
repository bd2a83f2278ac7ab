"""A pytest plugin for ``thirdparty.py``'s counting run: how many closures a suite makes at
pytest-latebind's sites, and how many times they run, with the plugin on.

    PYTHONPATH=benchmarks LATEBIND_COUNT_OUT=counts.json \\
        python -m pytest -p latebind_count --latebind --latebind-modules=PKG ...

It changes nothing in the plugin: it wraps ``SiteInfo.made`` (one more Python frame between
the factory and the recorder, which ``made`` does not look at) to count the closures made
per site, and runs ``cProfile`` over the whole session to count the calls of each site's
code (a generator expression's every resumption is a call, so once per element it yields)
and of ``Record.read``, the slow path a read takes when the inline identity test does not
settle it.  ``Record.read`` is not wrapped: ``Recorder.stale`` finds the closure's frame by
its depth below it.  cProfile slows the run down, so its times mean nothing: the timed runs
never load this module.
"""

from __future__ import annotations

import cProfile
import json
import os
from collections import Counter
from typing import Any

import pytest

from pytest_latebind import _recorder

_MADE: Counter[Any] = Counter()
_PROFILER = cProfile.Profile()
_original_made = _recorder.SiteInfo.made


def _counting_made(self: Any, factory: Any, *args: Any) -> Any:
    _MADE[self] += 1
    return _original_made(self, factory, *args)


_recorder.SiteInfo.made = _counting_made  # type: ignore[method-assign]
# From here on, before the watched modules are imported (a -p plugin loads before conftests).
_PROFILER.enable()


def _part(file: str) -> str:
    parts = file.replace(os.sep, "/").split("/")
    name = parts[-1]
    return "tests" if "tests" in parts or "test" in parts or name.startswith("test_") or name == "conftest.py" \
        else "library"


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    _PROFILER.disable()
    out = os.environ.get("LATEBIND_COUNT_OUT")
    if not out:
        return
    # By code object: pstats keys by (file, line, name), and a site's factory (a lambda on
    # the same line) would take its closure's entry.
    calls: dict[Any, int] = {}
    for entry in _PROFILER.getstats():
        calls[entry.code] = calls.get(entry.code, 0) + entry.callcount
    reads = {cls.read.__code__ for cls in (_recorder.Record, _recorder.DeferredRecord)}
    slow_reads = sum(n for code, n in calls.items() if code in reads)
    loaded = [info for infos in _recorder._LOADED_SITES.values() for info in infos]
    sites: list[dict[str, Any]] = []
    for info in loaded:
        sites.append({"file": info.file, "line": info.site.line, "kind": info.site.kind, "part": _part(info.file),
                      "made": _MADE.get(info, 0), "calls": calls.get(info.code, 0) if info.code is not None else 0})
    summary: dict[str, Any] = {"sites_loaded": len(sites), "slow_path_reads": slow_reads}
    for part in ("library", "tests"):
        mine = [s for s in sites if s["part"] == part]
        summary[part] = {
            "sites_loaded": len(mine),
            "sites_made": sum(1 for s in mine if s["made"]),
            "made": sum(s["made"] for s in mine),
            "calls": sum(s["calls"] for s in mine),
            "genexp_made": sum(s["made"] for s in mine if s["kind"] == "genexp"),
            "genexp_resumed": sum(s["calls"] for s in mine if s["kind"] == "genexp"),
        }
    summary["top"] = sorted((s for s in sites if s["made"]), key=lambda s: -s["made"])[:10]
    with open(out, "w") as f:
        json.dump(summary, f, indent=2)
