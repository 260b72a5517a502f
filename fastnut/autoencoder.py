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
                       train_params_doc)
from ._threads import map_row_chunks
from ._validation import check_images, check_input_shape, check_sequences
from .nn._autoencoder import (ContractiveDense, ContractiveEncoder, Corruption, EncoderDecoder,
                              RepeatSteps, Reshape, SparsityPenalty, SumSquaredError, TiedDense,
                              TimeDistributedDense)

_ACTIVATIONS = {"identity", "logistic", "tanh", "relu"}


def _store(est, params):
    """Store ``__init__`` arguments unchanged (scikit-learn's convention)."""
    for k, v in params.items():
        if k not in ("self", "__class__"):
            setattr(est, k, v)


def _init_factor(activation):
    return 2.0 if activation == "logistic" else 6.0


class _BaseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseNetwork):
    """fit / transform / inverse_transform / score_samples over ``BaseNetwork``.

    Families supply ``_encoder_decoder(sample_shape)`` (two lists of layers),
    and, when their input is not tabular, ``_validate_input`` and ``_output_form``.
    The reconstruction target is the checked input itself.
    """

    _masked = False  # NaN targets are padding (sequences)

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        **TRAIN_CONSTRAINTS,
    }

    # -- engine configuration ---------------------------------------------------------
    def _loss_name(self):
        return ("binary_log_loss" if getattr(self, "loss", None) == "binary_cross_entropy"
                else "squared_error")

    def _make_loss(self):
        if self._loss_name() == "binary_log_loss":
            return nn.BinaryLogLoss()
        return SumSquaredError(masked=self._masked)

    def _new_trainer(self, rng):
        trainer = super()._new_trainer(rng)
        trainer.loss = self._make_loss()
        return trainer

    def _build(self, sample_shape, n_outputs, rng):
        encoder, decoder = self._encoder_decoder(tuple(sample_shape))
        net = EncoderDecoder(encoder, decoder)
        net.build(sample_shape, random_state=rng, dtype=self._compute_dtype())
        return net

    def _check_X(self, X, reset):
        # fit validates once (see _fit) and hands the base the checked array
        if X is self.__dict__.get("_checked_input"):
            return X
        return self._validate_input(X, reset)

    def _validate_input(self, X, reset):
        """Validated, reshaped, C-contiguous input of the compute dtype."""
        return BaseNetwork._check_X(self, X, reset)

    def _check_y(self, y, n_samples, incremental, first_pass, classes):
        # the target is the checked input itself (the same array)
        self._check_range(y)
        return y

    def _check_range(self, X):
        if self._loss_name() == "binary_log_loss":
            lo, hi = np.nanmin(X), np.nanmax(X)
            if lo < 0 or hi > 1:
                raise ValueError(
                    "loss='binary_cross_entropy' needs X in [0, 1] (e.g. scale it with "
                    f"MinMaxScaler); got values in [{lo:g}, {hi:g}]")

    # -- fitting ------------------------------------------------------------------------
    def _fit(self, X, y, incremental=False):
        first_pass = not hasattr(self, "network_") or (
            not self._p("warm_start") and not incremental)
        X = self._validate_input(X, reset=first_pass)
        self._checked_input = X
        try:
            super()._fit(X, X, incremental=incremental)
        finally:
            del self._checked_input
        # the base's classifier/regressor bookkeeping means nothing for a transformer
        for name in ("n_outputs_", "n_layers_"):
            self.__dict__.pop(name, None)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self
        """
        return self._fit(X, X)

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One epoch over ``X`` (continues training; builds the network on the first call)."""
        return self._fit(X, X, incremental=True)

    def _validation_score(self, X, y, sample_weight):
        return float(np.mean(self._score_checked(X, y)))

    # -- inference ----------------------------------------------------------------------
    def _link(self, Z):
        return nn.BinaryLogLoss().predict(Z) if self._loss_name() == "binary_log_loss" else Z

    def _reconstruct_checked(self, X):
        net = self.network_
        out = np.empty(X.shape, dtype=net.dtype)
        def chunk(a, b):
            out[a:b] = self._link(net.forward(X[a:b], training=False))
        map_row_chunks(chunk, X.shape[0], PREDICT_CHUNK)
        return out

    def _score_checked(self, X, target=None):
        """Minus the mean squared reconstruction error of each row of checked ``X``."""
        R = self._reconstruct_checked(X)
        target = X if target is None else target
        D = (R - target).reshape(X.shape[0], -1)
        if self._masked:
            valid = ~np.isnan(D)
            D[~valid] = 0.0
            return -np.einsum("ij,ij->i", D, D) / valid.sum(axis=1)
        return -np.einsum("ij,ij->i", D, D) / D.shape[1]

    def transform(self, X):
        """The codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        X = self._predict_X(X)
        net = self.network_
        out = np.empty((X.shape[0], self.n_components), dtype=net.dtype)
        def chunk(a, b):
            out[a:b] = net.encode(X[a:b], training=False)
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
        """Minus the mean squared reconstruction error of each sample.

        Higher is more typical: low scores flag anomalies.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self._score_checked(self._predict_X(X))

    def score(self, X, y=None):
        """Mean of ``score_samples(X)`` (minus the mean reconstruction error)."""
        return float(np.mean(self.score_samples(X)))

    def reconstruct(self, X):
        """``inverse_transform(transform(X))`` in one pass, same form as ``X``."""
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


