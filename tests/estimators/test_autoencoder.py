"""Autoencoders: exact gradients of the whole objective, quality on digits against PCA,
variable-length LSTM sequences, behaviour, bad input and pickling."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from fastnut import (Autoencoder, ContractiveAutoencoder, ConvAutoencoder,
                     DenoisingAutoencoder, LSTMAutoencoder, SparseAutoencoder, nn)
from fastnut.nn import ContractiveDense, SparsityPenalty
from tests._reference import autoencoder as ref
from tests._reference.gradcheck import numerical_gradient

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def _one_thread():
    # these networks are tiny: BLAS and OpenMP threads only add synchronisation,
    # which on a loaded machine costs up to 40x; the results do not depend on it
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _fit_quiet(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


# -- exact gradients of the whole objective (loss + penalties) -----------------------------

def _trainer_for(est, X):
    """The trainer a fit of ``est`` on ``X`` would train with (its loss and config)."""
    return nn.Trainer(est.network_, est._make_loss(), est._train_config(X.shape[0]),
                      random_state=np.random.RandomState(0))


def _check_objective_gradients(est, X, rtol=1e-5, atol=1e-8):
    """Fit one epoch in float64, then compare the trainer's gradients of
    loss + penalties with central differences of its value."""
    est.set_params(dtype=np.float64, max_iter=1, random_state=0)
    _fit_quiet(est, X)
    net = est.network_
    Xc = est._check_X(X, reset=False)
    trainer = _trainer_for(est, Xc)
    trainer.loss_and_grad(Xc, Xc)
    analytic = {k: g.copy() for k, g in net.grads.items()}
    objective = lambda: trainer.loss_and_grad(Xc, Xc)  # noqa: E731
    for name, p in net.params.items():
        num = numerical_gradient(objective, p)
        np.testing.assert_allclose(analytic[name], num, rtol=rtol, atol=atol, err_msg=name)
    return net


X_SMALL = np.random.default_rng(0).random((7, 5))


@pytest.mark.parametrize("est", [
    Autoencoder(3, encoder_layer_sizes=(4,), activation="tanh", alpha=0.3),
    Autoencoder(3, encoder_layer_sizes=(4, 3), activation="logistic", tied_weights=True),
    Autoencoder(2, encoder_layer_sizes=(4,), activation="tanh", out_activation="logistic",
                loss="binary_cross_entropy"),
    SparseAutoencoder(3, encoder_layer_sizes=(4,), activation="tanh", sparsity_target=0.2,
                      sparsity_weight=0.7),
    SparseAutoencoder(3, encoder_layer_sizes=(4,), code_activation="tanh", sparsity="l1",
                      sparsity_weight=0.7),
    ContractiveAutoencoder(3, contractive_weight=0.8),
    ContractiveAutoencoder(3, activation="tanh", code_activation="tanh", encoder_layer_sizes=(4, 3),
                           contractive_weight=0.8),
    ContractiveAutoencoder(3, activation="relu", code_activation="relu", encoder_layer_sizes=(4,),
                           contractive_weight=0.8, tied_weights=True),
    DenoisingAutoencoder(2, encoder_layer_sizes=(4,), noise_level=0.0, activation="tanh"),
], ids=lambda e: type(e).__name__)
def test_dense_objective_gradients_match_finite_differences(est):
    _check_objective_gradients(est, X_SMALL)


def test_penalties_are_part_of_the_training_objective():
    X = X_SMALL
    for est, layer_type in [(ContractiveAutoencoder(3, contractive_weight=0.8), ContractiveDense),
                            (SparseAutoencoder(3, encoder_layer_sizes=(), sparsity_weight=0.7),
                             SparsityPenalty)]:
        est.set_params(dtype=np.float64, max_iter=1, random_state=0)
        net = _fit_quiet(est, X).network_
        layer = next(l for l in net.layers if isinstance(l, layer_type))
        trainer = _trainer_for(est, X)
        value = trainer.loss_and_grad(X, X)
        assert layer.penalty > 0
        recon = 0.5 * np.mean(np.sum((net.forward(X) - X) ** 2, axis=1))
        np.testing.assert_allclose(value, recon + layer.penalty, rtol=1e-12)


def test_lstm_masked_objective_gradients_with_padding():
    X = np.random.default_rng(4).standard_normal((3, 5, 2))
    X[0, 3:] = np.nan
    X[2, 1:] = np.nan
    est = LSTMAutoencoder(3, decoder_hidden_size=2)
    _check_objective_gradients(est, X)


def test_conv_objective_gradients():
    X = np.random.default_rng(5).random((3, 16))
    _check_objective_gradients(ConvAutoencoder(2, filters=(2,), activation="tanh"), X)


# -- quality on digits ------------------------------------------------------------------------

def _knn_accuracy(Z, y):
    return cross_val_score(KNeighborsClassifier(5), Z, y, cv=3).mean()


def test_2d_codes_separate_digits_better_than_pca(digits):
    X, y = digits
    ae = Autoencoder(2, encoder_layer_sizes=(128, 64), learning_rate_init=3e-3, max_iter=50,
                     random_state=0)
    acc_ae = _knn_accuracy(_fit_quiet(ae, X).transform(X), y)
    acc_pca = _knn_accuracy(PCA(2).fit_transform(X), y)
    assert acc_ae > acc_pca + 0.1, (acc_ae, acc_pca)


def test_reconstruction_at_16_components_beats_pca_on_held_out_digits(digits):
    X, y = digits
    Xtr, Xte = train_test_split(X, test_size=0.3, random_state=0, stratify=y)
    ae = _fit_quiet(Autoencoder(16, encoder_layer_sizes=(128,), learning_rate_init=3e-3,
                                max_iter=60, random_state=0), Xtr)
    pca = PCA(16).fit(Xtr)
    err_ae = np.mean((ae.inverse_transform(ae.transform(Xte)) - Xte) ** 2)
    err_pca = np.mean((pca.inverse_transform(pca.transform(Xte)) - Xte) ** 2)
    assert err_ae < 0.9 * err_pca, (err_ae, err_pca)
    np.testing.assert_allclose(-ae.score(Xte), err_ae, rtol=1e-5)


@pytest.mark.parametrize("noise, level", [("gaussian", 0.3), ("masking", 0.3)])
def test_denoising_reconstructs_closer_to_clean(digits, noise, level):
    X, y = digits
    Xtr, Xte = train_test_split(X, test_size=0.3, random_state=0, stratify=y)
    dae = _fit_quiet(DenoisingAutoencoder(16, encoder_layer_sizes=(128,), noise=noise,
                                          noise_level=level, learning_rate_init=3e-3,
                                          max_iter=40, random_state=0), Xtr)
    rng = np.random.default_rng(0)
    if noise == "gaussian":
        noisy = Xte + level * rng.standard_normal(Xte.shape)
    else:
        noisy = Xte * (rng.random(Xte.shape) >= level)
    err_noisy = np.mean((noisy - Xte) ** 2)
    err_denoised = np.mean((dae.reconstruct(noisy) - Xte) ** 2)
    assert err_denoised < 0.6 * err_noisy, (err_denoised, err_noisy)


def test_score_samples_ranks_noise_images_below_digits(digits):
    X, y = digits
    Xtr, Xte = train_test_split(X, test_size=0.3, random_state=0, stratify=y)
    ae = _fit_quiet(Autoencoder(8, encoder_layer_sizes=(64,), learning_rate_init=3e-3,
                                max_iter=30, random_state=0), Xtr)
    outliers = np.random.default_rng(0).random((60, 64))
    scores = ae.score_samples(np.vstack([Xte, outliers]))
    is_digit = np.r_[np.ones(len(Xte)), np.zeros(len(outliers))]
    assert roc_auc_score(is_digit, scores) >= 0.95


def test_sparsity_penalty_lowers_mean_code_activation(digits):
    X = digits[0][:600]
    common = dict(encoder_layer_sizes=(64,), max_iter=15, learning_rate_init=3e-3,
                  random_state=0)
    sparse = _fit_quiet(SparseAutoencoder(32, sparsity_target=0.05, sparsity_weight=1.0,
                                          **common), X)
    plain = _fit_quiet(SparseAutoencoder(32, sparsity_weight=0.0, **common), X)
    m_sparse, m_plain = sparse.transform(X).mean(), plain.transform(X).mean()
    assert m_sparse < 0.15 < m_plain, (m_sparse, m_plain)


def test_contractive_penalty_shrinks_the_jacobian(digits):
    X = digits[0][:400]

    def jac_norm(est):
        layer = est.network_.layers[0]
        W, b = layer.params["weight"].astype(float), layer.params["bias"].astype(float)
        return ref.contractive_penalty(X[:20], W, b, "logistic", 1.0)

    common = dict(max_iter=20, learning_rate_init=3e-3, random_state=0)
    strong = _fit_quiet(ContractiveAutoencoder(16, contractive_weight=1.0, **common), X)
    none = _fit_quiet(ContractiveAutoencoder(16, contractive_weight=0.0, **common), X)
    assert jac_norm(strong) < 0.5 * jac_norm(none)


def test_conv_autoencoder_reconstructs_digits(digits):
    X = digits[0]
    cae = _fit_quiet(ConvAutoencoder(8, filters=(8,), batch_size=64, learning_rate_init=3e-3,
                                     max_iter=20, random_state=0), X)
    # far better than predicting the mean image
    assert -cae.score(X) < 0.5 * np.mean((X - X.mean(axis=0)) ** 2)
    img = cae.reconstruct(X[:5].reshape(5, 8, 8))
    assert img.shape == (5, 8, 8)
    np.testing.assert_allclose(img.reshape(5, 64), cae.reconstruct(X[:5]), rtol=1e-6)
    assert cae.transform(X[:5].reshape(5, 1, 8, 8)).shape == (5, 8)


# -- variable-length sequences -------------------------------------------------------------

def _waves(n, T, rng):
    t = np.arange(T) * 0.4
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    return np.stack([np.sin(t + phase), np.cos(0.5 * t + phase)], axis=2)


def test_lstm_padded_and_unpadded_inputs_agree():
    rng = np.random.default_rng(0)
    X = _waves(24, 10, rng)
    lengths = rng.integers(3, 11, 24)
    lengths[0] = 10
    Xpad = X.copy()
    for i, L in enumerate(lengths):
        Xpad[i, L:] = np.nan
    ae = _fit_quiet(LSTMAutoencoder(4, max_iter=5, dtype=np.float64, random_state=0), Xpad)
    codes = ae.transform(Xpad)
    scores = ae.score_samples(Xpad)
    for i in (1, 2, 3):
        alone = X[i:i + 1, :lengths[i]]  # the same sequence, unpadded
        np.testing.assert_allclose(ae.transform(alone), codes[i:i + 1], rtol=1e-10)
        np.testing.assert_allclose(ae.score_samples(alone), scores[i:i + 1], rtol=1e-10)


def test_lstm_training_ignores_padding():
    rng = np.random.default_rng(1)
    X = _waves(20, 8, rng)
    Xpad = np.concatenate([X, np.full((20, 3, 2), np.nan)], axis=1)
    kw = dict(max_iter=4, dtype=np.float64, random_state=0)
    a = _fit_quiet(LSTMAutoencoder(3, **kw), X)
    b = _fit_quiet(LSTMAutoencoder(3, **kw), Xpad)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(a.transform(X), b.transform(Xpad), rtol=1e-8, atol=1e-12)
    assert b.inverse_transform(b.transform(X[:2])).shape == (2, 11, 2)


def test_lstm_learns_and_flat_input_round_trips():
    rng = np.random.default_rng(2)
    X = _waves(64, 12, rng)
    ae = _fit_quiet(LSTMAutoencoder(6, learning_rate_init=2e-2, batch_size=16, max_iter=60,
                                    random_state=0), X)
    assert ae.loss_curve_[-1] < 0.1 * ae.loss_curve_[0]
    flat = _fit_quiet(LSTMAutoencoder(3, input_shape=(12, 2), max_iter=2, random_state=0),
                      X.reshape(64, 24))
    assert flat.inverse_transform(flat.transform(X.reshape(64, 24))).shape == (64, 24)
    assert flat.transform(X).shape == (64, 3)  # 3-D input with the fitted features


# -- behaviour --------------------------------------------------------------------------------

def test_transform_matches_a_numpy_forward_and_tied_decoder(digits):
    X = digits[0][:200]
    ae = _fit_quiet(Autoencoder(4, encoder_layer_sizes=(16,), activation="tanh",
                                tied_weights=True, max_iter=3, dtype=np.float64,
                                random_state=0), X)
    layers = ae.network_.layers
    W = [layers[0].params["weight"], layers[1].params["weight"]]
    b = [layers[0].params["bias"], layers[1].params["bias"]]
    codes = ref.dense_forward(X, W, b, ["tanh", "identity"])
    np.testing.assert_allclose(ae.transform(X), codes, rtol=1e-10)
    # decoder: transposed encoder weights, own biases
    assert sorted(ae.network_.params) == ["0.bias", "0.weight", "1.bias", "1.weight",
                                          "2.bias", "3.bias"]
    rec = ref.dense_forward(codes, [W[1].T, W[0].T],
                            [layers[2].params["bias"], layers[3].params["bias"]],
                            ["tanh", "identity"])
    np.testing.assert_allclose(ae.inverse_transform(codes), rec, rtol=1e-10)


def test_pipeline_and_grid_search(digits):
    X, y = digits
    X, y = X[:500], y[:500]
    pipe = make_pipeline(Autoencoder(16, encoder_layer_sizes=(64,), max_iter=20,
                                     learning_rate_init=3e-3, random_state=0),
                         LogisticRegression(max_iter=500))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert pipe.fit(X, y).score(X, y) > 0.85
        search = GridSearchCV(Autoencoder(encoder_layer_sizes=(32,), max_iter=20,
                                          learning_rate_init=3e-3, random_state=0),
                              {"n_components": [2, 8]}, cv=2).fit(X)
    assert search.best_params_ == {"n_components": 8}  # score = -reconstruction error


def test_fit_transform_partial_fit_warm_start_and_dtype(digits):
    X = digits[0][:300]
    ae = Autoencoder(4, encoder_layer_sizes=(16,), max_iter=5, random_state=0)
    Z = _fit_quiet(ae, X).transform(X)
    np.testing.assert_array_equal(ae.fit_transform(X), Z)
    assert Z.dtype == np.float32
    assert list(ae.get_feature_names_out()) == [f"autoencoder{i}" for i in range(4)]
    inc = Autoencoder(4, encoder_layer_sizes=(16,), random_state=0)
    for _ in range(5):
        inc.partial_fit(X)
    assert inc.n_iter_ == 5 and len(inc.loss_curve_) == 5
    assert inc.loss_curve_[-1] < inc.loss_curve_[0]
    warm = Autoencoder(4, encoder_layer_sizes=(16,), max_iter=3, warm_start=True, random_state=0)
    _fit_quiet(warm, X)
    first = warm.loss_curve_[-1]
    _fit_quiet(warm, X)
    assert warm.loss_curve_[-1] < first
    ae64 = _fit_quiet(Autoencoder(4, encoder_layer_sizes=(16,), max_iter=2, dtype="float64"), X)
    assert ae64.transform(X).dtype == np.float64 and ae64.score_samples(X).dtype == np.float64


def test_binary_cross_entropy_and_lbfgs(digits):
    X = digits[0][:300]
    ae = _fit_quiet(Autoencoder(8, encoder_layer_sizes=(32,), loss="binary_cross_entropy",
                                out_activation="logistic", max_iter=20, random_state=0), X)
    R = ae.reconstruct(X)
    assert R.min() >= 0 and R.max() <= 1
    lb = _fit_quiet(Autoencoder(8, encoder_layer_sizes=(32,), solver="lbfgs", max_iter=50,
                                random_state=0), X)
    assert -lb.score(X) < np.mean((X - X.mean(axis=0)) ** 2)


def test_early_stopping_and_verbose(digits, capsys):
    X = digits[0][:400]
    ae = _fit_quiet(Autoencoder(4, encoder_layer_sizes=(16,), early_stopping=True,
                                n_iter_no_change=2, max_iter=50, verbose=True,
                                random_state=0), X)
    out = capsys.readouterr().out
    assert "validation score" in out and len(ae.validation_scores_) == ae.n_iter_
    assert ae.best_validation_score_ == max(ae.validation_scores_)
    assert all(s < 0 for s in ae.validation_scores_)  # minus a reconstruction error


# -- bad input --------------------------------------------------------------------------------

def test_bad_input_messages(digits):
    X = digits[0][:50]
    ae = _fit_quiet(Autoencoder(2, encoder_layer_sizes=(8,), max_iter=2, random_state=0), X)
    with pytest.raises(ValueError, match="64 features"):
        ae.transform(X[:, :10])
    with pytest.raises(ValueError, match=r"codes of shape \(n, 2\)"):
        ae.inverse_transform(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        Autoencoder(max_iter=1).fit(np.where(X > 0.5, np.nan, X))
    with pytest.raises(ValueError, match=r"needs X in \[0, 1\]"):
        Autoencoder(loss="binary_cross_entropy", out_activation="logistic").fit(X * 3)
    with pytest.raises(ValueError, match="needs out_activation='logistic'"):
        Autoencoder(loss="binary_cross_entropy").fit(X)
    with pytest.raises(ValueError, match="tied_weights=True needs the mirrored decoder"):
        Autoencoder(tied_weights=True, decoder_layer_sizes=(4,)).fit(X)
    with pytest.raises(ValueError, match="code_activation='logistic'"):
        SparseAutoencoder(code_activation="relu").fit(X)
    with pytest.raises(ValueError, match="encoder_layer_sizes must be positive"):
        Autoencoder(encoder_layer_sizes=(0,)).fit(X)
    with pytest.raises(ValueError, match="not a square"):
        ConvAutoencoder().fit(np.zeros((4, 10)))
    with pytest.raises(ValueError, match="input_shape"):
        ConvAutoencoder(input_shape=(1, 3, 3)).fit(np.zeros((4, 10)))
    seq = np.random.default_rng(0).standard_normal((4, 6, 2))
    seq[1, 2] = np.nan  # NaN inside the valid steps, not padding
    with pytest.raises(ValueError, match="NaN inside its valid steps"):
        LSTMAutoencoder(max_iter=1).fit(seq)
    lstm = _fit_quiet(LSTMAutoencoder(2, max_iter=1), np.zeros((4, 6, 2)))
    with pytest.raises(ValueError, match=r"\(n, T, 2\)"):
        lstm.transform(np.zeros((4, 6, 3)))


def test_inputs_are_not_modified(digits):
    X = digits[0][:60].copy()
    X0 = X.copy()
    for est in (DenoisingAutoencoder(2, noise="masking", max_iter=2),
                SparseAutoencoder(2, max_iter=2), ContractiveAutoencoder(2, max_iter=2)):
        _fit_quiet(est, X)
        est.transform(X), est.score_samples(X), est.reconstruct(X)
        np.testing.assert_array_equal(X, X0)
    seq = np.random.default_rng(0).standard_normal((5, 4, 2))
    seq[0, 3] = np.nan
    seq0 = seq.copy()
    _fit_quiet(LSTMAutoencoder(2, max_iter=2), seq).score_samples(seq)
    np.testing.assert_array_equal(seq, seq0)


# -- persistence ------------------------------------------------------------------------------

@pytest.mark.parametrize("est, X", [
    (Autoencoder(3, encoder_layer_sizes=(8,), tied_weights=True), np.random.rand(40, 6)),
    (SparseAutoencoder(3, encoder_layer_sizes=(8,)), np.random.rand(40, 6)),
    (ContractiveAutoencoder(3), np.random.rand(40, 6)),
    (DenoisingAutoencoder(3, encoder_layer_sizes=(8,)), np.random.rand(40, 6)),
    (ConvAutoencoder(3, filters=(2,)), np.random.rand(20, 16)),
    (LSTMAutoencoder(3), np.random.rand(20, 5, 2)),
], ids=lambda v: type(v).__name__ if not isinstance(v, np.ndarray) else "")
def test_pickle_round_trip(est, X):
    est.set_params(max_iter=3, random_state=0)
    _fit_quiet(est, X)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))
    Z = est.transform(X[:3])
    np.testing.assert_array_equal(loaded.inverse_transform(Z), est.inverse_transform(Z))
    loaded.partial_fit(X)  # training continues after loading
    assert loaded.n_iter_ == est.n_iter_ + 1 or loaded.t_ > est.t_


def test_plots_show_originals_reconstructions_and_codes(digits):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fastnut.plotting import plot_codes, plot_reconstructions
    X, y = digits[0][:100], digits[1][:100]
    ae = _fit_quiet(Autoencoder(2, encoder_layer_sizes=(16,), max_iter=2, random_state=0), X)
    fig = plot_reconstructions(ae, X, n_images=5)
    axes = fig.axes
    assert len(axes) == 10
    np.testing.assert_allclose(axes[0].images[0].get_array(), X[0].reshape(8, 8))
    np.testing.assert_allclose(axes[5].images[0].get_array(),
                               ae.reconstruct(X[:1])[0].reshape(8, 8), atol=1e-6)
    ax = plot_codes(ae, X, y)
    assert len(ax.collections) == len(np.unique(y))
    np.testing.assert_allclose(ax.collections[0].get_offsets(), ae.transform(X)[y == 0])
    with pytest.raises(ValueError, match="2-D codes"):
        plot_codes(np.zeros((5, 1)))
    plt.close("all")


def test_concurrent_transform_and_score_match_serial(digits):
    from concurrent.futures import ThreadPoolExecutor
    X = digits[0]
    ae = _fit_quiet(DenoisingAutoencoder(8, encoder_layer_sizes=(32,), max_iter=2,
                                         random_state=0), X)
    chunks = [X[i::4] for i in range(4)]
    want = [(ae.transform(c), ae.score_samples(c)) for c in chunks]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda c: (ae.transform(c), ae.score_samples(c)), chunks * 3))
    for (z, s), (wz, ws) in zip(got, want * 3):
        np.testing.assert_array_equal(z, wz)
        np.testing.assert_array_equal(s, ws)


@pytest.mark.parametrize("cls, X", [
    (Autoencoder, np.random.default_rng(0).random((120, 10))),
    (LSTMAutoencoder, np.random.default_rng(0).random((40, 6, 2))),
])
def test_float32_agrees_with_float64(cls, X):
    kw = dict(n_components=3, max_iter=3, random_state=0)
    a32 = _fit_quiet(cls(dtype=np.float32, **kw), X)
    a64 = _fit_quiet(cls(dtype=np.float64, **kw), X)
    # same initial weights (drawn in float64, then cast) and the same batches
    np.testing.assert_allclose(a32.loss_curve_, a64.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(a32.transform(X), a64.transform(X), rtol=1e-3, atol=1e-4)
