"""``latebind.assert_distinct(factory)``: do the callbacks a loop makes *behave* apart?

``check()`` looks at cells; this calls the code.  Hypothesis draws the loop's values (a
``range`` by default), the factory makes the callbacks, each callback is called with the
same arguments, and their results must differ pairwise (or satisfy ``expected``).  A failure
shrinks to the smallest loop that shows it, and ``check()`` on the callbacks that agreed
says which loop variable they share.

The run is an ordinary inner ``@given`` test: the user's settings profile is its parent,
its example database key is the pytest node id, and its statistics go where Hypothesis's
pytest plugin prints them.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from hypothesis import Phase, given
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.errors import InvalidArgument

from . import _cells, _hypothesis_compat, _messages
from ._errors import LateBindingError
from ._findings import Finding, describe
from ._judge import judge
from ._recorder import RECORDER, Window
from ._values import short_repr
from .strategies import DEFAULT_MAX_SIZE, loop_ranges, loop_values

# How much of a failing example's loop values a message shows.
_MAX_SHOWN = 200


@dataclass
class Context:
    """What the fixture knows about the test that calls ``assert_distinct``."""

    node_id: str | None = None  # keys the example database
    rootdir: str | None = None  # paths in messages are relative to it
    show_values: bool = True
    statistics: Callable[[str], None] | None = None  # receives Hypothesis's statistics text
    report: Callable[[list[Finding]], None] | None = None  # hands findings to the run's reports


class _Agreed(Exception):
    """Two callbacks of one example gave equal results (internal: shrunk, then reported)."""

    def __init__(self, text: str, callbacks: list[Any]) -> None:
        super().__init__(text)
        self.text = text
        self.callbacks = callbacks


class _Rejected(_Agreed):
    """``expected`` said no to a callback's result (internal, like :class:`_Agreed`)."""


def assert_distinct(
    factory: Callable[[Any], Any],
    *,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    values: st.SearchStrategy[Any] | None = None,
    key: Callable[[Any], Any] | None = None,
    min_size: int = 2,
    max_size: int | None = None,
    expected: Callable[[int, Any, Any], Any] | None = None,
    settings: Settings | None = None,
    context: Context | None = None,
) -> None:
    """The implementation of :meth:`pytest_latebind._fixture.Latebind.assert_distinct`."""
    __tracebackhide__ = True
    context = context or Context()
    _refuse_nesting()
    call_args, call_kwargs = _check_arguments(factory, args, kwargs, values, key, min_size,
                                              max_size, expected, settings)
    name = _name(factory)
    example = _Example(factory, name, call_args, call_kwargs, key, expected)
    test = _inner_test(example, _strategy(values, min_size, max_size), settings,
                       _database_key(context.node_id, factory))
    _confirm(test, example, context)


def _refuse_nesting() -> None:
    __tracebackhide__ = True
    if currently_in_test_context():
        raise InvalidArgument(
            "latebind.assert_distinct() was called inside a Hypothesis test (@given or a state "
            "machine). It runs Hypothesis itself, and Hypothesis tests do not nest: call it "
            "from a plain test function, or, inside your own @given test, draw the loop's "
            "values from pytest_latebind.strategies (e.g. loop_ranges()) and compare the "
            "callbacks' results yourself.")


def _strategy(values: st.SearchStrategy[Any] | None, min_size: int, max_size: int | None) -> st.SearchStrategy[Any]:
    """The loops to try: ranges by default, else lists of the given values."""
    size = DEFAULT_MAX_SIZE if max_size is None else max_size
    return (loop_ranges(min_size, size) if values is None
            else loop_values(values, min_size=min_size, max_size=size))


def _inner_test(example: _Example, strategy: st.SearchStrategy[Any], settings: Settings | None,
                database_key: bytes) -> Callable[[], None]:
    """An ordinary ``@given`` test that runs ``example`` on each loop Hypothesis draws."""

    def confirm(values: Any) -> None:
        __tracebackhide__ = True
        example.run(values)

    # Hypothesis names the failing example after the test: make it read as the factory's call.
    short = example.name.rsplit(".", 1)[-1]
    confirm.__name__ = confirm.__qualname__ = short if short.isidentifier() else "factory"
    # The database key: one per test node id (and factory), as Hypothesis's pytest plugin
    # keys parametrized tests; the digest also covers confirm's own source.
    _hypothesis_compat.key_database(confirm, database_key)
    parent = settings if settings is not None else Settings()  # the current profile
    # One failure, one message: a second distinct bug would come as an ExceptionGroup.  No
    # explain phase: it traces every shrink step (about half a second on a trivial factory)
    # to annotate an exception that, for agreeing callbacks, is replaced by our message.
    phases = tuple(phase for phase in parent.phases if phase is not Phase.explain)
    return Settings(parent=parent, report_multiple_bugs=False, phases=phases)(given(strategy)(confirm))


