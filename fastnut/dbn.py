"""Deep belief networks and deep Boltzmann machines built on fastnut's RBMs.

``DeepBeliefNetwork`` (transformer, greedy layer-wise training, generative
sampling, optional up-down fine-tuning), ``DBNClassifier`` (greedy
pre-training, then supervised fine-tuning by the shared network engine) and
``DeepBoltzmannMachine`` (joint training with mean-field inference and
persistent Gibbs chains).  Layer weights are stored like ``fastnut.nn.Dense``:
``coefs_[i]`` has shape ``(n_in, n_out)``.
"""
import time
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import nn
from ._doc_link import DocLinkMixin
from ._state import AtomicState
from .nn import DivergenceError
from ._kernels import rbm as _k
from .nn._linalg import matmul
from ._network import CLASS_WEIGHT_CONSTRAINT, TRAIN_CONSTRAINTS, NetworkClassifier
from ._threads import map_row_chunks, threads_for
from ._validation import resolve_dtype
from .rbm import BernoulliRBM, _blas_limit, _clip_unit_interval, _seed_key

__all__ = ["DeepBeliefNetwork", "DBNClassifier", "DeepBoltzmannMachine"]


# -- shared helpers ---------------------------------------------------------------
def _check_unit_interval_X(est, X, reset, dtype):
    """Validated dense C-contiguous X in ``dtype``, clipped to [0, 1] on a copy if needed."""
    X = validate_data(est, X, accept_sparse="csr", dtype=dtype, order="C", reset=reset,
                      ensure_all_finite=False)   # checked with the range, in one pass
    if sp.issparse(X):
        X = np.ascontiguousarray(X.toarray())
    return _clip_unit_interval(X, type(est).__name__)


def _check_sizes(hidden_layer_sizes):
    sizes = [hidden_layer_sizes] if isinstance(hidden_layer_sizes, Integral) \
        else list(hidden_layer_sizes)
    if not sizes or any(not isinstance(s, Integral) or s < 1 for s in sizes):
        raise ValueError("hidden_layer_sizes must be a non-empty sequence of positive "
                         f"integers, got {hidden_layer_sizes!r}")
    return [int(s) for s in sizes]


def _propagate(H, W, b):
    """sigmoid(H @ W + b) with W of shape (n_in, n_out), through the fused kernel."""
    out = matmul(H, W)
    _k.layer_conditional(out, b, out, 0, False, 0, 0, threads_for(out.size, "rbm"))
    return out


def greedy_pretrain(X, sizes, *, learning_rate, batch_size, n_iter, k, method, momentum,
                    weight_decay, rng, verbose=0, input_scales=None):
    """Train a stack of BernoulliRBMs bottom-up, each on the previous layer's means.

    ``input_scales`` gives per layer the (hidden, visible) multipliers of the
    weight input (default all ``(1, 1)``; see ``DeepBoltzmannMachine``).
    Returns ``(coefs, hidden_biases, visible_biases)``: per layer the weights
    ``(n_in, n_out)`` (C-contiguous), the hidden and the visible biases.
    """
    coefs, hb, vb = [], [], []
    H = X
    for i, size in enumerate(sizes):
        rbm = BernoulliRBM(
            n_components=size, learning_rate=learning_rate, batch_size=batch_size,
            n_iter=n_iter, k=k, method=method, momentum=momentum, weight_decay=weight_decay,
            random_state=int(rng.randint(np.iinfo(np.int32).max)), dtype=X.dtype,
            verbose=verbose,
        )
        hs, vs = input_scales[i] if input_scales is not None else (1.0, 1.0)
        rbm._input_scales = (float(hs), float(vs))
        if verbose:
            print(f"[pre-training] layer {i + 1}/{len(sizes)}: {H.shape[1]} -> {size}")
        rbm.fit(H)
        W = np.ascontiguousarray(rbm.components_.T)
        coefs.append(W)
        hb.append(rbm.intercept_hidden_.copy())
        vb.append(rbm.intercept_visible_.copy())
        if i < len(sizes) - 1:
            H = _propagate(H, W if hs == 1 else W * W.dtype.type(hs), hb[-1])
    return coefs, hb, vb


class _Sampler:
    """Bernoulli sampling with the kernels' counter-based generator."""

    def __init__(self, key, stream=0):
        self.key = key
        self.stream = stream

    def bernoulli(self, A, b, sample=True):
        """A (pre-activations, owned) -> (probabilities, samples)."""
        S = np.empty_like(A) if sample else A
        self.stream = _k.layer_conditional(A, b, S, 0, sample, self.key, self.stream,
                                           threads_for(A.size, "rbm"))
        return A, S

    def sample_probabilities(self, P):
        """A Bernoulli sample of the probabilities P (P is not modified)."""
        U = np.empty_like(P)
        _k.random_uniform(U, self.key, self.stream, threads_for(U.size, "rbm"))
        self.stream += P.shape[0]
        return (U < P).astype(P.dtype)


