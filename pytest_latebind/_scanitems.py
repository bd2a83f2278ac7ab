"""``--latebind-scan``: the static scan as pytest items, one per file (as pytest-mypy and
pytest-ruff do), each marked ``latebind_scan`` so that ``pytest --latebind-scan -m
latebind_scan`` runs the scan alone.

The files are those the collection visits that the runtime would watch by path: under the
rootdir, outside virtualenvs and site-packages (``_importhook.WatchPolicy.in_project``).  An
item fails with the sites the scan reports as bugs (LB001); unverified sites (LB002) fail it
only with ``--latebind-scan-unverified``: by default a ``--latebind`` run's site coverage
settles them.  Inline ignore comments, ``latebind_ignore``
lines and the baseline silence a site as they silence a runtime finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from . import _scan
from ._baseline import Baseline
from ._ignores import Ignore
from ._importhook import WatchPolicy
from ._messages import Context
from ._reporting import scan as out

MARKER = "latebind_scan"


class ScanFailed(Exception):
    """The sites one file's scan reports (its ``args[0]``: the lines)."""


def collect(file_path: Path, parent: pytest.Collector, ignores: dict[tuple[str, str, str], Ignore],
            baseline: Baseline | None, context: Context, unverified: bool = False) -> ScanFile | None:
    """The run's own ignores (``Silencer.ini``) and baseline, so both apply as at run time."""
    if file_path.suffix != ".py" or not WatchPolicy(parent.config.rootpath).in_project(str(file_path)):
        return None
    node: ScanFile = ScanFile.from_parent(parent, path=file_path)
    node.setup_scan(ignores, baseline, context, unverified)
    return node


class ScanFile(pytest.File):
    def setup_scan(self, ignores: dict[tuple[str, str, str], Ignore], baseline: Baseline | None,
                   context: Context, unverified: bool) -> None:
        self.ignores, self.baseline, self.context, self.unverified = ignores, baseline, context, unverified

    def collect(self) -> Iterable[ScanItem]:
        item: ScanItem = ScanItem.from_parent(self, name="latebind-scan")
        item.add_marker(MARKER)
        yield item


class ScanItem(pytest.Item):
    parent: ScanFile

    def runtest(self) -> None:
        scan = self.parent
        found = []
        for result in _scan.scan_file(str(self.path), unverified=scan.unverified):
            if result.silenced or out.baselined(result, scan.baseline, scan.context):
                continue
            if out.ini_ignored(result, scan.ignores, scan.context):
                continue
            found.append(result)
        if found:
            raise ScanFailed(out.text(found, scan.context))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # The failure's heading: without a name pytest heads it "test session".  Not the node
        # id itself: pytest would rewrite the dots of a domain that ends it in `-v` lines.
        return self.path, None, f"latebind scan: {self.parent.nodeid}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScanFailed):
            return "\n".join(excinfo.value.args[0])
        return super().repr_failure(excinfo)
