"""Encoder-decoder networks: the container and the weight-tied decoder layer.

* ``EncoderDecoder``: a ``Sequential`` split into an encoder (``encode``) and
  a decoder (``decode``); it also completes the weight gradient of tied
  layers after the backward pass.
* ``TiedDense``: a dense layer whose weight is the transpose of another
  ``Dense`` layer's (tied-weight decoders).
"""
import threading

import numpy as np

from ._activations import ACTIVATION_CODES
from ._base import chain_axes, check_batch
from ._layers import Dense
from ._linalg import matmul
from ._sequence import RepeatSteps
from ._sequential import Sequential


class EncoderDecoder(Sequential):
    """An encoder followed by a decoder, itself a layer.

    Parameters
    ----------
    encoder : list of Layer
        Maps inputs to codes.
    decoder : list of Layer
        Maps codes back to reconstructions.

    Notes
    -----
    ``forward`` is ``decode(encode(X))``.  For sequence inputs ``(n, T, F)``
    the ``RepeatSteps`` layers of the decoder repeat the code over the
    input's ``T`` steps.  After ``backward``, the weight gradient of every
    ``Dense`` tied to a ``TiedDense`` holds both uses of the weight.
    """

    def __init__(self, encoder, decoder):
        encoder, decoder = list(encoder), list(decoder)
        if not encoder or not decoder:
            raise ValueError("EncoderDecoder needs at least one encoder and one decoder layer")
        super().__init__(encoder + decoder)
        self.n_encoder_layers = len(encoder)

    def get_config(self):
        k = self.n_encoder_layers
        return {"encoder": self.layers[:k], "decoder": self.layers[k:]}

    @property
    def code_shape(self):
        """Shape of one code (output of the encoder), once built."""
        return self.layers[self.n_encoder_layers - 1].output_shape

    @property
    def needs_input_grad(self):
        return self.layers[0].needs_input_grad if getattr(self, "layers", None) else True

    @needs_input_grad.setter
    def needs_input_grad(self, value):
        # a parameter-free input layer (noise) needs no gradient, and neither
        # does the first layer with parameters behind it
        for layer in getattr(self, "layers", []):
            layer.needs_input_grad = bool(value)
            if layer.params or value:
                break

    def encode(self, X, training=False):
        """Encode ``X``: run the encoder layers only.

        Parameters
        ----------
        X : ndarray of shape (n, *input_shape)
            Input batch.
        training : bool, default=False
            Run the encoder in training mode (noise and dropout active, forward
            state kept for ``backward``).

        Returns
        -------
        codes : ndarray of shape (n, *code_shape)
            The encoder's output (an internal buffer, overwritten by the next call).
        """
        if (X.__class__ is not np.ndarray or X.dtype != self.dtype
                or not X.flags.c_contiguous or X.shape[1:] != self.input_shape):
            X = self._check_input(X)
        return self._encode(X, training)

    def _encode(self, X, training=False):
        for layer in self.layers[:self.n_encoder_layers]:
            X = layer._forward(X, training=training)
        return X

    def decode(self, Z, training=False, n_steps=None):
        """Decode codes ``Z``: run the decoder layers only.

        Parameters
        ----------
        Z : ndarray of shape (n, *code_shape)
            Codes, as ``encode`` returns them.
        training : bool, default=False
            Run the decoder in training mode.
        n_steps : int or None, default=None
            Number of steps a sequence decoder repeats the code over (its
            ``RepeatSteps`` layer); None keeps the length the layer was built with.

        Returns
        -------
        X_rec : ndarray of shape (n, *input_shape)
            The reconstructions (an internal buffer).
        """
        name = f"{type(self).__name__}.decode"
        if self.input_shape is None:
            raise RuntimeError(f"{name}: build the network first")
        variable, anything, names = chain_axes(self.layers[self.n_encoder_layers:], True)
        Z = check_batch(Z, self.code_shape, self.dtype, name, variable, anything, "codes",
                        names)
        return self._decode(Z, training, n_steps)

    def _decode(self, Z, training=False, n_steps=None):
        for layer in self.layers[self.n_encoder_layers:]:
            if isinstance(layer, RepeatSteps):
                Z = layer._forward(Z, training=training, n_steps=n_steps)
            else:
                Z = layer._forward(Z, training=training)
        return Z

    def _forward(self, X, training=False):
        n_steps = X.shape[1] if X.ndim == 3 else None
        return self._decode(self._encode(X, training), training, n_steps)

    def __setstate__(self, state):
        super().__setstate__(state)
        for layer in self.layers:
            # a layer whose __setstate__ skips Layer's must still get its scratch
            if "_tls" not in layer.__dict__:
                layer._tls = threading.local()

    def _backward(self, dY):
        dX = super()._backward(dY)
        for layer in self.layers:
            if isinstance(layer, TiedDense):
                layer.source.grads["weight"] += layer.tied_grad
        return dX


class TiedDense(Dense):
    """Dense layer using the transpose of ``source``'s weight.

    ``Y = act(X @ source.weightᵀ + bias)``, mapping ``source.units`` features
    back to ``source``'s input width.  Only ``bias`` is a parameter of this
    layer; the weight's gradient is left in ``tied_grad`` (shape of
    ``source.params["weight"]``) for ``EncoderDecoder`` to add to
    ``source.grads["weight"]``, so use it inside an ``EncoderDecoder`` after
    its source.

    Parameters
    ----------
    source : Dense
        The layer whose weight, transposed, this layer uses.
    activation : {"identity", "relu", "tanh", "logistic"}, default="identity"
        Applied in the same pass as the bias.
    use_bias : bool, default=True
        Add a learned bias (this layer's only parameter).
    init_factor : float, default=6.0
        Glorot-uniform bound factor of the bias, as for ``Dense``.
    """

    def __init__(self, source, activation="identity", use_bias=True, init_factor=6.0):
        if not isinstance(source, Dense):
            raise TypeError(f"TiedDense ties to a Dense layer, got {type(source).__name__}")
        super().__init__(1, activation=activation, use_bias=use_bias, init_factor=init_factor)
        self.source = source
        self.tied_grad = None

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("units")
        return {"source": self.source, **cfg}

    def _build(self, input_shape, rng):
        src = self.source
        if src.output_shape is None:
            raise ValueError("TiedDense must be built after the Dense layer it ties to")
        if tuple(input_shape) != (src.units,):
            raise ValueError(f"TiedDense tied to a Dense({src.units}) expects inputs of shape "
                             f"(n, {src.units}); got per-sample shape {input_shape}")
        self.units = src.input_shape[0]
        if self.use_bias:
            bound = np.sqrt(self.init_factor / (src.units + self.units))
            self.params["bias"] = rng.uniform(-bound, bound, self.units).astype(self.dtype)
        self._act = ACTIVATION_CODES[self.activation]
        self._empty = np.empty(0, self.dtype)
        return (self.units,)

    def _kernel(self):
        return self.source.params["weight"].T

    def _store_weight_grad(self, X, D):
        # dL/d(source weight) = (Xᵀ D)ᵀ = Dᵀ X, added to the source by EncoderDecoder
        tg = self._buffer("tied_grad", self.source.params["weight"].shape)
        matmul(D.T, X, tg)
        self.tied_grad = tg

    def __getstate__(self):
        state = super().__getstate__()
        state["tied_grad"] = None
        return state