_TRAIN_DOC = "\n" + train_params_doc(
    ("solver", "alpha", "batch_size", "learning_rate", "learning_rate_init", "power_t",
     "max_iter", "shuffle", "random_state", "tol", "verbose", "warm_start", "momentum",
     "nesterovs_momentum", "early_stopping", "validation_fraction", "beta_1", "beta_2",
     "epsilon", "n_iter_no_change", "max_fun", "clip_norm", "dtype"),
    alpha={"default": "0.0", "text": "L2 penalty strength on the weights (divided by the batch size)."},
    random_state={"text": "Initial weights, shuffling, validation split and noise."},
    early_stopping={"text": "Hold out ``validation_fraction`` of the data and stop when its score\n"
                            "(minus the mean reconstruction error) stalls; keep the best weights."},
    dtype={"text": "Compute dtype (and dtype of the codes and reconstructions)."})

_ATTRS_DOC = """
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
"""

_DENSE_DOC = """
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
    code_activation : {"identity", "relu", "tanh", "logistic"}, default=%(code)r
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
"""


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

    def _common_check_xfails(self):
        return {}


def _dense_init_doc(cls_doc, code="identity"):
    return cls_doc + (_DENSE_DOC % {"code": code})


class Autoencoder(_DenseAutoencoder):
    __doc__ = _dense_init_doc("""Deep dense autoencoder (scikit-learn transformer).

    The encoder maps ``X`` through ``encoder_layer_sizes`` to
    ``n_components`` code units; the decoder (mirrored by default) maps codes
    back.  Unlike PCA, the encoder and decoder are non-linear, so the code
    can follow curved structure in the data.
""") + _TRAIN_DOC + _ATTRS_DOC + """
    Notes
    -----
    Training minimises, over mini-batches of ``n`` rows,

    .. math::

        L = \\frac{1}{2n}\\sum_i \\lVert x_i - g(f(x_i)) \\rVert^2
            + \\frac{α}{2n} \\sum_l \\lVert W_l \\rVert_F^2

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
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, clip_norm=None,
                 dtype=np.float32):
        _store(self, locals())


class SparseAutoencoder(_DenseAutoencoder):
    __doc__ = _dense_init_doc("""Dense autoencoder with a sparsity penalty on the code.
""", code="logistic") + """
    sparsity : {"kl", "l1"}, default="kl"
        ``kl``: KL divergence between ``sparsity_target`` and each code
        unit's mean activation over the batch (needs
        ``code_activation="logistic"``); ``l1``: mean L1 norm of the codes.
    sparsity_target : float, default=0.05
        Target mean activation ``ρ`` (``sparsity="kl"``).
    sparsity_weight : float, default=0.1
        Weight ``β`` of the penalty.
""" + _TRAIN_DOC + _ATTRS_DOC + """
    Notes
    -----
    Adds to the reconstruction loss of ``Autoencoder``, with codes ``h`` and
    ``ρ̂_j = (1/n) Σ_i h_ij``,

    .. math::

        β \\sum_j \\mathrm{KL}(ρ \\,\\|\\, ρ̂_j)
        \\quad\\text{or}\\quad \\frac{β}{n}\\sum_{ij} |h_{ij}| .

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
                 n_iter_no_change=10, max_fun=15000, clip_norm=None, dtype=np.float32):
        _store(self, locals())

    def _code_layers(self):
        if self.sparsity == "kl" and self.code_activation != "logistic":
            raise ValueError("sparsity='kl' compares mean activations with sparsity_target "
                             "and needs code_activation='logistic'; got "
                             f"code_activation={self.code_activation!r} (or use sparsity='l1')")
        return [SparsityPenalty(self.sparsity, self.sparsity_target, self.sparsity_weight)]


