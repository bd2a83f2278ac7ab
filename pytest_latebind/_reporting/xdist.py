"""pytest-xdist: what a worker hands the controller at the end of its session.

Per-test findings travel on the test reports (``report.latebind_findings``, plain dicts).
Findings made outside any test (at import time) have no report: a worker puts them into
``config.workeroutput`` (builtins only: execnet carries nothing else), and the controller
reads them in ``pytest_testnodedown``. A worker that crashed never sends its output; the
findings of the tests it ran arrived with their reports already.

The payload also says whether the worker used the plugin at all (``active``: its import
hook was installed, or a test was watched). A run that does not use the plugin says
nothing, not even about a crashed worker: the controller of such a run (no ``--latebind``,
no ini option; markers are seen only by the workers, which collect) warns about a lost
worker only when another worker was active, or it was watching every test itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from .._findings import Finding

KEY = "latebind"
PAYLOAD_VERSION = 1


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def send(config: pytest.Config, outside: list[Finding], inline_ignores: list[str] | None = None,
         watched: dict[str, Any] | None = None, explained: list[dict[str, Any]] | None = None) -> None:
    """``inline_ignores``: the ``# latebind: ignore[...]`` comments of the modules the worker
    watched (their labels), so that the controller can tell the unused ones; ``watched``: what
    it watched (``Watched.to_payload``); ``explained``: its ``--latebind-explain`` entries of
    closures made outside tests."""
    output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
    output[KEY] = {"version": PAYLOAD_VERSION, "outside": [f.to_dict() for f in outside],
                   "inline_ignores": list(inline_ignores or []), "watched": watched or {},
                   "explained": list(explained or [])}


def receive_part(node: Any, name: str) -> Any:
    """One part of a worker's payload (``watched``, ``explained``), or None."""
    output = getattr(node, "workeroutput", None)
    payload = output.get(KEY) if isinstance(output, dict) else None
    return payload.get(name) if isinstance(payload, dict) else None


def receive_inline_ignores(node: Any) -> list[str]:
    output = getattr(node, "workeroutput", None)
    payload = output.get(KEY) if isinstance(output, dict) else None
    found = payload.get("inline_ignores") if isinstance(payload, dict) else None
    return [label for label in found if isinstance(label, str)] if isinstance(found, list) else []


def send_active(config: pytest.Config, active: bool) -> None:
    """Add to the payload :func:`send` made whether this worker used the plugin."""
    payload = config.workeroutput.get(KEY)  # type: ignore[attr-defined]
    if isinstance(payload, dict):
        payload["active"] = active


def was_active(node: Any) -> bool:
    """Whether a worker that reported used the plugin (a payload without the flag: yes)."""
    output = getattr(node, "workeroutput", None)
    payload = output.get(KEY) if isinstance(output, dict) else None
    return isinstance(payload, dict) and payload.get("active", True) is not False


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
