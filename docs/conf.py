"""Sphinx configuration for the exchange_tls documentation."""

from __future__ import annotations

import sys
from pathlib import Path

import exchange_tls

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "exchange_tls"
author = "The exchange_tls developers"
copyright = "2026, the exchange_tls developers"
release = exchange_tls.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "rule_catalogue",
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

# Every example in the docs runs as a test: doctest blocks in the pages and in the
# docstrings that autodoc pulls in.
doctest_global_setup = """
import exchange_tls
from exchange_tls import *
from exchange_tls.powershell.dates import *
from exchange_tls.remediation import *
from exchange_tls.errors import ProblemCollector
from exchange_tls.sources import decode_bytes, read_source
"""
doctest_test_doctest_blocks = "default"

html_theme = "furo"
html_title = f"exchange_tls {release}"
html_static_path = ["_static"]
