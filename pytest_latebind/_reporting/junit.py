"""Findings as JUnit XML properties (``--junitxml``), next to the failure text pytest writes.

Where the properties go is ``latebind_junit_properties``:

``suite`` (the default)
    ``<testsuite><properties>``, added by the controller once every finding has been
    merged, just before pytest writes the file. Valid in both junit families, complete
    under xdist, and holds the findings made outside any test, which have no test case.
``testcase``
    ``<testcase><properties>`` of the tests that hit a finding, through the report's
    ``user_properties`` (so they travel from xdist workers). The xunit2 schema, pytest's
    default family, does not allow them there: use it with ``junit_family = xunit1``.
``none``
    no properties; the failure text is still there.

Each finding is one ``latebind.finding`` property whose value is the finding as it appears
in the JSON report (compact JSON), so a JUnit reader needs no second file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pytest

from .. import _pytest_compat
from .._findings import Finding
from .._messages import Context
from .json_report import finding_to_json

FINDING = "latebind.finding"
COUNT = "latebind.findings"


def _value(finding: Finding, context: Context) -> str:
    return json.dumps(finding_to_json(finding, context), separators=(",", ":"))


def case_properties(findings: Sequence[Finding], context: Context) -> list[tuple[str, str]]:
    return [(FINDING, _value(f, context)) for f in findings]


def add_suite_properties(config: pytest.Config, findings: Sequence[Finding], context: Context,
                         warn: Callable[[str], None]) -> bool:
    """Add the merged findings to the suite; False when no JUnit file is being written."""
    xml = _pytest_compat.junit_xml(config, warn)
    if xml is None:
        return False
    xml.add_global_property(COUNT, str(len(findings)))
    for name, value in case_properties(findings, context):
        xml.add_global_property(name, value)
    return True


def family_warning(config: pytest.Config, where: str) -> str | None:
    """Why ``testcase`` properties would make the file invalid, if they would."""
    if where != "testcase" or not getattr(config.option, "xmlpath", None):
        return None
    family = config.getini("junit_family")
    if family in ("xunit1", "legacy"):
        return None
    return (f"latebind_junit_properties = testcase writes <properties> inside <testcase>, which "
            f"junit_family = {family} does not allow: set junit_family = xunit1, or use "
            "latebind_junit_properties = suite (valid in every family, complete under xdist)")
