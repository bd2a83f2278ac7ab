"""What the run watched: the modules the import hook instrumented, their closure sites, and
the sites that ran (made at least one closure), for the summary line that says so even when
nothing was found (``latebind: 4 modules watched, 17 closure sites, 2 run; no findings``).

Each process counts what it imported; an xdist worker sends its counts to the controller
(see ``xdist.send``), which takes the union: a module two workers imported is one module, a
site that ran in one of them ran.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from .. import _recorder
from .._messages import Context, plural
from .._recorder import WATCHED_FILES
from .._sitecoverage import varied_sites

HANDLE = "@latebind"  # an instrumented module's global holding its sites, before sites_of
Key = tuple[str, int, int]  # a site: (path as shown, line, column)


@dataclass
class Watched:
    modules: set[str] = field(default_factory=set)  # dotted names of the instrumented modules
    sites: set[Key] = field(default_factory=set)  # every closure site of those modules
    ran: set[Key] = field(default_factory=set)  # the sites that made at least one closure
    # The sites that made closures with two different values of a loop variable, in one
    # window (a test, or outside tests): what tells a clean site from a trivial one.
    varied: set[Key] = field(default_factory=set)

    def note(self, window: Any, context: Context) -> None:
        """A window ended (a test's, or the session's): keep which of its sites varied, now,
        because the window and the values it remembers are gone after it."""
        if window is not None:
            for info in varied_sites(window):
                self.varied.add((context.path(info.file), info.site.line, info.site.column))

    def collect(self, context: Context) -> None:
        """Add what this process imported through the import hook (and still holds)."""
        watched = {os.path.normcase(f) for f in WATCHED_FILES}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if not isinstance(file, str) or os.path.normcase(os.path.abspath(file)) not in watched:
                continue
            self.modules.add(name)
            for info in _sites(module, file):
                key = (context.path(info.file), info.site.line, info.site.column)
                self.sites.add(key)
                if info.code is not None:
                    self.ran.add(key)

    def to_payload(self) -> dict[str, Any]:
        """Builtins only, for an xdist worker's ``workeroutput``."""
        return {"modules": sorted(self.modules), "sites": [list(k) for k in sorted(self.sites)],
                "ran": [list(k) for k in sorted(self.ran)], "varied": [list(k) for k in sorted(self.varied)]}

    def add_payload(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        self.modules.update(m for m in payload.get("modules", ()) if isinstance(m, str))
        for name in ("sites", "ran", "varied"):
            target: set[Key] = getattr(self, name)
            for entry in payload.get(name, ()):
                if isinstance(entry, list) and len(entry) == 3:
                    target.add((str(entry[0]), int(entry[1]), int(entry[2])))

    def counts(self) -> str:
        """``4 modules watched, 17 closure sites, 2 run``."""
        return (f"{plural(len(self.modules), 'module')} watched, "
                f"{plural(len(self.sites), 'closure site')}, {len(self.ran)} run")


def _sites(module: Any, file: str) -> tuple[Any, ...]:
    """The sites (``SiteInfo``) of an instrumented module: those the recorder bound when it was
    loaded, or (older recorders) those of the module's handle."""
    sites_of = getattr(_recorder, "sites_of", None)
    if callable(sites_of):
        return tuple(sites_of(file))
    handle = getattr(module, "__dict__", {}).get(HANDLE)
    return tuple(getattr(handle, "infos", ()))


def unmatched(names: tuple[str, ...], modules: set[str]) -> list[str]:
    """The names of ``--latebind-modules`` that match none of the modules watched."""
    return [n for n in names if not any(m == n or m.startswith(n + ".") for m in modules)]


def why_unmatched(name: str, option: str) -> str:
    """The warning for a name of ``--latebind-modules`` that matched no module watched."""
    top = name.partition(".")[0]
    try:
        findable = top in sys.modules or importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        findable = False
    if not findable:
        close = _close_names(top)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        return (f"{option} names {name!r}, but no module {top!r} can be imported{hint}, so nothing of it "
                "was watched: check the spelling; it is an importable name (my_pkg), not a path")
    return (f"{option} names {name!r}, but no module of it was imported during the run, so nothing of "
            f"it was watched: check the spelling, or check that the tests import it (a module "
            "imported before pytest-latebind's import hook is warned about separately)")


def _close_names(name: str) -> list[str]:
    import difflib
    import pkgutil

    try:
        known = {m.name for m in pkgutil.iter_modules()} | set(sys.modules)
    except Exception:  # a broken sys.path entry: no suggestion rather than no warning
        known = set(sys.modules)
    return difflib.get_close_matches(name, sorted(k for k in known if "." not in k), n=2, cutoff=0.75)
