"""Restricted Boltzmann machines: ``BernoulliRBM`` and ``GaussianBernoulliRBM``.

The estimators validate input, own the parameters and the epoch loop, and
hand each epoch's whole mini-batch loop to one ``nogil`` kernel call
(``fastnut._boltzmann.rbm_epoch``, over ``fastnut._kernels.rbm.fit_epoch``).
Random numbers come from a counter-based generator keyed by
``random_state``, so a fit gives the same parameters for any number of
threads.
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
from sklearn.utils.validation import (_assert_all_finite, check_array, check_is_fitted,
                                      validate_data)

from ._doc_link import DocLinkMixin
from ._state import AtomicState
from .nn import DivergenceError
from ._boltzmann import (MONITOR_ROWS, batch_starts, blas_limit, clip_unit_interval,
                         rbm_epoch, rbm_scratch, seed_key)
from ._kernels import rbm as _k
from ._threads import StepThreads, map_row_chunks, threads_for
from ._validation import model_rows, predict_dtypes, resolve_dtype

__all__ = ["BernoulliRBM", "GaussianBernoulliRBM"]

_MONITOR_ROWS = MONITOR_ROWS  # rows used for the per-epoch reconstruction error / pseudo-likelihood
# the drivers' helpers, under the names this module has always had
_batch_starts = batch_starts
_clip_unit_interval = clip_unit_interval
_seed_key = seed_key


def _blas_limit(n_rows):
    """BLAS on one thread for a training run (any ``n_rows``): see ``_boltzmann.blas_limit``."""
    return blas_limit()


class _BaseRBM(DocLinkMixin, AtomicState, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared machinery: validation, the epoch driver, sampling and scoring."""

    _visible_type = _k.UnitType.BERNOULLI  # kernel unit type of the visible layer

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "k": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions({"pcd", "cd"})],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "dtype": "no_validation",  # checked by resolve_dtype at fit
    }

    # -- input -----------------------------------------------------------------
    def _check_X(self, X, reset, predict=False):
        """Validated, dense, C-contiguous copy-on-need of X in the compute dtype.

        ``predict=True``: X is only validated (shape, features, numeric; float32
        and float64 kept as given, sparse kept sparse); ``_visible_rows`` then
        converts and checks it one row chunk at a time, so that prediction
        memory stays flat in the number of rows.
        """
        if predict:
            return validate_data(self, X, accept_sparse="csr",
                                 dtype=predict_dtypes(self.components_.dtype), reset=False,
                                 ensure_all_finite=False)
        if reset:
            dtype = (np.float64, np.float32) if self.dtype is None else resolve_dtype(self.dtype)
        else:
            dtype = self.components_.dtype
        # the finiteness check is fused with the [0, 1] range check (one pass)
        X = validate_data(self, X, accept_sparse="csr", dtype=dtype, order="C", reset=reset,
                          ensure_all_finite=not self._fused_finite_check)
        if sp.issparse(X):
            # the kernels are dense: a sparse input is densified once (documented)
            X = np.ascontiguousarray(X.toarray())
        return self._prepare_visible(X, fit=reset)

    _fused_finite_check = False

    def _prepare_visible(self, X, fit):
        return X

    def _check_fitted_X(self, X, predict=False):
        check_is_fitted(self)
        return self._check_X(X, reset=False, predict=predict)

    def _visible_rows(self, Xc):
        """A row chunk of ``_check_X(..., predict=True)`` output, as fit prepares X."""
        if sp.issparse(Xc):
            Xc = Xc.toarray()
        with np.errstate(over="ignore"):
            Xc = np.ascontiguousarray(Xc, dtype=self.components_.dtype)
        if not self._fused_finite_check:
            _assert_all_finite(Xc, input_name="X", estimator_name=type(self).__name__)
        return self._prepare_visible(Xc, fit=False)

    def _rowwise(self, X, fn, width=None, dtype=None):
        """``fn`` over row chunks of checked prediction input ``X`` (each chunk
        converted and prepared by ``_visible_rows``), into one output array."""
        n = X.shape[0]
        out = np.empty((n,) if width is None else (n, width),
                       dtype=self.components_.dtype if dtype is None else dtype)

        def chunk(a, c):
            out[a:c] = fn(self._visible_rows(X[a:c]))
        map_row_chunks(chunk, n)
        return out

    def _model_array(self, X):
        """X (any layout, float dtype or sparse) as a dense C-contiguous array of the
        model's dtype (no copy when it already is one)."""
        if sp.issparse(X):
            X = X.toarray()
        return np.ascontiguousarray(X, dtype=self.components_.dtype)

    # -- parameters ------------------------------------------------------------
    def _initialize(self, n_features, dtype):
        rng = check_random_state(self.random_state)
        # same initial weights as scikit-learn's BernoulliRBM for the same seed,
        # in Fortran order like scikit-learn's: components_.T is the C-contiguous
        # (n_features, n_components) matrix the kernels update in place
        self.components_ = np.asfortranarray(
            rng.normal(0, 0.01, (self.n_components, n_features)), dtype=dtype
        )
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=dtype)
        self.intercept_visible_ = np.zeros(n_features, dtype=dtype)
        self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=dtype)
        self._velocity_w = np.zeros((n_features, self.n_components), dtype=dtype)
        self._velocity_h = np.zeros_like(self.intercept_hidden_)
        self._velocity_v = np.zeros_like(self.intercept_visible_)
        self._rng_key = _seed_key(rng)
        self._rng_stream = 0
        self._score_key = _seed_key(rng)
        self.loss_curve_ = []
        self.n_iter_ = 0

    def _wt(self):
        """``components_.T`` as a C-contiguous array (the kernels' layout), shared memory."""
        if not self.components_.T.flags.c_contiguous:
            # e.g. components_ set by hand in C order
            self.components_ = np.asfortranarray(self.components_)
        return self.components_.T

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def _train(self, X, n_epochs, name):
        """Run ``n_epochs`` epochs of CD-k / PCD-k over X (validated)."""
        n_samples = X.shape[0]
        starts = _batch_starts(n_samples, self.batch_size)
        n_hid, n_vis = self.components_.shape
        scratch = rbm_scratch(starts, self.h_samples_.shape[0], n_vis, n_hid,
                              self.components_.dtype)
        monitor = np.ascontiguousarray(X[:: max(1, n_samples // _MONITOR_ROWS)][:_MONITOR_ROWS])
        with _blas_limit(scratch[0].shape[0]):
            self._epochs(X, starts, monitor, scratch, n_epochs, name, StepThreads())

    def _epochs(self, X, starts, monitor, scratch, n_epochs, name, tuner):
        for _ in range(n_epochs):
            t0 = time.time()
            self._rng_stream = rbm_epoch(
                X, starts, self._wt(), self.intercept_hidden_, self.intercept_visible_,
                self._velocity_w, self._velocity_h, self._velocity_v, self.h_samples_, scratch,
                learning_rate=self.learning_rate, momentum=self.momentum,
                weight_decay=self.weight_decay, k=self.k, persistent=self.method == "pcd",
                visible_type=self._visible_type,
                key=self._rng_key, stream=self._rng_stream, tuner=tuner)
            self._after_epoch(X, monitor)
            loss = self._reconstruction_error(monitor)
            if not (np.isfinite(loss) and np.isfinite(self.components_).all()):
                raise DivergenceError(
                    f"{name} diverged (weights or reconstruction error no longer finite); "
                    f"lower learning_rate (now {self.learning_rate}) or momentum "
                    f"(now {self.momentum})."
                )
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            if self.verbose:
                pl = float(self._score(monitor).mean())
                print(
                    f"[{type(self).__name__}] Iteration {self.n_iter_}, "
                    f"pseudo-likelihood = {pl:.2f}, time = {time.time() - t0:.2f}s, "
                    f"reconstruction error = {loss:.4f}"
                )

    def _after_epoch(self, X, monitor):
        """Hook run after each epoch's kernel call (X and monitor are owned copies)."""

    # -- scikit-learn API --------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to the data X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted model.
        """
        X = self._check_X(X, reset=True)
        self._initialize(X.shape[1], X.dtype)
        self._train(X, self.n_iter, type(self).__name__)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One epoch over X in mini-batches of ``batch_size`` rows.

        Unlike scikit-learn's ``partial_fit`` (which takes the whole of X as
        one mini-batch), X is split like in ``fit``, and the negative phase is
        always averaged over the persistent chains actually used, so chunks of
        any size train like ``fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The partially fitted model.
        """
        first = not hasattr(self, "components_")
        X = self._check_X(X, reset=first)
        if first:
            self._initialize(X.shape[1], X.dtype)
        self._train(X, 1, type(self).__name__)
        return self

    def transform(self, X):
        """Hidden-unit activation probabilities ``P(h = 1 | v = X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to transform.

        Returns
        -------
        h : ndarray of shape (n_samples, n_components)
            Latent representation of the data.
        """
        X = self._check_fitted_X(X, predict=True)
        return self._rowwise(X, self._mean_hiddens, self.components_.shape[0])

    def _mean_hiddens(self, X):
        # also scikit-learn's private helper: takes what scikit-learn's takes (1-D,
        # sparse, any layout or float dtype), converted before the kernel sees it
        X, one_d = self._as_rows(X, self.components_.shape[1], "X")
        out = np.empty((X.shape[0], self.components_.shape[0]), dtype=self.components_.dtype)
        Wt, b = self._wt(), self.intercept_hidden_

        def chunk(a, c):  # GEMM and sigmoid of a row chunk, on one thread
            _k.hidden_probs(self._model_array(X[a:c]), Wt, b, out[a:c], n_threads=1)
        map_row_chunks(chunk, X.shape[0])
        return out[0] if one_d else out

    def _as_rows(self, X, width, name):
        """(X as a 2-D array or CSR matrix, whether it was 1-D): what scikit-learn's
        helpers take (1-D, sparse, any layout or float dtype), shape checked."""
        if sp.issparse(X):
            X = X.tocsr()
        else:
            X = np.asarray(X)
            if X.dtype.kind not in "fiub":
                raise ValueError(f"{name} must be numeric, got dtype {X.dtype}")
        one_d = X.ndim == 1
        if one_d:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != width:
            raise ValueError(f"{name} has shape {X.shape}; {type(self).__name__} expects "
                             f"(n_samples, {width}) or ({width},)")
        return X, one_d

    def _sample_hiddens(self, v, rng):
        """A sample of ``h ~ P(h | v)`` drawn from ``rng`` (scikit-learn's helper)."""
        p = self._mean_hiddens(v)
        return rng.uniform(size=p.shape) < p

    def _mean_visibles(self, H):
        # also scikit-learn's private helper: 1-D, sparse, any layout or float dtype
        H, one_d = self._as_rows(H, self.components_.shape[0], "h")
        A = np.ascontiguousarray(H @ self.components_, dtype=self.components_.dtype)
        _k.layer_conditional(A, self.intercept_visible_, A, unit_type=self._visible_type,
                             do_sample=False, key=0, stream=0,
                             n_threads=threads_for(A.size, "rbm"))
        return A[0] if one_d else A

    def _sample_visibles(self, h, rng):
        """A sample of ``v ~ P(v | h)`` drawn from ``rng`` (scikit-learn's helper;
        Bernoulli visible units)."""
        p = self._mean_visibles(h)
        return rng.uniform(size=p.shape) < p

    def inverse_transform(self, X):
        """Mean-field reconstruction ``E[v | h]`` of hidden activations.

        ``inverse_transform(transform(X))`` is the usual mean-field
        reconstruction of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Hidden activations (probabilities or binary states).

        Returns
        -------
        v : ndarray of shape (n_samples, n_features)
            Expected visible units, in the input's units.
        """
        check_is_fitted(self)
        # as transform takes X: 2-D, sparse or dense, finite; converted a chunk at a time
        H = check_array(X, accept_sparse="csr", dtype=predict_dtypes(self.components_.dtype),
                        ensure_all_finite=False, input_name="X",
                        estimator=type(self).__name__)
        if H.shape[1] != self.components_.shape[0]:
            raise ValueError(
                f"inverse_transform expects hidden activations of shape (n_samples, "
                f"{self.components_.shape[0]}), got {H.shape}"
            )
        out = np.empty((H.shape[0], self.components_.shape[1]), dtype=self.components_.dtype)

        def chunk(a, c):
            Hc = model_rows(self, H[a:c], self.components_.dtype)
            out[a:c] = self._to_input_units(self._mean_visibles(Hc))
        map_row_chunks(chunk, H.shape[0])
        return out

    def _to_input_units(self, V):
        return V

    def _reconstruction_error(self, X):
        """Mean over rows of the squared error of the mean-field reconstruction."""
        if X.shape[0] == 0:
            return 0.0
        R = self._mean_visibles(self._mean_hiddens(X))
        R -= X
        return float(np.einsum("ij,ij->", R, R, dtype=np.float64) / X.shape[0])

    def _free_energy(self, X):
        X = self._model_array(X)   # scikit-learn's helper takes sparse or any layout too
        out = np.empty(X.shape[0], dtype=np.float64)
        ws = _k.free_energy_workspace(n_rows=X.shape[0], n_hidden=self.components_.shape[0])
        scratch = np.empty(ws["scratch"], dtype=self.components_.dtype)
        _k.free_energy(X, self._wt(), self.intercept_hidden_, self.intercept_visible_,
                       scratch, out, gaussian=self._visible_type != _k.UnitType.BERNOULLI,
                       n_threads=threads_for(scratch.shape[0] * sum(self.components_.shape),
                                             "rbm"))
        return out

    def free_energy(self, X):
        """Free energy of each sample, ``F(v) = -log sum_h exp(-E(v, h))``.

        Lower free energy means higher (unnormalised) probability:
        ``p(v) = exp(-F(v)) / Z``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Visible vectors.

        Returns
        -------
        F : ndarray of shape (n_samples,)
            Free energies (float64).
        """
        return self._rowwise(self._check_fitted_X(X, predict=True), self._free_energy,
                             dtype=np.float64)

    def gibbs(self, v, n_steps=1):
        """Run ``n_steps`` of block Gibbs sampling ``v -> h -> v`` from ``v``.

        Each call continues the estimator's random sequence (like
        scikit-learn's, whose ``gibbs`` draws from ``random_state_``).

        Parameters
        ----------
        v : array-like of shape (n_samples, n_features)
            Start states of the chains.
        n_steps : int, default=1
            Number of Gibbs steps.

        Returns
        -------
        v_new : ndarray of shape (n_samples, n_features)
            Visible states after the last step.
        """
        one_d = not sp.issparse(v) and np.ndim(v) == 1   # as scikit-learn's gibbs
        V = self._check_fitted_X(np.reshape(v, (1, -1)) if one_d else v).copy()
        V, self._rng_stream = self._run_chains(V, n_steps, self._rng_key, self._rng_stream)
        V = self._chain_output(V)
        return V[0] if one_d else V

    # unit type of the visible layer when sampling chains (always sampled)
    _chain_visible_type = _k.UnitType.BERNOULLI

    def _run_chains(self, V, n_steps, key, stream):
        """Advance the chains V (validated, owned) in place; returns (V, stream)."""
        if not isinstance(n_steps, Integral) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
        n = V.shape[0]
        H = np.empty((n, self.components_.shape[0]), dtype=V.dtype)
        P = np.empty_like(V)
        stream = _k.gibbs_chain(V, self._wt(), self.intercept_hidden_,
                                self.intercept_visible_, H, P, n_steps=int(n_steps),
                                visible_type=self._chain_visible_type, key=key,
                                stream=stream,
                                n_threads=threads_for(n * max(self.components_.shape), "rbm"))
        return V, stream

    def _chain_output(self, V):
        return V

    def sample(self, n_samples=1, n_steps=1000, random_state=None):
        """Draw visible vectors from the model by Gibbs sampling.

        ``n_samples`` independent chains start from the model with the
        weights switched off (``v ~ p(v | h = 0)``) and run ``n_steps`` block
        Gibbs steps.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples (independent chains).
        n_steps : int, default=1000
            Gibbs steps per chain.
        random_state : int, RandomState instance or None, default=None
            Seed of the chains; None continues the estimator's own random
            sequence (successive calls give new samples).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The samples.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        if random_state is None:
            key, stream = self._rng_key, self._rng_stream
        else:
            key, stream = _seed_key(check_random_state(random_state)), 0
        V = np.zeros((n_samples, self.components_.shape[1]), dtype=self.components_.dtype)
        stream = _k.layer_conditional(V, self.intercept_visible_, V,
                                      unit_type=self._chain_visible_type, do_sample=True,
                                      key=key, stream=stream,
                                      n_threads=threads_for(V.size, "rbm"))
        V, stream = self._run_chains(V, n_steps, key, stream)
        if random_state is None:
            self._rng_stream = stream
        return self._chain_output(V)

    def score_samples(self, X):
        """Pseudo-likelihood of each sample (scikit-learn's estimator).

        ``n_features * log sigmoid(F(v~) - F(v))`` where ``v~`` is v with one
        coordinate flipped.  The coordinate is a hash of the sample's values
        (and of ``random_state``), so a sample gets the same score whatever
        batch, order or subset it comes in.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Binary (or [0, 1]) visible vectors.

        Returns
        -------
        pseudo_likelihood : ndarray of shape (n_samples,)
            The pseudo-likelihood of each sample (higher is likelier).
        """
        return self._rowwise(self._check_fitted_X(X, predict=True), self._score,
                             dtype=np.float64)

    def _score(self, X):
        n, d = X.shape
        idx = np.empty(n, dtype=np.intp)
        _k.row_hash_index(X, key=self._score_key, out=idx)
        rows = np.arange(n)
        X_ = X.copy()
        X_[rows, idx] = 1 - X_[rows, idx]
        fe = self._free_energy(X)
        fe_ = self._free_energy(X_)
        return -d * np.logaddexp(0, -(fe_ - fe))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        if self.dtype is None:
            tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        else:
            tags.transformer_tags.preserves_dtype = [np.dtype(self.dtype).name]
        return tags


class BernoulliRBM(_BaseRBM):
    """Bernoulli restricted Boltzmann machine, a drop-in for scikit-learn's.

    Binary visible and hidden units trained by persistent (default) or
    ordinary contrastive divergence with ``k`` Gibbs steps, optional momentum
    and L2 weight decay.  Parameters, attributes and methods match
    ``sklearn.neural_network.BernoulliRBM``; ``k``, ``method``, ``momentum``,
    ``weight_decay``, ``dtype``, ``sample``, ``free_energy`` and
    ``inverse_transform`` are additions.  The whole mini-batch loop of an
    epoch runs in one compiled call.

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units.
    learning_rate : float, default=0.1
        Learning rate of the weight updates.
    batch_size : int, default=10
        Rows per mini-batch; also the number of persistent chains.
    n_iter : int, default=10
        Number of epochs over the training data.
    verbose : int, default=0
        Print one line per epoch (pseudo-likelihood and reconstruction error
        on up to 1000 training rows, time).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the sampling.  For a given seed, the
        fit is identical whatever the number of threads.
    k : int, default=1
        Gibbs steps in the negative phase (CD-k / PCD-k).
    method : {"pcd", "cd"}, default="pcd"
        ``"pcd"``: persistent chains (stochastic maximum likelihood, as
        scikit-learn); ``"cd"``: chains restart at each batch's data.
    momentum : float, default=0.0
        Momentum of the parameter updates (0 reproduces scikit-learn's plain
        SGD; 0.5--0.9 is the usual recipe).
    weight_decay : float, default=0.0
        L2 penalty on the weights (not the biases).
    dtype : {None, numpy.float32, numpy.float64}, default=None
        Compute dtype. None keeps float32 input as float32 and computes in
        float64 otherwise, as scikit-learn does; float32 is about twice as
        fast.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Weight matrix ``W``.
    intercept_hidden_ : ndarray of shape (n_components,)
        Biases of the hidden units.
    intercept_visible_ : ndarray of shape (n_features,)
        Biases of the visible units.
    h_samples_ : ndarray of shape (batch_size, n_components)
        Hidden states of the persistent chains.
    loss_curve_ : list of float
        Per epoch, the mean squared error of the mean-field reconstruction of
        up to 1000 evenly spaced training rows.
    n_iter_ : int
        Epochs run so far (``fit`` resets it).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    GaussianBernoulliRBM : real-valued visible units.
    fastnut.DeepBeliefNetwork : stacked RBMs.

    Notes
    -----
    The energy of a joint state is

    .. math:: E(v, h) = -b_v^T v - b_h^T h - h^T W v

    so that :math:`P(h_j = 1 | v) = \\sigma(W_j v + b_{h,j})` and
    :math:`P(v_i = 1 | h) = \\sigma(W_{:,i}^T h + b_{v,i})`.  For a batch of
    ``B`` rows and ``R`` negative-phase chains (``R = B`` for CD,
    ``R = batch_size`` for PCD), with mean-field hidden probabilities
    :math:`\\hat h`:

    .. math::

        \\Delta W = \\mu \\Delta W + \\eta \\left(\\frac{1}{B} \\hat h_+^T v_+
        - \\frac{1}{R} \\hat h_-^T v_- - \\lambda W\\right)

    Dividing the negative statistics by the number of chains (not by the
    batch rows, as scikit-learn's ``partial_fit`` does) is what keeps
    ``partial_fit`` stable for chunks of any size.

    Input values are the probabilities of the visible units being on: values
    outside [0, 1] are clipped to [0, 1] (on a copy; the input is never
    modified).  Sparse input is accepted and densified.

    References
    ----------
    Hinton, G. E. (2002). Training products of experts by minimizing
    contrastive divergence. Neural Computation 14(8).

    Tieleman, T. (2008). Training restricted Boltzmann machines using
    approximations to the likelihood gradient. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import BernoulliRBM
    >>> X = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    >>> model = BernoulliRBM(n_components=2, random_state=0).fit(X)
    >>> model.transform(X).shape
    (4, 2)
    """

    _visible_type = _k.UnitType.BERNOULLI

    def __init__(self, n_components=256, *, learning_rate=0.1, batch_size=10, n_iter=10,
                 verbose=0, random_state=None, k=1, method="pcd", momentum=0.0,
                 weight_decay=0.0, dtype=None):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.method = method
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dtype = dtype

    _fused_finite_check = True

    def _prepare_visible(self, X, fit):
        return _clip_unit_interval(X, type(self).__name__)

    def _chain_output(self, V):
        return V

    def gibbs(self, v, n_steps=1):
        """Run ``n_steps`` of block Gibbs sampling ``v -> h -> v`` from ``v``.

        Each call continues the estimator's random sequence (like
        scikit-learn's, whose ``gibbs`` draws from ``random_state_``).

        Parameters
        ----------
        v : array-like of shape (n_samples, n_features)
            Start states of the chains.
        n_steps : int, default=1
            Number of Gibbs steps.

        Returns
        -------
        v_new : ndarray of bool of shape (n_samples, n_features)
            Visible states after the last step (bool, as scikit-learn).
        """
        return super().gibbs(v, n_steps=n_steps).astype(bool)


class GaussianBernoulliRBM(_BaseRBM):
    """Restricted Boltzmann machine with Gaussian visible and binary hidden units.

    For real-valued data.  By default each feature is standardised (zero
    mean, unit variance, statistics of the first ``fit``/``partial_fit``
    data) and the visible units have unit variance; every method takes and
    returns data in the input's units.

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units.
    learning_rate : float, default=0.01
        Learning rate; Gaussian units need a smaller one than binary units.
    batch_size : int, default=10
        Rows per mini-batch; also the number of persistent chains.
    n_iter : int, default=10
        Number of epochs.
    verbose : int, default=0
        Print one line per epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the sampling.
    k : int, default=1
        Gibbs steps in the negative phase.
    method : {"cd", "pcd"}, default="cd"
        Contrastive divergence or persistent contrastive divergence.
    momentum : float, default=0.0
        Momentum of the updates.
    weight_decay : float, default=0.0
        L2 penalty on the weights.
    standardize : bool, default=True
        Standardise the features before training (recommended: the model's
        visible units have unit variance).
    sample_visible : bool, default=True
        Sample the visible units in the negative phase; False uses their
        mean (mean-field reconstruction, less noisy gradients).
    learn_sigma : bool, default=False
        Also learn each visible unit's standard deviation ``sigma_`` (in
        standardised units), by a gradient step on ``log sigma`` after every
        epoch, estimated on up to 1000 training rows and a one-step Gibbs
        reconstruction of them.
    dtype : {None, numpy.float32, numpy.float64}, default=None
        Compute dtype (None: float32 input stays float32, else float64).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Weight matrix (in standardised units).
    intercept_hidden_ : ndarray of shape (n_components,)
        Hidden biases.
    intercept_visible_ : ndarray of shape (n_features,)
        Visible biases (means of the visible units, standardised units).
    h_samples_ : ndarray of shape (batch_size, n_components)
        Persistent chains (PCD).
    mean_ : ndarray of shape (n_features,)
        Per-feature mean subtracted before training (zeros if not
        ``standardize``).
    scale_ : ndarray of shape (n_features,)
        Per-feature standard deviation divided out (ones if not
        ``standardize``; constant features get 1).
    sigma_ : ndarray of shape (n_features,)
        Standard deviation of each visible unit, in standardised units (ones
        unless ``learn_sigma``).  The model works on
        ``u = (X - mean_) / (scale_ * sigma_)``: ``components_`` and
        ``intercept_visible_`` are in these units.
    loss_curve_ : list of float
        Per-epoch mean squared reconstruction error (standardised units).
    n_iter_ : int
        Epochs run so far.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Notes
    -----
    With standardised data ``v`` and unit variances the energy is

    .. math:: E(v, h) = \\tfrac12 \\lVert v - b_v \\rVert^2 - b_h^T h - h^T W v

    so :math:`v | h \\sim \\mathcal N(b_v + W^T h, I)` and
    :math:`P(h_j = 1 | v) = \\sigma(W_j v + b_{h,j})`; the free energy is
    :math:`F(v) = \\tfrac12 \\lVert v - b_v \\rVert^2 - \\sum_j
    \\operatorname{softplus}(W_j v + b_{h,j})`.  The updates are those of
    :class:`BernoulliRBM`.  ``score_samples`` returns ``-F(v)``, the
    unnormalised log-density (up to ``log Z``) in standardised units.

    References
    ----------
    Hinton, G. E. (2010). A practical guide to training restricted Boltzmann
    machines. UTML TR 2010-003, section 13.2.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import GaussianBernoulliRBM
    >>> X = np.random.RandomState(0).normal(size=(50, 4))
    >>> GaussianBernoulliRBM(n_components=3, random_state=0).fit(X).transform(X).shape
    (50, 3)
    """

    _parameter_constraints = {
        **_BaseRBM._parameter_constraints,
        "standardize": ["boolean"],
        "sample_visible": ["boolean"],
        "learn_sigma": ["boolean"],
    }

    def __init__(self, n_components=256, *, learning_rate=0.01, batch_size=10, n_iter=10,
                 verbose=0, random_state=None, k=1, method="cd", momentum=0.0,
                 weight_decay=0.0, standardize=True, sample_visible=True, learn_sigma=False,
                 dtype=None):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.method = method
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.standardize = standardize
        self.sample_visible = sample_visible
        self.learn_sigma = learn_sigma
        self.dtype = dtype

    _chain_visible_type = _k.UnitType.GAUSSIAN

    @property
    def _visible_type(self):
        return (_k.UnitType.GAUSSIAN if self.sample_visible
                else _k.UnitType.GAUSSIAN_MEAN_FIELD)

    def _prepare_visible(self, X, fit):
        if fit:
            if self.standardize:
                self.mean_ = X.mean(axis=0, dtype=np.float64).astype(X.dtype)
                std = X.std(axis=0, dtype=np.float64)
                std[std < 1e-12] = 1.0
                self.scale_ = std.astype(X.dtype)
            else:
                self.mean_ = np.zeros(X.shape[1], dtype=X.dtype)
                self.scale_ = np.ones(X.shape[1], dtype=X.dtype)
            self.sigma_ = np.ones(X.shape[1], dtype=X.dtype)
        if not self.standardize and not self.learn_sigma:
            return X
        return (X - self.mean_) / (self.scale_ * self.sigma_)   # a new array: ours to rescale

    def _to_input_units(self, V):
        return V * (self.scale_ * self.sigma_) + self.mean_

    def _after_epoch(self, X, monitor):
        if not self.learn_sigma:
            return
        # gradient of the log-likelihood w.r.t. s = log sigma, in the model's units u:
        # dE/ds_i = -(u_i - b_i)^2 + u_i (h W)_i; data term minus model term
        W, b = self.components_, self.intercept_visible_
        nt = threads_for(monitor.shape[0] * max(W.shape), "rbm")

        def stat(U, H):
            return ((U - b) ** 2 - U * (H @ W)).mean(axis=0, dtype=np.float64)

        A = monitor @ self.components_.T
        Hs = np.empty_like(A)
        self._rng_stream = _k.layer_conditional(A, self.intercept_hidden_, Hs,
                                                unit_type=_k.UnitType.BERNOULLI,
                                                do_sample=True, key=self._rng_key,
                                                stream=self._rng_stream, n_threads=nt)
        pos = stat(monitor, A)
        Un = Hs @ W
        self._rng_stream = _k.layer_conditional(Un, b, Un, unit_type=_k.UnitType.GAUSSIAN,
                                                do_sample=True, key=self._rng_key,
                                                stream=self._rng_stream, n_threads=nt)
        neg = stat(Un, self._mean_hiddens(Un))
        step = np.clip(self.learning_rate * (pos - neg), -0.1, 0.1)
        new = np.clip(self.sigma_ * np.exp(step), 1e-3, 1e3).astype(self.sigma_.dtype)
        ratio = self.sigma_ / new
        # same model, new units: u' = u sigma / sigma', b' = b sigma / sigma'
        X *= ratio
        if not np.shares_memory(monitor, X):
            monitor *= ratio
        b *= ratio
        self._velocity_v *= ratio
        self.sigma_ = new

    def _chain_output(self, V):
        return self._to_input_units(V)

    def _score(self, X):
        # density of the standardised data: the change of units u = v / sigma adds -sum log sigma
        return -self._free_energy(X) - np.log(self.sigma_, dtype=np.float64).sum()

    def score_samples(self, X):
        """Unnormalised log-density ``-F(u) - sum(log sigma_)`` of each sample (standardised units).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        score : ndarray of shape (n_samples,)
            The unnormalised log-density of each sample (higher is likelier).
        """
        return self._rowwise(self._check_fitted_X(X, predict=True), self._score,
                             dtype=np.float64)
