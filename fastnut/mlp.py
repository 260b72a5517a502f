"""Multilayer perceptrons: drop-in replacements for scikit-learn's MLPs.

``from fastnut import MLPClassifier`` instead of
``from sklearn.neural_network import MLPClassifier``: same parameters,
defaults, fitted attributes and methods, with the network engine's BLAS
GEMMs and fused kernels underneath.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions

from . import nn
from ._network import (CLASS_WEIGHT_CONSTRAINT, TRAIN_CONSTRAINTS, NetworkClassifier,
                       NetworkRegressor)

class _MLPMixin:
    _accept_sparse = True

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        **{k: v for k, v in TRAIN_CONSTRAINTS.items() if k != "clip_norm"},
        # scikit-learn's values only: None (no plateau rule) is not theirs
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"),
                             Options(Real, {np.inf})],
    }

    #: scikit-learn's MLPs have no gradient clipping
    _FIXED_TRAIN_PARAMS = {"clip_norm": None}

    #: as scikit-learn's: each warm_start fit starts a new optimizer and re-seeds
    #: the shuffling from random_state
    _SKLEARN_WARM_START = True

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return sizes

    def _init_factor(self):
        return 2.0 if self.activation == "logistic" else 6.0

    def _hidden_layers(self, sample_shape):
        f = self._init_factor()
        return [nn.Dense(h, activation=self.activation, init_factor=f)
                for h in self._hidden_sizes()]

    def _dense_layers(self):
        return [l for l in self.network_.layers if isinstance(l, nn.Dense)]

    @property
    def coefs_(self):
        if "network_" not in self.__dict__:
            raise AttributeError("coefs_")
        return [l.params["weight"] for l in self._dense_layers()]

    @coefs_.setter
    def coefs_(self, values):
        for l, v in zip(self._dense_layers(), values, strict=True):
            l.params["weight"][...] = v

    @property
    def intercepts_(self):
        if "network_" not in self.__dict__:
            raise AttributeError("intercepts_")
        return [l.params["bias"] for l in self._dense_layers()]

    @intercepts_.setter
    def intercepts_(self, values):
        for l, v in zip(self._dense_layers(), values, strict=True):
            l.params["bias"][...] = v


class MLPClassifier(_MLPMixin, NetworkClassifier):
    """Multilayer perceptron classifier (drop-in for scikit-learn's).

    Optimises the log-loss with lbfgs, sgd or adam: softmax output for
    multiclass targets, logistic for binary and multilabel ones. Accepts
    dense or sparse CSR/CSC ``X`` and labels of any type.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden-layer activation.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=1e-4
        L2 penalty strength on the weights (divided by the batch's
        sample-weight sum).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule for ``solver="sgd"``.
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    power_t : float, default=0.5
        Exponent of the ``invscaling`` schedule, ``lr = lr_init / t**power_t``.
    max_iter : int, default=200
        Epochs for sgd/adam, iterations for lbfgs.
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, shuffling and the validation split.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights at the next fit, for ``max_iter``
        more epochs. As in scikit-learn, each such fit starts a new optimizer
        (Adam's moments, SGD's velocities and adaptive rate) and re-seeds the
        row shuffling from ``random_state``, so two warm-started halves are
        not one run; exact resume (also from a checkpoint file) is
        ``partial_fit``.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score
        stalls for ``n_iter_no_change`` epochs, and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int, default=10
        Stop when the training loss (the validation score with
        ``early_stopping``) has not improved by ``tol`` for more than this
        many epochs.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
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
    dtype : {np.float32, np.float64}, default=np.float32
        Compute dtype. **fastnut differs from scikit-learn here**: it computes
        in float32 by default (about twice as fast; scikit-learn computes in
        the input's dtype, usually float64). ``dtype=np.float64`` reproduces
        scikit-learn's arithmetic and, with the same ``random_state``, its
        initial weights and training trajectory.

    Attributes
    ----------
    loss_ : float
        Loss at the last epoch.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    loss_curve_ : list of float
        Training loss per epoch (sgd/adam).
    validation_scores_ : list of float or None
        Validation score per epoch with early stopping.
    best_validation_score_ : float or None
    t_ : int
        Number of training samples seen.
    coefs_ : list of ndarray of shape (n_in, n_out)
        Weights per layer (views of the network's parameters).
    intercepts_ : list of ndarray of shape (n_out,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_iter_ : int
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : str
    network_ : fastnut.nn.Sequential
        The underlying network (Dense layers with fused activations).

    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0)
    >>> clf.fit(X / 16, y).score(X / 16, y) > 0.95
    True
"""

    _parameter_constraints = {**_MLPMixin._parameter_constraints, **CLASS_WEIGHT_CONSTRAINT}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.class_weight = class_weight
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype


class MLPRegressor(_MLPMixin, NetworkRegressor):
    """Multilayer perceptron regressor (drop-in for scikit-learn's).

    Optimises the squared error (identity output) or, with
    ``loss="poisson"``, the half Poisson deviance (exp output). One or
    several targets; dense or sparse CSR/CSC ``X``.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden-layer activation.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=1e-4
        L2 penalty strength on the weights (divided by the batch's
        sample-weight sum).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule for ``solver="sgd"``.
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    power_t : float, default=0.5
        Exponent of the ``invscaling`` schedule, ``lr = lr_init / t**power_t``.
    max_iter : int, default=200
        Epochs for sgd/adam, iterations for lbfgs.
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, shuffling and the validation split.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights at the next fit, for ``max_iter``
        more epochs. As in scikit-learn, each such fit starts a new optimizer
        (Adam's moments, SGD's velocities and adaptive rate) and re-seeds the
        row shuffling from ``random_state``, so two warm-started halves are
        not one run; exact resume (also from a checkpoint file) is
        ``partial_fit``.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score
        stalls for ``n_iter_no_change`` epochs, and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int, default=10
        Stop when the training loss (the validation score with
        ``early_stopping``) has not improved by ``tol`` for more than this
        many epochs.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
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
    dtype : {np.float32, np.float64}, default=np.float32
        Compute dtype. **fastnut differs from scikit-learn here**: it computes
        in float32 by default (about twice as fast; scikit-learn computes in
        the input's dtype, usually float64). ``dtype=np.float64`` reproduces
        scikit-learn's arithmetic and, with the same ``random_state``, its
        initial weights and training trajectory.

    Attributes
    ----------
    loss_ : float
        Loss at the last epoch.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    loss_curve_ : list of float
        Training loss per epoch (sgd/adam).
    validation_scores_ : list of float or None
        Validation score per epoch with early stopping.
    best_validation_score_ : float or None
    t_ : int
        Number of training samples seen.
    coefs_ : list of ndarray of shape (n_in, n_out)
        Weights per layer (views of the network's parameters).
    intercepts_ : list of ndarray of shape (n_out,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_iter_ : int
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : str
    network_ : fastnut.nn.Sequential
        The underlying network (Dense layers with fused activations).

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import MLPRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), solver="lbfgs", random_state=0)
    >>> reg.fit(X, X.ravel() ** 2).score(X, X.ravel() ** 2) > 0.95
    True
"""

    _parameter_constraints = {
        **_MLPMixin._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def _loss_name(self):
        return self.loss

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype
