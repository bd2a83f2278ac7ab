"""The ``latebind`` fixture's object."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _cells
from ._errors import LateBindingError
from ._findings import Finding

if TYPE_CHECKING:
    from hypothesis import settings as Settings
    from hypothesis.strategies import SearchStrategy


class Latebind:
    """What the ``latebind`` fixture gives a test.

    ``latebind.error`` is :class:`LateBindingError`, for ``pytest.raises(latebind.error)``.
    """

    error = LateBindingError

    def __init__(self, *, rootdir: str | None = None, show_values: bool = True,
                 report: Callable[[list[Finding]], None] | None = None, node: Any = None) -> None:
        self._rootdir = rootdir
        self._show_values = show_values
        self._report = report  # hands findings to the run's reports, watched test or not
        self._node = node  # the pytest item: keys assert_distinct's example database

    def check(self, callables: Iterable[Any]) -> None:
        """Raise :class:`LateBindingError` if sibling closures among ``callables`` share a loop
        variable's cell (or, for a loop at module level, its global).

        ``callables`` is any iterable of callables (a mapping's values are used): functions,
        lambdas, bound methods and ``functools.partial`` objects are unwrapped; builtins,
        classes and other callable objects have no cells and are accepted as they are.
        Works with or without ``--latebind``; with it, closures made with identical values
        (harmless) are told apart from those made with different ones.  Findings are added
        to the run's reports.  A non-callable item is a ``TypeError`` naming it.
        """
        __tracebackhide__ = True
        findings = _cells.check(callables)
        if findings and self._report is not None:
            self._report(findings)
        _cells.raise_for(findings, rootdir=self._rootdir, show_values=self._show_values)

    def assert_distinct(
        self,
        factory: Callable[[Any], Any],
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        values: SearchStrategy[Any] | None = None,
        key: Callable[[Any], Any] | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        expected: Callable[[int, Any, Any], Any] | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Raise :class:`LateBindingError` unless the callbacks ``factory`` makes in a loop
        behave apart, on loops Hypothesis chooses; the failure shrinks to the smallest loop.

        For each example, Hypothesis draws the loop's values, ``factory(values)`` makes the
        callbacks, and each callback is called with ``args`` and ``kwargs``.  Their results
        must differ pairwise.  A result that is a coroutine or another awaitable (an ``async
        def`` callback) is awaited, and an async generator is read into a list, in a fresh
        asyncio event loop per example; what they produce is compared.  An ``async def``
        factory runs in that loop too.  Coroutines that are not awaited are closed.

        When two agree, the error names the smallest loop found, which callbacks agreed and
        on what, and ``check()``'s diagnosis of the loop variable they share (added to the
        run's reports, like ``check()``'s findings)::

            LateBindingError: callbacks 0 and 1 of build_callbacks(range(0, 2)) both returned 10 for (10,)
              they share the loop variable 'i' created at router.py:4 (now i=1)

        :param factory: takes the loop's values (one argument) and returns the callbacks it
            made: a list, tuple, a dict (its values are used), or any iterable, with at least
            one callback per value.
        :param args: positional arguments for every callback, e.g. ``args=(10,)``.  They
            must not replace the defaults that tell the callbacks apart (``lambda x, i=i:``
            called with ``i``): that is a ``TypeError`` when the callbacks then agree.
        :param kwargs: keyword arguments for every callback, under the same rule.
        :param values: a Hypothesis strategy for the loop's *elements*, e.g. ``st.text()``;
            each example is then a list of ``min_size`` to ``max_size`` different elements.
            Default: ``range`` objects (varied start, stop and step, negative steps too),
            from :func:`pytest_latebind.strategies.loop_ranges`.
        :param key: compare ``key(result)`` instead of the results themselves, e.g.
            ``key=lambda r: r.status``.  Results are compared by equality, so unhashable
            results (lists, dicts) work without it; results whose ``==`` gives no single
            truth value (NumPy arrays) need one, e.g. ``key=lambda a: a.tolist()``.
        :param min_size: the fewest loop values in an example: at least 2, or 1 with
            ``expected``; ``None`` (the default) means 2, or 1 with ``expected``.  Failures
            shrink towards this size.
        :param max_size: the most loop values in an example; ``None`` means
            :data:`pytest_latebind.strategies.DEFAULT_MAX_SIZE` (8).
        :param expected: ``expected(index, value, result)`` states what each callback should
            return, instead of mere distinctness: it returns false (not ``None``) or fails an
            ``assert`` to reject ``result``, the return value of callback ``index``, made for
            loop value ``value``.  The factory must then make exactly one callback per value.
        :param settings: a :class:`hypothesis.settings` for this call, e.g.
            ``settings(max_examples=500)``.  Default: the current profile
            (``settings.default``, so ``--hypothesis-profile`` applies).  Always off:
            ``report_multiple_bugs`` (one failure, one message) and the explain phase
            (costly, and its notes would be replaced by this method's message).

        Failures are remembered in Hypothesis's example database under this test's node id
        and replayed first on the next run.  ``--hypothesis-show-statistics`` shows the
        run's statistics.  Called from inside a ``@given`` test (or ``find``), it runs no
        Hypothesis test of its own: it draws one loop from that test's data and checks it,
        so the outer test's settings, shrinking and database apply (``settings`` is then
        not used).  Called inside a running event loop (an ``async def`` test), awaiting a
        callback's coroutine is a ``RuntimeError``: call it from a plain ``def`` test.  Bad input is a ``TypeError``
        or ``ValueError`` that names the problem; an exception raised by ``factory``, a
        callback, ``key`` or ``expected`` is raised as it is, with a note naming the call.
        """
        __tracebackhide__ = True
        from . import _distinct

        node = self._node
        context = _distinct.Context(
            node_id=getattr(node, "nodeid", None), rootdir=self._rootdir,
            show_values=self._show_values, report=self._report,
            statistics=self._note_statistics if node is not None else None)
        _distinct.assert_distinct(factory, args=args, kwargs=kwargs, values=values, key=key,
                                  min_size=min_size, max_size=max_size, expected=expected,
                                  settings=settings, context=context)

    def _note_statistics(self, text: str) -> None:
        # Where Hypothesis's pytest plugin looks for a test's statistics: shown with
        # --hypothesis-show-statistics (several calls in one test are shown one after another).
        earlier = getattr(self._node, "hypothesis_statistics", None)
        self._node.hypothesis_statistics = f"{earlier}\n\n{text}" if earlier else text
