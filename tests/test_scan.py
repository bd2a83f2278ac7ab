"""The static scan: every case of the labelled corpus gets its label, and the verdicts' rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_latebind._scan import BUG, OK, UNVERIFIED, classify_source

CORPUS = Path(__file__).resolve().parent.parent / "benchmarks" / "scan_corpus"
CASES = sorted(CORPUS.glob("*.py"))
_ORDER = [OK, UNVERIFIED, BUG]


def _label(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ").strip()


def test_corpus_is_large_and_has_twins() -> None:
    labels = [_label(p) for p in CASES]
    assert len(CASES) >= 40
    assert labels.count(BUG) >= 15 and labels.count(OK) >= 15


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_corpus_case_gets_its_label(path: Path) -> None:
    verdicts = classify_source(path.read_text(encoding="utf-8"), str(path))
    # A name shadowed by a default or a local is no site at all (``_scopes``): ok.
    worst = max((v.status for v in verdicts), key=_ORDER.index, default=OK)
    assert worst == _label(path), [(v.site.line, v.status, v.reason) for v in verdicts]


def test_not_a_site_is_not_classified() -> None:
    assert classify_source("def f(xs):\n    return [x for x in xs]\n") == []


def test_message_names_the_variable_and_the_fix() -> None:
    (verdict,) = classify_source("def f(xs):\n    out = []\n    for x in xs:\n        out.append(lambda: x)\n")
    assert verdict.status == BUG
    assert "'x'" in verdict.message() and "lambda x=x: ..." in verdict.message()
    assert "append()" in verdict.reason


def test_sync_callback_must_only_call_its_parameter() -> None:
    keeps = ("KEPT = []\n\ndef later(cb):\n    KEPT.append(cb)\n\n"
             "def run(xs):\n    for x in xs:\n        later(lambda: x)\n")
    assert [v.status for v in classify_source(keeps)] == [UNVERIFIED]
    calls = keeps.replace("KEPT.append(cb)", "cb()")
    assert [v.status for v in classify_source(calls)] == [OK]


def test_a_thread_started_but_not_joined_is_unverified() -> None:
    src = ("import threading\n\ndef run(xs):\n    for x in xs:\n"
           "        t = threading.Thread(target=lambda: print(x))\n        t.start()\n")
    assert [v.status for v in classify_source(src)] == [UNVERIFIED]
    assert [v.status for v in classify_source(src + "        t.join()\n")] == [OK]
