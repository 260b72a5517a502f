"""Convolutional networks for images: ``CNNClassifier`` and ``CNNRegressor``.

The network is ``[Conv2D -> activation -> pooling] * len(conv_layers)``, then
``Flatten``, an optional dense head (``hidden_layer_sizes``) and the output
``Dense``; the convolution and pooling layers run fastnut's Cython kernels
(``fastnut.nn.Conv2D``, ``MaxPool2D``, ``AvgPool2D``).
"""
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from . import nn
from ._network import (CLASS_WEIGHT_CONSTRAINT, TRAIN_CONSTRAINTS, NetworkClassifier,
                       NetworkRegressor)
from ._validation import check_images, check_input_shape, predict_dtypes
from ._threads import blas_one_thread

_TRAIN_NAMES = ("solver", "alpha", "batch_size", "learning_rate_init", "max_iter", "shuffle",
                "random_state", "tol", "verbose", "warm_start", "early_stopping",
                "validation_fraction", "n_iter_no_change", "momentum", "nesterovs_momentum",
                "beta_1", "beta_2", "epsilon", "dtype",
                "lr_schedule", "callbacks")

class _CNNMixin:
    _parameter_constraints = {
        "input_shape": ["array-like", None],
        "conv_layers": ["array-like"],
        "pool": [StrOptions({"max", "avg"}), None],
        "pool_size": [Interval(Integral, 1, None, closed="left")],
        "padding": [StrOptions({"same", "valid"}), Interval(Integral, 0, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "hidden_layer_sizes": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "residual": ["boolean"],
        **{k: v for k, v in TRAIN_CONSTRAINTS.items() if k in _TRAIN_NAMES},
        "solver": [StrOptions({"sgd", "adam"})],
    }

    #: training values this family does not expose (TrainConfig fields)
    _FIXED_TRAIN_PARAMS = {"learning_rate": "constant", "power_t": 0.5, "max_fun": 15000,
                           "clip_norm": None}

    def _check_X(self, X, reset, predict=False):
        if reset:
            shape = None if self.input_shape is None else check_input_shape(self.input_shape)
            dtype = self._compute_dtype()
        else:
            shape, dtype = self.image_shape_, self.network_.dtype
        if predict:  # converted and checked a row chunk at a time (_model_rows)
            return check_images(self, X, shape, reset=False, dtype=predict_dtypes(dtype),
                                ensure_all_finite=False)
        X = check_images(self, X, shape, reset=reset, dtype=dtype)
        if reset:
            self.image_shape_ = tuple(int(s) for s in X.shape[1:])
        return np.ascontiguousarray(X)

    def _forward_raw(self, X, link=True, check=True):
        # many small GEMMs (one image group each): BLAS threads only spin
        # (training is on one BLAS thread already, in the base class)
        with blas_one_thread():
            return super()._forward_raw(X, link, check)

    def _blocks(self):
        blocks = []
        for block in self.conv_layers:
            try:
                filters, kernel = block
                ok = int(filters) == filters and filters >= 1
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"conv_layers must be a sequence of (filters, kernel_size) "
                                 f"pairs with filters >= 1; got {self.conv_layers!r}")
            blocks.append((int(filters), kernel))
        return blocks

    def _conv_act(self, filters, kernel, act=True):
        """One convolution with its activation (``act=False``: none), batch
        normalisation between them with ``batch_norm`` (a ReLU is fused into
        it, the convolution's bias is left out: the normalisation's shift
        replaces it)."""
        activation = self.activation if act else "identity"
        if not self.batch_norm:
            return [nn.Conv2D(filters, kernel, padding=self.padding, activation=activation)]
        conv = nn.Conv2D(filters, kernel, padding=self.padding, use_bias=False)
        if activation in ("identity", "relu"):
            return [conv, nn.BatchNorm2D(activation=activation)]
        return [conv, nn.BatchNorm2D(), nn.Activation(activation)]

    def _block(self, filters, kernel, channels):
        """The layers of one entry of ``conv_layers`` on ``channels`` input channels."""
        if not self.residual:
            return self._conv_act(filters, kernel)
        if self.padding != "same":
            raise ValueError(f"residual=True adds each block's input to its output, so the "
                             f"convolutions must keep the image size: use padding='same' "
                             f"(got padding={self.padding!r})")
        body = self._conv_act(filters, kernel) + self._conv_act(filters, kernel, act=False)
        if channels == filters:
            shortcut = None
        elif self.batch_norm:  # ResNet's projection: 1x1 convolution + normalisation
            shortcut = nn.Sequential([nn.Conv2D(filters, 1, use_bias=False), nn.BatchNorm2D()])
        else:
            shortcut = "projection"
        return [nn.Residual(body, shortcut=shortcut), nn.Activation(self.activation)]

    def _hidden_layers(self, sample_shape):
        layers = []
        C, H, W = sample_shape
        for filters, kernel in self._blocks():
            conv = nn.Conv2D(filters, kernel, padding=self.padding)
            _, _, H, W = conv._geometry(H, W)
            if H < 1 or W < 1:
                raise ValueError(
                    f"conv_layers={self.conv_layers!r} with padding={self.padding!r} shrink "
                    f"images of shape (C, H, W) = {tuple(sample_shape)} to nothing; use "
                    "padding='same', smaller kernels or fewer blocks")
            if self.residual:
                _, _, H, W = conv._geometry(H, W)  # the second convolution of the block
                if H < 1 or W < 1:
                    raise ValueError(f"conv_layers={self.conv_layers!r} shrink images of "
                                     f"shape {tuple(sample_shape)} to nothing")
            layers += self._block(filters, kernel, C)
            C = filters
            if self.pool is not None:
                window = (min(self.pool_size, H), min(self.pool_size, W))
                if window != (1, 1):
                    cls = nn.MaxPool2D if self.pool == "max" else nn.AvgPool2D
                    layers.append(cls(window))
                    H, W = H // window[0], W // window[1]
        layers.append(nn.Flatten())
        for h in self._hidden_sizes():
            if self.dropout:
                layers.append(nn.Dropout(self.dropout))
            layers.append(nn.Dense(h, activation=self.activation))
        if self.dropout:
            layers.append(nn.Dropout(self.dropout))
        return layers

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(int(s) != s or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got {sizes}")
        return [int(s) for s in sizes]

    def _init_factor(self):
        return 2.0 if self.activation == "logistic" else 6.0

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags



class CNNClassifier(_CNNMixin, NetworkClassifier):
    """Convolutional neural network classifier.

    ``[Conv2D -> activation -> pooling] * len(conv_layers) -> Flatten ->
    dense head -> softmax`` (logistic output for binary and multilabel
    targets), trained on the log-loss with Adam or SGD.  ``X`` may be images
    ``(n, C, H, W)``, ``(n, H, W)``, or flat rows ``(n, C*H*W)`` with
    ``input_shape``; labels of any type.

    Parameters
    ----------
    input_shape : tuple (C, H, W) or None, default=None
        Shape of one image, needed when ``X`` comes flat as ``(n, C*H*W)``
        (what a ``Pipeline`` with a scaler passes on).  One entry may be -1
        and is inferred from the number of features, e.g. ``(1, 1, -1)``
        reads each row as a one-pixel-high strip.  With ``None``, ``X`` of
        shape ``(n, C, H, W)`` or ``(n, H, W)`` (one channel) gives the shape
        itself, and flat ``X`` must have a square number of features (one
        square channel); anything else is a ``ValueError``.
    conv_layers : sequence of (filters, kernel_size), default=((32, 3), (64, 3))
        One block per entry: ``Conv2D(filters, kernel_size, padding)`` ->
        ``activation`` -> pooling.  ``kernel_size`` is an int or a pair.
    pool : {"max", "avg"} or None, default="max"
        Pooling after each convolution; None for none.
    pool_size : int, default=2
        Pooling window and stride.  A window larger than the feature map is
        clipped to it (and skipped when that leaves 1x1), so small images
        keep working.
    padding : {"same", "valid"} or int, default="same"
        Zero padding of every convolution.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the convolutions and of the dense head (ReLU is fused
        into the convolution kernel).
    hidden_layer_sizes : sequence of int, default=(128,)
        Widths of the dense layers between the last block and the output.
    dropout : float, default=0.0
        Dropout rate before every dense layer (training only).
    batch_norm : bool, default=False
        Batch normalisation (``nn.BatchNorm2D``) after every convolution,
        before its activation (the convolutions then have no bias).
        Prediction uses the running statistics, fitted state.
    residual : bool, default=False
        Make every entry of ``conv_layers`` a residual block (He et al.,
        2016): two convolutions of ``(filters, kernel_size)``, the second
        without activation, added to the block's input (through a 1x1
        convolution, with batch normalisation when ``batch_norm``, where the
        number of channels changes), then the activation and the pooling.
        Needs ``padding="same"``.  With ``batch_norm=True`` this is a small
        ResNet.
    solver : {"adam", "sgd"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=1e-4
        L2 penalty strength on the weights (divided by the batch's
        sample-weight sum).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    max_iter : int, default=200
        Maximum number of epochs.
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
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score
        stalls for ``n_iter_no_change`` epochs, and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
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
        Compute dtype.

    Attributes
    ----------
    image_shape_ : tuple (C, H, W)
        Shape of one image, as resolved at fit time.
    network_ : fastnut.nn.Sequential
        The network; ``network_.layers[0].params["weight"]`` holds the first
        layer's filters, shape ``(C_out, C, kh, kw)``.
    loss_ : float
    loss_curve_ : list of float
        Training loss per epoch.
    best_loss_ : float or None
    validation_scores_ : list of float or None
        Validation score per epoch with early stopping.
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Number of training samples seen.
    n_features_in_ : int
        ``C*H*W``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_outputs_ : int
    n_layers_ : int
    classes_ : ndarray of shape (n_classes,)

    See Also
    --------
    fastnut.plotting.plot_filters : draw the first layer's filters.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import CNNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = CNNClassifier(input_shape=(1, 8, 8), conv_layers=((8, 3),),
    ...                     hidden_layer_sizes=(32,), batch_size=32, learning_rate_init=3e-3,
    ...                     max_iter=10, random_state=0)
    >>> clf.fit(X[:1000] / 16, y[:1000]).score(X[1000:] / 16, y[1000:]) > 0.9
    True
"""

    _parameter_constraints = {**_CNNMixin._parameter_constraints, **CLASS_WEIGHT_CONSTRAINT}

    def __init__(self, input_shape=None, conv_layers=((32, 3), (64, 3)), *, pool="max",
                 pool_size=2, padding="same", activation="relu", hidden_layer_sizes=(128,),
                 dropout=0.0, batch_norm=False, residual=False, solver="adam", alpha=1e-4,
                 batch_size="auto", learning_rate_init=1e-3, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=None, momentum=0.9,
                 nesterovs_momentum=True, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 class_weight=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.input_shape = input_shape
        self.conv_layers = conv_layers
        self.pool = pool
        self.pool_size = pool_size
        self.padding = padding
        self.activation = activation
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.residual = residual
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
        self.class_weight = class_weight
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype


class CNNRegressor(_CNNMixin, NetworkRegressor):
    """Convolutional neural network regressor.

    ``[Conv2D -> activation -> pooling] * len(conv_layers) -> Flatten ->
    dense head -> identity output``, trained on the squared error with Adam
    or SGD; one or several targets.  ``X`` may be images ``(n, C, H, W)``,
    ``(n, H, W)``, or flat rows ``(n, C*H*W)`` with ``input_shape``.

    Parameters
    ----------
    input_shape : tuple (C, H, W) or None, default=None
        Shape of one image, needed when ``X`` comes flat as ``(n, C*H*W)``
        (what a ``Pipeline`` with a scaler passes on).  One entry may be -1
        and is inferred from the number of features, e.g. ``(1, 1, -1)``
        reads each row as a one-pixel-high strip.  With ``None``, ``X`` of
        shape ``(n, C, H, W)`` or ``(n, H, W)`` (one channel) gives the shape
        itself, and flat ``X`` must have a square number of features (one
        square channel); anything else is a ``ValueError``.
    conv_layers : sequence of (filters, kernel_size), default=((32, 3), (64, 3))
        One block per entry: ``Conv2D(filters, kernel_size, padding)`` ->
        ``activation`` -> pooling.  ``kernel_size`` is an int or a pair.
    pool : {"max", "avg"} or None, default="max"
        Pooling after each convolution; None for none.
    pool_size : int, default=2
        Pooling window and stride.  A window larger than the feature map is
        clipped to it (and skipped when that leaves 1x1), so small images
        keep working.
    padding : {"same", "valid"} or int, default="same"
        Zero padding of every convolution.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the convolutions and of the dense head (ReLU is fused
        into the convolution kernel).
    hidden_layer_sizes : sequence of int, default=(128,)
        Widths of the dense layers between the last block and the output.
    dropout : float, default=0.0
        Dropout rate before every dense layer (training only).
    batch_norm : bool, default=False
        Batch normalisation (``nn.BatchNorm2D``) after every convolution,
        before its activation (the convolutions then have no bias).
        Prediction uses the running statistics, fitted state.
    residual : bool, default=False
        Make every entry of ``conv_layers`` a residual block (He et al.,
        2016): two convolutions of ``(filters, kernel_size)``, the second
        without activation, added to the block's input (through a 1x1
        convolution, with batch normalisation when ``batch_norm``, where the
        number of channels changes), then the activation and the pooling.
        Needs ``padding="same"``.  With ``batch_norm=True`` this is a small
        ResNet.
    solver : {"adam", "sgd"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=1e-4
        L2 penalty strength on the weights (divided by the batch's
        sample-weight sum).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    max_iter : int, default=200
        Maximum number of epochs.
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
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score
        stalls for ``n_iter_no_change`` epochs, and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
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
        Compute dtype.

    Attributes
    ----------
    image_shape_ : tuple (C, H, W)
        Shape of one image, as resolved at fit time.
    network_ : fastnut.nn.Sequential
        The network; ``network_.layers[0].params["weight"]`` holds the first
        layer's filters, shape ``(C_out, C, kh, kw)``.
    loss_ : float
    loss_curve_ : list of float
        Training loss per epoch.
    best_loss_ : float or None
    validation_scores_ : list of float or None
        Validation score per epoch with early stopping.
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Number of training samples seen.
    n_features_in_ : int
        ``C*H*W``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_outputs_ : int
    n_layers_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import CNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((300, 1, 6, 6))
    >>> y = 10 * (X[:, 0, :3].mean(axis=(1, 2)) - X[:, 0, 3:].mean(axis=(1, 2)))
    >>> reg = CNNRegressor(conv_layers=((8, 3),), batch_size=32, max_iter=30,
    ...                    random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.8
    True
"""

    def __init__(self, input_shape=None, conv_layers=((32, 3), (64, 3)), *, pool="max",
                 pool_size=2, padding="same", activation="relu", hidden_layer_sizes=(128,),
                 dropout=0.0, batch_norm=False, residual=False, solver="adam", alpha=1e-4,
                 batch_size="auto", learning_rate_init=1e-3, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=None, momentum=0.9,
                 nesterovs_momentum=True, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.input_shape = input_shape
        self.conv_layers = conv_layers
        self.pool = pool
        self.pool_size = pool_size
        self.padding = padding
        self.activation = activation
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.residual = residual
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
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype
