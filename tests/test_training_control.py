"""Training control shared by every gradient-trained estimator (the base and
the trainer): class weights, per-epoch history, learning-rate schedules,
callbacks, checkpoints and resume."""
import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from fastnut import (Autoencoder, CNNClassifier, CNNRegressor, ConvAutoencoder,
                     ContractiveAutoencoder, DBNClassifier, DenoisingAutoencoder,
                     LSTMAutoencoder, MLPClassifier, MLPRegressor, NeuralNetClassifier,
                     RNNClassifier, RNNRegressor, SparseAutoencoder, nn)
from fastnut.callbacks import Callback, CSVLogger, Checkpoint, EarlyStopping, ProgressBar
from fastnut.schedules import CosineAnnealing, ReduceLROnPlateau, StepDecay

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _imbalanced(n=120, d=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = np.where(X[:, 0] + 0.3 * rng.randn(n) > 0.8, 2, np.where(X[:, 1] > 0.5, 1, 0))
    return X, y


def _small(Est, **kw):
    base = dict(random_state=0, max_iter=5, dtype=np.float64)
    if Est is MLPClassifier:
        base.update(hidden_layer_sizes=(7,))
    elif Est is CNNClassifier:
        base.update(input_shape=(1, 2, 4), conv_layers=((2, 2),), hidden_layer_sizes=(5,))
    elif Est is RNNClassifier:
        base.update(hidden_size=4, input_shape=(4, 2), hidden_layer_sizes=())
    elif Est is DBNClassifier:
        base.update(hidden_layer_sizes=(6,), rbm_n_iter=1)
    base.update(kw)
    return Est(**base)


def _weights(est):
    return [v.copy() for v in est.network_.params.values()]


def _data_for(Est, X):
    return np.abs(X) / np.abs(X).max() if Est is DBNClassifier else X


CLASSIFIERS = [MLPClassifier, CNNClassifier, RNNClassifier, DBNClassifier]


# -- class_weight -------------------------------------------------------------------------
@pytest.mark.parametrize("Est", CLASSIFIERS)
def test_balanced_class_weight_equals_the_equivalent_sample_weight(Est):
    X, y = _imbalanced()
    X = _data_for(Est, X)
    a = _small(Est, class_weight="balanced").fit(X, y)
    b = _small(Est).fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(wa, wb)
    c = _small(Est).fit(X, y)
    assert not all(np.array_equal(wa, wc) for wa, wc in zip(_weights(a), _weights(c)))


def test_class_weight_dict_multiplies_sample_weight():
    X, y = _imbalanced()
    sw = np.random.RandomState(1).uniform(0.5, 2, len(y))
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a = _small(MLPClassifier, class_weight=cw).fit(X, y, sample_weight=sw)
    b = _small(MLPClassifier).fit(X, y, sample_weight=sw * np.array([cw[v] for v in y]))
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(wa, wb)


def test_class_weight_weights_the_early_stopping_score():
    X, y = _imbalanced(200)
    sw = compute_sample_weight("balanced", y)
    a = _small(MLPClassifier, class_weight="balanced", early_stopping=True,
               n_iter_no_change=3, max_iter=8).fit(X, y)
    b = _small(MLPClassifier, early_stopping=True, n_iter_no_change=3,
               max_iter=8).fit(X, y, sample_weight=sw)
    assert a.validation_scores_ == b.validation_scores_
    c = _small(MLPClassifier, early_stopping=True, n_iter_no_change=3, max_iter=8).fit(X, y)
    assert a.validation_scores_ != c.validation_scores_


def test_partial_fit_takes_a_class_weight_dict_not_balanced():
    X, y = _imbalanced()
    classes = np.unique(y)
    cw = dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y)))
    a = _small(MLPClassifier, class_weight=cw)
    b = _small(MLPClassifier)
    # the first batch lacks class 2: the dict still weighs by the full classes
    first = y != 2
    a.partial_fit(X[first], y[first], classes=classes)
    b.partial_fit(X[first], y[first], classes=classes,
                  sample_weight=np.array([cw[v] for v in y[first]]))
    a.partial_fit(X, y)
    b.partial_fit(X, y, sample_weight=np.array([cw[v] for v in y]))
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(wa, wb)
    with pytest.raises(ValueError, match="class_weight 'balanced' is not supported for "
                                         "partial_fit. In order to use 'balanced' weights, "
                                         r"use compute_class_weight\('balanced'"):
        _small(MLPClassifier, class_weight="balanced").partial_fit(X, y, classes=classes)


def test_class_weight_rejects_bad_values():
    X, y = _imbalanced()
    with pytest.raises(ValueError, match="class_weight"):
        _small(MLPClassifier, class_weight="uniform").fit(X, y)


# -- history_ -----------------------------------------------------------------------------


def _any(Est, **kw):
    """A tiny estimator of any network family and data for it."""
    rng = np.random.RandomState(0)
    X = rng.rand(40, 8)
    y = (X[:, 0] > 0.5).astype(int)
    base = dict(random_state=0, max_iter=4)
    if Est in CLASSIFIERS:
        return _small(Est, **kw), X, y
    if Est is MLPRegressor:
        base.update(hidden_layer_sizes=(5,))
    elif Est is CNNRegressor:
        base.update(input_shape=(1, 2, 4), conv_layers=((2, 2),), hidden_layer_sizes=())
    elif Est is RNNRegressor:
        base.update(hidden_size=3, input_shape=(4, 2), hidden_layer_sizes=())
    elif Est is ConvAutoencoder:
        base.update(n_components=2, input_shape=(1, 4, 2), filters=(2,), kernel_size=1)
    elif Est is LSTMAutoencoder:
        base.update(n_components=2, input_shape=(4, 2))
    else:
        base.update(n_components=2, encoder_layer_sizes=(4,))
    base.update(kw)
    return Est(**base), X, (X[:, 0] if Est in (MLPRegressor, CNNRegressor, RNNRegressor)
                           else None)


ALL = CLASSIFIERS + [MLPRegressor, CNNRegressor, RNNRegressor, Autoencoder, SparseAutoencoder,
                     ContractiveAutoencoder, DenoisingAutoencoder, ConvAutoencoder,
                     LSTMAutoencoder]


@pytest.mark.parametrize("Est", ALL)
def test_history_has_one_record_per_epoch(Est):
    est, X, y = _any(Est)
    est.fit(X, y)
    h = est.history_
    assert [r["epoch"] for r in h] == list(range(1, est.n_iter_ + 1))
    assert [r["loss"] for r in h] == est.loss_curve_
    assert all(r["validation_score"] is None and r["seconds"] >= 0 for r in h)
    assert all(r["learning_rate"] == est.learning_rate_init for r in h)
    # warm_start continues the history as it continues loss_curve_
    est.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert [r["epoch"] for r in est.history_] == list(range(1, len(est.loss_curve_) + 1))


def test_history_records_the_validation_score_and_sgd_rate():
    X, y = _imbalanced(200)
    est = _small(MLPClassifier, early_stopping=True, solver="sgd", learning_rate="invscaling",
                 learning_rate_init=0.1, n_iter_no_change=50, max_iter=4).fit(X, y)
    assert [r["validation_score"] for r in est.history_] == est.validation_scores_
    # invscaling: the rate of epoch k is set after epoch k-1 from the samples seen
    n_train = 180
    expected = [0.1] + [0.1 / (k * n_train + 1) ** 0.5 for k in range(1, 4)]
    np.testing.assert_allclose([r["learning_rate"] for r in est.history_], expected)
    lbfgs = _small(MLPClassifier, solver="lbfgs").fit(X, y)
    assert not hasattr(lbfgs, "history_")


