"""The import hook: load watched modules with their closure sites instrumented.

Modelled on pytest's assertion rewriting hook: a finder first in ``sys.meta_path`` that
finds the module as the path finder would, and a ``SourceFileLoader`` whose ``get_code``
returns instrumented code, cached under a tag of our own so that a plain import never
reads it.  Test modules are pytest's to rewrite: when pytest's hook would claim a module
we load it ourselves and apply both transforms (ours first), so assertion messages stay.

Other import hooks that transform the same modules (typeguard's ``install_import_hook``,
``beartype.claw``, any ``SourceFileLoader`` subclass overriding ``source_to_code``) are
combined with ours: the hook asks the other finders for the module, as the import system
would without us, and when the spec it gets has such a loader, that loader loads the module
with its ``source_to_code`` given our instrumented tree (``compile`` accepts a tree, and so
do importlib's and typeguard's ``source_to_code``). The order is ours, then pytest's
assertion rewriting (test modules), then theirs; the result is never cached, by us or by
them. A loader that does not accept a tree (beartype's, for the modules it type-checks) loads
the module its own way, uninstrumented, and :meth:`ImportHook.not_combined` says so once.

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
from typing import Any, Protocol

from . import __version__
from ._recorder import WATCHED_FILES, bind_sites
from ._transformer import compile_module, fix_names, instrument

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
        self.combined: set[str] = set()  # loaded by another hook's loader, with our transform
        # Watched modules another hook's loader loaded without our transform: (its label, why) -> names.
        self.refused: dict[tuple[str, str], list[str]] = {}
        self.known = set(sys.modules)  # what was there before us: imported_before's to report

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
        other = self._other_spec(name, path, target, origin)
        if other is not None:
            if not isinstance(other.loader, importlib.machinery.SourceFileLoader):
                self.refused.setdefault((_label(other.loader), _NOT_SOURCE), []).append(name)  # theirs to load
                return None
            spec = other
        found, plain = spec.loader, importlib.machinery.SourceFileLoader
        if isinstance(found, plain) and type(found) is not plain:
            return self._combine(name, spec, found, claimed)  # beartype.claw's path hook, say
        loader = InstrumentingLoader(name, origin, self, claimed)
        if not loader.prepare(name):
            return None  # not instrumentable: the finders after us load it exactly as without us
        return importlib.util.spec_from_file_location(
            name, origin, loader=loader, submodule_search_locations=spec.submodule_search_locations)

    def _other_spec(self, name: str, path: Sequence[str] | None, target: types.ModuleType | None,
                    origin: str) -> importlib.machinery.ModuleSpec | None:
        """The spec another import hook in ``sys.meta_path`` gives for the same file (the
        first, as the import system would ask them), or None: the path finder's stands."""
        for finder in _other_finders(self):
            try:
                spec: importlib.machinery.ModuleSpec | None = finder.find_spec(name, path, target)
            except Exception:
                continue  # theirs to raise when the import system asks them
            if spec is None:
                continue
            if spec.origin is not None and os.path.abspath(spec.origin) == os.path.abspath(origin):
                return spec
            return None
        return None

    def _combine(self, name: str, spec: importlib.machinery.ModuleSpec,
                 loader: importlib.machinery.SourceFileLoader, claimed: bool) -> importlib.machinery.ModuleSpec:
        """Another hook's loader loads the module, compiling our instrumented tree with its
        own ``source_to_code`` (its transform applied after ours); never from a cache."""
        hook, label = self, _label(loader)
        original_source_to_code: Callable[..., types.CodeType] = loader.source_to_code
        original_exec_module = loader.exec_module
        ran = False

        def source_to_code(data: bytes, path: str, *args: Any, **kwargs: Any) -> types.CodeType:
            nonlocal ran
            ran = True
            try:
                tree = ast.parse(data, filename=path)
                sites = instrument(tree, importlib.util.decode_source(data).splitlines(), another_transform=True)
                if claimed and hook.rewrite is not None:
                    hook.rewrite.rewrite(tree, data, path)
            except (SyntaxError, ValueError):
                return original_source_to_code(data, path, *args, **kwargs)  # theirs to report
            except Exception as exc:
                hook.warn_once(name, f"internal error instrumenting {path}: {exc!r}; it is imported as usual")
                return original_source_to_code(data, path, *args, **kwargs)
            if not sites and not claimed:
                hook.combined.add(name)
                return original_source_to_code(data, path, *args, **kwargs)
            try:
                transform = _tree_transform(loader)
                if transform is not None:
                    code = compile(transform(tree), path, "exec", dont_inherit=True)
                else:
                    code = original_source_to_code(tree, path, *args, **kwargs)
            except Exception:
                # It does not take a tree (it decodes bytes itself): its transform, not ours.
                hook.refused.setdefault((label, _NO_TREE), []).append(name)
                return original_source_to_code(data, path, *args, **kwargs)
            hook.combined.add(name)
            return bind_sites(fix_names(code, sites), path) if sites else code

        def exec_module(module: types.ModuleType) -> None:
            if claimed and hook.rewrite is not None:
                hook.rewrite.loaded(module.__name__, loader.path)
            original_exec_module(module)
            if not ran:  # it compiled the module some other way: nothing of ours is in it
                hook.refused.setdefault((label, _OWN_WAY), []).append(name)

        def path_stats(path: str) -> dict[str, float]:
            raise OSError("pytest-latebind: combined code is not cached")

        # On this instance only, made by the other finder for this import.
        loader.source_to_code = source_to_code  # type: ignore[method-assign,assignment]
        loader.exec_module = exec_module  # type: ignore[method-assign]
        loader.path_stats = path_stats  # type: ignore[method-assign]
        return spec

    def not_combined(self) -> list[str]:
        """One message per other import hook whose loader loaded watched modules without our
        transform (it does not take a tree, or it was ahead of ours in ``sys.meta_path``)."""
        refused = {key: list(names) for key, names in self.refused.items()}
        # A module refused for a reason already has its message: one reason a module.
        said = {name for names in refused.values() for name in names}
        for name, module in list(sys.modules.items()):
            loader = getattr(getattr(module, "__spec__", None), "loader", None)
            origin = getattr(module, "__file__", None)
            if (name in self.known or name in self.combined or name in said or not isinstance(origin, str)
                    or not isinstance(loader, importlib.machinery.SourceFileLoader)
                    or type(loader) is importlib.machinery.SourceFileLoader
                    or isinstance(loader, InstrumentingLoader) or not self.policy.watches(name, origin)):
                continue
            names = refused.setdefault((_label(loader), _AHEAD), [])
            if name not in names:
                names.append(name)
        messages = []
        for (label, why), names in sorted(refused.items()):
            unique = sorted(set(names))
            shown = ", ".join(unique[:10]) + (f" and {len(unique) - 10} more" if len(unique) > 10 else "")
            messages.append(
                f"{len(unique)} watched module(s) were loaded by another import hook, {label}, without "
                f"pytest-latebind's transform: {shown}. Its own transform is on; late-binding checks are "
                f"off for these modules: {why}")
        return messages

    def keep_first(self) -> None:
        """Back to the front of ``sys.meta_path`` when another hook went in ahead of ours,
        so that we see its modules and combine with its loader."""
        meta_path = sys.meta_path
        if meta_path and meta_path[0] is not self and self in meta_path:
            meta_path.remove(self)
            meta_path.insert(0, self)

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
    """The loader of an instrumented module: a ``SourceFileLoader`` that compiles through us.

    It equals the plain ``SourceFileLoader`` of the same name and path, both ways round, with
    the same hash (issue 16, point 7): a module's ``__spec__`` then equals the spec a fresh
    ``spec_from_file_location`` or ``pydoc.importfile`` makes for the file.  That is why its
    own state is in slots: ``FileLoader.__eq__`` compares ``__dict__``, which stays
    ``{name, path}``.  Its type's name is the one difference left (see how-it-works).
    """

    __slots__ = ("_ready", "claimed", "hook")

    def __init__(self, fullname: str, path: str, hook: ImportHook, claimed: bool) -> None:
        super().__init__(fullname, path)
        self.hook = hook
        self.claimed = claimed
        self._ready: types.CodeType | None = None

    def prepare(self, fullname: str) -> bool:
        """Compile the module now, while its import can still go another way: a source the
        plugin cannot instrument (it does not parse, or does not compile) is left to the
        finders after ours, so that its SyntaxError has plain Python's traceback, which a
        frame of this loader between importlib's would change (CPython trims only importlib's
        own frames).  The code waits for get_code."""
        self._ready = self._instrumented(fullname)
        return self._ready is not None

    def _instrumented(self, fullname: str) -> types.CodeType | None:
        """The module's instrumented code, from the plugin's cache or compiled (and cached);
        None when the source cannot be instrumented."""
        stat = os.stat(self.path)
        pyc = self.hook.cache_path(self.path, self.claimed)
        code = _read_cache(pyc, stat)
        if code is None:
            code = self._compile(fullname, self.get_data(self.path))
            if code is not None:
                _write_cache(pyc, stat, code)
        return code

    def __eq__(self, other: object) -> bool:
        # A subclass's reflected __eq__ runs first, so SourceFileLoader(...) == self lands here too.
        if type(other) in (importlib.machinery.SourceFileLoader, InstrumentingLoader):
            return vars(self) == vars(other)
        return NotImplemented

    __hash__ = importlib.machinery.SourceFileLoader.__hash__

    # No exec_module of its own: SourceLoader's runs the code through importlib's
    # _call_with_frames_removed, so an exception raised while the module is imported has
    # plain Python's traceback, without a frame of ours.  What a load notes is noted here,
    # as the module's code is asked for just before it runs.
    def get_code(self, fullname: str) -> types.CodeType:
        # Asked again (runpy, a second exec_module), a source that stopped compiling raises in
        # here (via _plain): pytest then shows the traceback without our frames.
        __tracebackhide__ = True
        hook = self.hook
        WATCHED_FILES.add(os.path.abspath(self.path))
        if self.claimed and hook.rewrite is not None:
            hook.rewrite.loaded(fullname, self.path)
        code, self._ready = self._ready, None
        if code is None:
            code = self._instrumented(fullname)
            if code is None:  # it stopped compiling since it was found: load it exactly as without us
                return self._plain(fullname, self.get_data(self.path))
        return bind_sites(code, self.path)

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
        __tracebackhide__ = True  # as in get_code
        if self.claimed and self.hook.rewrite is not None:
            try:
                tree = ast.parse(source, filename=self.path)
            except SyntaxError:
                pass  # let the plain compile below raise it, exactly as usual
            else:
                self.hook.rewrite.rewrite(tree, source, self.path)
                return compile(tree, self.path, "exec", dont_inherit=True)
        return self.source_to_code(source, self.path)


