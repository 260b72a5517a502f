"""Core layers: Dense (with fused activation), Activation, Dropout, Flatten."""
import numpy as np

from .._kernels import dense as _k
from .._threads import threads_for
from ._activations import ACTIVATION_CODES, check_activation
from ._base import Layer


_GEMM_KERNEL = _k.has_gemm_kernel()


def matmul(A, B, out):
    """``out[...] = A @ B`` for 2-D arrays; returns ``out``.

    float32 goes through fastnut's GEMM kernel (``src_c/_gemm.h``, AVX-512),
    where transposed views (``W.T``) cost nothing.  NumPy takes the rest: other
    dtypes (float64 stays bit-for-bit what BLAS gives), other CPUs, and
    products under 8 rows or 16 columns (a single sample, a 10-class output),
    where BLAS's matrix-vector paths win.
    """
    if (_GEMM_KERNEL and out.dtype == A.dtype == B.dtype == np.float32
            and out.shape[0] >= 8 and out.shape[1] >= 16 and out.flags.c_contiguous):
        ta, tb = not A.flags.c_contiguous, not B.flags.c_contiguous
        if (not ta or A.T.flags.c_contiguous) and (not tb or B.T.flags.c_contiguous):
            M, K, N = out.shape[0], A.shape[1], out.shape[1]
            _k.sgemm(A.T if ta else A, B.T if tb else B, out, ta, tb,
                     threads_for(M * N * K, "gemm", cap=M // 6))
            return out
    return np.matmul(A, B, out=out)


class Dense(Layer):
    """Fully connected layer ``Y = act(X @ weight + bias)``.

    Parameters
    ----------
    units : int
        Output width.
    activation : {"identity", "relu", "tanh", "logistic"}, default="identity"
        Applied in the same pass as the bias (one memory sweep).
    use_bias : bool, default=True
    init_factor : float, default=6.0
        Glorot-uniform bound ``sqrt(init_factor / (fan_in + fan_out))`` for
        weight and bias (6 suits relu/tanh, 2 suits logistic).

    Notes
    -----
    ``params["weight"]`` has shape ``(in, out)`` and ``params["bias"]`` shape
    ``(out,)``.  Forward: one GEMM (``matmul``) into a reused buffer, then the fused
    bias+activation kernel.  Backward, with ``D = dL/dY * act'(Z)``:
    ``dW = Xᵀ D``, ``db = Σ_rows D``, ``dX = D Wᵀ``.  ``backward`` overwrites
    ``dY`` with ``D``.
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
            _k.bias_act_forward(Y, b, self._act, threads_for(Y.size, "elementwise"))
        if training:
            self._X, self._Y = X, Y
        return Y

    def _backward(self, dY):
        D = dY
        if self.use_bias:
            _k.act_backward_bias(D, self._Y, self._act, self.grads["bias"])
        elif self._act:
            _k.act_backward(D, self._Y, self._act, threads_for(D.size, "elementwise"))
        self._store_weight_grad(self._X, D)
        if not self.needs_input_grad:
            return None
        dX = self._buffer("dX", self._X.shape)
        matmul(D, self._kernel().T, dX)
        return dX


class Activation(Layer):
    """Element-wise activation ``Y = act(X)`` for inputs of any shape."""

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
        _k.bias_act_forward(self._flat(Y), self._empty(), self._act,
                            threads_for(Y.size, "elementwise"))
        if training:
            self._Y = Y
        return Y

    def _empty(self):
        return np.empty(0, self.dtype)

    def _backward(self, dY):
        dX = self._buffer("dX", dY.shape)
        dX[...] = dY
        _k.act_backward(self._flat(dX), self._flat(self._Y), self._act,
                        threads_for(dX.size, "elementwise"))
        return dX


class Dropout(Layer):
    """Inverted dropout: at training time zero each unit with probability
    ``rate`` and scale the rest by ``1 / (1 - rate)``; identity at inference.

    The mask is drawn from the generator given to ``build`` (reseeded by the
    trainer from ``random_state``), so training is reproducible.
    """

    def __init__(self, rate):
        super().__init__()
        self.rate = float(rate)
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate!r}")

    def get_config(self):
        return {"rate": self.rate}

    def _build(self, input_shape, rng):
        self._rng = np.random.default_rng(rng.randint(2 ** 31))
        return input_shape

    def _forward(self, X, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return X
        mask = self._buffer("mask", X.shape)
        u = self._rng.random(X.shape, dtype=self.dtype)
        np.greater_equal(u, self.rate, out=mask, casting="unsafe")
        mask *= 1.0 / (1.0 - self.rate)
        self._mask = mask
        Y = self._buffer("Y", X.shape)
        np.multiply(X, mask, out=Y)
        return Y

    def _backward(self, dY):
        if self._mask is None:
            return dY
        dX = self._buffer("dX", dY.shape)
        np.multiply(dY, self._mask, out=dX)
        return dX


class Flatten(Layer):
    """Reshape ``(n, d1, d2, ...)`` to ``(n, d1*d2*...)`` (a view, no copy)."""

    def _build(self, input_shape, rng):
        return (int(np.prod(input_shape)),)

    def _forward(self, X, training=False):
        return X.reshape(X.shape[0], -1)

    def _backward(self, dY):
        return dY.reshape((dY.shape[0],) + self.input_shape)