# -- learning-rate schedules --------------------------------------------------------------
def _digits(n=300):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
def test_default_schedule_keeps_sklearn_learning_rate_exactly(learning_rate):
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier
    X, y = _digits()
    kw = dict(hidden_layer_sizes=(10,), solver="sgd", learning_rate=learning_rate,
              learning_rate_init=0.2, max_iter=12, n_iter_no_change=2, random_state=0)
    ours = MLPClassifier(dtype=np.float64, lr_schedule=None, **kw).fit(X, y)
    ref = SkMLPClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_, ref.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    plain = MLPClassifier(dtype=np.float64, **kw).fit(X, y)
    for a, b in zip(ours.coefs_, plain.coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_constant_schedule_equals_no_schedule(solver):
    X, y = _digits()
    kw = dict(hidden_layer_sizes=(10,), solver=solver, max_iter=4, random_state=0)
    a = MLPClassifier(learning_rate_init=0.05, **kw).fit(X, y)
    b = MLPClassifier(learning_rate_init=0.3, lr_schedule=lambda epoch: 0.05, **kw).fit(X, y)
    for wa, wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(wa, wb)
    assert [r["learning_rate"] for r in b.history_] == [0.05] * 4


def _rates(est):
    return [r["learning_rate"] for r in est.history_]


@pytest.mark.parametrize("Est", [MLPClassifier, CNNClassifier, RNNClassifier, DBNClassifier,
                                 MLPRegressor, Autoencoder, LSTMAutoencoder])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_schedules_give_the_documented_rate_per_epoch(Est, solver):
    est, X, y = _any(Est, solver=solver, max_iter=7, n_iter_no_change=100,
                     learning_rate_init=0.01, lr_schedule=StepDecay(step_size=3, gamma=0.5))
    est.fit(X, y)
    assert _rates(est) == [0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.0025]
    est.set_params(lr_schedule=CosineAnnealing(n_epochs=4, min_lr=0.001, warmup_epochs=2))
    est.set_params(warm_start=False).fit(X, y)
    expected = [0.005, 0.01] + [0.001 + 0.009 * (1 + np.cos(np.pi * e / 4)) / 2
                                for e in range(5)]
    np.testing.assert_allclose(_rates(est), expected, rtol=1e-12)
    est.set_params(lr_schedule=lambda epoch: 0.02 / (1 + epoch)).fit(X, y)
    np.testing.assert_allclose(_rates(est), [0.02 / (1 + e) for e in range(7)], rtol=1e-12)


def test_reduce_on_plateau_rule():
    losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8]
    history = [{"loss": v, "validation_score": None} for v in losses]
    s = ReduceLROnPlateau(factor=0.5, patience=2, threshold=0.0)
    rates = [s.learning_rate_at(e, 1.0, history) for e in range(len(losses))]
    # more than 2 stalled epochs (3, 4, 5 after the best at 1) -> halved from epoch 5
    assert rates == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    low = ReduceLROnPlateau(factor=0.5, patience=0, threshold=0.0, min_lr=0.3)
    assert low.learning_rate_at(10, 1.0, history) == 0.3
    with pytest.raises(ValueError, match="needs early_stopping=True"):
        ReduceLROnPlateau(monitor="validation_score").learning_rate_at(3, 1.0, history)


def test_reduce_on_plateau_on_the_validation_score():
    X, y = _imbalanced(200)
    s = ReduceLROnPlateau(monitor="validation_score", factor=0.5, patience=1)
    est = _small(MLPClassifier, early_stopping=True, n_iter_no_change=1000, max_iter=15,
                 learning_rate_init=0.01, lr_schedule=s).fit(X, y)
    h = est.history_
    assert _rates(est) == [s.learning_rate_at(e, 0.01, h) for e in range(len(h))]
    assert min(_rates(est)) < 0.01  # the score plateaued on this small set


def test_schedule_errors():
    X, y = _imbalanced()
    with pytest.raises(ValueError, match="lr_schedule replaces learning_rate's schedule"):
        _small(MLPClassifier, solver="sgd", learning_rate="adaptive",
               lr_schedule=StepDecay()).fit(X, y)
    with pytest.raises(ValueError, match="need solver='sgd' or 'adam'"):
        _small(MLPClassifier, solver="lbfgs", lr_schedule=StepDecay()).fit(X, y)
    with pytest.raises(ValueError, match="a learning rate is a positive finite number"):
        _small(MLPClassifier, lr_schedule=lambda e: 0.0).fit(X, y)
    with pytest.raises(ValueError, match="gamma"):
        StepDecay(gamma=-1).learning_rate_at(0, 0.1, [])


# -- callbacks ----------------------------------------------------------------------------
class StopAt(Callback):
    def __init__(self, epoch=3):
        self.epoch = epoch

    def on_train_begin(self, estimator):
        self.calls_ = ["begin"]

    def on_epoch_end(self, estimator, epoch, logs):
        self.calls_.append(epoch)
        assert logs == estimator.history_[-1]
        return epoch == self.epoch

    def on_train_end(self, estimator):
        self.calls_.append("end")


