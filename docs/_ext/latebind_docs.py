"""Reference pages generated from the code, so that they cannot drift from it.

- ``latebind-options``: every command-line option and ini key with its help text, read from
  the one place they are declared (``pytest_latebind._options.add_options``) through a real
  pytest ``Parser``.
- ``latebind-json-schema``: the JSON report's fields, from ``report.schema.json``.
- ``latebind-sarif-rules``: the SARIF rules, from ``pytest_latebind._reporting.sarif.rules()``.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _code(text: str) -> str:
    return "``" + text + "``" if text else ""


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


class _RstDirective(SphinxDirective):
    """Renders reStructuredText built by :meth:`lines`."""

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(self.lines(), source="<generated>"), self.content_offset, container)
        return list(container.children)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        out.append("   * - " + (row[0] or " "))
        out.extend("     - " + (cell or " ") for cell in row[1:])
    return [*out, ""]


class OptionsDirective(_RstDirective):
    def lines(self) -> list[str]:
        from _pytest.config.argparsing import Parser

        from pytest_latebind._options import add_options

        parser = Parser(_ispytest=True)
        add_options(parser)
        options = [opt for group in parser._groups for opt in group.options]
        rows = []
        for opt in options:
            attrs = opt.attrs()
            name = opt.names()[0]
            flag = name if attrs.get("nargs") == 0 else f"{name}={attrs.get('metavar') or 'VALUE'}"
            rows.append([_code(flag), _escape(str(attrs.get("help", "")))])
        out = ["**Command line** (``pytest --help``, group \"late-binding closures (pytest-latebind)\"):", ""]
        out += _table(["option", "help"], rows)
        ini_rows = []
        for name, spec in parser._inidict.items():
            help_text, kind, default = spec[0], spec[1], spec[2]
            ini_rows.append([_code(name), _code(str(kind or "string")), _code(repr(default)),
                             _escape(str(help_text))])
        out += ["**ini keys** (``pytest.ini``, ``[tool.pytest.ini_options]``, ``-o name=value``):", ""]
        out += _table(["ini key", "type", "default", "help"], ini_rows)
        return out


def _schema() -> dict[str, Any]:
    text = files("pytest_latebind._reporting").joinpath("report.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _type(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    if "$ref" in spec:
        target = spec["$ref"].rsplit("/", 1)[-1]
        spec = {**schema["$defs"][target], **{k: v for k, v in spec.items() if k != "$ref"}}
    if "const" in spec:
        return json.dumps(spec["const"])
    if "enum" in spec:
        return " or ".join(json.dumps(v) for v in spec["enum"])
    kind = spec.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    parts = []
    for k in kinds:
        if k == "array" and "items" in spec:
            parts.append(f"array of {_type(spec['items'], schema)}")
        else:
            parts.append(k)
    text = " or ".join(p for p in parts if p)
    if "minimum" in spec:
        text += f" >= {spec['minimum']}"
    return text


def _description(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    text = spec.get("description", "")
    if not text and "$ref" in spec:
        text = schema["$defs"][spec["$ref"].rsplit("/", 1)[-1]].get("description", "")
    return str(text)


class SchemaDirective(_RstDirective):
    def lines(self) -> list[str]:
        schema = _schema()
        out = [f"*{schema['title']}.* {_escape(schema.get('description', ''))}", ""]

        def table(title: str, obj: dict[str, Any]) -> None:
            required = set(obj.get("required", []))
            rows = []
            for name, spec in obj.get("properties", {}).items():
                rows.append([_code(name), _escape(_type(spec, schema)), "yes" if name in required else "no",
                             _escape(_description(spec, schema))])
            out.extend([f"**{title}**", ""])
            out.extend(_table(["field", "type", "required", "meaning"], rows))

        table("Top level", schema)
        for name, spec in schema.get("$defs", {}).items():
            if spec.get("type") == "object":
                table(f"``{name}``", spec)
        return out


class SarifRulesDirective(_RstDirective):
    def lines(self) -> list[str]:
        from pytest_latebind._reporting.sarif import NOT_RUN_RULE, rules

        out = []
        for rule in [*rules(), NOT_RUN_RULE]:  # the not-run note's rule: only in runs with such sites
            out += [f"**{rule['id']}** (``{rule['name']}``, default level ``{rule['defaultConfiguration']['level']}``)",
                    "", f"   *{_escape(rule['shortDescription']['text'])}*", "",
                    f"   {_escape(rule['fullDescription']['text'])}", "",
                    f"   ``helpUri``: ``{rule['helpUri']}``", ""]
        return out


def _resolve_public(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    """Docstrings name public objects as users import them (``LateBindingError``,
    ``loop_ranges``): resolve those against the public modules."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    domain = env.get_domain("py")
    for module in ("pytest_latebind", "pytest_latebind.strategies"):
        name = f"{module}.{target.rsplit('.', 1)[-1]}"
        if name == target:
            continue
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name, node, contnode)
        if found is not None:
            return found
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", _resolve_public)
    app.add_directive("latebind-options", OptionsDirective)
    app.add_directive("latebind-json-schema", SchemaDirective)
    app.add_directive("latebind-sarif-rules", SarifRulesDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