def _confirm(test: Callable[[], None], example: _Example, context: Context) -> None:
    """Run the inner test; raise what its failure, or a stale read it saw, says."""
    __tracebackhide__ = True
    # The examples run in a window of their own: the recorder (under --latebind) sees every
    # closure the factory makes in hundreds of loops, and the test's own window would report
    # them all as one finding made with hundreds of values.  A failure is told by check() on
    # the smallest example instead; a stale call in a passing run is raised below.
    outer = RECORDER.window
    inner = Window(outer.label) if outer is not None else None
    try:
        with RECORDER.recording(inner):
            _run(test, context, example.name)
    except _Agreed as failure:
        callbacks, failure.callbacks = failure.callbacks, []  # do not keep them alive
        _fail(failure, callbacks, context)
    except Exception as exc:
        # The user's bug (or bad input): raised from the user's frames, without ours and
        # without the wrapper Hypothesis compiles in confirm's name.
        error = example.explain(exc)
        if error is exc:
            raise exc.with_traceback(_without_our_frames(exc.__traceback__))  # noqa: B904 - as it was
        raise error from None
    if inner is not None:
        _raise_stale(judge(inner, shared=False), example.name, context)


def _run(test: Callable[[], None], context: Context, name: str) -> None:
    __tracebackhide__ = True
    sink = context.statistics
    if sink is None:
        test()
        return
    with _hypothesis_compat.statistics(f"{context.node_id or 'latebind'} (assert_distinct of {name})", sink):
        test()


def _fail(failure: _Agreed, callbacks: list[Any], context: Context) -> NoReturn:
    __tracebackhide__ = True
    findings = _cells.check(callbacks)
    if findings and context.report is not None:
        context.report(findings)
    lines = [failure.text]
    for finding in findings:
        lines.extend(_diagnosis(finding, context))
    if not findings:
        lines.append("  latebind.check() finds no loop variable they share: look for other state "
                     "they share (a global, a default argument, one mutable object)")
    raise LateBindingError("\n".join(lines), findings) from None


def _raise_stale(findings: list[Finding], name: str, context: Context) -> None:
    """The callbacks behave apart, yet the recorder saw one read a loop variable late."""
    __tracebackhide__ = True
    if not findings:
        return
    if context.report is not None:
        context.report(findings)
    text = _messages.messages(findings, _messages.Context(context.rootdir, context.show_values))
    raise LateBindingError(f"the callbacks that {name} makes return different results, but some "
                           f"read a loop variable late:\n{text}", findings)


def _diagnosis(finding: Finding, context: Context) -> list[str]:
    var = finding.variable
    where = _messages.location(finding, _messages.Context(context.rootdir))
    line = f"  they share the loop variable {var!r} created at {where}"
    if context.show_values:
        values = []
        if finding.created_with:
            values.append(f"created with {var}={', '.join(finding.created_with)}")
        if finding.seen is not None:
            values.append(f"now {var}={finding.seen}")
        if values:
            line += f" ({'; '.join(values)})"
    return [line, *_messages.fix_lines(finding)]


