"""The recorder and the judge: stale reads, shared bindings, threads, memory bounds."""

from __future__ import annotations

import pickle
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_latebind._findings import Finding
from pytest_latebind._judge import judge
from pytest_latebind._kinds import Kind
from pytest_latebind._recorder import MAX_TRACKED_PER_SITE, MAX_VALUES, RECORDER, Window, record_of

from .helpers import load

BUILD = """
    def build(values):
        out = []
        for v in values:
            out.append(lambda: v)
        return out

    def build_fixed(values):
        return [lambda v=v: v for v in values]

    def build_and_call(values):
        return [(lambda: v)() for v in values]
"""


def test_stale_read_names_values_count_and_stack(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, BUILD)
    callbacks = module.build(["a", "b", "c"])
    assert [f() for f in callbacks] == ["c", "c", "c"]
    [finding] = judge(window)
    assert finding.variable == "v" and finding.line == 5
    assert finding.kinds == [Kind.STALE_READ, Kind.SHARED_BINDING]
    assert finding.created_with == ["'a'", "'b'", "'c'"]
    assert finding.seen == "'c'"
    assert finding.stale_reads == 2 and finding.closures == 3
    assert finding.tests == ["tests/test_x.py::test_x"]
    assert finding.stack[-1]["function"] == "<lambda>"
    assert "e.g. `lambda v=v: ...`" in finding.message()


def test_shared_binding_only_while_alive(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, BUILD)
    callbacks = module.build([1, 2])
    [finding] = judge(window)
    assert finding.kinds == [Kind.SHARED_BINDING] and finding.created_with == ["1", "2"]
    del callbacks
    module.build([3, 4])  # dropped at once: nothing waits to go wrong
    assert judge(window) == []


@pytest.mark.parametrize("builder", ["build_fixed", "build_and_call"])
def test_correct_code_is_quiet(tmp_path: Path, window: Window, builder: str) -> None:
    module = load(tmp_path, BUILD)
    kept = getattr(module, builder)([1, 2, 3])
    assert judge(window) == []
    del kept


def test_same_object_every_round_is_quiet(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, """
        def build(n, default):
            out = []
            for _ in range(n):
                value = default
                out.append(lambda: value)
            return out
    """)
    kept = module.build(3, object())
    assert [f() for f in kept] == [kept[0]()] * 3
    assert judge(window) == []


def test_closures_in_reference_cycles_are_collected_before_judging(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, """
        def build(values):
            out = []
            for v in values:
                box = {"f": lambda: v}
                box["self"] = box  # a cycle: only the collector frees the lambda
                out.append(box["f"]())
            return out
    """)
    import gc

    gc.disable()
    try:
        assert module.build([1, 2, 3]) == [1, 2, 3]
        assert judge(window) == []
    finally:
        gc.enable()


def test_closures_kept_alive_are_found_after_collecting(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, BUILD)
    kept = module.build([1, 2])
    [finding] = judge(window)
    assert finding.kinds == [Kind.SHARED_BINDING]
    del kept


def test_bounded_tracking_for_ten_thousand_closures(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, BUILD)
    kept = module.build(range(10_000))
    [info] = list(window.tracked)
    assert len(window.tracked[info]) == MAX_TRACKED_PER_SITE
    assert window.made_count[info] == 10_000
    [finding] = judge(window)
    assert finding.closures == 10_000  # counted, though only MAX_TRACKED_PER_SITE are tracked
    assert len(finding.created_with) == MAX_VALUES  # a message and a report stay short
    del kept


def test_dead_records_make_room(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, BUILD)
    for _ in range(5):
        module.build(range(MAX_TRACKED_PER_SITE))  # all dropped at once
    kept = module.build([1, 2])
    assert [r.values[0] for r in window.live_records()[record_of(kept[0]).info]] == [1, 2]  # type: ignore[union-attr]


