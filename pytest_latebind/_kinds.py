"""The words a verdict is made of: the kind of a finding, and what a run does about one.

Both are ``str`` enums, so they compare equal to, and serialise as, the strings the reports
have always used (``"stale-read"``, ``"fail"``).
"""

from __future__ import annotations

import enum


class _Word(str, enum.Enum):
    def __str__(self) -> str:  # also what f-strings show, on every Python version
        return str(self.value)


class Kind(_Word):
    """What a finding is: the bug happened, or it is waiting to."""

    STALE_READ = "stale-read"
    SHARED_BINDING = "shared-binding"

    @property
    def words(self) -> str:
        """As a message says it: ``stale read``."""
        return str(self.value).replace("-", " ")


class Mode(_Word):
    """What a run does with a finding in a test: fail the test, or warn and pass it."""

    FAIL = "fail"
    WARN = "warn"


KINDS = tuple(Kind)  # the order kinds are listed in
