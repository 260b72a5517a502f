"""Autoencoders as scikit-learn transformers.

An autoencoder encodes ``x`` into a code ``f(x)`` and decodes it back,
``g(f(x)) ≈ x``, by minimising the reconstruction error.  Every estimator
here is a configuration of fastnut's network engine (``fastnut.nn``): an
``nn.EncoderDecoder`` trained by ``nn.Trainer`` with the clean input as the
target.  They share ``fit``, ``partial_fit``, ``transform`` (the code),
``inverse_transform`` (decode codes), ``score_samples`` (minus the per-sample
reconstruction error, for anomaly detection), ``score`` and
``get_feature_names_out``.

* ``Autoencoder``: deep dense encoder/decoder, optionally tied weights.
* ``SparseAutoencoder``: + KL or L1 sparsity penalty on the code.
* ``ContractiveAutoencoder``: + squared Frobenius norm of the encoder Jacobian.
* ``DenoisingAutoencoder``: trained on corrupted inputs, reconstructs clean ones.
* ``ConvAutoencoder``: convolution + pooling encoder, upsampling + convolution decoder.
* ``LSTMAutoencoder``: sequence-to-sequence on NaN-padded variable-length sequences.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import nn
from ._network import (PREDICT_CHUNK, TRAIN_CONSTRAINTS, BaseNetwork, _stochastic_solver,
                       check_finite_prediction)
from ._threads import map_row_chunks
from ._validation import check_images, check_input_shape, check_sequences
from .nn import (ContractiveDense, ContractiveEncoder, Corruption, EncoderDecoder,
                 RepeatSteps, Reshape, SparsityPenalty, SumSquaredError, TiedDense,
                 TimeDistributedDense)

_ACTIVATIONS = {"identity", "logistic", "tanh", "relu"}


def _init_factor(activation):
    return 2.0 if activation == "logistic" else 6.0


class _BaseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseNetwork):
    """fit / transform / inverse_transform / score_samples over ``BaseNetwork``.

    Families supply ``_encoder_decoder(sample_shape)`` (two lists of layers),
    and, when their input is not tabular, ``_check_X`` and ``_output_form``.
    The reconstruction target is the checked input itself.
    """

    _masked = False  # NaN targets are padding (sequences)

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        **TRAIN_CONSTRAINTS,
    }

    # -- the three hooks of BaseNetwork --------------------------------------------------
    def _validate_fit(self, X, y, sample_weight, *, reset, incremental, classes=None):
        """``(X, X, None)``: the reconstruction target is the checked input itself."""
        X = self._check_X(X, reset)
        self._check_range(X)
        return X, X, None

    def _make_network(self, X, Y, rng):
        encoder, decoder = self._encoder_decoder(tuple(X.shape[1:]))
        net = EncoderDecoder(encoder, decoder)
        net.build(X.shape[1:], random_state=rng, dtype=self._compute_dtype())
        return net

    def _make_loss(self):
        """The reconstruction loss by its name: ``SumSquaredError`` (summed over
        features, NaN padding masked for sequences) or the binary cross-entropy."""
        if self.loss == "binary_cross_entropy":
            return nn.BinaryLogLoss()
        return SumSquaredError(masked=self._masked)

    def _check_range(self, X):
        if isinstance(self._make_loss(), nn.BinaryLogLoss):
            lo, hi = np.nanmin(X), np.nanmax(X)
            if lo < 0 or hi > 1:
                raise ValueError(
                    "loss='binary_cross_entropy' needs X in [0, 1] (e.g. scale it with "
                    f"MinMaxScaler); got values in [{lo:g}, {hi:g}]")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples (images and sequences may also come in their
            own shapes; see the class docstring).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted autoencoder.
        """
        return self._fit(X, None)

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One epoch over ``X`` (continues training; builds the network on the first call)."""
        return self._fit(X, None, incremental=True)

    def _validation_score(self, X, y, sample_weight):
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.mean(self._score_checked(X, y, check=False)))

    # -- inference ----------------------------------------------------------------------
    def _link(self, Z):
        return self._make_loss().predict(Z)

    def _reconstruct_checked(self, X, check=True):
        net = self.network_
        out = np.empty(X.shape, dtype=net.dtype)
        def chunk(a, b):
            with np.errstate(over="ignore", invalid="ignore"):
                out[a:b] = self._link(net.forward(X[a:b], training=False))
            if check:
                check_finite_prediction(self, out[a:b], X[a:b])
        map_row_chunks(chunk, X.shape[0], PREDICT_CHUNK)
        return out

    def _score_checked(self, X, target=None, check=True):
        """Minus the mean squared reconstruction error of each row of checked ``X``."""
        R = self._reconstruct_checked(X, check)
        target = X if target is None else target
        D = (R - target).reshape(X.shape[0], -1)
        if self._masked:
            valid = ~np.isnan(D)
            D[~valid] = 0.0
            return -np.einsum("ij,ij->i", D, D) / valid.sum(axis=1)
        return -np.einsum("ij,ij->i", D, D) / D.shape[1]

    def transform(self, X):
        """Encode ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, in the form the model was fitted on.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            The code layer's output for each sample.
        """
        X = self._predict_X(X)
        net = self.network_
        out = np.empty((X.shape[0], self.n_components), dtype=net.dtype)
        def chunk(a, b):
            with np.errstate(over="ignore", invalid="ignore"):
                out[a:b] = net.encode(X[a:b], training=False)
            check_finite_prediction(self, out[a:b], X[a:b])
        map_row_chunks(chunk, X.shape[0], PREDICT_CHUNK)
        return out

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from ``transform``.

        Returns
        -------
        X_reconstructed : ndarray
            Same form as the training input, e.g. ``(n_samples, n_features)``.
        """
        check_is_fitted(self, "network_")
        Z = check_array(X, dtype=self.network_.dtype, order="C")
        if Z.shape[1] != self.n_components:
            raise ValueError(f"inverse_transform expects codes of shape (n, "
                             f"{self.n_components}); got {Z.shape}")
        net = self.network_
        first = []  # the output, allocated by the first chunk (it runs alone, first)

        def chunk(a, b):
            R = self._link(net.decode(Z[a:b], training=False, n_steps=self._decode_steps()))
            if not first:
                first.append(np.empty((Z.shape[0],) + R.shape[1:], dtype=net.dtype))
            first[0][a:b] = R
        map_row_chunks(chunk, Z.shape[0], PREDICT_CHUNK)
        return self._output_form(first[0])

    def _decode_steps(self):
        return None

    def _output_form(self, R, ndim=None):
        """Reconstructions ``R`` in the form of inputs with ``ndim`` axes
        (the training input's when None)."""
        return R

    def score_samples(self, X):
        """Score each sample by minus its mean squared reconstruction error.

        Higher is more typical: low scores flag anomalies.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, in the form the model was fitted on.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the mean over features (valid steps for sequences) of the
            squared reconstruction error.
        """
        return self._score_checked(self._predict_X(X))

    def score(self, X, y=None):
        """Return the mean of ``score_samples(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, in the form the model was fitted on.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Minus the mean squared reconstruction error over the samples.
        """
        return float(np.mean(self.score_samples(X)))

    def reconstruct(self, X):
        """Reconstruct ``X``: ``inverse_transform(transform(X))`` in one pass.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, in the form the model was fitted on.

        Returns
        -------
        X_rec : ndarray
            The reconstructions, in the same form (shape) as ``X``.
        """
        ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
        return self._output_form(self._reconstruct_checked(self._predict_X(X)), ndim)

    @property
    def _n_features_out(self):
        if "network_" not in self.__dict__:
            raise AttributeError("_n_features_out")
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = [self._compute_dtype().name]
        return tags