def test_threads_making_and_calling_closures(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, BUILD)
    results: list[list[Any]] = []
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(50):
                results.append([f() for f in module.build([k, k + 1])])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 10,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 400
    [info] = list(window.made_count)
    assert window.made_count[info] == 800
    [finding] = judge(window)
    assert finding.stale_reads == 400


def test_unbound_variable_and_pickling_the_token(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, """
        def build(values):
            out = []
            for v in values:
                out.append(lambda: v)
            del v
            return out
    """)
    [f, _] = module.build([1, 2])
    with pytest.raises(NameError):
        f()
    # The read raised before it saw a value: Python's own NameError is the report.
    assert window.take_stale() == []
    token = record_of(f)
    assert token is not None
    copy = pickle.loads(pickle.dumps(token))
    assert copy.read(0, "value") == "value"  # a copied closure's reads check nothing


def test_no_window_records_nothing(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, BUILD)
    with RECORDER.recording(None):  # an unwatched test inside a watched run
        kept = module.build([1, 2])
        assert [f() for f in kept] == [2, 2]
    assert window.made_count == {} and window.take_stale() == []
    assert judge(window) == []
    # The same code in the window is recorded: the quiet above was the missing window's.
    assert [f() for f in module.build([1, 2])] == [2, 2]
    assert [e.calls for e in window.take_stale()] == [1]


def test_recording_blocks_nest_and_end_in_any_order() -> None:
    session, test = Window(None), Window("t::t")
    with RECORDER.recording(session):
        blocks = [RECORDER.recording(test), RECORDER.recording(None)]
        assert blocks[0].__enter__() is test and RECORDER.window is test
        blocks[1].__enter__()
        assert RECORDER.window is None
        blocks[0].__exit__(None, None, None)  # the test ends while recording is stopped
        assert RECORDER.window is None
        blocks[1].__exit__(None, None, None)
        assert RECORDER.window is session
    assert RECORDER.window is None


def test_stale_reads_of_closures_made_elsewhere_name_their_siblings(tmp_path: Path) -> None:
    session, test = Window(None), Window("t::t")
    with RECORDER.recording(session):
        module = load(tmp_path, """
            callbacks = [lambda: i for i in range(3)]
        """)
        with RECORDER.recording(test):
            [f() for f in module.callbacks]
    [finding] = judge(test, context=session)
    assert finding.created_with == ["0", "1", "2"] and finding.kinds == [Kind.STALE_READ]
    [outside] = judge(session)
    assert outside.kinds == [Kind.SHARED_BINDING] and outside.outside_tests


DEFERRED = """
    def build(jobs, call_now):
        out = []
        for job in jobs:
            def report():
                return f"{job}: {status}"
            status = len(job)
            if call_now:
                report()
            out.append(report)
        return out
"""


def test_variable_assigned_after_the_closure_is_judged_by_its_rounds_value(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, DEFERRED)
    reports = module.build(["a", "bb", "ccc"], True)  # each report runs within its own round: correct
    assert {record.info.site.deferred for record in map(record_of, reports) if record is not None} == {("status",)}
    del reports  # dead before the judge: only the stale reads are judged
    assert judge(window) == []


def test_variable_assigned_after_the_closure_still_goes_stale(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, DEFERRED)
    reports = module.build(["a", "bb", "ccc"], False)
    assert [r() for r in reports] == ["ccc: 3"] * 3
    findings = {f.variable: f for f in judge(window)}
    assert findings["status"].created_with == ["1", "2", "3"]
    assert findings["status"].stale_reads == 2  # the last report reads its own round's value
    assert findings["job"].stale_reads == 2


