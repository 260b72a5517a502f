"""CNNClassifier / CNNRegressor with ``batch_norm`` and ``residual``: a small ResNet
on images is a parameter away."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import (check_fit_idempotent,
                                            check_methods_sample_order_invariance,
                                            check_methods_subset_invariance)

from fastnut import CNNClassifier, CNNRegressor, nn


def _digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def test_batch_norm_after_every_convolution():
    X, y = _digits()
    clf = _fit(CNNClassifier(input_shape=(1, 8, 8), conv_layers=((4, 3), (6, 3)),
                             batch_norm=True, max_iter=1, random_state=0), X[:50], y[:50])
    kinds = [type(l).__name__ for l in clf.network_.layers]
    assert kinds[:6] == ["Conv2D", "BatchNorm2D", "MaxPool2D", "Conv2D", "BatchNorm2D",
                         "MaxPool2D"]
    convs = [l for l in clf.network_.layers if isinstance(l, nn.Conv2D)]
    assert all(not c.use_bias and c.activation == "identity" for c in convs)
    assert all(l.activation == "relu" for l in clf.network_.layers
               if isinstance(l, nn.BatchNorm2D))
    assert "1.running_mean" in clf.network_.buffers
    # another activation: a separate layer after the normalisation
    tanh = _fit(CNNClassifier(input_shape=(1, 8, 8), conv_layers=((4, 3),), batch_norm=True,
                              activation="tanh", max_iter=1, random_state=0), X[:50], y[:50])
    assert [type(l).__name__ for l in tanh.network_.layers[:3]] == [
        "Conv2D", "BatchNorm2D", "Activation"]


def test_residual_blocks_and_projection_shortcuts():
    X, y = _digits()
    clf = _fit(CNNClassifier(input_shape=(1, 8, 8), conv_layers=((4, 3), (4, 3), (6, 3)),
                             pool=None, batch_norm=True, residual=True, max_iter=1,
                             random_state=0), X[:50], y[:50])
    blocks = [l for l in clf.network_.layers if isinstance(l, nn.Residual)]
    assert len(blocks) == 3
    for block in blocks:
        kinds = [type(l).__name__ for l in block.body.layers]
        assert kinds == ["Conv2D", "BatchNorm2D", "Conv2D", "BatchNorm2D"]
        assert [l.activation for l in block.body.layers[1::2]] == ["relu", "identity"]
    # 1 -> 4 and 4 -> 6 channels: 1x1 convolution + BN; 4 -> 4: the identity
    assert isinstance(blocks[0].shortcut_layer, nn.Sequential)
    assert blocks[0].shortcut_layer.layers[0].kernel_size == (1, 1)
    assert blocks[1].shortcut_layer is None
    assert isinstance(blocks[2].shortcut_layer.layers[1], nn.BatchNorm2D)
    # without batch_norm the projection is Residual's own 1x1 convolution
    plain = _fit(CNNClassifier(input_shape=(1, 8, 8), conv_layers=((4, 3),), residual=True,
                               max_iter=1, random_state=0), X[:50], y[:50])
    (block,) = [l for l in plain.network_.layers if isinstance(l, nn.Residual)]
    assert isinstance(block.shortcut_layer, nn.Conv2D)
    assert block.shortcut_layer.kernel_size == (1, 1)
    assert [type(l).__name__ for l in block.body.layers] == ["Conv2D", "Conv2D"]


def test_residual_needs_same_padding():
    X, y = _digits()
    with pytest.raises(ValueError, match="residual=True .* use padding='same' "
                                         r"\(got padding='valid'\)"):
        CNNClassifier(input_shape=(1, 8, 8), conv_layers=((4, 3),), padding="valid",
                      residual=True, max_iter=1).fit(X[:20], y[:20])


@pytest.mark.parametrize("params", [dict(batch_norm=True),
                                    dict(batch_norm=True, residual=True)])
def test_digits_accuracy(params):
    X, y = _digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    clf = _fit(CNNClassifier(input_shape=(1, 8, 8), conv_layers=((8, 3),),
                             hidden_layer_sizes=(32,), batch_size=64, max_iter=8,
                             random_state=0, **params), Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.9
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(Xte), clf.predict_proba(Xte))


def test_regressor_with_a_small_resnet():
    rng = np.random.default_rng(0)
    X = rng.random((300, 1, 6, 6))
    y = 10 * (X[:, 0, :3].mean(axis=(1, 2)) - X[:, 0, 3:].mean(axis=(1, 2)))
    reg = _fit(CNNRegressor(conv_layers=((8, 3),), batch_norm=True, residual=True,
                            hidden_layer_sizes=(16,), batch_size=32, max_iter=20,
                            random_state=0), X[:200], y[:200])
    assert reg.score(X[200:], y[200:]) > 0.5  # 0.63 measured; a learnt, held-out fit


@pytest.mark.parametrize("check", [check_fit_idempotent, check_methods_subset_invariance,
                                   check_methods_sample_order_invariance])
def test_common_checks_with_batch_norm_and_residual(check):
    est = CNNClassifier(input_shape=(1, 1, -1), conv_layers=((4, 3),), hidden_layer_sizes=(8,),
                        batch_norm=True, residual=True, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(type(est).__name__, est)
