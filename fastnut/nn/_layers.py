"""Core layers: Dense (with fused activation), Activation, Flatten, Reshape.

``Dropout`` lives in ``_noise.py`` and is re-exported here so that models
pickled by fastnut 0.1.0 (which name ``fastnut.nn._layers.Dropout``) load.
"""
import numpy as np

from .._kernels import dense as _k
from .._threads import threads_for
from ._activations import ACTIVATION_CODES, check_activation
from ._base import Layer
from ._linalg import matmul
from ._noise import Dropout  # noqa: F401  (re-exported: the 0.1.0 home)


class Dense(Layer):
    """Fully connected layer ``Y = act(X @ weight + bias)``.

    Parameters
    ----------
    units : int
        Output width.
    activation : {"identity", "relu", "tanh", "logistic"}, default="identity"
        Applied in the same pass as the bias (one memory sweep).
    use_bias : bool, default=True
        Add a learned bias ``params["bias"]``.
    init_factor : float, default=6.0
        Glorot-uniform bound ``sqrt(init_factor / (fan_in + fan_out))`` for
        weight and bias (6 suits relu/tanh, 2 suits logistic).

    Notes
    -----
    ``params["weight"]`` has shape ``(in, out)`` and ``params["bias"]`` shape
    ``(out,)``.  Forward: one GEMM (``matmul``) into a reused buffer, then the fused
    bias+activation kernel.  Backward, with ``D = dL/dY * act'(Z)``:
    ``dW = Xᵀ D``, ``db = Σ_rows D``, ``dX = D Wᵀ``.  ``backward`` overwrites
    ``dY`` with ``D``.  Subclasses that add a term to the objective pass its
    gradient to ``_backward(dY, extra_dz, extra_dw)`` instead of writing
    their own backward pass.
    """

    def __init__(self, units, activation="identity", use_bias=True, init_factor=6.0):
        super().__init__()
        self.units = int(units)
        if self.units < 1:
            raise ValueError(f"Dense units must be >= 1, got {units!r}")
        self.activation = check_activation(activation)
        self.use_bias = bool(use_bias)
        self.init_factor = float(init_factor)

    def get_config(self):
        return {"units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "init_factor": self.init_factor}

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(
                f"Dense expects inputs of shape (n, features); got per-sample shape "
                f"{input_shape}. Put a Flatten() before it."
            )
        fan_in = input_shape[0]
        bound = np.sqrt(self.init_factor / (fan_in + self.units))
        self.params["weight"] = rng.uniform(-bound, bound, (fan_in, self.units)).astype(self.dtype)
        if self.use_bias:
            self.params["bias"] = rng.uniform(-bound, bound, self.units).astype(self.dtype)
        self._act = ACTIVATION_CODES[self.activation]
        self._empty = np.empty(0, self.dtype)
        return (self.units,)

    def _kernel(self):
        """The (in, out) matrix the forward pass multiplies by (a view)."""
        return self.params["weight"]

    def _store_weight_grad(self, X, D):
        """Write dL/d(weight) = Xᵀ D where this layer keeps it."""
        matmul(X.T, D, self.grads["weight"])

    def _forward(self, X, training=False):
        Y = self._buffer("Y", (X.shape[0], self.units))
        matmul(X, self._kernel(), Y)
        b = self.params["bias"] if self.use_bias else self._empty
        if self.use_bias or self._act:
            _k.bias_act_forward(Y, b, act=self._act,
                                n_threads=threads_for(Y.size, "elementwise"))
        if training:
            self._X, self._Y = X, Y
        return Y

    def _backward(self, dY, extra_dz=None, extra_dw=None):
        """``dL/dX``; fills ``grads``.  The hook for penalties on this layer:

        ``extra_dz`` (shape of the output) is added to ``dL/dZ`` after the
        activation's slope is applied, ``extra_dw`` (shape of ``weight``) to
        ``dL/dW``; both are extra terms of the training objective's gradient
        (``nn.ContractiveDense``, ``nn.ContractiveEncoder``).  The bias
        gradient and ``dL/dX`` include ``extra_dz``.  Every product goes
        through ``matmul``, so a penalised layer runs the same GEMM kernel.
        """
        D = dY
        if extra_dz is None and self.use_bias:
            _k.act_backward_bias(D, self._Y, act=self._act, bias_grad=self.grads["bias"])
        else:
            if self._act:
                _k.act_backward(D, self._Y, act=self._act,
                                n_threads=threads_for(D.size, "elementwise"))
            if extra_dz is not None:
                D += extra_dz
            if self.use_bias:  # column sums: the identity slope leaves D as is
                _k.act_backward_bias(D, self._Y, act=_k.Activation.IDENTITY,
                                     bias_grad=self.grads["bias"])
        self._store_weight_grad(self._X, D)
        if extra_dw is not None:
            self.grads["weight"] += extra_dw
        if not self.needs_input_grad:
            return None
        dX = self._buffer("dX", self._X.shape)
        matmul(D, self._kernel().T, dX)
        return dX


class Activation(Layer):
    """Element-wise activation ``Y = act(X)`` for inputs of any shape.

    Parameters
    ----------
    activation : {"identity", "relu", "tanh", "logistic"}
        The function applied to every value.
    """

    elementwise = True

    def __init__(self, activation):
        super().__init__()
        self.activation = check_activation(activation)
        self._act = ACTIVATION_CODES[self.activation]

    def get_config(self):
        return {"activation": self.activation}

    def _flat(self, A):
        return A.reshape(A.shape[0], -1)

    def _forward(self, X, training=False):
        Y = self._buffer("Y", X.shape)
        Y[...] = X
        _k.bias_act_forward(self._flat(Y), self._empty(), act=self._act,
                            n_threads=threads_for(Y.size, "elementwise"))
        if training:
            self._Y = Y
        return Y

    def _empty(self):
        return np.empty(0, self.dtype)

    def _backward(self, dY):
        dX = self._buffer("dX", dY.shape)
        dX[...] = dY
        _k.act_backward(self._flat(dX), self._flat(self._Y), act=self._act,
                        n_threads=threads_for(dX.size, "elementwise"))
        return dX


class Flatten(Layer):
    """Reshape ``(n, d1, d2, ...)`` to ``(n, d1*d2*...)`` (a view, no copy)."""

    def _build(self, input_shape, rng):
        return (int(np.prod(input_shape)),)

    def _forward(self, X, training=False):
        return X.reshape(X.shape[0], -1)

    def _backward(self, dY):
        return dY.reshape((dY.shape[0],) + self.input_shape)


class Reshape(Layer):
    """Reshape ``(n, *input_shape)`` to ``(n, *shape)`` (a view, no copy).

    Parameters
    ----------
    shape : tuple of int
        The per-sample output shape; it must hold as many values as the input.
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def get_config(self):
        return {"shape": self.shape}

    def _build(self, input_shape, rng):
        if int(np.prod(input_shape)) != int(np.prod(self.shape)):
            raise ValueError(f"Reshape to {self.shape} needs {int(np.prod(self.shape))} values "
                             f"per sample; got per-sample shape {input_shape}")
        return self.shape

    def _forward(self, X, training=False):
        return X.reshape((X.shape[0],) + self.shape)

    def _backward(self, dY):
        if not self.needs_input_grad:
            return None
        return dY.reshape((dY.shape[0],) + self.input_shape)