class ContractiveAutoencoder(_DenseAutoencoder):
    __doc__ = _dense_init_doc("""Dense autoencoder penalising the encoder's Jacobian.

    The penalty makes the code insensitive to small input changes, which
    keeps it to the directions along which the data varies.
""", code="logistic").replace("default=(100,)", "default=()") + """
    contractive_weight : float, default=0.1
        Weight ``λ`` of the penalty.
""" + _TRAIN_DOC + _ATTRS_DOC + """
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
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 clip_norm=None, dtype=np.float32):
        _store(self, locals())

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
    __doc__ = _dense_init_doc("""Dense autoencoder trained to undo input corruption.

    Each training batch is corrupted afresh; the target is the clean batch.
    At inference nothing is corrupted: ``reconstruct`` (or
    ``inverse_transform(transform(X))``) denoises ``X``.
""") + """
    noise : {"gaussian", "masking"}, default="gaussian"
        ``gaussian`` adds ``noise_level · N(0, 1)``; ``masking`` zeroes each
        input value with probability ``noise_level``.
    noise_level : float, default=0.2
""" + _TRAIN_DOC + _ATTRS_DOC + """
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
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 clip_norm=None, dtype=np.float32):
        _store(self, locals())

    def _input_layers(self):
        return [Corruption(self.noise, self.noise_level)]


# -- images -------------------------------------------------------------------------------

class ConvAutoencoder(_BaseAutoencoder):
    __doc__ = ("""Convolutional autoencoder on images (scikit-learn transformer).

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
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
    out_activation : {"identity", "logistic"}, default="identity"
    loss : {"squared_error", "binary_cross_entropy"}, default="squared_error"
        ``binary_cross_entropy`` needs ``out_activation="logistic"`` and
        ``X`` in [0, 1].
    input_shape : tuple (C, H, W) or None, default=None
        How flat rows ``(n, C*H*W)`` are read (one entry may be -1); when
        None, a square single-channel image.  3-D ``(n, H, W)`` and 4-D
        ``(n, C, H, W)`` input need no ``input_shape``.
""" + _TRAIN_DOC + _ATTRS_DOC + """    image_shape_ : tuple (C, H, W)
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
    >>> X = load_digits().data / 16            # flat 8x8 images
    >>> cae = ConvAutoencoder(n_components=8, filters=(8,), max_iter=3,
    ...                       random_state=0).fit(X)
    >>> cae.transform(X).shape, cae.inverse_transform(cae.transform(X[:2])).shape
    ((1797, 8), (2, 64))
    """)

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
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 clip_norm=None, dtype=np.float32):
        _store(self, locals())

    def _validate_input(self, X, reset):
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
    __doc__ = ("""Sequence-to-sequence LSTM autoencoder (scikit-learn transformer).

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
""" + _TRAIN_DOC + _ATTRS_DOC + """    input_shape_ : tuple (n_steps, n_features)
        Shape of the training sequences (after padding).

    Notes
    -----
    ``X`` is ``(n, T, F)``, ``(n, T)`` (one feature) or flat with
    ``input_shape``.  Shorter sequences are padded at the end with all-NaN
    steps: the encoder stops at each sequence's last valid step (its code is
    the state there) and the reconstruction loss

    .. math::

        L = \\frac{1}{2n} \\sum_i \\sum_{t \\le T_i} \\lVert x_{it} - \\hat x_{it} \\rVert^2

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
    """)

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
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 clip_norm=None, dtype=np.float32):
        _store(self, locals())

    def _validate_input(self, X, reset):
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

    def _reconstruct_checked(self, X):
        net = self.network_
        out = np.empty(X.shape, dtype=net.dtype)
        def chunk(a, b):
            out[a:b] = net.forward(X[a:b], training=False)
        map_row_chunks(chunk, X.shape[0], PREDICT_CHUNK)
        return out
