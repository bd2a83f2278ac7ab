"""Sphinx configuration: the pages stay Markdown (MyST); reference parts come from the code.

Build: ``sphinx-build -W --keep-going -n -b dirhtml docs docs/_build/html`` (``nox -s docs``).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

import pytest_latebind  # noqa: E402

project = "pytest-latebind"
author = "pytest-latebind developers"
copyright = "pytest-latebind developers"
release = version = pytest_latebind.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "latebind_docs"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "README.md"]
myst_heading_anchors = 4  # GitHub-style anchors (#--latebind-mode), as the pages link them
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["myst.header"]  # pages start at "#" and may skip a level in a table of contents

nitpicky = True
# Types that appear in signatures and have no page of their own here (no intersphinx: the
# build runs offline).
nitpick_ignore_regex = [
    ("py:class", r"(collections\.abc|typing|hypothesis|_pytest|pytest|os)\..*"),
    ("py:class", r"(Any|Callable|Iterable|Sequence|Hashable|SearchStrategy|Ex|T|PathLike)"),
    ("py:class", r"pytest_latebind\._.*"),
    ("py:class", r"settings|Settings|HealthCheck|Verbosity"),
    ("py:class", r"pytest_latebind\.strategies\.T"),  # a TypeVar
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "furo"
html_title = f"pytest-latebind {release}"