def test_values_past_the_kept_ones_end_the_message_with_an_ellipsis(tmp_path: Path, window: Window) -> None:
    # The siblings are dead when the test is judged: only the first MAX_VALUES creations are
    # kept, and the message must still say that more values existed.
    module = load(tmp_path, BUILD)
    assert module.build(range(MAX_VALUES + 2))[0]() == MAX_VALUES + 1
    [finding] = judge(window)
    assert finding.created_with == [str(v) for v in range(MAX_VALUES)] and finding.more_values
    at = f"{Path(finding.file).name}:{finding.line}"  # the lambda reads v on its own line
    assert finding.message(tmp_path).splitlines()[1] == (
        f"  created with v=0, 1, 2, 3, 4, 5, 6, 7, ...; the closure made with v=0 read v={MAX_VALUES + 1} at {at} "
        "(1 stale read)")


def test_repeated_values_past_the_kept_ones_add_no_ellipsis(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, BUILD)
    assert module.build([*range(MAX_VALUES), *range(MAX_VALUES)])[0]() == MAX_VALUES - 1
    [finding] = judge(window)
    assert finding.created_with == [str(v) for v in range(MAX_VALUES)] and not finding.more_values
    at = f"{Path(finding.file).name}:{finding.line}"
    assert finding.message(tmp_path).splitlines()[1] == (
        f"  created with v=0, 1, 2, 3, 4, 5, 6, 7; the closure made with v=0 read v=7 at {at} (1 stale read)")


def test_merging_past_the_listed_values_keeps_the_ellipsis() -> None:
    first = Finding(file="m.py", line=1, column=1, variable="i", site_kind="lambda", site_name="<lambda>",
                    fix="lambda i=i: ...", created_with=[str(v) for v in range(5)])
    first.merge(first.copy(created_with=[str(v) for v in range(5, 10)]))
    assert first.created_with == [str(v) for v in range(MAX_VALUES)] and first.more_values
    alone = first.copy(created_with=["0"], more_values=False)
    alone.merge(first.copy(created_with=["1"], more_values=True))
    assert alone.created_with == ["0", "1"] and alone.more_values


