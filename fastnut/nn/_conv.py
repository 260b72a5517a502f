"""Convolution, pooling and upsampling layers on ``(n, C, H, W)`` batches.

The arithmetic runs in ``fastnut._kernels.conv`` and ``fastnut._kernels.pool``
(see their module docstrings for the algorithms); these classes validate
shapes once at ``build``, keep the scratch buffers of the current batch size
and hold what the backward pass needs.
"""

import numpy as np

from .._kernels import conv as _kc
from .._kernels import dense as _kd
from .._kernels import pool as _kp
from .._threads import blas_single_thread, threads_for
from ._activations import ACTIVATION_CODES, check_activation
from ._base import INT32_MAX, Layer


def _pair(value, name, minimum=1):
    """An int or a pair of ints -> a tuple of two ints in [minimum, 2**31 - 1]."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    else:
        try:
            pair = tuple(int(v) for v in value)
        except TypeError:
            pair = ()
        if len(pair) != 2 or any(isinstance(v, bool) for v in value):
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if max(pair) > INT32_MAX:
        raise ValueError(f"{name} must be at most 2**31 - 1, got {value!r}")
    return pair


def _check_sizes(layer, input_shape, **sizes):
    """Refuse a geometry the kernels cannot index: every size they address
    with a 32-bit int (per sample and per plane) must stay below 2**31."""
    big = [f"{k.replace('_', ' ')} = {v:,}" for k, v in sizes.items() if v > INT32_MAX]
    if big:
        raise ValueError(
            f"{layer!r} built for inputs of shape (C, H, W) = {tuple(input_shape)} would need "
            f"{', '.join(big)}, more than the 2**31 - 1 values per sample the kernels "
            "support (and far more memory than a batch can use); reduce the padding, "
            "dilation, kernel or input size")


def _check_image_shape(layer, input_shape):
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(
            f"{type(layer).__name__} expects inputs of shape (n, C, H, W) with C, H, W >= 1; "
            f"got per-sample shape {tuple(input_shape)}")
    C, H, W = input_shape
    _check_sizes(layer, input_shape, input_values=C * H * W)
    return input_shape


def _int_buffer(layer, name, shape):
    """Like ``Layer._buffer`` (per thread, reused per shape) for int32 indices."""
    bufs = getattr(layer._tls, "ibufs", None)
    if bufs is None:
        bufs = layer._tls.ibufs = {}
    buf = bufs.get(name)
    if buf is None or buf.shape != shape:
        buf = bufs[name] = np.empty(shape, np.int32)
    return buf


def _threads_for(X):
    """Threads for a pooling/upsampling/activation pass over the batch X
    (``THRESHOLDS["pool"]`` in ``fastnut._threads``): at most one per image."""
    return threads_for(X.size, "pool", cap=X.shape[0])


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in PyTorch) with fused bias and activation.

    Parameters
    ----------
    filters : int
        Number of output channels ``C_out``.
    kernel_size : int or (int, int)
        Kernel height and width ``(kh, kw)``; one int for a square kernel.
    stride : int or (int, int), default=1
        Step between output positions, per axis.
    padding : int, (int, int), "same" or "valid", default=0
        Zero padding on each side.  ``"same"`` pads so that the output has
        ``ceil(H / stride)`` rows (extra padding goes to the bottom/right when
        the total is odd); ``"valid"`` means no padding.
    dilation : int or (int, int), default=1
        Spacing between the kernel's taps, per axis (1: adjacent pixels).
    activation : {"identity", "relu", "tanh", "logistic"}, default="identity"
        ``"relu"`` is fused into the convolution's output pass (and its
        derivative into the backward pass); the others run as one extra pass.
    use_bias : bool, default=True
        Add a learned bias per output channel.

    Notes
    -----
    ``params["weight"]`` has shape ``(C_out, C_in, kh, kw)`` and
    ``params["bias"]`` shape ``(C_out,)``.  With stride ``s``, padding ``p``
    and dilation ``d`` (per axis),

    .. math::

        Y_{n,o,y,x} = act\\Big(b_o + \\sum_{c,i,j} W_{o,c,i,j}\\,
        X_{n,c,\\,y s_h + i d_h - p_h,\\, x s_w + j d_w - p_w}\\Big),

    with ``X`` zero outside the image, and
    ``H_out = (H + p_top + p_bottom - d_h (kh - 1) - 1) // s_h + 1``.

    Initialisation is PyTorch's default for ``Conv2d``: Kaiming-uniform with
    ``a = sqrt(5)``, i.e. weights and bias uniform in
    ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` with ``fan_in = C_in * kh * kw``.
    """

    def __init__(self, filters, kernel_size, stride=1, padding=0, dilation=1,
                 activation="identity", use_bias=True):
        super().__init__()
        self.filters = int(filters)
        if self.filters < 1:
            raise ValueError(f"Conv2D filters must be >= 1, got {filters!r}")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.dilation = _pair(dilation, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be an int, a pair, 'same' or 'valid'; got {padding!r}")
            self.padding = padding
        else:
            self.padding = _pair(padding, "padding", minimum=0)
        self.activation = check_activation(activation)
        self.use_bias = bool(use_bias)

    def get_config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding, "dilation": self.dilation,
                "activation": self.activation, "use_bias": self.use_bias}

    def _geometry(self, H, W):
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # effective kernel extent
        if self.padding == "valid":
            pads = (0, 0, 0, 0)
        elif self.padding == "same":
            ho, wo = -(-H // sh), -(-W // sw)
            th = max((ho - 1) * sh + eh - H, 0)
            tw = max((wo - 1) * sw + ew - W, 0)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        else:
            ph, pw = self.padding
            pads = (ph, ph, pw, pw)
        Ho = (H + pads[0] + pads[1] - eh) // sh + 1
        Wo = (W + pads[2] + pads[3] - ew) // sw + 1
        return pads[0], pads[2], Ho, Wo

    def _build(self, input_shape, rng):
        C, H, W = _check_image_shape(self, input_shape)
        kh, kw = self.kernel_size
        (sh, sw), (dh, dw) = self.stride, self.dilation
        ph, pw, Ho, Wo = self._geometry(H, W)
        if Ho < 1 or Wo < 1:
            raise ValueError(
                f"Conv2D with kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding!r} does not fit inputs of shape (C, H, W) = "
                f"{tuple(input_shape)}: the output would be {Ho}x{Wo}")
        # what the kernels index with 32-bit ints (a huge dilation or padding
        # on a small image must not wrap around or allocate absurd scratch)
        _check_sizes(self, input_shape,
                     padded_height=H + ph + (Ho - 1) * sh + (kh - 1) * dh + 1,
                     padded_width=W + pw + (Wo - 1) * sw + (kw - 1) * dw + 1,
                     weights=self.filters * C * kh * kw,
                     outputs=self.filters * Ho * Wo)
        plan = _kc.conv2d_plan(C=C, kh=kh, kw=kw, sh=sh, dh=dh, Co=self.filters, Ho=Ho, Wo=Wo)
        _check_sizes(self, input_shape, lowered_input=plan["col"],
                     output_scratch=plan["g"], gradient_scratch=plan["acc"])
        self._ph, self._pw = ph, pw
        fan_in = C * kh * kw
        bound = 1.0 / np.sqrt(fan_in)
        self.params["weight"] = rng.uniform(-bound, bound, (self.filters, C, kh, kw)).astype(self.dtype)
        if self.use_bias:
            self.params["bias"] = rng.uniform(-bound, bound, self.filters).astype(self.dtype)
        self._plan = plan
        self._act = ACTIVATION_CODES[self.activation]
        return (self.filters, Ho, Wo)

    def _args(self):
        """The geometry keywords of conv2d_forward / conv2d_backward."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return dict(sh=sh, sw=sw, ph=self._ph, pw=self._pw, dh=dh, dw=dw)

    def _conv_threads(self, n):
        """Threads for a batch of n images: 1 unless the call is big enough."""
        groups = -(-n // self._plan["nb"])
        C = self.input_shape[0]
        flops = 2.0 * n * self.filters * C * self.kernel_size[0] * self.kernel_size[1] \
            * self.output_shape[1] * self.output_shape[2]
        return threads_for(flops, "conv", cap=groups)

    def _forward(self, X, training=False):
        n = X.shape[0]
        nt = self._conv_threads(n)
        Y = self._buffer("Y", (n,) + self.output_shape)
        col = self._buffer("col", (nt, self._plan["col"]))
        g = self._buffer("g", (nt, self._plan["g"]))
        wr = self._buffer("wr", (self._plan["wr"],))
        b = self.params["bias"] if self.use_bias else self._buffer("nob", (0,))
        relu = self.activation == "relu"
        if nt > 1:
            with blas_single_thread():
                _kc.conv2d_forward(X, self.params["weight"], b, Y, col, g, wr, **self._args(),
                                   relu=relu, n_threads=nt)
        else:
            _kc.conv2d_forward(X, self.params["weight"], b, Y, col, g, wr, **self._args(),
                               relu=relu, n_threads=1)
        if self._act and not relu:
            _kd.bias_act_forward(Y.reshape(n, -1), self._buffer("nob", (0,)), act=self._act,
                                 n_threads=_threads_for(Y))
        if training:
            self._X, self._Y = X, Y
        return Y

    def _backward(self, dY):
        X = self._X
        n = X.shape[0]
        nt = self._conv_threads(n)
        relu = self.activation == "relu"
        if self._act and not relu:
            D = self._buffer("D", dY.shape)
            np.copyto(D, dY)
            _kd.act_backward(D.reshape(n, -1), self._Y.reshape(n, -1), act=self._act,
                             n_threads=_threads_for(D))
            dY = D
        need_dx = self.needs_input_grad
        dX = self._buffer("dX", X.shape) if need_dx else self._buffer("nodx", (0, 1, 1, 1))
        col = self._buffer("col", (nt, self._plan["col"]))
        g = self._buffer("g", (nt, self._plan["g"]))
        acc = self._buffer("acc", (_kc.conv2d_acc_rows(n=n, plan=self._plan), self._plan["acc"]))
        wr = self._buffer("wr", (self._plan["wr"],))
        db = self.grads["bias"] if self.use_bias else self._buffer("nob", (0,))
        args = (X, self.params["weight"], dY, self._Y if relu else dY, dX,
                self.grads["weight"], db, col, g, acc, wr)
        kw = dict(self._args(), relu=relu, need_dx=need_dx, n_threads=nt)
        if nt > 1:
            with blas_single_thread():
                _kc.conv2d_backward(*args, **kw)
        else:
            _kc.conv2d_backward(*args, **kw)
        return dX if need_dx else None


class _Pool2D(Layer):
    def __init__(self, pool_size=2, stride=None):
        super().__init__()
        self.pool_size = _pair(pool_size, "pool_size")
        self.stride = self.pool_size if stride is None else _pair(stride, "stride")

    def get_config(self):
        return {"pool_size": self.pool_size, "stride": self.stride}

    def _window(self):
        """The window keywords of the pool kernels."""
        (kh, kw), (sh, sw) = self.pool_size, self.stride
        return dict(kh=kh, kw=kw, sh=sh, sw=sw)

    def _build(self, input_shape, rng):
        C, H, W = _check_image_shape(self, input_shape)
        (kh, kw), (sh, sw) = self.pool_size, self.stride
        if H < kh or W < kw:
            raise ValueError(
                f"{type(self).__name__} with pool_size={self.pool_size} does not fit inputs of "
                f"shape (C, H, W) = {tuple(input_shape)}")
        return (C, (H - kh) // sh + 1, (W - kw) // sw + 1)


class MaxPool2D(_Pool2D):
    """Max pooling over ``pool_size`` windows moved by ``stride`` (default: the pool size).

    Parameters
    ----------
    pool_size : int or (int, int), default=2
        Window height and width; one int for a square window.
    stride : int, (int, int) or None, default=None
        Step between windows, per axis; None uses ``pool_size``.

    Notes
    -----
    No padding; ``H_out = (H - kh) // sh + 1``.  The forward pass remembers
    where each maximum was (the first one on ties), and the backward pass
    routes the gradient there: ``dX[argmax] += dY``.
    """

    def _forward(self, X, training=False):
        n = X.shape[0]
        Y = self._buffer("Y", (n,) + self.output_shape)
        idx = _int_buffer(self, "idx", Y.shape)
        _kp.maxpool2d_forward(X, Y, idx, **self._window(), n_threads=_threads_for(X))
        if training:
            self._idx = idx
        return Y

    def _backward(self, dY):
        n = dY.shape[0]
        dX = self._buffer("dX", (n,) + self.input_shape)
        _kp.maxpool2d_backward(dY, self._idx, dX, **self._window(),
                               n_threads=_threads_for(dX))
        return dX


class AvgPool2D(_Pool2D):
    """Average pooling over ``pool_size`` windows moved by ``stride`` (default: the pool size).

    Parameters
    ----------
    pool_size : int or (int, int), default=2
        Window height and width; one int for a square window.
    stride : int, (int, int) or None, default=None
        Step between windows, per axis; None uses ``pool_size``.

    Notes
    -----
    ``Y = mean of the window``; backward spreads ``dY / (kh*kw)`` over it.
    """

    def _forward(self, X, training=False):
        n = X.shape[0]
        Y = self._buffer("Y", (n,) + self.output_shape)
        _kp.avgpool2d_forward(X, Y, **self._window(), n_threads=_threads_for(X))
        return Y

    def _backward(self, dY):
        n = dY.shape[0]
        dX = self._buffer("dX", (n,) + self.input_shape)
        _kp.avgpool2d_backward(dY, dX, **self._window(), n_threads=_threads_for(dX))
        return dX


class GlobalAvgPool2D(Layer):
    """Mean over the whole image of every channel: ``(n, C, H, W) -> (n, C)``."""

    def _build(self, input_shape, rng):
        C, H, W = _check_image_shape(self, input_shape)
        return (C,)

    def _forward(self, X, training=False):
        n = X.shape[0]
        Y = self._buffer("Y", (n,) + self.output_shape)
        _kp.global_avgpool_forward(X, Y, n_threads=_threads_for(X))
        return Y

    def _backward(self, dY):
        n = dY.shape[0]
        dX = self._buffer("dX", (n,) + self.input_shape)
        _kp.global_avgpool_backward(dY, dX, n_threads=_threads_for(dX))
        return dX


class Upsample2D(Layer):
    """Nearest-neighbour upsampling by an integer factor per axis.

    Parameters
    ----------
    size : int or (int, int), default=2
        ``(n, C, H, W) -> (n, C, H*sh, W*sw)``; each pixel becomes an
        ``sh x sw`` block.  The backward pass sums each block.
    """

    def __init__(self, size=2):
        super().__init__()
        self.size = _pair(size, "size")

    def get_config(self):
        return {"size": self.size}

    def _build(self, input_shape, rng):
        C, H, W = _check_image_shape(self, input_shape)
        _check_sizes(self, input_shape, outputs=C * H * self.size[0] * W * self.size[1])
        return (C, H * self.size[0], W * self.size[1])

    def _forward(self, X, training=False):
        n = X.shape[0]
        Y = self._buffer("Y", (n,) + self.output_shape)
        _kp.upsample_nearest_forward(X, Y, sh=self.size[0], sw=self.size[1],
                                     n_threads=_threads_for(Y))
        return Y

    def _backward(self, dY):
        n = dY.shape[0]
        dX = self._buffer("dX", (n,) + self.input_shape)
        _kp.upsample_nearest_backward(dY, dX, sh=self.size[0], sw=self.size[1],
                                      n_threads=_threads_for(dY))
        return dX