class _Example:
    """One example: make the callbacks for the drawn loop values, call them, compare.

    Nothing here catches the user's exceptions: an ``except`` line run only by failing
    examples would be what Hypothesis's explain phase points at, instead of the user's
    line.  What the example was doing is kept in plain attributes instead, and
    :meth:`explain` reads them once the final failing example has run.
    """

    def __init__(self, factory: Callable[[Any], Any], name: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any], key: Callable[[Any], Any] | None,
                 expected: Callable[[int, Any, Any], Any] | None) -> None:
        self.factory = factory
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.key = key
        self.expected = expected
        self.shown_args = _show_call(args, kwargs)
        # Where the current example is: a stage, the callback's index, and what it needs.
        self.stage = ""
        self.call = ""
        self.index = 0
        self.subject: Any = None

    def run(self, loop: Any) -> None:
        __tracebackhide__ = True
        elements = list(loop)  # before the factory runs: it may consume or change them
        self.call = call = f"{self.name}({_show(loop)})"
        self.stage = "factory"
        made = self.factory(loop)
        self.stage = ""
        callbacks = self._callbacks(made, call, len(elements))
        self.stage = "callback"
        results = []
        for k, callback in enumerate(callbacks):
            self.index, self.subject = k, callback
            results.append(callback(*self.args, **self.kwargs))
        self.stage, self.subject = "", None
        if self.expected is not None:
            self._judge_each(callbacks, elements, results, call)
        else:
            self._compare(callbacks, results, call)
        self.stage = ""

    def explain(self, exc: BaseException) -> BaseException:
        """What to raise for an exception from the final failing example: the user's own,
        with a note saying which call raised it, or our error when ``args`` do not fit."""
        stage, call, k, subject = self.stage, self.call, self.index, self.subject
        self.subject = None  # do not keep the user's callbacks alive
        if stage == "callback" and isinstance(exc, TypeError):
            problem = _misfit(subject, self.args, self.kwargs)
            if problem is not None:
                return TypeError(
                    f"latebind.assert_distinct(): args={self.args!r}"
                    + (f", kwargs={self.kwargs!r}" if self.kwargs else "")
                    + f" do not fit callback {k} of {call}, {_where(subject)}: {problem}; pass "
                    "args= and kwargs= that every callback accepts")
        note = {
            "factory": f"raised by {call}: latebind.assert_distinct() called your factory with "
                       "these loop values",
            "reading": f"raised while reading the callbacks that {call} returned",
            "callback": f"raised by callback {k} of {call}, called with {self.shown_args}",
            "key": f"raised by key({short_repr(subject)}), on the result of callback {k} of {call}",
            "expected": f"raised by expected({k}, ...), for callback {k} of {call}",
        }.get(stage)
        if note is not None:
            _note(exc, note)
        return exc

    def _callbacks(self, made: Any, call: str, count: int) -> list[Any]:
        __tracebackhide__ = True
        if isinstance(made, Mapping):
            made = made.values()
        if made is None:
            raise TypeError(f"latebind.assert_distinct(): {call} returned None, not the callbacks; "
                            "the factory must return them (a list, tuple, dict or any iterable) "
                            "- is a `return` missing?")
        if callable(made) or isinstance(made, (str, bytes)) or not isinstance(made, Iterable):
            raise TypeError(f"latebind.assert_distinct(): {call} returned {describe(made)}, not an "
                            "iterable of callbacks; return a list (or tuple, dict, generator) "
                            "of the callbacks, one per loop value")
        self.stage = "reading"  # a generator runs the user's code here
        callbacks = list(made)
        self.stage = ""
        for position, item in enumerate(callbacks):
            if not callable(item):
                raise TypeError(f"latebind.assert_distinct(): item {position} of what {call} "
                                f"returned is {describe(item)}, not callable; the factory must "
                                "return the callbacks themselves (functions, lambdas, partials)")
        if len(callbacks) < count:
            raise ValueError(f"latebind.assert_distinct(): {call} returned {len(callbacks)} "
                             f"callback(s) for {count} loop values; it must make one per value "
                             "(at least) so that their results can be compared. If it skips "
                             "some values, pass values= a strategy of the values it keeps")
        if self.expected is not None and len(callbacks) != count:
            raise ValueError(f"latebind.assert_distinct(): {call} returned {len(callbacks)} "
                             f"callbacks for {count} loop values; expected= pairs callback k "
                             "with value k, so there must be exactly one per value")
        return callbacks

    def _compare(self, callbacks: list[Any], results: list[Any], call: str) -> None:
        __tracebackhide__ = True
        keys = results
        if self.key is not None:
            self.stage = "key"
            keys = []
            for k, result in enumerate(results):
                self.index, self.subject = k, result
                keys.append(self.key(result))
            self.stage, self.subject = "", None
        pair = _first_equal(keys, call)
        if pair is None:
            return
        i, j = pair
        a, b = short_repr(results[i]), short_repr(results[j])
        said = f"both returned {a}" if a == b else f"returned {a} and {b}"
        if self.args or self.kwargs:
            said += f" for {self.shown_args}"
        if self.key is not None:
            said += f", both of key {short_repr(keys[i])}"
        raise _Agreed(f"callbacks {i} and {j} of {call} {said}", [callbacks[i], callbacks[j]])

    def _judge_each(self, callbacks: list[Any], elements: list[Any], results: list[Any], call: str) -> None:
        __tracebackhide__ = True
        assert self.expected is not None
        self.stage = "expected"
        for k, (value, result) in enumerate(zip(elements, results, strict=True)):
            self.index = k
            try:
                verdict = self.expected(k, value, result)
            except AssertionError as exc:  # an assert in expected: a rejection, with its message
                why = str(exc).strip().splitlines()
                verdict, reason = False, "failed" + (f": {why[0]}" if why else "")
            else:
                reason = f"is {short_repr(verdict)}"
            if verdict is not None and not verdict:
                shown = f"expected({k}, {short_repr(value)}, {short_repr(result)})"
                given = f" for {self.shown_args}" if self.args or self.kwargs else ""
                raise _Rejected(f"callback {k} of {call} returned {short_repr(result)}{given}, "
                                f"but {shown} {reason}", callbacks)


