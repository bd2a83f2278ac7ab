"""The only module that touches Hypothesis's private internals, each behind one function.

* ``assert_distinct`` keys its example database by the pytest node id, as Hypothesis's pytest
  plugin keys parametrized tests: through ``_hypothesis_internal_add_digest``, which
  ``function_digest`` adds to a test's database key.
* Its statistics go where ``--hypothesis-show-statistics`` prints them, collected through
  ``hypothesis.statistics.collector``.

Each door degrades when its internal is gone or changed, with one clear warning, and
tests/test_compat.py fails loudly when one changes.  pyproject.toml bounds Hypothesis to the
versions known to work.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis

from ._warnings import LatebindPluginWarning

_warned: set[str] = set()
_digest_works: bool | None = None


def _degrade(what: str, consequence: str) -> None:
    if what not in _warned:
        _warned.add(what)
        warnings.warn(LatebindPluginWarning(
            f"pytest-latebind: this Hypothesis ({hypothesis.__version__}) has no {what} as "
            f"pytest-latebind knows it: {consequence}. Please report this, with your Hypothesis "
            "version."), stacklevel=3)


def _honours_digest() -> bool:
    """Whether Hypothesis still adds ``_hypothesis_internal_add_digest`` to a test's key."""
    global _digest_works
    if _digest_works is None:
        try:
            from hypothesis.internal.reflection import function_digest

            def probe() -> None: ...

            plain = function_digest(probe)
            probe._hypothesis_internal_add_digest = b"pytest-latebind"  # type: ignore[attr-defined]
            _digest_works = function_digest(probe) != plain
        except Exception:
            _digest_works = False
    return _digest_works


def key_database(test: Callable[..., Any], key: bytes) -> None:
    """Remember ``test``'s failures in the example database under ``key`` (plus its source)."""
    if not _honours_digest():
        _degrade("_hypothesis_internal_add_digest", "assert_distinct's failing examples are "
                 "remembered per factory, not per test")
    test._hypothesis_internal_add_digest = key  # type: ignore[attr-defined]


@contextlib.contextmanager
def statistics(label: str, sink: Callable[[str], None]) -> Iterator[None]:
    """Hypothesis's statistics of the tests run in the block, as text, to ``sink``."""
    try:
        from hypothesis.statistics import collector, describe_statistics
    except ImportError:
        collector = describe_statistics = None  # type: ignore[assignment]
    if not hasattr(collector, "with_value") or describe_statistics is None:
        _degrade("hypothesis.statistics.collector", "--hypothesis-show-statistics shows no "
                 "statistics for assert_distinct")
        yield
        return

    def note(stats: Any) -> None:
        stats["nodeid"] = label
        sink(describe_statistics(stats))

    with collector.with_value(note):  # type: ignore[arg-type]  # typed as DynamicVariable[None]
        yield
