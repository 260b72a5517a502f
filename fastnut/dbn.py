"""Deep belief networks built on fastnut's RBMs.

``DeepBeliefNetwork`` (transformer, greedy layer-wise training, generative
sampling, optional up-down fine-tuning) and ``DBNClassifier`` (greedy
pre-training, then supervised fine-tuning by the shared network engine).
Layer weights are stored like ``fastnut.nn.Dense``: ``coefs_[i]`` has shape
``(n_in, n_out)``.  The numeric work is in ``fastnut._boltzmann``
(pre-training, the up-down epoch kernel, sampling); this module keeps the
scikit-learn surface.  ``DeepBoltzmannMachine`` lives in ``fastnut.dbm`` and
is re-exported here, where models pickled before the move look for it.
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

from . import nn
from ._boltzmann import (check_layer_sizes, check_sample_args, clip_unit_interval,
                         dbn_down, dbn_reconstruction_error, dbn_sample, dbn_up,
                         greedy_pretrain, monitor_rows, seed_key, up_down)
from ._doc_link import DocLinkMixin
from ._kernels import rbm as _k
from ._network import CLASS_WEIGHT_CONSTRAINT, TRAIN_CONSTRAINTS, NetworkClassifier
from ._state import AtomicState
from ._validation import resolve_dtype
from .dbm import DeepBoltzmannMachine  # noqa: F401  (public re-export for 0.1 pickles)

__all__ = ["DeepBeliefNetwork", "DBNClassifier", "DeepBoltzmannMachine"]


def _check_unit_interval_X(est, X, reset, dtype):
    """Validated dense C-contiguous X in ``dtype``, clipped to [0, 1] on a copy if needed."""
    X = validate_data(est, X, accept_sparse="csr", dtype=dtype, order="C", reset=reset,
                      ensure_all_finite=False)   # checked with the range, in one pass
    if sp.issparse(X):
        X = np.ascontiguousarray(X.toarray())
    return clip_unit_interval(X, type(est).__name__)


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
        sizes = check_layer_sizes(self.hidden_layer_sizes)
        X = self._check_X(X, reset=True)
        rng = check_random_state(self.random_state)
        self.coefs_, self.intercepts_, self.generative_intercepts_ = greedy_pretrain(
            X, sizes, learning_rate=self.learning_rate, batch_size=self.batch_size,
            n_iter=self.n_iter, k=self.k, method=self.method, momentum=self.momentum,
            weight_decay=self.weight_decay, rng=rng, verbose=self.verbose)
        self.generative_coefs_ = [W.copy() for W in self.coefs_[:-1]]
        self._rng_key = seed_key(rng)
        self._rng_stream = 0
        monitor = monitor_rows(X)
        self.loss_curve_ = [self._reconstruction_error(monitor)]
        if self.fine_tune_iter:
            self._rng_stream = up_down(
                X, self.coefs_, self.intercepts_, self.generative_coefs_,
                self.generative_intercepts_, n_epochs=self.fine_tune_iter,
                batch_size=self.batch_size, learning_rate=self.fine_tune_learning_rate,
                k=self.k, key=self._rng_key, stream=self._rng_stream, monitor=monitor,
                loss_curve=self.loss_curve_, verbose=self.verbose)
        return self

    def _reconstruction_error(self, X):
        """Squared error of an up pass to the top and a mean-field down pass."""
        return dbn_reconstruction_error(X, self.coefs_, self.intercepts_,
                                        self.generative_coefs_, self.generative_intercepts_)

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
        return dbn_up(self._check_X(X, reset=False), self.coefs_, self.intercepts_)

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
        return dbn_down(V, self.coefs_, self.generative_coefs_, self.generative_intercepts_)

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
        check_sample_args(n_samples, n_steps)
        if random_state is None:
            key, stream = self._rng_key, self._rng_stream
        else:
            key, stream = seed_key(check_random_state(random_state)), 0
        V, stream = dbn_sample(self.coefs_, self.intercepts_, self.generative_coefs_,
                               self.generative_intercepts_, n_samples, n_steps, key, stream)
        if random_state is None:
            self._rng_stream = stream
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
                for size in check_layer_sizes(self.hidden_layer_sizes)]

    def _make_network(self, X, Y, rng):
        """The logistic MLP, its hidden layers pre-trained as RBMs on ``X``."""
        net = super()._make_network(X, Y, rng)
        self.pretrained_coefs_ = []
        if self.rbm_n_iter == 0:
            return net
        if sp.issparse(X):
            X = X.toarray()
        X = np.ascontiguousarray(X)
        if _k.outside_unit_interval(X):
            X = np.clip(X, 0, 1)
        coefs, hb, _ = greedy_pretrain(
            X, check_layer_sizes(self.hidden_layer_sizes), learning_rate=self.rbm_learning_rate,
            batch_size=self.rbm_batch_size, n_iter=self.rbm_n_iter, k=self.rbm_k,
            method=self.rbm_method, momentum=self.rbm_momentum,
            weight_decay=self.rbm_weight_decay, rng=rng, verbose=int(self.verbose))
        dense = [layer for layer in net.layers if isinstance(layer, nn.Dense)][:-1]
        for layer, W, b in zip(dense, coefs, hb):
            layer.params["weight"][...] = W
            layer.params["bias"][...] = b
        self.pretrained_coefs_ = coefs
        return net
