"""How a value is shown in a message, at its bounds (issue 22: a mutation run found them unstated).

Golden texts: a finding shows ``short_repr`` of each value, so its exact text is the product.
An object's own repr is cut to 40 characters (18, "...", the last 19), a string to reprlib's
40, a container to 4 items and 2 levels, and the whole text to 100 characters (48, "...", the
last 49).  A text the recorder already bounded (a remembered value's kept text, a stale read's
seen value) is never cut twice.
"""

from __future__ import annotations

import types

import pytest

from pytest_latebind._recorder import Shown
from pytest_latebind._values import describe, keep_text, remember, short_repr

LETTERS = "".join(chr(ord("a") + i % 26) for i in range(200))  # every cut shows where it is


class Text:
    """An object whose repr is ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def test_an_objects_repr_of_40_characters_is_whole_and_a_longer_one_keeps_18_and_19() -> None:
    assert short_repr(Text(LETTERS[:40])) == LETTERS[:40]
    assert short_repr(Text(LETTERS[:41])) == "abcdefghijklmnopqr...wxyzabcdefghijklmno"
    assert short_repr(Text(LETTERS[:41])) == LETTERS[:18] + "..." + LETTERS[41 - 19:41]
    assert short_repr(Text(LETTERS)) == LETTERS[:18] + "..." + LETTERS[200 - 19:]


def test_a_long_string_is_reprlibs_40_characters() -> None:
    assert short_repr("x" * 41) == "'xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx'"
    assert short_repr("abcdefghijklmnopqrstuvwxyz" * 2) == "'abcdefghijklmnopq...ijklmnopqrstuvwxyz'"
    assert short_repr("x" * 38) == repr("x" * 38)  # 40 with its quotes: whole


def test_containers_show_four_items_and_two_levels() -> None:
    assert short_repr(list(range(10))) == "[0, 1, 2, 3, ...]"
    assert short_repr(list(range(4))) == "[0, 1, 2, 3]"
    assert short_repr((1, 2, 3, 4, 5)) == "(1, 2, 3, 4, ...)"
    assert short_repr({1, 2, 3, 4, 5}) == "{1, 2, 3, 4, ...}"
    assert short_repr({i: i for i in range(6)}) == "{0: 0, 1: 1, 2: 2, 3: 3, ...}"
    assert short_repr([[[1]]]) == "[[[...]]]"
    assert short_repr([[1]]) == "[[1]]"


def test_a_whole_text_of_100_characters_is_kept_and_a_longer_one_keeps_48_and_49() -> None:
    exactly = [Text("A" * 40), Text("B" * 40), Text("C" * 14)]  # [A40, B40, C14]: 100 characters
    assert short_repr(exactly) == "[" + "A" * 40 + ", " + "B" * 40 + ", " + "C" * 14 + "]"
    longer = [Text(LETTERS[:40]), Text(LETTERS[40:80]), Text(LETTERS[80:120])]
    whole = "[" + ", ".join(item.text for item in longer) + "]"  # 126 characters
    assert short_repr(longer) == whole[:48] + "..." + whole[-49:]
    assert len(short_repr(longer)) == 100


def test_characters_that_are_not_printable_are_escaped_one_by_one() -> None:
    assert short_repr(Text("a\nb\tc")) == "a\\nb\\tc"
    assert short_repr(Text("a\x00b")) == "a\\x00b"
    assert short_repr(Text("plain")) == "plain"


def test_a_remembered_values_kept_text_is_not_cut_again() -> None:
    # A list is remembered by its address; its kept text (85 characters) is the message's.
    value = [Text("A" * 40), Text("B" * 40)]
    remembered = remember(value)
    keep_text(remembered, value)
    text = "[" + "A" * 40 + ", " + "B" * 40 + "]"
    assert describe(remembered) == short_repr(remembered) == text
    assert short_repr([remembered]) == f"[{text}]"  # inside a container too


def test_a_module_without_a_name_is_shown_as_such() -> None:
    nameless = types.ModuleType("gone")
    del nameless.__name__
    assert short_repr(nameless) == "<module '?'>"


def test_a_seen_text_the_recorder_took_is_not_cut_again() -> None:
    # A stale read's value is kept as the recorder's Shown text: already bounded.
    assert short_repr(Shown("x" * 90)) == "x" * 90


@pytest.mark.parametrize("module", [__name__, "pytest_latebind._values"])
def test_a_users_class_named_shown_is_cut_as_any_other(module: str) -> None:
    shown = type("Shown", (Text,), {"__module__": module})
    assert short_repr(shown(LETTERS[:41])) == LETTERS[:18] + "..." + LETTERS[41 - 19:41]