class _DenseAutoencoder(_BaseAutoencoder):
    _parameter_constraints = {
        **_BaseAutoencoder._parameter_constraints,
        "encoder_layer_sizes": ["array-like"],
        "decoder_layer_sizes": ["array-like", None],
        "activation": [StrOptions(_ACTIVATIONS)],
        "code_activation": [StrOptions(_ACTIVATIONS)],
        "out_activation": [StrOptions({"identity", "logistic"})],
        "loss": [StrOptions({"squared_error", "binary_cross_entropy"})],
        "tied_weights": ["boolean"],
    }

    # hooks of the variants
    def _input_layers(self):
        return []

    def _encoder_dense(self, units, activation):
        return nn.Dense(units, activation=activation, init_factor=_init_factor(activation))

    def _code_layers(self):
        return []

    def _wrap_encoder(self, dense):
        """The encoder's dense layers as they go into the network."""
        return dense

    @staticmethod
    def _sizes(sizes, name):
        sizes = [sizes] if isinstance(sizes, (Integral, np.integer)) else list(sizes)
        if any(int(s) != s or s < 1 for s in sizes):
            raise ValueError(f"{name} must be positive ints, got {sizes}")
        return [int(s) for s in sizes]

    def _encoder_decoder(self, sample_shape):
        n_features = sample_shape[0]
        enc_sizes = self._sizes(self.encoder_layer_sizes, "encoder_layer_sizes")
        mirrored = self.decoder_layer_sizes is None
        dec_sizes = (enc_sizes[::-1] if mirrored
                     else self._sizes(self.decoder_layer_sizes, "decoder_layer_sizes"))
        if self.loss == "binary_cross_entropy" and self.out_activation != "logistic":
            raise ValueError("loss='binary_cross_entropy' needs out_activation='logistic'")
        if self.tied_weights and not mirrored:
            raise ValueError("tied_weights=True needs the mirrored decoder "
                             "(decoder_layer_sizes=None)")
        # the loss applies the logistic link itself for binary cross-entropy
        out_act = "identity" if self.loss == "binary_cross_entropy" else self.out_activation
        encoder = list(self._input_layers())
        dense = [self._encoder_dense(h, self.activation) for h in enc_sizes]
        dense.append(self._encoder_dense(self.n_components, self.code_activation))
        encoder += list(self._wrap_encoder(dense)) + list(self._code_layers())
        acts = [self.activation] * len(dec_sizes) + [out_act]
        if self.tied_weights:
            decoder = [TiedDense(src, activation=a, init_factor=_init_factor(a))
                       for src, a in zip(dense[::-1], acts)]
        else:
            decoder = [nn.Dense(u, activation=a, init_factor=_init_factor(a))
                       for u, a in zip(dec_sizes + [n_features], acts)]
        return encoder, decoder


