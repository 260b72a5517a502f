"""Docstrings say what the signatures say.

Every ``name : type, default=value`` entry of a public estimator's
``Parameters`` section must equal the signature's default, and the
gradient-trained families document every constructor parameter.  (Their
docstrings are written out in the source, not assembled.)

Every public class, function and method of ``fastnut``, ``fastnut.nn``,
``fastnut.callbacks``, ``fastnut.schedules``, ``fastnut.onnx`` and
``fastnut.plotting`` passes numpydoc's validation for the codes in ``ENFORCED``.
The docstring examples run under pytest (``--doctest-modules`` over ``fastnut/``,
see ``[tool.pytest.ini_options]`` in pyproject.toml).
"""
import importlib
import inspect
import re

import numpy as np
import pytest

from sklearn.base import BaseEstimator

import fastnut
from fastnut._network import BaseNetwork

ESTIMATORS = [name for name in fastnut.__all__ if inspect.isclass(getattr(fastnut, name))]


def _entries(cls):
    doc = cls.__doc__ or ""
    params = doc.split("Attributes\n    ----------", 1)[0]
    return re.findall(r"^    \**(\w+) : (.*)$", params, re.M)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_documented_defaults_equal_the_signature(name):
    cls = getattr(fastnut, name)
    sig = inspect.signature(cls.__init__).parameters
    for param, rest in _entries(cls):
        m = re.search(r"default=(.+)$", rest)
        if param not in sig or m is None:
            continue
        documented = eval(m.group(1), {"np": np, "numpy": np})
        assert documented == sig[param].default, (param, m.group(1), sig[param].default)


@pytest.mark.parametrize("name", [n for n in ESTIMATORS
                                  if issubclass(getattr(fastnut, n), BaseNetwork)])
def test_network_families_document_every_parameter(name):
    cls = getattr(fastnut, name)
    documented = {param for param, _ in _entries(cls)}
    missing = [p for p in inspect.signature(cls.__init__).parameters
               if p != "self" and p not in documented]
    assert not missing
    assert "%(" not in cls.__doc__  # nothing left unrendered


# -- numpydoc validation ------------------------------------------------------------

#: what a reader needs: every parameter documented with a type and a description, in
#: signature order, no parameter that does not exist, a Returns section with a
#: description, sections in numpydoc order, a summary line that is a capitalised
#: imperative sentence.  Not enforced, as style rather than content: ES01 (extended
#: summary), SA01-SA04 (See Also), EX01 (Examples: required of the estimators by
#: test_estimators_have_examples instead), GL01-GL03 (blank lines around the text),
#: SS06 (a summary may take two lines), RT02 (a named return value is allowed).
ENFORCED = {
    "GL06", "GL07", "GL08", "GL09", "GL10",
    "SS01", "SS02", "SS03", "SS04", "SS05",
    "PR01", "PR02", "PR03", "PR04", "PR05", "PR06", "PR07", "PR08", "PR09", "PR10",
    "RT01", "RT03", "RT04", "RT05", "YD01",
}

PUBLIC_MODULES = ["fastnut", "fastnut.nn", "fastnut.callbacks", "fastnut.schedules",
                  "fastnut.onnx", "fastnut.plotting"]


def _public_objects():
    """``qualified name`` of every public class and function of PUBLIC_MODULES, and of
    every public method fastnut defines on them (each function once)."""
    seen, out = set(), []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n, v in vars(module).items() if not n.startswith("_")
                     and getattr(v, "__module__", "") == module_name]
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            qual = f"{module_name}.{name}"
            out.append(qual)
            if not inspect.isclass(obj):
                continue
            for attr in dir(obj):
                member = inspect.getattr_static(obj, attr)
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if (attr.startswith("_") or not inspect.isfunction(member)
                        or not member.__module__.startswith("fastnut") or id(member) in seen):
                    continue
                seen.add(id(member))
                out.append(f"{qual}.{attr}")
    return out


def _inherits_doc(qualname):
    """An override without a docstring of its own keeps the documented base method's
    contract (``inspect.getdoc``, ``help()`` and Sphinx show the base's text), which
    is validated where it is written."""
    from numpydoc.validate import Validator
    obj = Validator._load_obj(qualname)
    return obj.__doc__ is None and bool(inspect.getdoc(obj))


@pytest.mark.parametrize("qualname", _public_objects())
def test_numpydoc_validation(qualname):
    validate = pytest.importorskip("numpydoc.validate").validate
    errors = [f"{code}: {msg}" for code, msg in validate(qualname)["errors"]
              if code in ENFORCED and not (code == "GL08" and _inherits_doc(qualname))]
    assert not errors, "\n".join([qualname] + errors)


def test_public_objects_are_collected():
    names = set(_public_objects())
    for expected in ("fastnut.MLPClassifier", "fastnut.MLPClassifier.fit", "fastnut.nn.Dense",
                     "fastnut.nn.Layer.forward", "fastnut.callbacks.EarlyStopping",
                     "fastnut.schedules.CosineAnnealing", "fastnut.onnx.to_onnx",
                     "fastnut.plotting.plot_filters"):
        assert expected in names


@pytest.mark.parametrize("name", [n for n in ESTIMATORS
                                  if issubclass(getattr(fastnut, n), BaseEstimator)])
def test_estimators_have_examples(name):
    """Every public estimator shows its use in an Examples section (run as a doctest)."""
    doc = getattr(fastnut, name).__doc__
    assert "\n    Examples\n    --------\n" in doc and ">>> " in doc


# -- the Examples sections run --------------------------------------------------------

def _doctests():
    """Every docstring example under fastnut/ (modules imported, as pytest's
    --doctest-modules does), one test each."""
    import pkgutil
    import doctest
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for info in pkgutil.walk_packages(fastnut.__path__, "fastnut."):
        module = importlib.import_module(info.name)
        found += [t for t in finder.find(module, info.name) if t.examples]
    return sorted(found, key=lambda t: t.name)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("test", _doctests(), ids=lambda t: t.name)
def test_docstring_examples_run(test):
    import doctest
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = []
    result = runner.run(test, out=out.append)
    assert result.failed == 0, "".join(out)


def test_every_public_module_has_examples():
    names = {t.name for t in _doctests()}
    assert {"fastnut.mlp.MLPClassifier", "fastnut.cnn.CNNClassifier"} <= names