@pytest.mark.parametrize("Est", ALL)
def test_a_callback_that_stops_at_epoch_3_stops_there(Est):
    import warnings
    est, X, y = _any(Est, max_iter=10, callbacks=[StopAt(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stopped on purpose: no ConvergenceWarning
        est.fit(X, y)
    assert est.n_iter_ == 3 and len(est.history_) == 3 and len(est.loss_curve_) == 3
    assert est.callbacks[0].calls_ == ["begin", 1, 2, 3, "end"]


def test_callbacks_are_clone_and_pickle_safe():
    import pickle
    from sklearn.base import clone
    X, y = _imbalanced()
    est = _small(MLPClassifier, callbacks=[StopAt(2), EarlyStopping(patience=2)]).fit(X, y)
    fresh = clone(est)
    assert not hasattr(fresh.callbacks[0], "calls_")
    assert fresh.callbacks[1].get_params() == est.callbacks[1].get_params()
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    with pytest.raises(TypeError, match="callbacks takes objects with on_train_begin"):
        _small(MLPClassifier, callbacks=[print]).fit(X, y)


class Recorder(Callback):
    def on_train_begin(self, estimator):
        self.weights_ = {}

    def on_epoch_end(self, estimator, epoch, logs):
        self.weights_[epoch] = [w.copy() for w in estimator.coefs_]
        return False


def test_early_stopping_on_the_loss_restores_the_best_weights():
    X, y = _digits()
    rec, stop = Recorder(), EarlyStopping(patience=2, min_delta=0.0)
    # a large constant rate makes the loss bounce, so the last epoch is not the best
    est = MLPClassifier(hidden_layer_sizes=(10,), solver="sgd", learning_rate_init=2.0,
                        momentum=0.0, max_iter=40, n_iter_no_change=1000, random_state=0,
                        callbacks=[rec, stop]).fit(X, y)
    best = int(np.argmin(est.loss_curve_)) + 1
    assert stop.best_epoch_ == best and stop.best_score_ == min(est.loss_curve_)
    assert stop.stopped_epoch_ == est.n_iter_ < 40
    assert est.n_iter_ - best == 2  # patience epochs after the best
    for a, b in zip(est.coefs_, rec.weights_[best]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_on_a_scorer_of_a_held_out_set():
    from sklearn.metrics import balanced_accuracy_score
    X, y = _digits(400)
    val = (X[300:], y[300:])
    stop = EarlyStopping("balanced_accuracy", validation_data=val, patience=3)
    rec = Recorder()
    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=60, learning_rate_init=0.01,
                        n_iter_no_change=1000, random_state=0,
                        callbacks=[rec, stop]).fit(X[:300], y[:300])
    assert est.n_iter_ == stop.best_epoch_ + 3 < 60
    assert stop.best_score_ == balanced_accuracy_score(val[1], est.predict(val[0]))
    for a, b in zip(est.coefs_, rec.weights_[stop.best_epoch_]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="pass validation_data"):
        _small(MLPClassifier, callbacks=[EarlyStopping("accuracy")]).fit(X, y)


@pytest.mark.parametrize("fmt", ["pickle", "skops"])
def test_checkpoint_files_load_and_predict(tmp_path, fmt):
    import pickle
    import skops.io
    import fastnut
    X, y = _digits()
    path = str(tmp_path / "model-{epoch}.ckpt")
    ck = Checkpoint(path, monitor=None, every=2, format=fmt)
    kw = dict(hidden_layer_sizes=(10,), random_state=0, n_iter_no_change=1000)
    MLPClassifier(max_iter=6, callbacks=[ck], **kw).fit(X, y)
    assert [e for e, _ in ck.saved_] == [2, 4, 6]
    if fmt == "pickle":
        with open(ck.saved_[1][1], "rb") as f:
            loaded = pickle.load(f)
    else:
        loaded = skops.io.load(ck.saved_[1][1], trusted=fastnut.skops_trusted_types())
    four = MLPClassifier(max_iter=4, **kw).fit(X, y)  # the same first 4 epochs
    np.testing.assert_array_equal(loaded.predict_proba(X), four.predict_proba(X))
    assert loaded.n_iter_ == 4 and len(loaded.history_) == 4


def test_checkpoint_keeps_the_best_epoch(tmp_path):
    import pickle
    X, y = _digits()
    ck = Checkpoint(str(tmp_path / "best.pkl"))
    est = MLPClassifier(hidden_layer_sizes=(10,), solver="sgd", learning_rate_init=2.0,
                        momentum=0.0, max_iter=15, n_iter_no_change=1000, random_state=0,
                        callbacks=[ck]).fit(X, y)
    best = int(np.argmin(est.loss_curve_)) + 1
    assert ck.saved_[-1] == (best, str(tmp_path / "best.pkl"))
    with open(tmp_path / "best.pkl", "rb") as f:
        assert pickle.load(f).loss_curve_[-1] == min(est.loss_curve_)


@pytest.mark.parametrize("Est", [MLPClassifier, CNNClassifier, RNNRegressor, Autoencoder])
def test_resume_from_a_checkpoint_equals_one_run(tmp_path, Est):
    import pickle
    X_kw = dict(lr_schedule=CosineAnnealing(n_epochs=6, warmup_epochs=1),
                n_iter_no_change=1000)
    # partial_fit: N epochs = N/2, save, load, N/2 (shuffling included)
    one, X, y = _any(Est, **X_kw)
    half, _, _ = _any(Est, callbacks=[Checkpoint(str(tmp_path / "p.pkl"), monitor=None,
                                                 every=1)], **X_kw)
    kwargs = {"classes": np.unique(y)} if Est in CLASSIFIERS else {}
    for _ in range(6):
        one.partial_fit(X, y, **kwargs) if y is not None else one.partial_fit(X)
    for _ in range(3):
        half.partial_fit(X, y, **kwargs) if y is not None else half.partial_fit(X)
    with open(tmp_path / "p.pkl", "rb") as f:
        resumed = pickle.load(f)
    for _ in range(3):
        resumed.partial_fit(X, y) if y is not None else resumed.partial_fit(X)
    for a, b in zip(_weights(one), _weights(resumed)):
        np.testing.assert_array_equal(a, b)
    assert _rates(one) == _rates(resumed)
    # warm_start: fit(max_iter=N) = fit(max_iter=N/2), save, load, warm_start fit(N/2);
    # not for the MLP drop-ins, whose warm_start is scikit-learn's (a new optimizer,
    # the shuffling re-seeded: test_mlp_warm_start_is_sklearns); with shuffle=True
    # and noise layers in the test below
    if Est is MLPClassifier:
        return
    one, _, _ = _any(Est, max_iter=6, shuffle=False, **X_kw)
    one.fit(X, y)
    first, _, _ = _any(Est, max_iter=3, shuffle=False, callbacks=[
        Checkpoint(str(tmp_path / "w.pkl"), monitor=None, every=3)], **X_kw)
    first.fit(X, y)
    with open(tmp_path / "w.pkl", "rb") as f:
        resumed = pickle.load(f)
    resumed.set_params(warm_start=True, callbacks=None).fit(X, y)
    for a, b in zip(_weights(one), _weights(resumed)):
        np.testing.assert_array_equal(a, b)
    assert _rates(one) == _rates(resumed) and one.loss_curve_ == resumed.loss_curve_


def test_progress_bar_plain_text_and_csv_logger(tmp_path):
    import csv
    import io
    X, y = _imbalanced()
    out = io.StringIO()
    log = tmp_path / "h.csv"
    est = _small(MLPClassifier, early_stopping=True, n_iter_no_change=100, max_iter=3,
                 callbacks=[ProgressBar(use_tqdm=False, file=out), CSVLogger(str(log))])
    est.fit(X, y)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].startswith("MLPClassifier epoch 1: loss=")
    assert "validation_score=" in lines[0] and "lr=0.001" in lines[0]
    with open(log) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], est.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose([float(r["validation_score"]) for r in rows],
                               est.validation_scores_)
    # append=True continues the file across a warm start
    est.set_params(warm_start=True, callbacks=[CSVLogger(str(log), append=True)]).fit(X, y)
    with open(log) as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3, 4, 5, 6]


