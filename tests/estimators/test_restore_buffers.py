"""Restoring weights restores the buffers that go with them (batch normalisation's
running statistics): early stopping's best epoch, the divergence restore, and the
``EarlyStopping`` callback."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from fastnut import SequenceCNNClassifier, nn
from fastnut.callbacks import Callback, EarlyStopping


class _Record(Callback):
    """Copies of the network's parameters and buffers after every epoch."""

    def on_train_begin(self, estimator):
        self.params, self.buffers, self.logs = [], [], []

    def on_epoch_end(self, estimator, epoch, logs):
        net = estimator.network_
        self.params.append({k: v.copy() for k, v in net.params.items()})
        self.buffers.append({k: v.copy() for k, v in net.buffers.items()})
        self.logs.append(dict(logs))
        return False


def _data(n=80, T=16, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    t = np.linspace(0, 1, T)
    X = np.sin(2 * np.pi * (2 + y)[:, None] * t) + 0.8 * rng.standard_normal((n, T))
    return X, y


def _assert_state(net, params, buffers):
    for k, v in params.items():
        np.testing.assert_array_equal(net.params[k], v, err_msg=k)
    for k, v in buffers.items():
        np.testing.assert_array_equal(net.buffers[k], v, err_msg=k)


def test_early_stopping_keeps_the_running_statistics_of_the_best_epoch():
    X, y = _data()
    rec = _Record()
    clf = SequenceCNNClassifier(n_filters=(4, 4, 4), early_stopping=True,
                                validation_fraction=0.25, learning_rate_init=0.05,
                                max_iter=12, callbacks=[rec], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    scores = clf.validation_scores_
    best = int(np.argmax(scores))  # the first best epoch is the one kept
    assert best < len(scores) - 1, "the data must make an earlier epoch the best"
    # the buffers moved after the best epoch, so restoring only the weights shows
    assert any(not np.array_equal(rec.buffers[best][k], rec.buffers[-1][k])
               for k in rec.buffers[best])
    _assert_state(clf.network_, rec.params[best], rec.buffers[best])
    assert int(clf.network_.buffers["1.num_batches_tracked"]) == \
        int(rec.buffers[best]["1.num_batches_tracked"])


def test_early_stopping_callback_restores_the_buffers_too():
    X, y = _data()
    rec = _Record()
    stop = EarlyStopping(monitor="neg_log_loss", validation_data=_data(40, seed=1),
                         patience=100)
    clf = SequenceCNNClassifier(n_filters=(4, 4, 4), learning_rate_init=0.05, max_iter=10,
                                callbacks=[stop, rec], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    best = stop.best_epoch_ - 1  # epochs count from 1
    assert best < len(rec.params) - 1, "the data must make an earlier epoch the best"
    _assert_state(clf.network_, rec.params[best], rec.buffers[best])


def test_divergence_restores_the_running_statistics():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 6)).astype(np.float32)
    y = np.full((32, 1), 3e38, np.float32)  # the squared error overflows at the first batch
    net = nn.Sequential([nn.Dense(5), nn.BatchNorm1D(), nn.Dense(1)])
    net.build((6,), random_state=0)
    before = ({k: v.copy() for k, v in net.params.items()},
              {k: v.copy() for k, v in net.buffers.items()})
    trainer = nn.Trainer(net, nn.SquaredError(), nn.TrainConfig(batch_size=16, max_iter=3),
                         random_state=0)
    with pytest.raises(nn.DivergenceError, match="restored"):
        with np.errstate(over="ignore", invalid="ignore"):
            trainer.fit_epochs(X, y)
    # the diverging batch's forward pass had updated the running statistics
    _assert_state(net, *before)
    assert int(net.buffers["1.num_batches_tracked"]) == 0
