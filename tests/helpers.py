"""Helpers shared by the test modules: load a module instrumented, run pytest on a project,
read the reports back the way their readers do."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_latebind._recorder import bind_sites
from pytest_latebind._transformer import compile_module, instrument_source

SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"
_counter = iter(range(10**6))


# -- modules ----------------------------------------------------------------------------------
def load(tmp_path: Path, source: str, *, instrumented: bool = True) -> types.ModuleType:
    """Execute ``source`` as a module from a real file, instrumented or plain."""
    source = textwrap.dedent(source)
    name = f"latebind_t{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    if instrumented:
        tree, sites = instrument_source(source.encode(), str(path))
        assert sites, "the test source should have at least one site"
        code = bind_sites(compile_module(tree, str(path), sites), str(path))
    else:
        code = compile(source, str(path), "exec", dont_inherit=True)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    finally:
        del sys.modules[name]
    return module


# -- pytest runs ------------------------------------------------------------------------------
def run(pytester: pytest.Pytester, *args: str | os.PathLike[str]) -> pytest.RunResult:
    """pytest in a subprocess (the plugin installs an import hook), without the cache plugin."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=300)


# -- reports ----------------------------------------------------------------------------------
def read_report(path: os.PathLike[str]) -> dict[str, Any]:
    """The JSON report (``--latebind-report``), of the version these tests know."""
    data: dict[str, Any] = json.loads(Path(path).read_text())
    assert data["version"] == 1
    return data


def report_findings(path: os.PathLike[str]) -> list[dict[str, Any]]:
    return list(read_report(path)["findings"])


def sarif_validator() -> jsonschema.Draft4Validator:
    """The published OASIS schema; read from the shared checkout, never copied into ours."""
    if not SARIF_SCHEMA.exists():
        pytest.skip(f"the SARIF 2.1.0 schema is not at {SARIF_SCHEMA}")
    schema = json.loads(SARIF_SCHEMA.read_text())
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


# GitHub workflow commands, read back the way the Actions runner reads them (actions/runner
# ActionCommand): properties are split on "," and "=", then unescaped (%0D, %0A, %3A, %2C, and
# %25 last); the message only has %0D, %0A, %25.
DATA = [("\r", "%0D"), ("\n", "%0A")]
PROPERTY = [*DATA, (":", "%3A"), (",", "%2C")]


def unescape(text: str, mappings: list[tuple[str, str]]) -> str:
    for plain, escaped in mappings:
        text = text.replace(escaped, plain)
    return text.replace("%25", "%")


def parse_workflow_command(line: str) -> tuple[str, dict[str, str], str]:
    """(command, properties, message) of ``::command k=v,k=v::message``, as the runner parses it."""
    assert line.startswith("::"), line
    assert "\n" not in line and "\r" not in line, "a workflow command is one line"
    head, sep, data = line[2:].partition("::")
    assert sep, line
    command, _, props = head.partition(" ")
    properties = {}
    for pair in filter(None, props.split(",")):
        key, eq, value = pair.partition("=")
        assert eq, pair
        properties[key] = unescape(value, PROPERTY)
    return command, properties, unescape(data, DATA)