_RBM_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "n_iter": [Interval(Integral, 0, None, closed="left")],
    "k": [Interval(Integral, 1, None, closed="left")],
    "method": [StrOptions({"pcd", "cd"})],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
    "dtype": "no_validation",  # checked by resolve_dtype at fit
}


# -- DeepBeliefNetwork -------------------------------------------------------------------
class DeepBeliefNetwork(DocLinkMixin, AtomicState, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                        BaseEstimator):
    """Deep belief network: stacked Bernoulli RBMs trained greedily, layer by layer.

    Each RBM is trained on the mean activations of the one below (Hinton,
    Osindero & Teh 2006).  ``transform`` propagates the mean activations up
    to the top layer; ``sample`` runs Gibbs sampling in the top RBM and a
    top-down pass through the generative weights.  ``fine_tune_iter > 0``
    then runs the up-down (contrastive wake-sleep) algorithm, which unties
    recognition and generative weights.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(256, 256)
        Width of each hidden layer, bottom to top.
    learning_rate : float, default=0.05
        Learning rate of the RBMs.
    batch_size : int, default=10
        Mini-batch rows of the RBMs (and of fine-tuning).
    n_iter : int, default=10
        Epochs of each RBM.
    k : int, default=1
        Gibbs steps of each RBM's negative phase.
    method : {"cd", "pcd"}, default="cd"
        Training of each RBM (CD-k is the usual choice for feature layers).
    momentum : float, default=0.5
        Momentum of the RBM updates.
    weight_decay : float, default=1e-4
        L2 penalty on the RBM weights.
    fine_tune_iter : int, default=0
        Epochs of up-down fine-tuning after greedy training (0: none).
    fine_tune_learning_rate : float, default=0.01
        Learning rate of the up-down fine-tuning.
    verbose : int, default=0
        Per-epoch lines of every RBM, and of fine-tuning.
    random_state : int, RandomState instance or None, default=None
        Seeds every layer and every sampling step.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Compute dtype.

    Attributes
    ----------
    coefs_ : list of ndarray of shape (n_in, n_out)
        Recognition (bottom-up) weights of each layer.
    intercepts_ : list of ndarray of shape (n_out,)
        Recognition biases (hidden biases of each RBM).
    generative_coefs_ : list of ndarray of shape (n_in, n_out)
        Generative (top-down) weights of the layers below the top RBM (equal
        to ``coefs_`` until fine-tuning unties them).
    generative_intercepts_ : list of ndarray of shape (n_in,)
        Generative biases of each layer's lower units (the RBMs' visible
        biases); the last one is the top RBM's visible bias.
    loss_curve_ : list of float
        Mean squared error of the bottom-layer up-down reconstruction of up
        to 1000 training rows, after greedy training and after each
        fine-tuning epoch.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Notes
    -----
    The top two layers form an undirected RBM; the layers below are a
    directed sigmoid belief net with :math:`P(h^{l-1} = 1 | h^l) =
    \\sigma(h^l G_l^T + g_{l-1})`.  Up-down fine-tuning, per batch: an up
    pass samples states with the recognition weights ``R``, the top RBM takes
    a CD-k step from the penultimate state, a down pass samples states with
    the generative weights ``G`` from the top RBM's negative sample, and

    .. math::

        \\Delta G_l = \\eta\\, (h^{l-1}_{up} - \\hat h^{l-1}_{up})^T h^l_{up},
        \\qquad
        \\Delta R_l = \\eta\\, (h^{l-1}_{down})^T (h^l_{down} - \\hat h^l_{down})

    where hats are the probabilities predicted from the adjacent layer.
    Inputs are probabilities in [0, 1]: values outside are clipped (on a
    copy).

    References
    ----------
    Hinton, G. E., Osindero, S. & Teh, Y. (2006). A fast learning algorithm
    for deep belief nets. Neural Computation 18(7).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import DeepBeliefNetwork
    >>> X = load_digits().data[:200] / 16
    >>> dbn = DeepBeliefNetwork(hidden_layer_sizes=(32, 16), n_iter=2, random_state=0)
    >>> dbn.fit_transform(X).shape
    (200, 16)
    """

    _parameter_constraints = {
        **_RBM_CONSTRAINTS,
        "fine_tune_iter": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_learning_rate": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, hidden_layer_sizes=(256, 256), *, learning_rate=0.05, batch_size=10,
                 n_iter=10, k=1, method="cd", momentum=0.5, weight_decay=1e-4,
                 fine_tune_iter=0, fine_tune_learning_rate=0.01, verbose=0,
                 random_state=None, dtype=np.float32):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.k = k
        self.method = method
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.fine_tune_iter = fine_tune_iter
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.verbose = verbose
        self.random_state = random_state
        self.dtype = dtype

    @property
    def _n_features_out(self):
        return self.coefs_[-1].shape[1]

    def _check_X(self, X, reset):
        dtype = resolve_dtype(self.dtype) if reset else self.coefs_[0].dtype
        return _check_unit_interval_X(self, X, reset, dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Greedy layer-wise training, then optional up-down fine-tuning.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, values in [0, 1].
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        sizes = _check_sizes(self.hidden_layer_sizes)
        X = self._check_X(X, reset=True)
        rng = check_random_state(self.random_state)
        self.coefs_, self.intercepts_, self.generative_intercepts_ = greedy_pretrain(
            X, sizes, learning_rate=self.learning_rate, batch_size=self.batch_size,
            n_iter=self.n_iter, k=self.k, method=self.method, momentum=self.momentum,
            weight_decay=self.weight_decay, rng=rng, verbose=self.verbose)
        self.generative_coefs_ = [W.copy() for W in self.coefs_[:-1]]
        self._rng_key = _seed_key(rng)
        self._rng_stream = 0
        monitor = np.ascontiguousarray(X[:: max(1, X.shape[0] // 1000)][:1000])
        self.loss_curve_ = [self._reconstruction_error(monitor)]
        if self.fine_tune_iter:
            with _blas_limit(self.batch_size):
                self._up_down(X, monitor)
        return self

    def _up_down(self, X, monitor):
        """Up-down (contrastive wake-sleep) fine-tuning, mini-batch by mini-batch."""
        lr = self.fine_tune_learning_rate
        R, r = self.coefs_, self.intercepts_
        G, g = self.generative_coefs_, self.generative_intercepts_
        L = len(R)
        sampler = _Sampler(self._rng_key, self._rng_stream)
        n = X.shape[0]
        bs = self.batch_size
        for epoch in range(self.fine_tune_iter):
            t0 = time.time()
            for s in range(0, n, bs):
                v = X[s:s + bs]
                B = v.shape[0]
                # up pass (recognition weights), sampled states
                wake = [v]
                for i in range(L - 1):
                    wake.append(sampler.bernoulli(matmul(wake[-1], R[i]), r[i])[1])
                pen = wake[-1]
                # top RBM: CD-k from the penultimate state
                top_pos, h = sampler.bernoulli(matmul(pen, R[-1]), r[-1])
                for _ in range(self.k):
                    neg_pen = sampler.bernoulli(matmul(h, R[-1].T), g[-1])[1]
                    top_neg, h = sampler.bernoulli(matmul(neg_pen, R[-1]), r[-1])
                # down pass (generative weights) from the top RBM's negative sample
                sleep = [neg_pen]
                for i in reversed(range(L - 1)):
                    sleep.append(sampler.bernoulli(matmul(sleep[-1], G[i].T), g[i])[1])
                sleep = sleep[::-1]          # bottom-up order, sleep[L - 1] = neg_pen
                for i in range(L - 1):
                    # generative weights learn to reconstruct the wake states
                    err = wake[i] - sampler.bernoulli(matmul(wake[i + 1], G[i].T), g[i], False)[0]
                    G[i] += (lr / B) * matmul(err.T, wake[i + 1])
                    g[i] += (lr / B) * err.sum(0)
                    # recognition weights learn to invert the generative model
                    err = sleep[i + 1] - sampler.bernoulli(matmul(sleep[i], R[i]), r[i], False)[0]
                    R[i] += (lr / B) * matmul(sleep[i].T, err)
                    r[i] += (lr / B) * err.sum(0)
                R[-1] += (lr / B) * (matmul(pen.T, top_pos) - matmul(neg_pen.T, top_neg))
                r[-1] += (lr / B) * (top_pos.sum(0) - top_neg.sum(0))
                g[-1] += (lr / B) * (pen.sum(0) - neg_pen.sum(0))
            if not all(np.isfinite(W).all() for W in R + G):
                raise DivergenceError("up-down fine-tuning diverged; lower "
                                         "fine_tune_learning_rate")
            self.loss_curve_.append(self._reconstruction_error(monitor))
            if self.verbose:
                print(f"[DeepBeliefNetwork] up-down epoch {epoch + 1}, reconstruction error = "
                      f"{self.loss_curve_[-1]:.4f}, time = {time.time() - t0:.2f}s")
        self._rng_stream = sampler.stream

    def _reconstruction_error(self, X):
        """Squared error of an up pass to the top and a mean-field down pass."""
        H = X
        for W, b in zip(self.coefs_, self.intercepts_):
            H = _propagate(H, W, b)
        L = len(self.coefs_)
        V = H
        for i in reversed(range(L)):
            W = self.coefs_[-1] if i == L - 1 else self.generative_coefs_[i]
            A = matmul(V, W.T)
            _k.layer_conditional(A, self.generative_intercepts_[i], A, 0, False, 0, 0,
                                 threads_for(A.size, "rbm"))
            V = A
        return float(((V - X) ** 2).sum() / max(X.shape[0], 1))

    def transform(self, X):
        """Mean activations of the top hidden layer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        H : ndarray of shape (n_samples, hidden_layer_sizes[-1])
            The top layer's activation probabilities.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        out = np.empty((X.shape[0], self.coefs_[-1].shape[1]), dtype=self.coefs_[-1].dtype)

        def chunk(a, c):  # the whole up pass of a row chunk, on one thread
            H = X[a:c]
            for W, b in zip(self.coefs_, self.intercepts_):
                H = _propagate(H, W, b)
            out[a:c] = H
        map_row_chunks(chunk, X.shape[0])
        return out

    def inverse_transform(self, X):
        """Mean-field top-down pass from top-layer activations to the visible units.

        Parameters
        ----------
        X : array-like of shape (n_samples, hidden_layer_sizes[-1])
            Top-layer activations (e.g. from ``transform``).

        Returns
        -------
        V : ndarray of shape (n_samples, n_features)
            The visible units' probabilities.
        """
        check_is_fitted(self)
        V = np.ascontiguousarray(X, dtype=self.coefs_[0].dtype)
        if V.ndim != 2 or V.shape[1] != self.coefs_[-1].shape[1]:
            raise ValueError(f"inverse_transform expects shape (n_samples, "
                             f"{self.coefs_[-1].shape[1]}), got {np.shape(X)}")
        L = len(self.coefs_)
        for i in reversed(range(L)):
            W = self.coefs_[-1] if i == L - 1 else self.generative_coefs_[i]
            A = matmul(V, W.T)
            _k.layer_conditional(A, self.generative_intercepts_[i], A, 0, False, 0, 0,
                                 threads_for(A.size, "rbm"))
            V = A
        return V

    def sample(self, n_samples=1, n_steps=1000, random_state=None):
        """Generate visible vectors: Gibbs sampling in the top RBM, then a top-down pass.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples (independent chains).
        n_steps : int, default=1000
            Gibbs steps in the top RBM.
        random_state : int, RandomState instance or None, default=None
            Seed; None continues the estimator's own random sequence.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Binary samples of the visible units.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        if not isinstance(n_steps, Integral) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
        if random_state is None:
            sampler = _Sampler(self._rng_key, self._rng_stream)
        else:
            sampler = _Sampler(_seed_key(check_random_state(random_state)))
        W, bh, bv = self.coefs_[-1], self.intercepts_[-1], self.generative_intercepts_[-1]
        dtype = W.dtype
        V = sampler.bernoulli(np.zeros((n_samples, W.shape[0]), dtype), bv)[1]
        H = np.empty((n_samples, W.shape[1]), dtype)
        P = np.empty_like(V)
        sampler.stream = _k.gibbs_chain(V, W, bh, bv, H, P, int(n_steps), 0, sampler.key,
                                        sampler.stream,
                                        threads_for(n_samples * max(W.shape), "rbm"))
        for i in reversed(range(len(self.coefs_) - 1)):
            V = sampler.bernoulli(matmul(V, self.generative_coefs_[i].T),
                                  self.generative_intercepts_[i])[1]
        if random_state is None:
            self._rng_stream = sampler.stream
        return V

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = [np.dtype(self.dtype).name] \
            if self.dtype in (np.float32, np.float64, "float32", "float64") else []
        return tags


# -- DeepBoltzmannMachine ------------------------------------------------------------------
class DeepBoltzmannMachine(DocLinkMixin, AtomicState, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                           BaseEstimator):
    """Deep Boltzmann machine: binary hidden layers trained jointly.

    Every layer is undirected, so the posterior over hidden layers has no
    closed form: the data-dependent statistics come from mean-field
    inference, the model's from persistent Gibbs chains (Salakhutdinov &
    Hinton 2009).  The weights may first be initialised by greedy RBM
    pre-training.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(256, 128)
        Width of each hidden layer (two or more for a deep model).
    learning_rate : float, default=0.01
        Learning rate of the joint training.
    batch_size : int, default=100
        Mini-batch rows.
    n_iter : int, default=10
        Epochs of joint training.
    n_mean_field : int, default=10
        Mean-field fixed-point iterations per batch.
    n_gibbs_steps : int, default=1
        Gibbs sweeps of the persistent chains per batch.
    n_chains : int, default=100
        Number of persistent chains.
    momentum : float, default=0.5
        Momentum of the updates.
    weight_decay : float, default=1e-4
        L2 penalty on the weights.
    pretrain : bool, default=True
        Initialise the weights by greedy RBM training (CD-1), with the
        doubled inputs of Salakhutdinov & Hinton (2009): the first RBM
        doubles its bottom-up input, the top one its top-down input, the
        middle ones both, so the stack needs no rescaling to become a DBM.
    pretrain_iter : int, default=10
        Epochs of each pre-training RBM.
    pretrain_learning_rate : float, default=0.05
        Learning rate of the pre-training RBMs.
    verbose : int, default=0
        One line per epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and sampling.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Compute dtype.

    Attributes
    ----------
    coefs_ : list of ndarray of shape (n_in, n_out)
        Weights between consecutive layers.
    intercepts_ : list of ndarray of shape (n_out,)
        Biases of the hidden layers.
    intercept_visible_ : ndarray of shape (n_features,)
        Biases of the visible units.
    chains_ : list of ndarray of shape (n_chains, n_units)
        States of the persistent chains, visible layer first.
    loss_curve_ : list of float
        Per epoch, the squared error of the visible units' mean-field
        reconstruction from the first hidden layer's posterior (up to 1000
        training rows).
    n_iter_ : int
        Epochs of joint training run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Notes
    -----
    The energy is :math:`E = -\\sum_l (h^{l-1})^T W_l h^l - \\sum_l b_l^T h^l`
    with :math:`h^0 = v`.  Mean field iterates
    :math:`\\mu_l \\leftarrow \\sigma(\\mu_{l-1} W_l + \\mu_{l+1} W_{l+1}^T + b_l)`
    from a bottom-up pass; the chains alternate odd and even layers.  With
    :math:`x` the chain states:

    .. math::

        \\Delta W_l = \\eta \\left(\\tfrac1B \\mu_{l-1}^T \\mu_l
        - \\tfrac1C x_{l-1}^T x_l - \\lambda W_l\\right)

    Inputs are probabilities in [0, 1]: values outside are clipped (on a
    copy).

    References
    ----------
    Salakhutdinov, R. & Hinton, G. E. (2009). Deep Boltzmann machines.
    AISTATS.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import DeepBoltzmannMachine
    >>> X = load_digits().data[:200] / 16
    >>> dbm = DeepBoltzmannMachine((32, 16), n_iter=2, pretrain_iter=2, random_state=0)
    >>> dbm.fit_transform(X).shape
    (200, 16)
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "n_mean_field": [Interval(Integral, 1, None, closed="left")],
        "n_gibbs_steps": [Interval(Integral, 1, None, closed="left")],
        "n_chains": [Interval(Integral, 1, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "pretrain": ["boolean"],
        "pretrain_iter": [Interval(Integral, 0, None, closed="left")],
        "pretrain_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "dtype": "no_validation",  # checked by resolve_dtype at fit
    }

    def __init__(self, hidden_layer_sizes=(256, 128), *, learning_rate=0.01, batch_size=100,
                 n_iter=10, n_mean_field=10, n_gibbs_steps=1, n_chains=100, momentum=0.5,
                 weight_decay=1e-4, pretrain=True, pretrain_iter=10,
                 pretrain_learning_rate=0.05, verbose=0, random_state=None, dtype=np.float32):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.n_mean_field = n_mean_field
        self.n_gibbs_steps = n_gibbs_steps
        self.n_chains = n_chains
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.pretrain = pretrain
        self.pretrain_iter = pretrain_iter
        self.pretrain_learning_rate = pretrain_learning_rate
        self.verbose = verbose
        self.random_state = random_state
        self.dtype = dtype

    @property
    def _n_features_out(self):
        return self.coefs_[-1].shape[1]

    def _check_X(self, X, reset):
        dtype = resolve_dtype(self.dtype) if reset else self.coefs_[0].dtype
        return _check_unit_interval_X(self, X, reset, dtype)

    # -- inference ----------------------------------------------------------
    def _layer_input(self, states, l):
        """Pre-activation (without bias) of layer l given its neighbours' states."""
        W = self.coefs_
        if l == 0:
            return matmul(states[1], W[0].T)
        A = matmul(states[l - 1], W[l - 1])
        if l < len(W):
            A += matmul(states[l + 1], W[l].T)
        return A

    def _bias(self, l):
        return self.intercept_visible_ if l == 0 else self.intercepts_[l - 1]

    def _mean_field(self, V):
        """Mean-field posteriors [V, mu_1, ..., mu_L] of the hidden layers given V."""
        # start from a bottom-up pass with doubled weights below the top layer,
        # standing in for the missing top-down input
        mu = [V]
        L = len(self.coefs_)
        for l, (W, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            mu.append(_propagate(mu[-1], W * W.dtype.type(2) if l < L - 1 else W, b))
        nt = threads_for(V.shape[0] * max(W.shape[1] for W in self.coefs_), "rbm")
        for _ in range(self.n_mean_field):
            for l in range(1, len(mu)):
                A = self._layer_input(mu, l)
                _k.layer_conditional(A, self._bias(l), A, 0, False, 0, 0, nt)
                mu[l] = A
        return mu

    def _gibbs_sweep(self, sampler):
        """Odd layers given even ones, then even layers given odd ones."""
        x = self.chains_
        L = len(x)
        for parity in (1, 0):
            for l in range(parity, L, 2):
                x[l] = sampler.bernoulli(self._layer_input(x, l), self._bias(l))[1]

    def _reconstruction_error(self, X):
        if X.shape[0] == 0:
            return 0.0
        mu = self._mean_field(X)
        A = matmul(mu[1], self.coefs_[0].T)
        _k.layer_conditional(A, self.intercept_visible_, A, 0, False, 0, 0,
                             threads_for(A.size, "rbm"))
        return float(((A - X) ** 2).sum() / X.shape[0])

    # -- training ---------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pre-train (optional), then train all layers jointly.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, values in [0, 1].
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        sizes = _check_sizes(self.hidden_layer_sizes)
        X = self._check_X(X, reset=True)
        dtype = X.dtype
        rng = check_random_state(self.random_state)
        widths = [X.shape[1]] + sizes
        if self.pretrain and self.pretrain_iter > 0:
            # the RBMs see the weight input the DBM layers will get from both
            # neighbours: doubled bottom-up into every layer but the top, doubled
            # top-down into every layer but the visible one
            L = len(sizes)
            scales = [(2.0 if i < L - 1 else 1.0, 2.0 if i > 0 else 1.0) for i in range(L)]
            coefs, hb, vb = greedy_pretrain(
                X, sizes, learning_rate=self.pretrain_learning_rate, batch_size=10,
                n_iter=self.pretrain_iter, k=1, method="cd", momentum=0.5, weight_decay=1e-4,
                rng=rng, verbose=self.verbose, input_scales=scales)
            self.coefs_, self.intercepts_, self.intercept_visible_ = coefs, hb, vb[0]
        else:
            self.coefs_ = [np.ascontiguousarray(rng.normal(0, 0.01, (a, b)), dtype=dtype)
                           for a, b in zip(widths[:-1], widths[1:])]
            self.intercepts_ = [np.zeros(b, dtype=dtype) for b in sizes]
            self.intercept_visible_ = np.zeros(widths[0], dtype=dtype)
        sampler = _Sampler(_seed_key(rng))
        # chains start from the data's mean-field states, sampled
        start = X[rng.randint(X.shape[0], size=self.n_chains)]
        self.chains_ = [np.ascontiguousarray(start)]
        for m in self._mean_field(np.ascontiguousarray(start))[1:]:
            self.chains_.append(sampler.sample_probabilities(m))
        vel_W = [np.zeros_like(W) for W in self.coefs_]
        vel_b = [np.zeros_like(self.intercept_visible_)] + [np.zeros_like(b)
                                                             for b in self.intercepts_]
        monitor = np.ascontiguousarray(X[:: max(1, X.shape[0] // 1000)][:1000])
        self.loss_curve_ = []
        self.n_iter_ = 0
        bs = self.batch_size
        with _blas_limit(bs):
            self._train(X, sampler, vel_W, vel_b, monitor)
        self._rng_key, self._rng_stream = sampler.key, sampler.stream
        return self

    def _train(self, X, sampler, vel_W, vel_b, monitor):
        lr, mom, wd = self.learning_rate, self.momentum, self.weight_decay
        n, bs, C = X.shape[0], self.batch_size, self.n_chains
        for epoch in range(self.n_iter):
            t0 = time.time()
            for s in range(0, n, bs):
                mu = self._mean_field(X[s:s + bs])
                B = mu[0].shape[0]
                for _ in range(self.n_gibbs_steps):
                    self._gibbs_sweep(sampler)
                x = self.chains_
                for l, W in enumerate(self.coefs_):
                    g = matmul(mu[l].T, mu[l + 1]) / B - matmul(x[l].T, x[l + 1]) / C - wd * W
                    vel_W[l] *= mom
                    vel_W[l] += lr * g
                    W += vel_W[l]
                for l in range(len(mu)):
                    vel_b[l] *= mom
                    vel_b[l] += lr * (mu[l].mean(0) - x[l].mean(0))
                    self._bias(l)[...] += vel_b[l]
            loss = self._reconstruction_error(monitor)
            if not (np.isfinite(loss) and all(np.isfinite(W).all() for W in self.coefs_)):
                raise DivergenceError("DeepBoltzmannMachine diverged; lower learning_rate "
                                         f"(now {self.learning_rate})")
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            if self.verbose:
                print(f"[DeepBoltzmannMachine] Iteration {self.n_iter_}, reconstruction "
                      f"error = {loss:.4f}, time = {time.time() - t0:.2f}s")

    def transform(self, X):
        """Mean-field posterior of the top hidden layer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        H : ndarray of shape (n_samples, hidden_layer_sizes[-1])
            The top layer's activation probabilities.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        out = np.empty((X.shape[0], self.coefs_[-1].shape[1]), dtype=self.coefs_[-1].dtype)

        def chunk(a, c):  # rows are independent under mean field: one chunk per thread
            out[a:c] = self._mean_field(X[a:c])[-1]
        map_row_chunks(chunk, X.shape[0])
        return out

    def posteriors(self, X):
        """Mean-field posteriors of every hidden layer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        posteriors : list of ndarray of shape (n_samples, n_units)
            One per hidden layer, bottom first.
        """
        check_is_fitted(self)
        return self._mean_field(self._check_X(X, reset=False))[1:]

    def sample(self, n_samples=1, n_steps=1000, random_state=None):
        """Generate visible vectors by Gibbs sampling of the whole model.

        Parameters
        ----------
        n_samples : int, default=1
            Number of vectors, one independent Gibbs chain each.
        n_steps : int, default=1000
            Gibbs sweeps (odd layers, then even layers).
        random_state : int, RandomState instance or None, default=None
            Seed; None continues the estimator's own random sequence.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Binary samples of the visible units.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        if not isinstance(n_steps, Integral) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
        if random_state is None:
            sampler = _Sampler(self._rng_key, self._rng_stream)
        else:
            sampler = _Sampler(_seed_key(check_random_state(random_state)))
        dtype = self.coefs_[0].dtype
        saved = self.chains_
        widths = [self.coefs_[0].shape[0]] + [W.shape[1] for W in self.coefs_]
        self.chains_ = [np.zeros((n_samples, w), dtype) for w in widths]
        try:
            for _ in range(n_steps):
                self._gibbs_sweep(sampler)
            V = self.chains_[0]
        finally:
            self.chains_ = saved
        if random_state is None:
            self._rng_stream = sampler.stream
        return V

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = [np.dtype(self.dtype).name] \
            if self.dtype in (np.float32, np.float64, "float32", "float64") else []
        return tags


# -- DBNClassifier -------------------------------------------------------------------------
_TRAIN_PARAMS = ("solver", "alpha", "batch_size", "learning_rate_init", "max_iter", "shuffle",
                 "random_state", "tol", "verbose", "warm_start", "early_stopping",
                 "validation_fraction", "n_iter_no_change", "momentum", "nesterovs_momentum",
                 "beta_1", "beta_2", "epsilon", "max_fun", "dtype",
                 "lr_schedule", "callbacks")


class DBNClassifier(NetworkClassifier):
    """Deep belief network classifier: greedy RBM pre-training, then backprop fine-tuning.

    The hidden layers are first trained without labels as a stack of
    Bernoulli RBMs; their weights initialise a logistic multilayer
    perceptron, which the shared network engine then fine-tunes on the
    labels (softmax output, log-loss).

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(256,)
        Width of each hidden layer.
    rbm_learning_rate : float, default=0.06
        Learning rate of the pre-training RBMs.
    rbm_n_iter : int, default=20
        Epochs of each pre-training RBM (0: no pre-training, a plain
        logistic MLP).
    rbm_batch_size : int, default=10
        Mini-batch rows of the pre-training RBMs.
    rbm_k : int, default=1
        Gibbs steps of the RBMs' negative phase.
    rbm_method : {"cd", "pcd"}, default="cd"
        RBM training method.
    rbm_momentum : float, default=0.5
        Momentum of the RBM updates.
    rbm_weight_decay : float, default=1e-4
        L2 penalty of the RBM weights.
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Fine-tuning optimizer.
    alpha : float, default=1e-4
        L2 penalty of the fine-tuning.
    batch_size : int or "auto", default="auto"
        Fine-tuning mini-batch rows (``min(200, n_samples)`` when "auto").
    learning_rate_init : float, default=0.01
        Fine-tuning step size (larger than the MLP's 1e-3: the pre-trained
        logistic network converges in about 140 epochs on digits instead of
        running out of ``max_iter``).
    max_iter : int, default=200
        Fine-tuning epochs.
    shuffle : bool, default=True
        Shuffle the rows every fine-tuning epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds pre-training and fine-tuning.
    tol : float, default=1e-4
        Fine-tuning convergence tolerance.
    verbose : bool, default=False
        Per-epoch lines of the RBMs and of fine-tuning.
    warm_start : bool, default=False
        Continue fine-tuning the fitted network (no new pre-training), with
        its optimizer state and shuffling stream, for ``max_iter`` more
        epochs: two warm-started halves equal one run, also across a save.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows during fine-tuning and
        keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for the validation score (with
        ``early_stopping``).
    n_iter_no_change : int, default=10
        Fine-tuning stops when the training loss (the validation score with
        ``early_stopping``) has not improved by ``tol`` for more than this
        many epochs.
    momentum : float, default=0.9
        Momentum of the fine-tuning updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment (``solver="adam"``).
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment (``solver="adam"``).
    epsilon : float, default=1e-8
        Adam's numerical-stability term (``solver="adam"``).
    max_fun : int, default=15000
        Maximum loss evaluations (``solver="lbfgs"``).
    class_weight : dict, "balanced" or None, default=None
        Class weights ``{label: weight}`` (labels not listed weigh 1), or
        ``"balanced"``: ``n_samples / (n_classes * np.bincount(y))``, as in
        scikit-learn. Multiplied with ``sample_weight``, in training and in
        the early-stopping validation score. ``partial_fit`` takes a dict, not
        ``"balanced"`` (the class frequencies of one batch are not the data's).
    lr_schedule : Schedule, callable or None, default=None
        Learning rate per epoch for sgd and adam: a ``fastnut.schedules``
        object (``StepDecay``, ``CosineAnnealing``, ``ReduceLROnPlateau``) or
        a callable ``epoch -> learning rate`` (epochs count from 0 over the
        model's life). None keeps ``learning_rate_init`` (and SGD's
        ``learning_rate`` rule where there is one). The rate of each epoch is
        in ``history_``.
    callbacks : list of Callback or None, default=None
        Objects of ``fastnut.callbacks`` (``EarlyStopping``, ``Checkpoint``,
        ``ProgressBar``, ``CSVLogger``) or your own, called at the start of
        each ``fit``/``partial_fit``, after each epoch (returning True stops
        training) and at the end.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Compute dtype.

    Attributes
    ----------
    network_ : fastnut.nn.Sequential
        The fine-tuned network: ``Dense(activation="logistic")`` per hidden
        layer, then the output ``Dense``.
    pretrained_coefs_ : list of ndarray of shape (n_in, n_out)
        The RBM weights the hidden layers started from.
    classes_ : ndarray of shape (n_classes,)
    loss_curve_ : list of float
        Fine-tuning loss per epoch.
    n_iter_ : int
        Fine-tuning epochs run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Pre-training reads inputs as probabilities in [0, 1] (pixels scaled to
    [0, 1], say): it clips values outside on a copy.  Fine-tuning sees the
    data unchanged.  ``partial_fit`` pre-trains on its first chunk.
    Sample weights apply to fine-tuning only; pre-training is unweighted.

    References
    ----------
    Hinton, G. E. & Salakhutdinov, R. R. (2006). Reducing the dimensionality
    of data with neural networks. Science 313(5786).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import DBNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = DBNClassifier(hidden_layer_sizes=(32,), rbm_n_iter=2, max_iter=20,
    ...                     random_state=0).fit(X[:300] / 16, y[:300])
    >>> clf.predict(X[:3] / 16).shape
    (3,)
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "rbm_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "rbm_n_iter": [Interval(Integral, 0, None, closed="left")],
        "rbm_batch_size": [Interval(Integral, 1, None, closed="left")],
        "rbm_k": [Interval(Integral, 1, None, closed="left")],
        "rbm_method": [StrOptions({"pcd", "cd"})],
        "rbm_momentum": [Interval(Real, 0, 1, closed="left")],
        "rbm_weight_decay": [Interval(Real, 0, None, closed="left")],
        **{name: TRAIN_CONSTRAINTS[name] for name in _TRAIN_PARAMS},
        **CLASS_WEIGHT_CONSTRAINT,
    }

    def __init__(self, hidden_layer_sizes=(256,), *, rbm_learning_rate=0.06, rbm_n_iter=20,
                 rbm_batch_size=10, rbm_k=1, rbm_method="cd", rbm_momentum=0.5,
                 rbm_weight_decay=1e-4, solver="adam", alpha=1e-4, batch_size="auto",
                 learning_rate_init=0.01, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, momentum=0.9,
                 nesterovs_momentum=True, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 max_fun=15000,
                 class_weight=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.rbm_learning_rate = rbm_learning_rate
        self.rbm_n_iter = rbm_n_iter
        self.rbm_batch_size = rbm_batch_size
        self.rbm_k = rbm_k
        self.rbm_method = rbm_method
        self.rbm_momentum = rbm_momentum
        self.rbm_weight_decay = rbm_weight_decay
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.max_fun = max_fun
        self.class_weight = class_weight
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype

    #: fine-tuning values this family does not expose (TrainConfig fields)
    _FIXED_TRAIN_PARAMS = {"learning_rate": "constant", "power_t": 0.5, "clip_norm": None}

    def _init_factor(self):
        return 2.0

    def _hidden_layers(self, sample_shape):
        return [nn.Dense(size, activation="logistic", init_factor=2.0)
                for size in _check_sizes(self.hidden_layer_sizes)]

    def _make_network(self, X, Y, rng):
        """The logistic MLP, its hidden layers pre-trained as RBMs on ``X``."""
        net = super()._make_network(X, Y, rng)
        self.pretrained_coefs_ = []
        if self.rbm_n_iter == 0:
            return net
        if sp.issparse(X):
            X = X.toarray()
        if _k.outside_unit_interval(X):
            X = np.clip(X, 0, 1)
        coefs, hb, _ = greedy_pretrain(
            X, _check_sizes(self.hidden_layer_sizes), learning_rate=self.rbm_learning_rate,
            batch_size=self.rbm_batch_size, n_iter=self.rbm_n_iter, k=self.rbm_k,
            method=self.rbm_method, momentum=self.rbm_momentum,
            weight_decay=self.rbm_weight_decay, rng=rng, verbose=int(self.verbose))
        dense = [layer for layer in net.layers if isinstance(layer, nn.Dense)][:-1]
        for layer, W, b in zip(dense, coefs, hb):
            layer.params["weight"][...] = W
            layer.params["bias"][...] = b
        self.pretrained_coefs_ = coefs
        return net