_STANDARD_FINDERS = (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter,
                     importlib.machinery.PathFinder)


def _other_finders(hook: ImportHook) -> list[Any]:
    """The finders in ``sys.meta_path`` other than ours, pytest's and the standard ones."""
    found = []
    for finder in list(sys.meta_path):
        if finder is hook or isinstance(finder, ImportHook) or finder in _STANDARD_FINDERS:
            continue
        kind = finder if isinstance(finder, type) else type(finder)
        if kind.__name__ == "AssertionRewritingHook" and kind.__module__.startswith("_pytest."):
            continue  # pytest's: see PytestRewrite
        if callable(getattr(finder, "find_spec", None)):
            found.append(finder)
    return found


_NOT_SOURCE = "its loader does not load Python source the way importlib does"
_NO_TREE = "its loader's source_to_code does not accept an instrumented tree, only source bytes"
_OWN_WAY = "its loader compiles modules without calling source_to_code"
_AHEAD = ("its finder was ahead of pytest-latebind's in sys.meta_path when they were imported; "
          "import them from tests or fixtures, not at the top of conftest.py")


# beartype.claw's BeartypeSourceFileLoader, as read in beartype 0.18.5 and 0.23.1: the names
# its get_code sets on the loader before calling source_to_code, and the keywords they are
# passed under to BeartypeNodeTransformer (private to beartype: beartype.claw._ast.clawastmain).
_BEARTYPE_NAMES = (("_module_name", "_module_conf", "module_name", "conf"),  # 0.20 and later
                   ("_module_name_beartype", "_module_conf_beartype", "module_name_beartype", "conf_beartype"))