class Autoencoder(_DenseAutoencoder):
    r"""Deep dense autoencoder (scikit-learn transformer).

    The encoder maps ``X`` through ``encoder_layer_sizes`` to
    ``n_components`` code units; the decoder (mirrored by default) maps codes
    back.  Unlike PCA, the encoder and decoder are non-linear, so the code
    can follow curved structure in the data.

    Parameters
    ----------
    n_components : int, default=2
        Width of the code.
    encoder_layer_sizes : tuple of int, default=(100,)
        Hidden layers of the encoder, from the input to the code.
    decoder_layer_sizes : tuple of int or None, default=None
        Hidden layers of the decoder; ``None`` mirrors the encoder.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Hidden-layer activation.
    code_activation : {"identity", "relu", "tanh", "logistic"}, default="identity"
        Activation of the code layer.
    out_activation : {"identity", "logistic"}, default="identity"
        Output activation; ``"logistic"`` for data in [0, 1].
    loss : {"squared_error", "binary_cross_entropy"}, default="squared_error"
        Reconstruction loss, summed over features and averaged over samples.
        ``binary_cross_entropy`` needs ``out_activation="logistic"`` and ``X``
        in [0, 1].
    tied_weights : bool, default=False
        Decoder weights are the transposed encoder weights (needs the
        mirrored decoder).

    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=0.0
        L2 penalty strength on the weights (divided by the batch size).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule for ``solver="sgd"``.
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    power_t : float, default=0.5
        Exponent of the ``invscaling`` schedule, ``lr = lr_init / t**power_t``.
    max_iter : int, default=200
        Maximum number of epochs (iterations for lbfgs).
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Initial weights, shuffling, validation split and noise.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its score
        (minus the mean reconstruction error) stalls; keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    clip_norm : float or None, default=None
        Rescale each batch's gradient to at most this global L2 norm;
        None disables it.
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
        Compute dtype (and dtype of the codes and reconstructions).

    Attributes
    ----------
    network_ : fastnut.nn.EncoderDecoder
        The trained network (``network_.encode``, ``network_.decode``).
    loss_ : float
        Training objective at the last epoch (reconstruction loss plus
        penalties).
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Training samples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Training minimises, over mini-batches of ``n`` rows,

    .. math::

        L = \frac{1}{2n}\sum_i \lVert x_i - g(f(x_i)) \rVert^2
            + \frac{α}{2n} \sum_l \lVert W_l \rVert_F^2

    (or the binary cross-entropy summed over features).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import Autoencoder
    >>> X = load_digits().data / 16
    >>> ae = Autoencoder(n_components=8, encoder_layer_sizes=(64,), max_iter=20,
    ...                  random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 8)
    >>> ae.inverse_transform(ae.transform(X[:2])).shape
    (2, 64)
    """

    def __init__(self, n_components=2, *, encoder_layer_sizes=(100,), decoder_layer_sizes=None,
                 activation="relu", code_activation="identity", out_activation="identity",
                 loss="squared_error", tied_weights=False, solver="adam", alpha=0.0,
                 batch_size="auto", learning_rate="constant", learning_rate_init=1e-3,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=None, max_fun=15000, clip_norm=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.n_components = n_components
        self.encoder_layer_sizes = encoder_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.code_activation = code_activation
        self.out_activation = out_activation
        self.loss = loss
        self.tied_weights = tied_weights
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
        self.clip_norm = clip_norm
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype


class SparseAutoencoder(_DenseAutoencoder):
    r"""Dense autoencoder with a sparsity penalty on the code.

    Parameters
    ----------
    n_components : int, default=2
        Width of the code.
    encoder_layer_sizes : tuple of int, default=(100,)
        Hidden layers of the encoder, from the input to the code.
    decoder_layer_sizes : tuple of int or None, default=None
        Hidden layers of the decoder; ``None`` mirrors the encoder.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Hidden-layer activation.
    code_activation : {"identity", "relu", "tanh", "logistic"}, default="logistic"
        Activation of the code layer.
    out_activation : {"identity", "logistic"}, default="identity"
        Output activation; ``"logistic"`` for data in [0, 1].
    loss : {"squared_error", "binary_cross_entropy"}, default="squared_error"
        Reconstruction loss, summed over features and averaged over samples.
        ``binary_cross_entropy`` needs ``out_activation="logistic"`` and ``X``
        in [0, 1].
    tied_weights : bool, default=False
        Decoder weights are the transposed encoder weights (needs the
        mirrored decoder).

    sparsity : {"kl", "l1"}, default="kl"
        ``kl``: KL divergence between ``sparsity_target`` and each code
        unit's mean activation over the batch (needs
        ``code_activation="logistic"``); ``l1``: mean L1 norm of the codes.
    sparsity_target : float, default=0.05
        Target mean activation ``ρ`` (``sparsity="kl"``).
    sparsity_weight : float, default=0.1
        Weight ``β`` of the penalty.

    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=0.0
        L2 penalty strength on the weights (divided by the batch size).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule for ``solver="sgd"``.
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    power_t : float, default=0.5
        Exponent of the ``invscaling`` schedule, ``lr = lr_init / t**power_t``.
    max_iter : int, default=200
        Maximum number of epochs (iterations for lbfgs).
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Initial weights, shuffling, validation split and noise.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its score
        (minus the mean reconstruction error) stalls; keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    clip_norm : float or None, default=None
        Rescale each batch's gradient to at most this global L2 norm;
        None disables it.
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
        Compute dtype (and dtype of the codes and reconstructions).

    Attributes
    ----------
    network_ : fastnut.nn.EncoderDecoder
        The trained network (``network_.encode``, ``network_.decode``).
    loss_ : float
        Training objective at the last epoch (reconstruction loss plus
        penalties).
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Training samples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Adds to the reconstruction loss of ``Autoencoder``, with codes ``h`` and
    ``ρ̂_j = (1/n) Σ_i h_ij``,

    .. math::

        β \sum_j \mathrm{KL}(ρ \,\|\, ρ̂_j)
        \quad\text{or}\quad \frac{β}{n}\sum_{ij} |h_{ij}| .

    See ``fastnut.nn.SparsityPenalty`` for the gradients.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import SparseAutoencoder
    >>> X = load_digits().data / 16
    >>> sae = SparseAutoencoder(n_components=32, max_iter=10, random_state=0).fit(X)
    >>> bool(sae.transform(X).mean() < 0.5)
    True
    """

    _parameter_constraints = {
        **_DenseAutoencoder._parameter_constraints,
        "sparsity": [StrOptions({"kl", "l1"})],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=2, *, encoder_layer_sizes=(100,), decoder_layer_sizes=None,
                 activation="relu", code_activation="logistic", out_activation="identity",
                 loss="squared_error", tied_weights=False, sparsity="kl", sparsity_target=0.05,
                 sparsity_weight=0.1, solver="adam", alpha=0.0, batch_size="auto",
                 learning_rate="constant", learning_rate_init=1e-3, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=None, max_fun=15000, clip_norm=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.n_components = n_components
        self.encoder_layer_sizes = encoder_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.code_activation = code_activation
        self.out_activation = out_activation
        self.loss = loss
        self.tied_weights = tied_weights
        self.sparsity = sparsity
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
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
        self.clip_norm = clip_norm
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype

    def _code_layers(self):
        if self.sparsity == "kl" and self.code_activation != "logistic":
            raise ValueError("sparsity='kl' compares mean activations with sparsity_target "
                             "and needs code_activation='logistic'; got "
                             f"code_activation={self.code_activation!r} (or use sparsity='l1')")
        return [SparsityPenalty(self.sparsity, self.sparsity_target, self.sparsity_weight)]


class ContractiveAutoencoder(_DenseAutoencoder):
    """Dense autoencoder penalising the encoder's Jacobian.

    The penalty makes the code insensitive to small input changes, which
    keeps it to the directions along which the data varies.

    Parameters
    ----------
    n_components : int, default=2
        Width of the code.
    encoder_layer_sizes : tuple of int, default=()
        Hidden layers of the encoder, from the input to the code.
    decoder_layer_sizes : tuple of int or None, default=None
        Hidden layers of the decoder; ``None`` mirrors the encoder.
    activation : {"relu", "tanh", "logistic", "identity"}, default="logistic"
        Hidden-layer activation.
    code_activation : {"identity", "relu", "tanh", "logistic"}, default="logistic"
        Activation of the code layer.
    out_activation : {"identity", "logistic"}, default="identity"
        Output activation; ``"logistic"`` for data in [0, 1].
    loss : {"squared_error", "binary_cross_entropy"}, default="squared_error"
        Reconstruction loss, summed over features and averaged over samples.
        ``binary_cross_entropy`` needs ``out_activation="logistic"`` and ``X``
        in [0, 1].
    tied_weights : bool, default=False
        Decoder weights are the transposed encoder weights (needs the
        mirrored decoder).

    contractive_weight : float, default=0.1
        Weight ``λ`` of the penalty.

    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=0.0
        L2 penalty strength on the weights (divided by the batch size).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule for ``solver="sgd"``.
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    power_t : float, default=0.5
        Exponent of the ``invscaling`` schedule, ``lr = lr_init / t**power_t``.
    max_iter : int, default=200
        Maximum number of epochs (iterations for lbfgs).
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Initial weights, shuffling, validation split and noise.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its score
        (minus the mean reconstruction error) stalls; keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    clip_norm : float or None, default=None
        Rescale each batch's gradient to at most this global L2 norm;
        None disables it.
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
        Compute dtype (and dtype of the codes and reconstructions).

    Attributes
    ----------
    network_ : fastnut.nn.EncoderDecoder
        The trained network (``network_.encode``, ``network_.decode``).
    loss_ : float
        Training objective at the last epoch (reconstruction loss plus
        penalties).
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Training samples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Adds ``(λ/n) Σ_i ‖∂f/∂x(x_i)‖_F²`` to the loss, ``f`` the whole encoder,
    with its exact gradient.  For the default single-layer encoder
    ``h = s(xW + b)`` (``encoder_layer_sizes=()``, as in the original
    contractive autoencoder) it is the closed form
    ``(λ/n) Σ_ij s'(z_ij)² Σ_k W_kj²`` (``fastnut.nn.ContractiveDense``).
    With hidden layers the Jacobian is the product
    ``D_L W_Lᵀ ⋯ D_1 W_1ᵀ`` (``D_l`` the diagonal of slopes), built for
    the whole batch (``fastnut.nn.ContractiveEncoder``), in arrays of
    batch × layer width × first hidden width.  Sigmoid, tanh, relu and
    identity units.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import ContractiveAutoencoder
    >>> X = load_digits().data / 16
    >>> cae = ContractiveAutoencoder(n_components=16, max_iter=10, random_state=0).fit(X)
    >>> cae.transform(X).shape
    (1797, 16)
    """

    _parameter_constraints = {
        **_DenseAutoencoder._parameter_constraints,
        "contractive_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=2, *, encoder_layer_sizes=(), decoder_layer_sizes=None,
                 activation="logistic", code_activation="logistic", out_activation="identity",
                 loss="squared_error", tied_weights=False, contractive_weight=0.1,
                 solver="adam", alpha=0.0, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=None, max_fun=15000,
                 clip_norm=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.n_components = n_components
        self.encoder_layer_sizes = encoder_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.code_activation = code_activation
        self.out_activation = out_activation
        self.loss = loss
        self.tied_weights = tied_weights
        self.contractive_weight = contractive_weight
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
        self.clip_norm = clip_norm
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype

    def _encoder_dense(self, units, activation):
        if len(self._sizes(self.encoder_layer_sizes, "encoder_layer_sizes")):
            return super()._encoder_dense(units, activation)  # wrapped below
        return ContractiveDense(units, activation=activation,
                                init_factor=_init_factor(activation),
                                contractive_weight=self.contractive_weight)

    def _wrap_encoder(self, dense):
        if len(dense) == 1:
            return dense  # a ContractiveDense: closed form
        return [ContractiveEncoder(dense, contractive_weight=self.contractive_weight)]


class DenoisingAutoencoder(_DenseAutoencoder):
    """Dense autoencoder trained to undo input corruption.

    Each training batch is corrupted afresh; the target is the clean batch.
    At inference nothing is corrupted: ``reconstruct`` (or
    ``inverse_transform(transform(X))``) denoises ``X``.

    Parameters
    ----------
    n_components : int, default=2
        Width of the code.
    encoder_layer_sizes : tuple of int, default=(100,)
        Hidden layers of the encoder, from the input to the code.
    decoder_layer_sizes : tuple of int or None, default=None
        Hidden layers of the decoder; ``None`` mirrors the encoder.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Hidden-layer activation.
    code_activation : {"identity", "relu", "tanh", "logistic"}, default="identity"
        Activation of the code layer.
    out_activation : {"identity", "logistic"}, default="identity"
        Output activation; ``"logistic"`` for data in [0, 1].
    loss : {"squared_error", "binary_cross_entropy"}, default="squared_error"
        Reconstruction loss, summed over features and averaged over samples.
        ``binary_cross_entropy`` needs ``out_activation="logistic"`` and ``X``
        in [0, 1].
    tied_weights : bool, default=False
        Decoder weights are the transposed encoder weights (needs the
        mirrored decoder).

    noise : {"gaussian", "masking"}, default="gaussian"
        ``gaussian`` adds ``noise_level · N(0, 1)``; ``masking`` zeroes each
        input value with probability ``noise_level``.
    noise_level : float, default=0.2
        Strength of the corruption: the standard deviation of the Gaussian
        noise, or the probability of masking a value.

    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=0.0
        L2 penalty strength on the weights (divided by the batch size).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule for ``solver="sgd"``.
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    power_t : float, default=0.5
        Exponent of the ``invscaling`` schedule, ``lr = lr_init / t**power_t``.
    max_iter : int, default=200
        Maximum number of epochs (iterations for lbfgs).
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Initial weights, shuffling, validation split and noise.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its score
        (minus the mean reconstruction error) stalls; keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    clip_norm : float or None, default=None
        Rescale each batch's gradient to at most this global L2 norm;
        None disables it.
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
        Compute dtype (and dtype of the codes and reconstructions).

    Attributes
    ----------
    network_ : fastnut.nn.EncoderDecoder
        The trained network (``network_.encode``, ``network_.decode``).
    loss_ : float
        Training objective at the last epoch (reconstruction loss plus
        penalties).
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Training samples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Minimises ``(1/2n) Σ_i ‖x_i - g(f(x̃_i))‖²`` with ``x̃`` the corrupted
    input (``fastnut.nn.Corruption``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import DenoisingAutoencoder
    >>> X = load_digits().data / 16
    >>> dae = DenoisingAutoencoder(n_components=16, max_iter=20, random_state=0).fit(X)
    >>> dae.reconstruct(X[:3]).shape
    (3, 64)
    """

    _parameter_constraints = {
        **_DenseAutoencoder._parameter_constraints,
        "noise": [StrOptions({"gaussian", "masking"})],
        "noise_level": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=2, *, encoder_layer_sizes=(100,), decoder_layer_sizes=None,
                 activation="relu", code_activation="identity", out_activation="identity",
                 loss="squared_error", tied_weights=False, noise="gaussian", noise_level=0.2,
                 solver="adam", alpha=0.0, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=None, max_fun=15000,
                 clip_norm=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.n_components = n_components
        self.encoder_layer_sizes = encoder_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.code_activation = code_activation
        self.out_activation = out_activation
        self.loss = loss
        self.tied_weights = tied_weights
        self.noise = noise
        self.noise_level = noise_level
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
        self.clip_norm = clip_norm
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype

    def _input_layers(self):
        return [Corruption(self.noise, self.noise_level)]


# -- images -------------------------------------------------------------------------------

class ConvAutoencoder(_BaseAutoencoder):
    """Convolutional autoencoder on images (scikit-learn transformer).

    Encoder: for each entry of ``filters``, a ``same``-padded convolution
    and a 2x2 max-pooling, then a dense layer to the ``n_components`` code.
    Decoder: a dense layer back to the last feature maps, then for each
    block (in reverse) a 2x upsampling and a convolution, and a final
    convolution to the input's channels.

    Parameters
    ----------
    n_components : int, default=16
        Width of the code.
    filters : tuple of int, default=(16, 32)
        Channels of the encoder's convolutions (the decoder mirrors them).
    kernel_size : int, default=3
        Side of the square convolution kernels ("same" padding keeps the
        image size).
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the convolutions and of the decoder's hidden layers.
    out_activation : {"identity", "logistic"}, default="identity"
        Output activation; ``"logistic"`` for data in [0, 1].
    loss : {"squared_error", "binary_cross_entropy"}, default="squared_error"
        Reconstruction loss, summed over features and averaged over samples.
        ``binary_cross_entropy`` needs ``out_activation="logistic"`` and
        ``X`` in [0, 1].
    input_shape : tuple (C, H, W) or None, default=None
        How flat rows ``(n, C*H*W)`` are read (one entry may be -1); when
        None, a square single-channel image.  3-D ``(n, H, W)`` and 4-D
        ``(n, C, H, W)`` input need no ``input_shape``.

    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=0.0
        L2 penalty strength on the weights (divided by the batch size).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule for ``solver="sgd"``.
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    power_t : float, default=0.5
        Exponent of the ``invscaling`` schedule, ``lr = lr_init / t**power_t``.
    max_iter : int, default=200
        Maximum number of epochs (iterations for lbfgs).
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Initial weights, shuffling, validation split and noise.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its score
        (minus the mean reconstruction error) stalls; keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    clip_norm : float or None, default=None
        Rescale each batch's gradient to at most this global L2 norm;
        None disables it.
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
        Compute dtype (and dtype of the codes and reconstructions).

    Attributes
    ----------
    network_ : fastnut.nn.EncoderDecoder
        The trained network (``network_.encode``, ``network_.decode``).
    loss_ : float
        Training objective at the last epoch (reconstruction loss plus
        penalties).
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Training samples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    image_shape_ : tuple (C, H, W)
        Shape of the training images.

    Notes
    -----
    The reconstruction loss is summed over pixels and averaged over
    images, as for ``Autoencoder``.  A pooling step halves only the axes
    whose size is even at that depth (an odd axis is left as is), so the
    decoder's upsampling always lands exactly on the input size.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnut import ConvAutoencoder
    >>> X = load_digits().data[:500] / 16      # flat 8x8 images
    >>> cae = ConvAutoencoder(n_components=8, filters=(8,), max_iter=3,
    ...                       random_state=0).fit(X)
    >>> cae.transform(X).shape, cae.inverse_transform(cae.transform(X[:2])).shape
    ((500, 8), (2, 64))
    """

    _parameter_constraints = {
        **_BaseAutoencoder._parameter_constraints,
        "filters": ["array-like"],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(_ACTIVATIONS)],
        "out_activation": [StrOptions({"identity", "logistic"})],
        "loss": [StrOptions({"squared_error", "binary_cross_entropy"})],
        "input_shape": ["array-like", None],
    }

    def __init__(self, n_components=16, *, filters=(16, 32), kernel_size=3, activation="relu",
                 out_activation="identity", loss="squared_error", input_shape=None,
                 solver="adam", alpha=0.0, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=None, max_fun=15000,
                 clip_norm=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.n_components = n_components
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = activation
        self.out_activation = out_activation
        self.loss = loss
        self.input_shape = input_shape
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
        self.clip_norm = clip_norm
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype

    def _check_X(self, X, reset):
        ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
        if self.input_shape is not None:
            check_input_shape(self.input_shape)
        shape = self.input_shape if reset else self.image_shape_
        X4 = check_images(self, X, input_shape=shape, reset=reset,
                          dtype=self._compute_dtype())
        if reset:
            self.image_shape_ = tuple(int(s) for s in X4.shape[1:])
            self._input_ndim = ndim
        return X4

    def _encoder_decoder(self, sample_shape):
        C, H, W = sample_shape
        filters = _DenseAutoencoder._sizes(self.filters, "filters")
        if not filters:
            raise ValueError("filters must list at least one convolution")
        if self.loss == "binary_cross_entropy" and self.out_activation != "logistic":
            raise ValueError("loss='binary_cross_entropy' needs out_activation='logistic'")
        k, act = self.kernel_size, self.activation
        encoder, factors = [], []
        for f in filters:
            ph, pw = (2 if H % 2 == 0 else 1), (2 if W % 2 == 0 else 1)
            encoder.append(nn.Conv2D(f, k, padding="same", activation=act))
            if ph > 1 or pw > 1:
                encoder.append(nn.MaxPool2D((ph, pw)))
            H, W = H // ph, W // pw
            factors.append((ph, pw))
        inner = (filters[-1], H, W)
        encoder += [nn.Flatten(), nn.Dense(self.n_components, init_factor=6.0)]
        decoder = [nn.Dense(int(np.prod(inner)), activation=act, init_factor=_init_factor(act)),
                   Reshape(inner)]
        for f, (ph, pw) in zip(filters[::-1], factors[::-1]):
            if ph > 1 or pw > 1:
                decoder.append(nn.Upsample2D((ph, pw)))
            decoder.append(nn.Conv2D(f, k, padding="same", activation=act))
        out_act = "identity" if self.loss == "binary_cross_entropy" else self.out_activation
        decoder.append(nn.Conv2D(C, k, padding="same", activation=out_act))
        return encoder, decoder

    def _output_form(self, R, ndim=None):
        ndim = self._input_ndim if ndim is None else ndim
        if ndim == 2:
            return R.reshape(R.shape[0], -1)
        if ndim == 3 and R.shape[1] == 1:
            return R[:, 0]
        return R


# -- sequences --------------------------------------------------------------------------

class LSTMAutoencoder(_BaseAutoencoder):
    r"""Sequence-to-sequence LSTM autoencoder (scikit-learn transformer).

    An LSTM encoder reads each sequence; its final hidden state is the code.
    The decoder repeats the code over time, runs a second LSTM over it and
    maps every step to the features with one shared dense layer.

    Parameters
    ----------
    n_components : int, default=8
        Hidden size of the encoder LSTM, i.e. the width of the code.
    decoder_hidden_size : int or None, default=None
        Hidden size of the decoder LSTM; ``n_components`` when None.
    input_shape : tuple (n_steps, n_features) or None, default=None
        How flat rows split into steps: ``X`` of shape ``(n, T*F)`` is read
        as ``(n, T, F)``.  When None, 2-D ``X`` is ``(n, T)`` with one
        feature per step.

    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer: Adam, stochastic gradient descent (with momentum) or
        full-batch L-BFGS.
    alpha : float, default=0.0
        L2 penalty strength on the weights (divided by the batch size).
    batch_size : int or "auto", default="auto"
        ``min(200, n_samples)`` when "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule for ``solver="sgd"``.
    learning_rate_init : float, default=1e-3
        Initial step size (sgd and adam).
    power_t : float, default=0.5
        Exponent of the ``invscaling`` schedule, ``lr = lr_init / t**power_t``.
    max_iter : int, default=200
        Maximum number of epochs (iterations for lbfgs).
    shuffle : bool, default=True
        Shuffle the rows before every epoch (sgd and adam).
    random_state : int, RandomState instance or None, default=None
        Initial weights, shuffling, validation split and noise.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) that counts as progress
        for ``n_iter_no_change``; gradient tolerance of lbfgs.
    verbose : bool, default=False
        One line per epoch: loss, validation score (with early stopping), seconds.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    momentum : float, default=0.9
        Momentum of the updates (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (``solver="sgd"``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its score
        (minus the mean reconstruction error) stalls; keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or None, default=None
        None runs all ``max_iter`` epochs (with ``early_stopping``, keeping the
        best epoch's weights).  An int stops training when the training loss
        (the validation score with ``early_stopping``) has not improved by
        ``tol`` for more than this many epochs.  Deep and recurrent nets often
        sit on a plateau for their first epochs, which such a rule mistakes for
        convergence, hence no rule unless asked.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    clip_norm : float or None, default=None
        Rescale each batch's gradient to at most this global L2 norm;
        None disables it.
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
        Compute dtype (and dtype of the codes and reconstructions).

    Attributes
    ----------
    network_ : fastnut.nn.EncoderDecoder
        The trained network (``network_.encode``, ``network_.decode``).
    loss_ : float
        Training objective at the last epoch (reconstruction loss plus
        penalties).
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Training samples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    input_shape_ : tuple (n_steps, n_features)
        Shape of the training sequences (after padding).

    Notes
    -----
    ``X`` is ``(n, T, F)``, ``(n, T)`` (one feature) or flat with
    ``input_shape``.  Shorter sequences are padded at the end with all-NaN
    steps: the encoder stops at each sequence's last valid step (its code is
    the state there) and the reconstruction loss

    .. math::

        L = \frac{1}{2n} \sum_i \sum_{t \le T_i} \lVert x_{it} - \hat x_{it} \rVert^2

    only covers valid steps, so padding changes nothing.  ``score_samples``
    averages over the valid steps of each sequence; ``inverse_transform``
    decodes ``input_shape_[0]`` steps.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import LSTMAutoencoder
    >>> t = np.linspace(0, 6, 20)
    >>> X = np.sin(t[None, :] + np.random.default_rng(0).uniform(0, 6, (64, 1)))
    >>> ae = LSTMAutoencoder(n_components=4, max_iter=5, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (64, 4)
    >>> ae.inverse_transform(ae.transform(X)).shape
    (64, 20)
    """

    _masked = True

    _parameter_constraints = {
        **_BaseAutoencoder._parameter_constraints,
        "decoder_hidden_size": [Interval(Integral, 1, None, closed="left"), None],
        "input_shape": ["array-like", None],
    }

    def __init__(self, n_components=8, *, decoder_hidden_size=None, input_shape=None,
                 solver="adam", alpha=0.0, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=None, max_fun=15000,
                 clip_norm=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32):
        self.n_components = n_components
        self.decoder_hidden_size = decoder_hidden_size
        self.input_shape = input_shape
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
        self.clip_norm = clip_norm
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype

    def _check_X(self, X, reset):
        ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
        X3 = check_sequences(self, X, input_shape=self.input_shape,
                             n_step_features=None if reset else self.input_shape_[1],
                             reset=reset, dtype=self._compute_dtype())
        if reset:
            self._flat_input = ndim != 3
            self.input_shape_ = tuple(int(s) for s in X3.shape[1:])
        return X3

    def _encoder_decoder(self, sample_shape):
        T, F = sample_shape
        k = self.n_components
        hd = self.decoder_hidden_size or k
        encoder = [nn.LSTM(k)]
        decoder = [RepeatSteps(T), nn.LSTM(hd, return_sequences=True), TimeDistributedDense(F)]
        return encoder, decoder

    def _output_form(self, R, ndim=None):
        flat = self._flat_input if ndim is None else ndim == 2
        return R.reshape(R.shape[0], -1) if flat else R

    def _decode_steps(self):
        return self.input_shape_[0]

    def _make_loss(self):
        return SumSquaredError(masked=True)
