"""Deep Boltzmann machines: ``DeepBoltzmannMachine``.

Binary hidden layers trained jointly, with mean-field inference for the data
and persistent Gibbs chains for the model (Salakhutdinov & Hinton 2009).  The
numeric work is in ``fastnut._boltzmann`` (greedy pre-training, mean field,
Gibbs sweeps, the epoch kernel); this module keeps the scikit-learn surface.
Layer weights are stored like ``fastnut.nn.Dense``: ``coefs_[i]`` has shape
``(n_in, n_out)``.
"""
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

from ._boltzmann import (Sampler, check_layer_sizes, check_sample_args, clip_unit_interval,
                         dbm_init_chains, dbm_mean_field, dbm_reconstruction_error,
                         dbm_sample, dbm_train, greedy_pretrain, monitor_rows, seed_key)
from ._doc_link import DocLinkMixin
from ._state import AtomicState
from ._threads import map_row_chunks
from ._validation import resolve_dtype

__all__ = ["DeepBoltzmannMachine"]


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
        Momentum of the updates (joint training and pre-training).
    weight_decay : float, default=1e-4
        L2 penalty on the weights (joint training and pre-training).
    pretrain : bool, default=True
        Initialise the weights by greedy RBM training, with the doubled
        inputs of Salakhutdinov & Hinton (2009): the first RBM doubles its
        bottom-up input, the top one its top-down input, the middle ones
        both, so the stack needs no rescaling to become a DBM.  The RBMs use
        the ``pretrain_*`` parameters below and this model's ``momentum``
        and ``weight_decay``.
    pretrain_iter : int, default=10
        Epochs of each pre-training RBM.
    pretrain_learning_rate : float, default=0.05
        Learning rate of the pre-training RBMs.
    pretrain_batch_size : int, default=10
        Mini-batch rows of the pre-training RBMs (smaller than the joint
        training's ``batch_size``: contrastive divergence takes many small
        steps, the persistent chains of joint training average over
        ``n_chains`` anyway).
    pretrain_k : int, default=1
        Gibbs steps of the pre-training RBMs' negative phase.
    pretrain_method : {"cd", "pcd"}, default="cd"
        Training of the pre-training RBMs: contrastive divergence or
        persistent contrastive divergence.
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
        "pretrain_batch_size": [Interval(Integral, 1, None, closed="left")],
        "pretrain_k": [Interval(Integral, 1, None, closed="left")],
        "pretrain_method": [StrOptions({"cd", "pcd"})],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "dtype": "no_validation",  # checked by resolve_dtype at fit
    }

    def __init__(self, hidden_layer_sizes=(256, 128), *, learning_rate=0.01, batch_size=100,
                 n_iter=10, n_mean_field=10, n_gibbs_steps=1, n_chains=100, momentum=0.5,
                 weight_decay=1e-4, pretrain=True, pretrain_iter=10,
                 pretrain_learning_rate=0.05, pretrain_batch_size=10, pretrain_k=1,
                 pretrain_method="cd", verbose=0, random_state=None, dtype=np.float32):
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
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_k = pretrain_k
        self.pretrain_method = pretrain_method
        self.verbose = verbose
        self.random_state = random_state
        self.dtype = dtype

    @property
    def _n_features_out(self):
        return self.coefs_[-1].shape[1]

    def _check_X(self, X, reset):
        """Validated dense C-contiguous X, clipped to [0, 1] on a copy if needed."""
        dtype = resolve_dtype(self.dtype) if reset else self.coefs_[0].dtype
        X = validate_data(self, X, accept_sparse="csr", dtype=dtype, order="C", reset=reset,
                          ensure_all_finite=False)   # checked with the range, in one pass
        if sp.issparse(X):
            X = np.ascontiguousarray(X.toarray())
        return clip_unit_interval(X, type(self).__name__)

    # -- state ---------------------------------------------------------------
    def _biases(self):
        """``[intercept_visible_] + intercepts_``: the drivers' bias list (same arrays)."""
        return [self.intercept_visible_] + list(self.intercepts_)

    def _reconstruction_error(self, X):
        return dbm_reconstruction_error(X, self.coefs_, self._biases(), self.n_mean_field)

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
        sizes = check_layer_sizes(self.hidden_layer_sizes)
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
                X, sizes, learning_rate=self.pretrain_learning_rate,
                batch_size=self.pretrain_batch_size, n_iter=self.pretrain_iter,
                k=self.pretrain_k, method=self.pretrain_method, momentum=self.momentum,
                weight_decay=self.weight_decay, rng=rng, verbose=self.verbose,
                input_scales=scales)
            self.coefs_, self.intercepts_, self.intercept_visible_ = coefs, hb, vb[0]
        else:
            self.coefs_ = [np.ascontiguousarray(rng.normal(0, 0.01, (a, b)), dtype=dtype)
                           for a, b in zip(widths[:-1], widths[1:])]
            self.intercepts_ = [np.zeros(b, dtype=dtype) for b in sizes]
            self.intercept_visible_ = np.zeros(widths[0], dtype=dtype)
        biases = self._biases()
        sampler = Sampler(seed_key(rng))
        # chains start from the data's mean-field states, sampled
        self.chains_ = dbm_init_chains(X, self.coefs_, biases, self.n_chains,
                                       self.n_mean_field, rng, sampler)
        vel_W = [np.zeros_like(W) for W in self.coefs_]
        vel_b = [np.zeros_like(b) for b in biases]
        self.loss_curve_ = []
        dbm_train(
            X, self.coefs_, biases, vel_W, vel_b, self.chains_, n_epochs=self.n_iter,
            batch_size=self.batch_size, learning_rate=self.learning_rate,
            momentum=self.momentum, weight_decay=self.weight_decay,
            n_mean_field=self.n_mean_field, n_gibbs_steps=self.n_gibbs_steps,
            key=sampler.key, stream=sampler.stream, monitor=monitor_rows(X),
            loss_curve=self.loss_curve_, verbose=self.verbose)
        self.n_iter_ = len(self.loss_curve_)
        return self

    def transform(self, X):
        """Mean-field posterior of the top hidden layer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        H : ndarray of shape (n_samples, hidden_layer_sizes[-1])
            The top layer's mean-field posterior.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        coefs, biases = self.coefs_, self._biases()
        out = np.empty((X.shape[0], coefs[-1].shape[1]), dtype=coefs[-1].dtype)

        def chunk(a, c):  # rows are independent under mean field: one chunk per thread
            out[a:c] = dbm_mean_field(X[a:c], coefs, biases, self.n_mean_field)[-1]
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
        X = self._check_X(X, reset=False)
        return dbm_mean_field(X, self.coefs_, self._biases(), self.n_mean_field)[1:]

    def sample(self, n_samples=1, n_steps=1000, random_state=None):
        """Generate visible vectors by Gibbs sampling of the whole model.

        ``n_samples`` new chains start with every unit off and run
        ``n_steps`` Gibbs sweeps.  A pure function of the fitted model and
        ``random_state``: the estimator is not modified (its persistent
        ``chains_`` included), so concurrent calls are safe.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples (independent chains).
        n_steps : int, default=1000
            Gibbs sweeps (odd layers, then even layers).
        random_state : int, RandomState instance or None, default=None
            Seed of the chains.  None draws one from NumPy's global generator
            (as scikit-learn does for ``random_state=None``): successive calls
            give new samples.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Binary samples of the visible units.
        """
        check_is_fitted(self)
        check_sample_args(n_samples, n_steps)
        # one read of the fitted state: a concurrent fit replaces __dict__ as a whole
        state = self.__dict__
        coefs = list(state["coefs_"])
        biases = [state["intercept_visible_"]] + list(state["intercepts_"])
        V, _ = dbm_sample(coefs, biases, int(n_samples), int(n_steps),
                          seed_key(check_random_state(random_state)))
        return V

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = [np.dtype(self.dtype).name] \
            if self.dtype in (np.float32, np.float64, "float32", "float64") else []
        return tags