def _tree_transform(loader: object) -> Callable[[ast.Module], ast.Module] | None:
    """The tree transform of a loader whose ``source_to_code`` takes only bytes, when it can
    be reached, else None (its ``source_to_code`` is given the tree).

    beartype.claw's ``BeartypeSourceFileLoader.source_to_code`` decodes the bytes it is
    given, parses them and applies ``BeartypeNodeTransformer`` with the module's name and
    configuration, which its ``get_code`` has set on the loader (no configuration: no type
    checks for this module, and a plain compile, which takes a tree). Any of that missing
    (another version of beartype): None, the tree is refused, and the module is loaded
    beartype's way, uninstrumented, with a warning.
    """
    kind = type(loader)
    if kind.__name__ != "BeartypeSourceFileLoader" or not kind.__module__.startswith("beartype.claw."):
        return None
    names = next((names for names in _BEARTYPE_NAMES if hasattr(loader, names[1])), None)
    if names is None:
        return None
    name_attr, conf_attr, name_key, conf_key = names
    module_name, conf = getattr(loader, name_attr, None), getattr(loader, conf_attr)
    if conf is None or not isinstance(module_name, str):
        return None
    from beartype.claw._ast.clawastmain import BeartypeNodeTransformer  # type: ignore[import-not-found,unused-ignore]

    def transform(tree: ast.Module) -> ast.Module:
        result = BeartypeNodeTransformer(**{name_key: module_name, conf_key: conf}).visit(tree)
        if not isinstance(result, ast.Module):
            raise TypeError(f"BeartypeNodeTransformer gave {type(result).__name__}, not a module")
        return ast.fix_missing_locations(result)
    return transform


def _label(loader: object) -> str:
    kind = type(loader)
    return f"{kind.__module__.partition('.')[0]}'s {kind.__qualname__} ({kind.__module__})"


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
