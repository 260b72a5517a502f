"""Slow quality checks: the accuracies and ratios the README states, at full defaults.

Each test trains a model the way the README describes it, on the digits with
the README's split (X / 16, 70/30 stratified, ``random_state=0``), and checks
the figure the README gives, with a margin for the spread between BLAS
builds.  They take seconds to a minute each, so they are marked ``slow``:
``pytest -m slow`` runs them, and so does CI.
"""
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, test_size=0.3, stratify=y, random_state=0)


# at the defaults both stop at max_iter=200 before tol is met, and both warn
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_defaults_match_scikit_learn_on_digits(digits):
    from sklearn.neural_network import MLPClassifier as SkMLP

    from fastnut import MLPClassifier
    Xtr, Xte, ytr, yte = digits
    ours = MLPClassifier(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    theirs = SkMLP(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= 0.96
    assert abs(ours - theirs) <= 0.015, (ours, theirs)


def test_cnn_defaults_on_digits(digits):
    from fastnut import CNNClassifier
    Xtr, Xte, ytr, yte = digits
    # README: "about 0.99 with the defaults"
    assert CNNClassifier(input_shape=(1, 8, 8), random_state=0).fit(Xtr, ytr).score(Xte, yte) >= 0.98


def test_lstm_classifier_defaults_on_digit_rows(digits):
    from fastnut import RNNClassifier
    Xtr, Xte, ytr, yte = digits
    # README: "about 0.97", every image read as 8 steps of 8 pixels
    assert RNNClassifier(input_shape=(8, 8), random_state=0).fit(Xtr, ytr).score(Xte, yte) >= 0.95


def test_dbn_classifier_defaults_on_digits(digits):
    from fastnut import DBNClassifier
    Xtr, Xte, ytr, yte = digits
    # README: 0.974-0.980 test accuracy over five seeds
    assert DBNClassifier(random_state=0).fit(Xtr, ytr).score(Xte, yte) >= 0.965


def test_rbm_features_for_digit_classification(digits):
    """scikit-learn's example "RBM features for digit classification", with fastnut's RBM."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from fastnut import BernoulliRBM
    Xtr, Xte, ytr, yte = digits
    pipe = make_pipeline(
        BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=10, random_state=0),
        LogisticRegression(C=6000, solver="newton-cg", max_iter=1000))
    assert pipe.fit(Xtr, ytr).score(Xte, yte) >= 0.93


# the README's configurations: a fixed number of epochs, not convergence
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_autoencoder_beats_pca(digits):
    from sklearn.decomposition import PCA
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from fastnut import Autoencoder
    Xtr, Xte, ytr, yte = digits
    # 16 components: held-out reconstruction error about 0.8 times PCA's
    ae = Autoencoder(16, encoder_layer_sizes=(128,), learning_rate_init=3e-3, max_iter=60,
                     random_state=0).fit(Xtr)
    pca = PCA(16).fit(Xtr)
    err_pca = np.mean((pca.inverse_transform(pca.transform(Xte)) - Xte) ** 2)  # as score_samples
    assert -ae.score(Xte) / err_pca < 0.9
    # 2-D codes keep the classes apart better than PCA's 2-D projection
    ae2 = Autoencoder(2, encoder_layer_sizes=(128, 64), learning_rate_init=3e-3, max_iter=50,
                      random_state=0).fit(Xtr)
    knn = KNeighborsClassifier(5)
    ours = cross_val_score(knn, ae2.transform(Xte), yte, cv=3).mean()
    pca2 = cross_val_score(knn, PCA(2).fit(Xtr).transform(Xte), yte, cv=3).mean()
    assert ours > pca2 + 0.1, (ours, pca2)


def test_som_orders_colours():
    from fastnut import SelfOrganizingMap
    X = np.random.default_rng(0).random((3000, 3))
    som = SelfOrganizingMap(20, 20, topology="hexagonal", max_iter=20, random_state=0).fit(X)
    # neighbouring units hold similar colours: the best and second-best units
    # of almost every colour are neighbours (the tour shows 0.04)
    assert som.topographic_error(X) < 0.1
    # and the map fits the colours ever closer as the neighbourhood shrinks
    qe = np.asarray(som.quantization_errors_)
    assert np.all(np.diff(qe[2:]) < 0) and qe[-1] < 0.5 * qe.max()
