"""1-D convolution and pooling over NaN-padded sequences ``(n, T, F)``.

The arithmetic runs in ``fastnut._kernels.conv1d`` (see its docstring); these
classes validate the geometry, find each sequence's length and keep what the
backward pass needs.

Variable-length sequences follow the rule of the recurrent layers
(``fastnut.nn._recurrent``): a batch is padded at the end with all-NaN steps.
A padded step is read as the zero padding after the end of the sequence
(convolution) or as absent (pooling), outputs that need steps past the end
are NaN (so the next sequence layer sees the sequence's new length), their
gradient is ignored, and the input gradient at padded steps is 0.  A padded
sequence therefore gets exactly the outputs it gets alone, and global pooling
averages (or maximises over) its valid steps only.

Padding modes (``e = dilation*(kernel_size - 1) + 1`` the kernel's extent):

``"valid"`` (or 0)  no padding, ``T_out = (T - e) // stride + 1``;
``int p``           ``p`` zeros on both sides, ``T_out = (T + 2p - e) // stride + 1``;
``"same"``          ``(e - 1) // 2`` zeros before (PyTorch's ``padding="same"``),
                    ``T_out = ceil(T / stride)``;
``"causal"``        ``e - 1`` zeros before, none after: output ``o`` sees only
                    steps up to ``o*stride``, ``T_out = ceil(T / stride)``.
"""
import numpy as np

from .._kernels import conv1d as _k1
from .._kernels import dense as _kd
from .._threads import blas_single_thread, threads_for
from ._activations import ACTIVATION_CODES, check_activation
from ._base import INT32_MAX, Layer
# helpers that live elsewhere today (one place to update when they move)
from ._conv import _threads_for  # noqa: F401

_PAD_MODES = ("valid", "same", "causal")


def _typed_buffer(layer, name, shape, dtype):
    """Like ``Layer._buffer`` (per thread, reused per shape) for any dtype."""
    bufs = getattr(layer._tls, "tbufs", None)
    if bufs is None:
        bufs = layer._tls.tbufs = {}
    key = (name, np.dtype(dtype).str)
    buf = bufs.get(key)
    if buf is None or buf.shape != shape:
        buf = bufs[key] = np.empty(shape, dtype)
    return buf


def _ones_lengths(layer, n):
    """An int32 array of n ones (the lengths of a batch of single steps)."""
    buf = _typed_buffer(layer, "ones_lengths", (n,), np.int32)
    buf.fill(1)
    return buf


def _int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_padding(padding, name="padding"):
    if isinstance(padding, str):
        if padding not in _PAD_MODES:
            raise ValueError(f"{name} must be an int >= 0 or one of {_PAD_MODES}; "
                             f"got {padding!r}")
        return padding
    return _int(padding, name, 0)