def _first_equal(keys: list[Any], call: str) -> tuple[int, int] | None:
    """The first pair (i, j), i < j, of equal keys; hashing when it can, else pairwise."""
    try:
        first: dict[Any, int] = {}
        for j, k in enumerate(keys):
            i = first.setdefault(k, j)
            if i != j:
                return i, j
        return None
    except Exception:  # unhashable results (or an __eq__ that raises): compare each pair
        pass
    for j in range(1, len(keys)):
        for i in range(j):
            try:
                equal = bool(keys[i] == keys[j])
            except Exception as exc:
                raise TypeError(
                    f"latebind.assert_distinct(): cannot tell whether the results of callbacks {i} "
                    f"and {j} of {call} are equal ({type(exc).__name__}: {exc}); pass key= a "
                    "function that makes a result comparable, e.g. key=repr or key=tuple") from None
            if equal:
                return i, j
    return None


def _check_arguments(factory: Any, args: Any, kwargs: Any, values: Any, key: Any, min_size: Any,
                     max_size: Any, expected: Any, settings: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    __tracebackhide__ = True

    def bad(message: str) -> NoReturn:
        __tracebackhide__ = True
        raise InvalidArgument(f"latebind.assert_distinct(): {message}")

    if not callable(factory):
        bad(f"the factory must be a callable that takes the loop's values and returns the "
            f"callbacks, got {describe(factory)}")
    if isinstance(args, (str, bytes)) or not isinstance(args, (tuple, list)):
        bad(f"args= takes a tuple of the positional arguments for each callback, got "
            f"{describe(args)}; e.g. args=({short_repr(args)},)")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        bad(f"kwargs= takes a dict of keyword arguments, got {describe(kwargs)}")
    if values is not None and not isinstance(values, st.SearchStrategy):
        bad(f"values= takes a Hypothesis strategy for the loop's elements, got {describe(values)}; "
            "e.g. values=st.text() or values=st.sampled_from(NAMES)")
    for name, func in (("key", key), ("expected", expected)):
        if func is not None and not callable(func):
            bad(f"{name}= takes a function, got {describe(func)}")
    least = 1 if expected is not None else 2
    if not isinstance(min_size, int) or isinstance(min_size, bool) or min_size < least:
        bad(f"min_size={min_size!r}: needs an int of at least {least}"
            + ("" if expected is not None else "; one callback is always distinct from itself"))
    if max_size is not None and (not isinstance(max_size, int) or isinstance(max_size, bool)
                                 or max_size < min_size):
        bad(f"max_size={max_size!r}: needs None or an int of at least min_size ({min_size})")
    if settings is not None and not isinstance(settings, Settings):
        bad(f"settings= takes a hypothesis.settings object, e.g. settings(max_examples=500), "
            f"got {describe(settings)}")
    return tuple(args), dict(kwargs or {})


def _database_key(node_id: str | None, factory: Any) -> bytes:
    target = getattr(factory, "func", factory)  # a partial: the function behind it
    module = getattr(target, "__module__", None) or ""
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"pytest-latebind:{node_id or ''}:{module}.{qualname}".encode()


def _name(factory: Any) -> str:
    target = getattr(factory, "func", factory)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    return name if isinstance(name, str) else type(factory).__name__


def _show(loop: Any) -> str:
    try:
        text = repr(loop)
    except Exception:
        return short_repr(loop)
    return text if len(text) <= _MAX_SHOWN else short_repr(loop)


def _show_call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    if not kwargs:
        return short_repr(args) if len(args) <= 4 else f"({', '.join(short_repr(a) for a in args)})"
    parts = [short_repr(a) for a in args] + [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"


def _where(callback: Any) -> str:
    func = inspect.unwrap(getattr(callback, "__func__", callback))
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType):
        return f"{getattr(func, '__name__', '?')} at {code.co_filename}:{code.co_firstlineno}"
    return short_repr(callback)


def _misfit(callback: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """Why the arguments cannot be bound to the callback's signature; None if they can."""
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # builtins without a signature: cannot tell
        return None
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


def _without_our_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback without this module's frames (pytest hides them, but not the frame of
    the wrapper Hypothesis compiles in confirm's name, which claims confirm's file)."""
    entries = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != __file__:
            entries.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for entry in reversed(entries):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def _note(exc: BaseException, note: str) -> None:
    """Add a note to the user's own exception (``add_note`` is Python 3.11+)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # pragma: no cover - Python 3.10; pytest shows __notes__ there too
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]
