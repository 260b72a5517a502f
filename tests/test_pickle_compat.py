"""Models pickled by fastnut 0.1.0 still load and predict the same.

``tests/data/pickles_0.1.0.pkl`` was written at commit 7d96f06 (before the
engine's files were filed by role) by fitting, on small random data, the
models listed in ``tests/data/make_pickles_0.1.0.py`` and storing
``(pickle bytes, X, predict_proba or transform of X)`` for each.  Those
pickles name the classes' old modules (``fastnut.nn._autoencoder``,
``fastnut.nn._layers.Dropout``), so this test is what keeps the re-export
shims honest.
"""
import pickle
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).parent / "data" / "pickles_0.1.0.pkl"


def _cases():
    with open(FIXTURE, "rb") as f:
        return pickle.load(f)


@pytest.mark.parametrize("name", sorted(_cases()))
def test_a_0_1_0_pickle_loads_and_predicts_the_same(name):
    blob, X, expected = _cases()[name]
    assert b"fastnut.nn._autoencoder" in blob or name in ("MLPClassifier", "RNNClassifier")
    est = pickle.loads(blob)
    got = est.predict_proba(X) if hasattr(est, "predict_proba") else est.transform(X)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # and the loaded model pickles again under the new layout
    again = pickle.loads(pickle.dumps(est))
    got2 = again.predict_proba(X) if hasattr(again, "predict_proba") else again.transform(X)
    np.testing.assert_array_equal(got2, got)
