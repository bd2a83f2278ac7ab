"""Fixtures shared by the unit tests of the core."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_latebind._recorder import RECORDER, Window


@pytest.fixture
def window() -> Iterator[Window]:
    """A recorder window open for the test, as the plugin opens one for a watched test."""
    with RECORDER.recording(Window("tests/test_x.py::test_x")) as window:
        yield window
