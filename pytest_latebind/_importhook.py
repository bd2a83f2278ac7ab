"""The import hook: load watched modules with their closure sites instrumented.

Modelled on pytest's assertion rewriting hook: a finder first in ``sys.meta_path`` that
finds the module as the path finder would, and a ``SourceFileLoader`` whose ``get_code``
returns instrumented code, cached under a tag of our own so that a plain import never
reads it.  Test modules are pytest's to rewrite: when pytest's hook would claim a module
we load it ourselves and apply both transforms (ours first), so assertion messages stay.

Nothing here imports pytest; what it needs of pytest comes in as a :class:`PytestRewrite`
(``_pytest_compat``), and warnings go out through a callback.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import struct
import sys
import threading
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import __version__
from ._transformer import compile_module, instrument

_OWN_PACKAGE = __name__.rpartition(".")[0]


class PytestRewrite(Protocol):
    """What the hook needs from pytest's assertion rewriting (see ``_pytest_compat``)."""

    tag: str

    def claims(self, name: str, path: Sequence[str] | None, target: types.ModuleType | None) -> bool: ...

    def rewrite(self, tree: ast.Module, source: bytes, filename: str) -> None: ...

    def loaded(self, name: str, filename: str) -> None: ...


@dataclass(frozen=True)
class WatchPolicy:
    """Which modules to instrument."""

    rootdir: Path
    packages: tuple[str, ...] = ()  # explicit: only these (and test modules)
    test_modules: bool = True

    def in_project(self, origin: str) -> bool:
        """Under the rootdir and not in a virtualenv or site-packages."""
        path = os.path.abspath(origin)
        root = str(self.rootdir)
        if not (path == root or path.startswith(root.rstrip(os.sep) + os.sep)):
            return False
        parts = Path(path).parts
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return not _in_virtualenv(os.path.dirname(path), root)

    def names(self, name: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in self.packages)

    def watches(self, name: str, origin: str) -> bool:
        if name == _OWN_PACKAGE or name.startswith(_OWN_PACKAGE + "."):
            return False
        return self.names(name) if self.packages else self.in_project(origin)


_venv_cache: dict[str, bool] = {}


def _in_virtualenv(directory: str, root: str) -> bool:
    """Whether a directory between ``root`` and ``directory`` holds a ``pyvenv.cfg``."""
    cached = _venv_cache.get(directory)
    if cached is not None:
        return cached
    if len(directory) <= len(root) or directory == os.path.dirname(directory):
        result = False
    else:
        result = os.path.exists(os.path.join(directory, "pyvenv.cfg")) or _in_virtualenv(
            os.path.dirname(directory), root)
    _venv_cache[directory] = result
    return result


