"""The private internals of pytest and Hypothesis that the plugin uses, each behind one door
(_pytest_compat, _hypothesis_compat).  The first tests here fail loudly when an internal
changes; the others show each door degrading with one clear warning when it is gone."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import hypothesis
import pytest
from _pytest import junitxml as _junitxml
from _pytest.assertion import rewrite as _rewrite
from hypothesis import given
from hypothesis import strategies as st

from pytest_latebind import _hypothesis_compat, _pytest_compat
from pytest_latebind._warnings import LatebindPluginWarning


# -- the internals as the doors know them -------------------------------------------------
def test_pytest_internals_are_as_the_doors_know_them(pytestconfig: pytest.Config) -> None:
    assert f"{sys.implementation.cache_tag}-pytest-{pytest.__version__}" == _rewrite.PYTEST_TAG
    hook = _rewrite.AssertionRewritingHook(pytestconfig)
    assert isinstance(hook._rewritten_names, dict)
    assert isinstance(_junitxml.xml_key, pytest.StashKey)
    assert callable(getattr(_junitxml.LogXML, "add_global_property", None))


def test_hypothesis_internals_are_as_the_doors_know_them() -> None:
    assert _hypothesis_compat._honours_digest(), "function_digest no longer reads _hypothesis_internal_add_digest"
    from hypothesis.statistics import collector, describe_statistics

    assert callable(collector.with_value) and callable(describe_statistics)


def test_statistics_door_delivers_the_text() -> None:
    seen: list[str] = []

    @hypothesis.settings(database=None, max_examples=5)
    @given(st.integers())
    def inner(x: int) -> None:
        pass

    with _hypothesis_compat.statistics("the label", seen.append):
        inner()
    assert len(seen) == 1 and "the label" in seen[0]


# -- the doors degrading, each with one warning -------------------------------------------
def _warnings_of(calls: Any) -> list[str]:
    messages: list[str] = []
    for _ in range(2):  # twice: one warning all the same
        calls(messages.append)
    return messages


def test_without_pytest_tag_the_version_alone_tags(monkeypatch: pytest.MonkeyPatch,
                                                   pytestconfig: pytest.Config) -> None:
    monkeypatch.setattr(_pytest_compat, "_warned", set())
    monkeypatch.delattr(_rewrite, "PYTEST_TAG")
    tags: list[str] = []
    messages = _warnings_of(lambda warn: tags.append(_pytest_compat.pytest_tag(pytestconfig, warn)))
    assert tags == [f"pytest-{pytest.__version__}"] * 2
    [message] = messages
    assert "PYTEST_TAG" in message and "Please report this" in message


def test_without_rewritten_names_modules_are_not_marked(monkeypatch: pytest.MonkeyPatch,
                                                        pytestconfig: pytest.Config) -> None:
    monkeypatch.setattr(_pytest_compat, "_warned", set())
    hook = _rewrite.AssertionRewritingHook(pytestconfig)
    del hook._rewritten_names
    messages: list[str] = []
    door = _pytest_compat.PytestRewrite(pytestconfig, hook, messages.append)
    door.loaded("test_x", "/tmp/test_x.py")
    assert not door.rewrote("test_x")
    [message] = messages
    assert "_rewritten_names" in message


def test_without_junit_key_no_properties(monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config) -> None:
    monkeypatch.setattr(_pytest_compat, "_warned", set())
    monkeypatch.delattr(_junitxml, "xml_key")
    monkeypatch.setattr(pytestconfig.option, "xmlpath", "junit.xml", raising=False)
    messages = _warnings_of(lambda warn: _pytest_compat.junit_xml(pytestconfig, warn))
    [message] = messages
    assert "xml_key" in message and "--junitxml" in message


def test_without_the_digest_failures_are_keyed_per_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hypothesis_compat, "_warned", set())
    monkeypatch.setattr(_hypothesis_compat, "_digest_works", False)

    def test() -> None: ...

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _hypothesis_compat.key_database(test, b"k")
        _hypothesis_compat.key_database(test, b"k")
    [warning] = caught
    assert issubclass(warning.category, LatebindPluginWarning)
    assert "per factory, not per test" in str(warning.message)
    assert test._hypothesis_internal_add_digest == b"k"  # type: ignore[attr-defined]


def test_without_the_collector_no_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    import hypothesis.statistics

    monkeypatch.setattr(_hypothesis_compat, "_warned", set())
    monkeypatch.delattr(hypothesis.statistics, "collector")
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _hypothesis_compat.statistics("label", seen.append):
            pass
    [warning] = caught
    assert "--hypothesis-show-statistics" in str(warning.message) and seen == []
