"""Bad input gets an error that says what is wrong (like scikit-learn's)."""
import numpy as np
import pandas as pd
import pytest

import fastnut

rng = np.random.default_rng(0)
X = rng.random((20, 3))
y = np.arange(20) % 2
EMPTY = pd.DataFrame(index=range(20))

UNSUPERVISED = [fastnut.BernoulliRBM, fastnut.GaussianBernoulliRBM, fastnut.SelfOrganizingMap,
                fastnut.DeepBeliefNetwork, fastnut.DeepBoltzmannMachine, fastnut.Autoencoder]
SUPERVISED = [fastnut.MLPClassifier, fastnut.MLPRegressor, fastnut.DBNClassifier]


@pytest.mark.parametrize("Est", UNSUPERVISED + SUPERVISED)
def test_frame_without_columns(Est):
    args = (EMPTY, y) if Est in SUPERVISED else (EMPTY,)
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(20, 0\)\) while a minimum "
                                         f"of 1 is required by {Est.__name__}"):
        Est().fit(*args)


def test_frame_without_columns_at_predict():
    est = fastnut.MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        est.predict(EMPTY)


@pytest.mark.parametrize("Est", [fastnut.MLPClassifier, fastnut.DBNClassifier])
def test_hidden_layer_sizes_as_a_string(Est):
    with pytest.raises(ValueError, match="'hidden_layer_sizes' parameter.*Got '10'"):
        Est(hidden_layer_sizes="10").fit(X, y)


@pytest.mark.parametrize("Est", [fastnut.MLPClassifier, fastnut.DBNClassifier])
def test_object_labels_of_mixed_types(Est):
    labels = np.array(["a", 1] * 10, dtype=object)
    with pytest.raises(ValueError, match="y mixes string labels with labels of type int"):
        Est(max_iter=2).fit(X, labels)
