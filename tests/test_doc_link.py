"""Every public estimator's HTML repr links to its page in the API reference."""
import inspect
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr

import fastnut
from fastnut._doc_link import DOCS_URL

ESTIMATORS = sorted(name for name in fastnut.__all__
                    if inspect.isclass(getattr(fastnut, name))
                    and issubclass(getattr(fastnut, name), BaseEstimator))
API_INDEX = Path(__file__).resolve().parents[1] / "docs" / "api" / "index.rst"


def test_every_family_is_covered():
    assert len(ESTIMATORS) >= 16 and "MLPClassifier" in ESTIMATORS


@pytest.mark.parametrize("name", ESTIMATORS)
def test_html_repr_links_to_the_api_page(name):
    est = getattr(fastnut, name)()
    url = f"{DOCS_URL}api/generated/fastnut.{name}.html"
    assert est._get_doc_link() == url
    assert f'href="{url}"' in estimator_html_repr(est)


def test_link_inside_a_pipeline():
    html = estimator_html_repr(make_pipeline(StandardScaler(), fastnut.MLPClassifier()))
    assert f'href="{DOCS_URL}api/generated/fastnut.MLPClassifier.html"' in html
    assert "https://scikit-learn.org/" in html   # the scaler keeps scikit-learn's own link


def _public():
    import fastnut.nn
    import fastnut.plotting
    # a name fastnut re-exports from fastnut.nn (DivergenceError) is documented
    # once, at its engine home: two entries would be one object described twice
    names = [("fastnut", n) for n in fastnut.__all__
             if getattr(fastnut.nn, n, None) is not getattr(fastnut, n)]
    names += [("fastnut.nn", n) for n in fastnut.nn.__all__]
    names += [("fastnut.plotting", n) for n, f in inspect.getmembers(fastnut.plotting,
                                                                      inspect.isfunction)
              if not n.startswith("_") and f.__module__ == "fastnut.plotting"]
    return names


@pytest.mark.skipif(not API_INDEX.exists(), reason="no docs/ in this tree")
def test_the_api_reference_lists_every_public_name():
    """Every public class and function has an autosummary entry (so the links resolve)."""
    text = API_INDEX.read_text()
    listed, module = set(), None
    for line in text.splitlines():
        if line.startswith(".. currentmodule:: "):
            module = line.split("::")[1].strip()
        elif line.startswith("   ") and line.strip() and not line.strip().startswith(":"):
            listed.add((module, line.strip()))
    missing = [f"{m}.{n}" for m, n in _public() if (m, n) not in listed]
    assert not missing, f"docs/api/index.rst does not list {missing}"
