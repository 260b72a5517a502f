"""Estimator docstrings say what the signatures say.

Every ``name : type, default=value`` entry of a public estimator's
``Parameters`` section must equal the signature's default, and the
gradient-trained families document every constructor parameter.  (Their
docstrings are written out in the source, not assembled.)
"""
import inspect
import re

import numpy as np
import pytest

import fastnut
from fastnut._network import BaseNetwork

ESTIMATORS = [name for name in fastnut.__all__ if inspect.isclass(getattr(fastnut, name))]


def _entries(cls):
    doc = cls.__doc__ or ""
    params = doc.split("Attributes\n    ----------", 1)[0]
    return re.findall(r"^    (\w+) : (.*)$", params, re.M)


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