def test_progress_bar_uses_tqdm_when_installed():
    import io
    pytest.importorskip("tqdm")
    X, y = _imbalanced()
    out = io.StringIO()
    _small(MLPClassifier, max_iter=3, callbacks=[ProgressBar(file=out)]).fit(X, y)
    text = out.getvalue()
    assert "MLPClassifier" in text and "3/3" in text and "loss=" in text


def test_class_weight_on_multilabel_and_string_labels():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    Y = (X[:, :3] > 0.3).astype(int)
    a = _small(MLPClassifier, class_weight="balanced").fit(X, Y)
    b = _small(MLPClassifier).fit(X, Y, sample_weight=compute_sample_weight("balanced", Y))
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(wa, wb)
    y = np.array(["a", "b", "c"])[rng.randint(0, 3, 60)]
    c = _small(MLPClassifier, class_weight={"a": 2.0}).fit(X, y)
    d = _small(MLPClassifier).fit(X, y, sample_weight=np.where(y == "a", 2.0, 1.0))
    for wc, wd in zip(_weights(c), _weights(d)):
        np.testing.assert_array_equal(wc, wd)


def _resumable(Est, **kw):
    """A tiny estimator whose epochs draw from every random stream it has."""
    if Est is NeuralNetClassifier:
        # a Dropout layer: the module's noise stream has to continue too
        est = NeuralNetClassifier([nn.Dense(6, activation="relu"), nn.Dropout(0.3)],
                                  random_state=0, dtype=np.float64, **kw)
        X = np.random.RandomState(0).rand(40, 8)
        return est, X, (X[:, 0] > 0.5).astype(int)
    if Est is DenoisingAutoencoder:
        kw = dict(noise="masking", noise_level=0.3, **kw)
    return _any(Est, **kw)