def test_threads_making_one_binding_each_count_their_own_closures(tmp_path: Path, window: Window) -> None:
    # Four calls in four threads are four bindings of v, their creations interleaved: the
    # stale one's message counts and lists its own binding's closures, not the site's.
    module = load(tmp_path, BUILD)
    barrier = threading.Barrier(4)
    seen: list[Any] = []

    def work(offset: int) -> None:
        barrier.wait()
        callbacks = module.build(range(offset, offset + 100))
        seen.append(callbacks[0]())

    threads = [threading.Thread(target=work, args=(1000 * n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == [99, 1099, 2099, 3099]
    [finding] = judge(window)
    assert finding.closures == 100 and finding.more_values
    first = int(finding.created_with[0])
    assert finding.created_with == [str(first + n) for n in range(MAX_VALUES)]
    assert finding.seen == str(first + 99)


def test_every_cell_of_a_closure_over_an_object_travels_by_pickle(tmp_path: Path, window: Window) -> None:
    # cloudpickle and its kind copy a closure cell by cell: the token and both baselines of an
    # object read through a weak reference must pickle, and the copy reads without checking.
    module = load(tmp_path, """
        class Host:
            pass

        def build(n):
            out = []
            for host in [Host() for _ in range(n)]:
                out.append(lambda: host)
            return out
    """)
    first, last = module.build(2)
    assert first() is last()
    cells = dict(zip(first.__code__.co_freevars, first.__closure__ or (), strict=True))
    assert sorted(cells) == ["@latebind_b0_0", "@latebind_token0", "@latebind_w0_0", "host"]
    token, fast, weak = (pickle.loads(pickle.dumps(cells[name].cell_contents))
                         for name in ("@latebind_token0", "@latebind_b0_0", "@latebind_w0_0"))
    host = module.Host()
    assert token.read(0, host) is host and weak() is not host and fast is not host


def test_distinct_keeps_the_first_of_each_value_in_order_across_types() -> None:
    from pytest_latebind._recorder import distinct
    from pytest_latebind._values import remember

    class Obj:
        pass

    a, b = Obj(), Obj()
    nan = float("nan")
    values = [remember(v) for v in (1, True, 1, "1", b"1", None, 2.0, nan, float("nan"), a, b, a, (1, 2), (1, 2),
                                    -0.0, 0.0, 2**70, 2**70, False, 0)]
    out = distinct(values)
    assert out[6] is nan  # one NaN: the first, as remembered (a NaN is the same value as a NaN)
    assert out[:6] == [1, True, "1", b"1", None, 2.0]
    assert len(out) == 6 + 1 + 2 + 1 + 1 + 1 + 2  # one NaN, two objects, (1, 2), -0.0 for 0.0, 2**70, False and 0
    assert out[7].ref() is a and out[8].ref() is b
    assert out[9] == (1, 2) and out[10] == 0.0 and out[11] == 2**70 and out[12:] == [False, 0]
    assert [type(v) for v in out[12:]] == [bool, int]


def _one_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every binding the same raw key, as the allocator does when a dead cell's memory
    holds the next one (it does so often, but not on demand)."""
    add = Window.add

    def add_at_one_address(self: Window, record: Any, raw: list[Any], keys: Any = None) -> None:
        add(self, record, raw, tuple(range(12345, 12345 + len(record.refs))))  # one per variable

    monkeypatch.setattr(Window, "add", add_at_one_address)


def test_a_binding_at_the_address_of_a_dead_one_is_counted_as_its_own(
        tmp_path: Path, window: Window, monkeypatch: pytest.MonkeyPatch) -> None:
    # Forty calls whose closures all died, then the buggy one: its message counts and lists
    # its own three closures, not the dead bindings that had its cell's address.
    module = load(tmp_path, BUILD)
    _one_address(monkeypatch)
    for n in range(40):
        module.build([100 + n, 200 + n])
    kept = module.build([1, 2, 3])
    assert kept[0]() == 3
    [finding] = judge(window)
    assert finding.kinds == [Kind.STALE_READ, Kind.SHARED_BINDING]
    assert finding.closures == 3 and finding.created_with == ["1", "2", "3"] and not finding.more_values
    del kept


def test_a_binding_whose_closures_are_alive_keeps_its_count_at_one_address(
        tmp_path: Path, window: Window, monkeypatch: pytest.MonkeyPatch) -> None:
    # While a closure of the binding is alive its cell is too: no other can have its address,
    # so every closure made on it counts, those that died in between included.
    module = load(tmp_path, """
        def build(values, keep):
            for v in values:
                f = lambda: v
                if v % 2:
                    keep.append(f)
    """)
    _one_address(monkeypatch)
    keep: list[Any] = []
    module.build(range(1, 21), keep)
    [finding] = judge(window)
    assert finding.kinds == [Kind.SHARED_BINDING] and finding.closures == 20
    assert finding.created_with == [str(v) for v in range(1, 16, 2)] and finding.more_values


def test_a_dead_cell_address_reused_by_the_allocator_gives_the_right_message(
        tmp_path: Path, window: Window) -> None:
    # The same without faking the address, and with the closures dead at the judge: whether
    # or not the allocator reuses one (it usually does here), the count is the binding's own,
    # and no dead binding's value is listed (its site's kept creations are theirs: "..." says
    # that there were more values).
    module = load(tmp_path, BUILD)
    for n in range(200):
        module.build([n, n + 1000])
    kept = module.build([1, 2, 3])
    assert kept[0]() == 3
    del kept
    [finding] = judge(window)
    assert finding.kinds == [Kind.STALE_READ]
    assert finding.closures == 3 and finding.created_with == ["1"] and finding.more_values


DROPPED_EACH_ROUND = """
    def run(values, keep=None):
        for v in values:
            # Without keep, the key function is dead before the next round's is made: the
            # window's cue that every closure made on the binding died, and with them, it may
            # be, the cell whose address the next binding can take.
            key = lambda x: x + v
            sorted([0], key=key)
            if keep is not None:
                keep.append(key)
            del key

    def grid(rows, keep=None):
        for r in rows:
            for c in range(2):
                key = lambda x: x + r + c
                sorted([0], key=key)
                if keep is not None:
                    keep.append(key)
                del key
"""


@pytest.mark.parametrize("fake_address", [True, False], ids=["one address", "allocator"])
def test_closures_dropped_each_round_then_kept_count_only_their_binding(
        tmp_path: Path, window: Window, monkeypatch: pytest.MonkeyPatch, fake_address: bool) -> None:
    # Hundreds of bindings whose closures all died, at a site long past its kept creations,
    # then a call that keeps its closures: the message counts that call's closures alone.
    module = load(tmp_path, DROPPED_EACH_ROUND)
    if fake_address:
        _one_address(monkeypatch)
    for n in range(150):
        module.run(range(n, n + 4))
    keep: list[Any] = []
    module.run([7, 8, 9], keep)
    [finding] = judge(window)
    assert finding.kinds == [Kind.SHARED_BINDING]
    assert finding.closures == 3 and finding.created_with == ["7", "8", "9"] and not finding.more_values
    assert [f(0) for f in keep] == [9, 9, 9]


@pytest.mark.parametrize("fake_address", [True, False], ids=["one address", "allocator"])
def test_two_loop_variables_dropped_each_round_then_kept_count_only_their_binding(
        tmp_path: Path, window: Window, monkeypatch: pytest.MonkeyPatch, fake_address: bool) -> None:
    # The same with two loop variables (nested loops): each keeps its own count.
    module = load(tmp_path, DROPPED_EACH_ROUND)
    if fake_address:
        _one_address(monkeypatch)
    for n in range(60):
        module.grid(range(n, n + 3))
    keep: list[Any] = []
    module.grid([5, 6], keep)
    found = {f.variable: (f.kinds, f.closures, f.created_with) for f in judge(window)}
    assert found == {"r": ([Kind.SHARED_BINDING], 4, ["5", "6"]), "c": ([Kind.SHARED_BINDING], 4, ["0", "1"])}
    assert [f(0) for f in keep] == [7] * 4


def test_made_and_dropped_bindings_keep_the_window_bounded(tmp_path: Path, window: Window) -> None:
    # Each call's closures die before the next call: the window keeps no per-binding count
    # for them past its bounds, however many bindings it saw.
    module = load(tmp_path, BUILD)
    for n in range(3000):
        module.build([n, n + 1])
    # At most one count per address known (each address's newest binding), however many
    # bindings came and went there.
    assert len(window.more_made) <= len(window._bindings) <= 1024
    assert len(window.creations[next(iter(window.creations))]) <= 64


HEADROOM = """
    def made_here(n=0):
        for i in range(1):
            f = lambda: i
        try:
            return made_here(n + 1)
        except RecursionError:
            return n

    def made_object(n=0):
        for i in [object()]:
            def f():
                return i
        try:
            return made_object(n + 1)
        except RecursionError:
            return n

    def nothing_made(n=0):
        for i in range(1):
            f = i
        try:
            return nothing_made(n + 1)
        except RecursionError:
            return n

    def stale():
        out = []
        for i in range(2):
            out.append(lambda: i)
        return out

    def read_by(f, n=0):
        f()
        try:
            return read_by(f, n + 1)
        except RecursionError:
            return n

    def plain_call():
        return 1
"""


def test_recursion_headroom_costs_the_documented_frames(tmp_path: Path, window: Window) -> None:
    # How much deeper a program recursing until RecursionError gets, plain minus instrumented,
    # when every level makes a closure or reads a loop variable (docs: how it works).  The
    # plugin's own bookkeeping borrows frames past the limit and gives them back.
    module = load(tmp_path, HEADROOM)
    limit = sys.getrecursionlimit()
    made = module.nothing_made() - module.made_here()
    made_object = module.nothing_made() - module.made_object()
    current = module.read_by(module.plain_call) - module.read_by(module.stale()[-1])
    stale = module.read_by(module.plain_call) - module.read_by(module.stale()[0])
    assert sys.getrecursionlimit() == limit
    assert made == 2 and made_object == 2  # made(), then the factory
    assert current == 0  # a read of its round's value is an inline test
    assert stale == (3 if sys.version_info < (3, 12) else 2)  # Record.read, then what it calls
    assert window.take_stale()[0].calls > 900  # every stale read recorded, at the limit too


def _window_state(window: Window) -> dict[str, Any]:
    """What a window recorded, with binding keys (addresses) renamed by first appearance, so
    that two runs of one program can be compared."""
    from pytest_latebind._values import describe

    names: dict[Any, int] = {}

    def name(key: Any) -> int:
        return names.setdefault(key, len(names))

    [info] = list(window.made_count)
    creations = [([name(k) for k in keys], [describe(v) for v in values])
                 for keys, values in window.creations[info]]
    return {"made": window.made_count[info], "creations": creations,
            "more_values": sorted((k, name(key)) for _, k, key in window.more_values),
            "more_made": sorted((k, name(key), n) for (_, k, key), n in window.more_made.items()),
            "tracked": len(window.tracked[info]),
            "stale": sorted((event.variable, event.calls, [describe(v) for v in event.created])
                            for event in window.take_stale())}


PROGRAMS: dict[str, tuple[list[Any] | None, bool]] = {
    "ints with repeats": ([1, 1, 2, 2, 3] * 5, False),
    "one equal value": ([7] * 30, False),
    "objects": (None, False),
    "tuples and strings": ([(1, "a"), (1, "a"), "x", b"x", 2.5, float("nan")] * 4, False),
    "many bindings": (list(range(12)), True),
    "a new value after the kept ones": ([1] * 10 + [2, 1], False),
}


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_the_fast_creation_path_records_what_the_general_one_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, program: str) -> None:
    """SiteInfo.made's short path (after a site's first closure) must leave a window exactly
    as the general path does: counts, kept creations and their texts, more_values, tracking, and
    the stale reads of calls after the loop."""
    from pytest_latebind._recorder import SiteInfo, keys_of, sites_of
    from pytest_latebind._values import remember, same

    module = load(tmp_path, """
        def build(values):
            out = []
            for v in values:
                out.append(lambda: v)
            return out
    """)
    values: list[Any] | None
    values, per_call = PROGRAMS[program]

    class Obj:
        def __repr__(self) -> str:
            return "Obj()"

    def run() -> dict[str, Any]:
        objects = [Obj() for _ in range(20)]
        items: list[Any] = [objects[k % 7] for k in range(20)] if values is None else values
        with RECORDER.recording(Window("t")) as opened:
            assert opened is not None
            # per_call: one binding per call, a few closures each
            kept = [f for v in items for f in module.build([v, v * 2, v])] if per_call else module.build(items)
            for f in kept:
                f()
            [site] = list(opened.made_count)
            bindings = {keys_of(record)[0] for record in map(record_of, kept) if record is not None}
            # Every closure counted on its binding, past the kept creations too.
            assert sum(opened.made_on(site, 0, key) for key in bindings) == len(kept)
            if not per_call:  # one binding: "..." exactly when a later value is none of the kept ones
                first = [remember(v) for v in items[:MAX_VALUES]]
                new = any(not any(same(remember(v), k) for k in first) for v in items[MAX_VALUES:])
                assert bool(opened.more_values) == new
            state = _window_state(opened)
        del kept, objects
        return state

    fast = run()
    [info] = sites_of(str(module.__file__))
    assert info._cells is not None  # the short path was taken
    monkeypatch.setattr(SiteInfo, "_enable_fast", lambda self: None)
    info._cells = None
    general = run()
    assert fast == general
