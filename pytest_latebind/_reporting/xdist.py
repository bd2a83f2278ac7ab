"""pytest-xdist: what a worker hands the controller at the end of its session.

Per-test findings travel on the test reports (``report.latebind_findings``, plain dicts).
Findings made outside any test (at import time) have no report: a worker puts them into
``config.workeroutput`` (builtins only: execnet carries nothing else), and the controller
reads them in ``pytest_testnodedown``. A worker that crashed never sends its output; the
findings of the tests it ran arrived with their reports already.
"""

from __future__ import annotations

from typing import Any

import pytest

from .._findings import Finding

KEY = "latebind"
PAYLOAD_VERSION = 1


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def send(config: pytest.Config, outside: list[Finding]) -> None:
    output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
    output[KEY] = {"version": PAYLOAD_VERSION, "outside": [f.to_dict() for f in outside]}


def receive(node: Any) -> list[dict[str, Any]] | None:
    """The outside-test findings a worker sent, or None if it sent nothing (it crashed,
    or runs a pytest-latebind that does not speak this payload version)."""
    output = getattr(node, "workeroutput", None)
    payload = output.get(KEY) if isinstance(output, dict) else None
    if not isinstance(payload, dict) or payload.get("version") != PAYLOAD_VERSION:
        return None
    found = payload.get("outside")
    return [d for d in found if isinstance(d, dict)] if isinstance(found, list) else None


def worker_id(node: Any) -> str:
    gateway = getattr(node, "gateway", None)
    return str(getattr(gateway, "id", None) or node)