def _geometry(T, k, s, d, padding):
    """(left padding, output length) for T steps; T may be an int array."""
    e = d * (k - 1) + 1
    if padding == "same":
        return (e - 1) // 2, -(-T // s)
    if padding == "causal":
        return e - 1, -(-T // s)
    p = 0 if padding == "valid" else padding
    return p, np.maximum((T + 2 * p - e) // s + 1, 0)


def sequence_lengths(layer, X):
    """Valid steps of each NaN-padded sequence of ``X (n, T, F)`` (int32), and
    whether any is padded.

    The rule of ``fastnut._validation.sequence_lengths`` (trailing all-NaN
    steps are padding; NaN elsewhere, infinity and empty sequences are
    errors, with the same messages), in one compiled pass without
    temporaries: every sequence layer of a stack runs it on its input.
    """
    n = X.shape[0]
    lengths = _typed_buffer(layer, "lengths", (n,), np.int32)
    status = _typed_buffer(layer, "status", (n,), np.int32)
    npad = _k1.sequence_lengths(X, lengths, status, n_threads=_threads_for(X))
    if status.any():
        i = int(np.flatnonzero(status)[0])
        if status[i] == 2:
            raise ValueError(f"sequence {i} is all NaN: every sequence needs at least one "
                             "valid step (NaN marks padding at the end)")
        if np.isinf(X[i]).any():
            raise ValueError("sequences contain infinity; only trailing all-NaN steps "
                             "(padding) may be non-finite")
        raise ValueError(
            f"sequence {i} has NaN inside its valid steps: NaN is only allowed as "
            "padding, i.e. whole steps (all features NaN) at the end of a sequence")
    return lengths, npad > 0


def _check_sequences(layer, X):
    """C-contiguous (n, T, F) batch, its lengths (int32) and whether it is padded."""
    X = np.ascontiguousarray(X, layer.dtype)
    F = layer.input_shape[-1]
    if X.ndim != 3 or X.shape[2] != F:
        raise ValueError(f"{type(layer).__name__} expects X of shape (n, T, {F}); "
                         f"got {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{type(layer).__name__} got an empty batch of shape {X.shape}")
    lengths, pad = sequence_lengths(layer, X)
    return X, lengths, pad


def _check_sequence_shape(layer, input_shape):
    if len(input_shape) != 2:
        raise ValueError(f"{type(layer).__name__} expects inputs of shape (n, T, features); "
                         f"got per-sample shape {tuple(input_shape)}")
    return input_shape


def _valid_outputs(layer, lengths, k, s, d, padding):
    """Valid output steps per sequence (int32); every sequence needs at least one."""
    pl, vout = _geometry(lengths.astype(np.int64), k, s, d, padding)
    vout = np.ascontiguousarray(vout, np.int32)
    if vout.min() < 1:
        i = int(np.argmin(vout))
        e = d * (k - 1) + 1
        raise ValueError(
            f"sequence {i} has {int(lengths[i])} valid steps: too short for "
            f"{type(layer).__name__} with a window of {e} steps and padding={padding!r}")
    return pl, vout


class Conv1D(Layer):
    """1-D convolution (cross-correlation, as PyTorch) over sequences ``(n, T, C_in)``.

    Parameters
    ----------
    filters : int
        Number of output channels ``C_out``.
    kernel_size : int
        Number of steps each output reads.
    stride : int, default=1
        Step between output positions.
    padding : int, "valid", "same" or "causal", default=0
        See ``fastnut.nn._conv1d``; ``"same"`` and ``"causal"`` keep
        ``ceil(T / stride)`` steps.
    dilation : int, default=1
        Spacing between the kernel's taps (1: adjacent steps).
    activation : {"identity", "relu", "tanh", "logistic"}, default="identity"
        ``"relu"`` is fused into the output pass (and its derivative into the
        backward pass); the others run as one extra pass.  Padded steps stay
        NaN through any of them.
    use_bias : bool, default=True
        Add a learned bias per output channel.

    Notes
    -----
    ``params["weight"]`` has PyTorch's layout ``(C_out, C_in, k)`` and
    ``params["bias"]`` shape ``(C_out,)``; inputs and outputs are channels
    last, ``(n, T, C)``, like every fastnut sequence layer (PyTorch's
    ``Conv1d`` takes ``(N, C, L)``: transpose the last two axes).  With
    stride ``s``, left padding ``p`` and dilation ``d``,

    .. math::

        Y_{n,o,c'} = act\\Big(b_{c'} + \\sum_{c,j} W_{c',c,j}\\,
        X_{n,\\, o s + j d - p,\\, c}\\Big),

    ``X`` zero outside the sequence.  Initialisation is PyTorch's default
    (``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, ``fan_in = C_in * k``, for weight
    and bias).  Sequences may be shorter than the ``T`` given to ``build``
    or longer: the output length follows the input.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import nn
    >>> conv = nn.Conv1D(8, kernel_size=3, padding="causal")
    >>> conv.build((20, 2), random_state=0)
    (20, 8)
    >>> conv.params["weight"].shape
    (8, 2, 3)
    """

    variable_axes = (0,)  # any number of steps T
    axis_names = ("T",)


    #: what a training forward keeps for backward (never pickled)
    _forward_state = ("_ctx",)

    def __init__(self, filters, kernel_size, stride=1, padding=0, dilation=1,
                 activation="identity", use_bias=True):
        super().__init__()
        self.filters = _int(filters, "Conv1D filters", 1)
        self.kernel_size = _int(kernel_size, "kernel_size", 1)
        self.stride = _int(stride, "stride", 1)
        self.dilation = _int(dilation, "dilation", 1)
        self.padding = _check_padding(padding)
        self.activation = check_activation(activation)
        self.use_bias = bool(use_bias)

    def get_config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size,
                "stride": self.stride, "padding": self.padding, "dilation": self.dilation,
                "activation": self.activation, "use_bias": self.use_bias}

    def _geom(self, T):
        return _geometry(T, self.kernel_size, self.stride, self.dilation, self.padding)

    def _build(self, input_shape, rng):
        T, C = _check_sequence_shape(self, input_shape)
        k = self.kernel_size
        # the kernels index with 32-bit ints: refuse what they cannot address
        # (and a weight of 2**31 values) before anything is allocated
        if (max(k, self.stride, self.dilation) > INT32_MAX or self.filters * C * k > INT32_MAX
                or (k - 1) * self.dilation + 1 > INT32_MAX):
            raise ValueError(
                f"Conv1D with filters={self.filters}, kernel_size={k}, stride={self.stride}, "
                f"dilation={self.dilation} on {C} input features is beyond the kernels' "
                f"32-bit sizes (at most {INT32_MAX:,} values per array and per span)")
        _, To = self._geom(T)
        if To < 1:
            raise ValueError(
                f"Conv1D with kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding!r} does not fit sequences of {T} steps")
        k = self.kernel_size
        bound = 1.0 / np.sqrt(C * k)
        self.params["weight"] = rng.uniform(-bound, bound, (self.filters, C, k)).astype(self.dtype)
        if self.use_bias:
            self.params["bias"] = rng.uniform(-bound, bound, self.filters).astype(self.dtype)
        self._act = ACTIVATION_CODES[self.activation]
        return (int(To), self.filters)

    def _plan(self, n, To):
        """(the kernel's plan, threads) for a batch of n sequences."""
        C = self.input_shape[1]
        plan = _k1.conv1d_plan(n=n, To=To, C=C, k=self.kernel_size, Co=self.filters)
        flops = 2.0 * n * To * self.kernel_size * C * self.filters
        nt = threads_for(flops, "conv1d", cap=plan["chunks"])
        return plan, nt

    def _forward(self, X, training=False):
        X, lengths, pad = _check_sequences(self, X)
        n, T, C = X.shape
        pl, To = self._geom(T)
        if To < 1:
            raise ValueError(f"Conv1D got sequences of {T} steps: too short for "
                             f"kernel_size={self.kernel_size}, dilation={self.dilation}")
        _, vout = _valid_outputs(self, lengths, self.kernel_size, self.stride,
                                 self.dilation, self.padding)
        plan, nt = self._plan(n, To)
        Y = self._buffer("Y", (n, To, self.filters))
        col = self._buffer("col", (nt, plan["col"]))
        wr = self._buffer("wr", (plan["wr"],))
        b = self.params["bias"] if self.use_bias else self._buffer("nob", (0,))
        relu = self.activation == "relu"
        args = (X, self.params["weight"], b, lengths, vout, Y, col, wr)
        kw = dict(stride=self.stride, pad=pl, dilation=self.dilation, nb=plan["nb"],
                  relu=relu, n_threads=nt)
        if nt > 1:
            with blas_single_thread():
                _k1.conv1d_forward(*args, **kw)
        else:
            _k1.conv1d_forward(*args, **kw)
        if self._act and not relu:
            _kd.bias_act_forward(Y.reshape(n, -1), self._buffer("nob", (0,)), act=self._act,
                                 n_threads=_threads_for(Y))
        if training:
            self._ctx = (X, Y, lengths, vout, pl, plan, nt)
        return Y

    def _backward(self, dY):
        X, Y, lengths, vout, pl, plan, nt = self._ctx
        n, T, C = X.shape
        To = Y.shape[1]
        dY = np.ascontiguousarray(dY, self.dtype)
        relu = self.activation == "relu"
        if self._act and not relu:
            D = self._buffer("D", dY.shape)
            np.copyto(D, dY)
            _kd.act_backward(D.reshape(n, -1), Y.reshape(n, -1), act=self._act,
                             n_threads=_threads_for(D))
            dY = D
        need_dx = self.needs_input_grad
        dX = self._buffer("dX", X.shape) if need_dx else self._buffer("nodx", (0, 1, 1))
        col = self._buffer("col", (nt, plan["col"]))
        g = self._buffer("g", (nt, plan["g"]))
        acc = self._buffer("acc", (_k1.conv1d_acc_rows(n=n, plan=plan), plan["acc"]))
        wr = self._buffer("wr", (plan["wr"],))
        db = self.grads["bias"] if self.use_bias else self._buffer("nob", (0,))
        args = (X, self.params["weight"], dY, Y, lengths, vout, dX, self.grads["weight"], db,
                col, g, acc, wr)
        kw = dict(stride=self.stride, pad=pl, dilation=self.dilation, nb=plan["nb"],
                  relu=relu, need_dx=need_dx, n_threads=nt)
        if nt > 1:
            with blas_single_thread():
                _k1.conv1d_backward(*args, **kw)
        else:
            _k1.conv1d_backward(*args, **kw)
        return dX if need_dx else None



class _Pool1D(Layer):

    variable_axes = (0,)  # any number of steps T
    axis_names = ("T",)

    _forward_state = ("_ctx",)

    def __init__(self, pool_size=2, stride=None, padding=0):
        super().__init__()
        self.pool_size = _int(pool_size, "pool_size", 1)
        self.stride = self.pool_size if stride is None else _int(stride, "stride", 1)
        self.padding = _check_padding(padding)
        if not isinstance(self.padding, str) and self.padding > self.pool_size // 2:
            raise ValueError(f"padding must be at most pool_size // 2 = "
                             f"{self.pool_size // 2}, got {padding!r}")

    def get_config(self):
        return {"pool_size": self.pool_size, "stride": self.stride, "padding": self.padding}

    def _geom(self, T):
        return _geometry(T, self.pool_size, self.stride, 1, self.padding)

    def _build(self, input_shape, rng):
        T, C = _check_sequence_shape(self, input_shape)
        if max(self.pool_size, self.stride) > INT32_MAX:
            raise ValueError(
                f"{type(self).__name__} with pool_size={self.pool_size}, stride={self.stride} "
                f"is beyond the kernels' 32-bit sizes (at most {INT32_MAX:,})")
        _, To = self._geom(T)
        if To < 1:
            raise ValueError(f"{type(self).__name__} with pool_size={self.pool_size} does not "
                             f"fit sequences of {T} steps")
        return (int(To), C)

    def _prepare(self, X):
        X, lengths, pad = _check_sequences(self, X)
        n, T, C = X.shape
        pl, To = self._geom(T)
        if To < 1:
            raise ValueError(f"{type(self).__name__} got sequences of {T} steps: too short "
                             f"for pool_size={self.pool_size}")
        _, vout = _valid_outputs(self, lengths, self.pool_size, self.stride, 1, self.padding)
        return X, lengths, vout, pl, int(To)



class MaxPool1D(_Pool1D):
    """Max pooling over windows of ``pool_size`` steps moved by ``stride`` (default: the size).

    Parameters
    ----------
    pool_size : int, default=2
        Number of steps in a window.
    stride : int or None, default=None
        Step between windows; None uses ``pool_size``.
    padding : int, "valid", "same" or "causal", default=0
        As ``Conv1D`` (an int at most ``pool_size // 2``); padded positions
        never win the maximum (PyTorch pads with ``-inf``).

    Notes
    -----
    ``(n, T, C) -> (n, T_out, C)``; the maximum is taken over the window's
    steps inside the sequence (first maximum on ties, where the gradient
    goes).  See ``fastnut.nn._conv1d`` for NaN-padded sequences.
    """

    def _forward(self, X, training=False):
        X, lengths, vout, pl, To = self._prepare(X)
        n, T, C = X.shape
        Y = self._buffer("Y", (n, To, C))
        idx = _typed_buffer(self, "idx", (n, To, C), np.int32)
        _k1.maxpool1d_forward(X, lengths, vout, Y, idx, k=self.pool_size, stride=self.stride,
                              pad=pl, n_threads=_threads_for(X))
        if training:
            self._ctx = (X.shape, idx)
        return Y

    def _backward(self, dY):
        shape, idx = self._ctx
        dY = np.ascontiguousarray(dY, self.dtype)
        dX = self._buffer("dX", shape)
        _k1.maxpool1d_backward(dY, idx, dX, n_threads=_threads_for(dX))
        return dX


class AvgPool1D(_Pool1D):
    """Average pooling over windows of ``pool_size`` steps moved by ``stride``.

    Parameters
    ----------
    pool_size : int, default=2
        Number of steps in a window.
    stride : int or None, default=None
        Step between windows; None uses ``pool_size``.
    padding : int, "valid", "same" or "causal", default=0
        As ``Conv1D``; padded positions are not counted (PyTorch's
        ``count_include_pad=False``), exactly like the steps past the end of
        a shorter sequence.

    Notes
    -----
    ``Y = mean of the window's steps inside the sequence``; backward spreads
    ``dY / count`` over them.
    """

    def _forward(self, X, training=False):
        X, lengths, vout, pl, To = self._prepare(X)
        n, T, C = X.shape
        Y = self._buffer("Y", (n, To, C))
        _k1.avgpool1d_forward(X, lengths, vout, Y, k=self.pool_size, stride=self.stride,
                              pad=pl, n_threads=_threads_for(X))
        if training:
            self._ctx = (X.shape, lengths, vout, pl)
        return Y

    def _backward(self, dY):
        shape, lengths, vout, pl = self._ctx
        dY = np.ascontiguousarray(dY, self.dtype)
        dX = self._buffer("dX", shape)
        _k1.avgpool1d_backward(dY, lengths, vout, dX, k=self.pool_size, stride=self.stride,
                               pad=pl, n_threads=_threads_for(dX))
        return dX


class _GlobalPool1D(Layer):

    variable_axes = (0,)  # any number of steps T
    axis_names = ("T",)

    _forward_state = ("_ctx",)

    def _build(self, input_shape, rng):
        T, C = _check_sequence_shape(self, input_shape)
        return (C,)



class GlobalAvgPool1D(_GlobalPool1D):
    """Mean over the valid steps of every sequence: ``(n, T, C) -> (n, C)``.

    A NaN-padded sequence of ``L`` valid steps is averaged over those ``L``
    steps only; the gradient is ``dY / L`` at each valid step and 0 at padded
    ones.
    """

    def _forward(self, X, training=False):
        X, lengths, pad = _check_sequences(self, X)
        n, T, C = X.shape
        Y = self._buffer("Y", (n, C))
        _k1.global_avgpool1d_forward(X, lengths, Y, n_threads=_threads_for(X))
        if training:
            self._ctx = (X.shape, lengths)
        return Y

    def _backward(self, dY):
        shape, lengths = self._ctx
        dY = np.ascontiguousarray(dY, self.dtype)
        dX = self._buffer("dX", shape)
        _k1.global_avgpool1d_backward(dY, lengths, dX, n_threads=_threads_for(dX))
        return dX


class GlobalMaxPool1D(_GlobalPool1D):
    """Maximum over the valid steps of every sequence: ``(n, T, C) -> (n, C)``.

    The gradient goes to the step of the maximum (the first one on ties).
    """

    def _forward(self, X, training=False):
        X, lengths, pad = _check_sequences(self, X)
        n, T, C = X.shape
        Y = self._buffer("Y", (n, C))
        idx = _typed_buffer(self, "idx", (n, C), np.int32)
        _k1.global_maxpool1d_forward(X, lengths, Y, idx, n_threads=_threads_for(X))
        if training:
            self._ctx = (X.shape, idx)
        return Y

    def _backward(self, dY):
        shape, idx = self._ctx
        dY = np.ascontiguousarray(dY, self.dtype)
        dX = self._buffer("dX", shape)
        _k1.global_maxpool1d_backward(dY, idx, dX, n_threads=_threads_for(dX))
        return dX
