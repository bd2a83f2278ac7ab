"""The only module that touches Hypothesis's private internals, each behind one function.

* ``assert_distinct`` keys its example database by the pytest node id, as Hypothesis's pytest
  plugin keys parametrized tests: through ``_hypothesis_internal_add_digest``, which
  ``function_digest`` adds to a test's database key.
* Its statistics go where ``--hypothesis-show-statistics`` prints them, collected through
  ``hypothesis.statistics.collector``.
* Called inside a Hypothesis test, it draws its loop from that test's data, as
  ``st.data()``'s ``draw`` does (``current_build_context().data.draw``), and adds findings
  to the run's reports only on the final replay (``BuildContext.is_final``).

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


# What draw() returns when this Hypothesis has no way to draw from the running test.
NO_DRAW: Any = object()


def draw(strategy: Any) -> Any:
    """A value of ``strategy`` drawn from the Hypothesis test running now, so that it shrinks
    with that test's own arguments; :data:`NO_DRAW` if this Hypothesis cannot."""
    try:
        from hypothesis.control import current_build_context

        data = current_build_context().data
        draw = data.draw
    except Exception:
        return NO_DRAW
    return draw(strategy)


def is_final_example() -> bool:
    """Whether the example running now is Hypothesis's final replay of a failure (true when
    this Hypothesis cannot tell: then findings may be reported for more than one example)."""
    try:
        from hypothesis.control import current_build_context

        return bool(current_build_context().is_final)
    except Exception:
        return True