def _source_digest() -> str:
    """Part of the cache tag: a change to the transform invalidates cached code."""
    here = Path(__file__).parent
    digest = hashlib.sha256(__version__.encode())
    for name in ("_scopes.py", "_transformer.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:10]


class ImportHook(importlib.abc.MetaPathFinder):
    def __init__(self, policy: WatchPolicy, rewrite: PytestRewrite | None,
                 warn: Callable[[str], None]) -> None:
        self.policy = policy
        self.rewrite = rewrite
        self.warn = warn
        self._tag = f"{sys.implementation.cache_tag}-latebind-{_source_digest()}"
        self._local = threading.local()
        self._warned: set[str] = set()

    # -- finding -----------------------------------------------------------------------
    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if getattr(self._local, "busy", False):
            return None
        self._local.busy = True
        try:
            return self._find_spec(name, path, target)
        except Exception as exc:  # never let our bug become the user's ImportError
            self.warn_once(name, f"could not decide whether to instrument {name}: {exc!r}")
            return None
        finally:
            self._local.busy = False

    def _find_spec(self, name: str, path: Sequence[str] | None,
                   target: types.ModuleType | None) -> importlib.machinery.ModuleSpec | None:
        policy = self.policy
        if policy.packages and not policy.names(name) and not policy.test_modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.origin is None:
            return None
        if isinstance(spec.loader, importlib.machinery.SourcelessFileLoader):
            if policy.watches(name, spec.origin):
                self.warn_once(name, f"{name} has no source ({spec.origin}): not instrumented")
            return None
        if not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return None
        origin = spec.origin
        claimed = False
        if self.rewrite is not None and policy.in_project(origin):
            claimed = self.rewrite.claims(name, path, target)
        if claimed:
            if not policy.test_modules:
                return None  # pytest's hook, next in sys.meta_path, rewrites it as usual
        elif not policy.watches(name, origin):
            return None
        loader = InstrumentingLoader(name, origin, self, claimed)
        return importlib.util.spec_from_file_location(
            name, origin, loader=loader, submodule_search_locations=spec.submodule_search_locations)

    def warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warn(message)

    # -- the cache ---------------------------------------------------------------------
    def cache_path(self, source: str, claimed: bool) -> Path:
        tag = self._tag + (f"-{self.rewrite.tag}" if claimed and self.rewrite else "")
        src = Path(source)
        if sys.pycache_prefix:
            directory = Path(sys.pycache_prefix) / Path(*src.absolute().parts[1:-1])
        else:
            directory = src.parent / "__pycache__"
        return directory / f"{src.stem}.{tag}.pyc"


_HEADER = struct.Struct("<4sLLL")


def _read_cache(pyc: Path, stat: os.stat_result) -> types.CodeType | None:
    try:
        data = pyc.read_bytes()
    except OSError:
        return None
    if len(data) < _HEADER.size:
        return None
    magic, flags, mtime, size = _HEADER.unpack_from(data)
    if (magic, flags, mtime, size) != (importlib.util.MAGIC_NUMBER, 0,
                                       int(stat.st_mtime) & 0xFFFFFFFF, stat.st_size & 0xFFFFFFFF):
        return None
    try:
        code = marshal.loads(data[_HEADER.size:])
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _write_cache(pyc: Path, stat: os.stat_result, code: types.CodeType) -> None:
    """Atomically, and never where it fails: a cache is an optimisation."""
    if sys.dont_write_bytecode:
        return
    header = _HEADER.pack(importlib.util.MAGIC_NUMBER, 0, int(stat.st_mtime) & 0xFFFFFFFF,
                          stat.st_size & 0xFFFFFFFF)
    tmp = pyc.with_name(f"{pyc.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        pyc.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(header + marshal.dumps(code))
        os.replace(tmp, pyc)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


class InstrumentingLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, hook: ImportHook, claimed: bool) -> None:
        super().__init__(fullname, path)
        self.hook = hook
        self.claimed = claimed

    def exec_module(self, module: types.ModuleType) -> None:
        if self.claimed and self.hook.rewrite is not None:
            self.hook.rewrite.loaded(module.__name__, self.path)
        super().exec_module(module)

    def get_code(self, fullname: str) -> types.CodeType:
        hook = self.hook
        stat = os.stat(self.path)
        pyc = hook.cache_path(self.path, self.claimed)
        code = _read_cache(pyc, stat)
        if code is None:
            source = self.get_data(self.path)
            code = self._compile(fullname, source)
            if code is None:  # not instrumentable: load it exactly as without us
                return self._plain(fullname, source)
            _write_cache(pyc, stat, code)
        return code

    def _compile(self, fullname: str, source: bytes) -> types.CodeType | None:
        try:
            tree = ast.parse(source, filename=self.path)
        except (SyntaxError, ValueError) as exc:
            self.hook.warn_once(fullname, f"cannot instrument {self.path}: {type(exc).__name__}: {exc}; "
                                          "it is imported as usual")
            return None
        try:
            sites = instrument(tree, importlib.util.decode_source(source).splitlines())
            if self.claimed and self.hook.rewrite is not None:
                self.hook.rewrite.rewrite(tree, source, self.path)
            return compile_module(tree, self.path, sites)
        except SyntaxError as exc:  # parses, but does not compile (a top-level return, say)
            self.hook.warn_once(fullname, f"cannot instrument {self.path}: SyntaxError: {exc}; "
                                          "it is imported as usual")
            return None
        except Exception as exc:
            self.hook.warn_once(fullname, f"internal error instrumenting {self.path}: {exc!r}; "
                                          "it is imported as usual")
            return None

    def _plain(self, fullname: str, source: bytes) -> types.CodeType:
        if self.claimed and self.hook.rewrite is not None:
            try:
                tree = ast.parse(source, filename=self.path)
            except SyntaxError:
                pass  # let the plain compile below raise it, exactly as usual
            else:
                self.hook.rewrite.rewrite(tree, source, self.path)
                return compile(tree, self.path, "exec", dont_inherit=True)
        return self.source_to_code(source, self.path)


def imported_before(policy: WatchPolicy) -> list[str]:
    """Watched modules already in ``sys.modules``: too late to instrument them."""
    found = []
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if isinstance(origin, str) and origin.endswith(".py") and policy.watches(name, origin):
            found.append(name)
    return sorted(found)


def install(hook: ImportHook) -> None:
    if hook not in sys.meta_path:
        sys.meta_path.insert(0, hook)


def uninstall(hook: ImportHook) -> None:
    while hook in sys.meta_path:
        sys.meta_path.remove(hook)
