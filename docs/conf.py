"""Sphinx configuration for fastnut's documentation site.

Build it from the repository root with warnings as errors::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

or ``make -C docs html``.  The gallery (``examples/``) runs every example once;
``make -C docs html-noplot`` skips that.
"""
import os
import re
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the in-place build: `python setup.py build_ext --inplace`

import fastnut  # noqa: E402

project = "fastnut"
author = "the fastnut developers"
copyright = "2026, the fastnut developers"
version = release = fastnut.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
# architecture.md is included by engine.md, not a page of its own
exclude_patterns = ["_build", "architecture.md", "**/README.rst", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json",
                    "auto_examples/*.md5"]
default_role = "code"   # `x` is inline code, as in the docstrings
nitpicky = False

# -- API reference -------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = True
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# "array-like", "ndarray of shape ..." and friends are prose, not targets
numpydoc_xref_param_type = False

# Cross-links into other projects' docs (intersphinx) need their inventories from
# the network, which CI does not have; FASTNUT_DOCS_INTERSPHINX=1 turns them on.
if os.environ.get("FASTNUT_DOCS_INTERSPHINX", "0") not in ("", "0"):
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "sklearn": ("https://scikit-learn.org/stable/", None),
    }


# Types in numpydoc sections are written as in scikit-learn, e.g. "ndarray of
# shape (n_features_in_,)"; in reST a word ending in "_" is a link, so escape it
# (only in the type after " : ", never in a name or the prose).
_TYPE_LINE = re.compile(r"^(\s*\*{0,2}\w+(?:, \w+)* : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"\b([A-Za-z]\w*[A-Za-z0-9])_(?![\w`])")


def _escape_type_underscores(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        m = _TYPE_LINE.match(line)
        if m:
            lines[i] = m.group(1) + _TRAILING_UNDERSCORE.sub(r"\1\\_", m.group(2))


def setup(app):
    # before numpydoc's own handler (priority 500) turns sections into reST
    app.connect("autodoc-process-docstring", _escape_type_underscores, priority=100)


# -- markdown (MyST) -------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# -- gallery ----------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "doc_module": ("fastnut",),
    "backreferences_dir": "api/generated/backreferences",
    "min_reported_time": 1,
    "show_memory": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}
# a headless build: no display
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")

# -- HTML ---------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"fastnut {release}"
html_static_path = ["_static"]
html_css_files = ["fastnut.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False