def _load(path, fmt):
    import pickle
    import skops.io
    import fastnut
    if fmt == "skops":
        return skops.io.load(path, trusted=fastnut.skops_trusted_types())
    with open(path, "rb") as f:
        return pickle.load(f)


@pytest.mark.parametrize("fmt", ["pickle", "skops"])
@pytest.mark.parametrize("Est", [CNNClassifier, RNNRegressor, Autoencoder,
                                 DenoisingAutoencoder, DBNClassifier, NeuralNetClassifier])
def test_warm_start_resume_continues_the_shuffling_and_noise(tmp_path, Est, fmt, monkeypatch):
    # shuffle=True and mini-batches (the row order matters), noise layers drawing per
    # batch: fit(max_iter=6) = fit(max_iter=3), Checkpoint, load, warm_start fit(3 more)
    kw = dict(shuffle=True, batch_size=8, n_iter_no_change=1000)
    one, X, y = _resumable(Est, max_iter=6, **kw)
    one.fit(X, y)
    path = str(tmp_path / f"half.{fmt}")
    first, _, _ = _resumable(Est, max_iter=3, callbacks=[
        Checkpoint(path, monitor=None, every=3, format=fmt)], **kw)
    first.fit(X, y)
    resumed = _load(path, fmt)
    assert resumed.n_iter_ == 3
    resumed.set_params(warm_start=True, callbacks=None).fit(X, y)
    for a, b in zip(_weights(one), _weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    assert one.loss_curve_ == resumed.loss_curve_ and resumed.n_iter_ == 3
    # and in one process, without a file
    first.set_params(warm_start=True, callbacks=None).fit(X, y)
    for a, b in zip(_weights(one), _weights(first), strict=True):
        np.testing.assert_array_equal(a, b)
    # the test has teeth: scikit-learn's warm_start (a new optimizer, the shuffling
    # re-seeded from random_state: what the MLP drop-ins do) gives other weights,
    # and so does the optimizer continued but the row order restarted
    restarted = _load(path, fmt)
    restarted._progress.shuffle_order = None
    restarted.set_params(warm_start=True, callbacks=None).fit(X, y)
    assert any(not np.array_equal(a, b) for a, b in zip(_weights(one), _weights(restarted)))
    monkeypatch.setattr(type(one), "_SKLEARN_WARM_START", True)
    reseeded = _load(path, fmt)
    reseeded.set_params(warm_start=True, callbacks=None).fit(X, y)
    assert any(not np.array_equal(a, b) for a, b in zip(_weights(one), _weights(reseeded)))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_mlp_warm_start_is_sklearns(Est, solver):
    # the drop-ins keep scikit-learn's warm_start: each fit starts a new optimizer and
    # shuffles from random_state (exact resume is partial_fit, tested above)
    from sklearn import neural_network
    X, y = _digits()
    if Est is MLPRegressor:
        y = y / 10.0
    kw = dict(hidden_layer_sizes=(8,), random_state=0, max_iter=3, batch_size=50,
              warm_start=True, n_iter_no_change=1000, solver=solver)
    ours = Est(dtype=np.float64, **kw)
    ref = getattr(neural_network, Est.__name__)(**kw)
    for _ in range(3):
        ours.fit(X, y)
        ref.fit(X, y)
        for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-10)
        assert ours.n_iter_ == ref.n_iter_ and ours.t_ == ref.t_
