"""Batch normalisation: ``BatchNorm1D`` (vectors and sequences) and ``BatchNorm2D`` (images).

The sums and the element-wise passes run in ``fastnut._kernels.norm`` (see its
docstring); these classes turn the sums into statistics, keep the running
statistics (``buffers``) and what the backward pass needs.
"""
import numpy as np

from .._kernels import norm as _kn
from ._base import Layer
from ._conv1d import sequence_lengths, _threads_for, _typed_buffer, _ones_lengths


class _BatchNorm(Layer):
    """Shared machinery; subclasses say how a batch maps to the kernels' layouts."""

    _rows = True  # channels last (n, T, F) rows, or channels first (n, C, P) planes
    #: what a training forward keeps for backward (never pickled)
    _forward_state = ("_ctx",)

    def __init__(self, num_features=None, eps=1e-5, momentum=0.1, affine=True,
                 activation="identity"):
        super().__init__()
        if num_features is not None:
            if int(num_features) != num_features or num_features < 1:
                raise ValueError(f"num_features must be a positive int or None, "
                                 f"got {num_features!r}")
            num_features = int(num_features)
        self.num_features = num_features
        self.eps = float(eps)
        if not self.eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        if momentum is not None:
            momentum = float(momentum)
            if not 0.0 <= momentum <= 1.0:
                raise ValueError(f"momentum must be in [0, 1] or None, got {momentum!r}")
        self.momentum = momentum
        self.affine = bool(affine)
        if activation not in ("identity", "relu"):
            raise ValueError(f"{type(self).__name__} activation must be 'identity' or 'relu', "
                             f"got {activation!r}")
        self.activation = activation

    def get_config(self):
        return {"num_features": self.num_features, "eps": self.eps,
                "momentum": self.momentum, "affine": self.affine,
                "activation": self.activation}

    def _init_state(self, C, input_shape):
        if self.num_features is not None and self.num_features != C:
            raise ValueError(
                f"{type(self).__name__}(num_features={self.num_features}) got inputs with "
                f"{C} features/channels (per-sample shape {tuple(input_shape)})")
        if self.affine:
            self.params["weight"] = np.ones(C, self.dtype)
            self.params["bias"] = np.zeros(C, self.dtype)
        self.buffers = {"running_mean": np.zeros(C, self.dtype),
                        "running_var": np.ones(C, self.dtype),
                        "num_batches_tracked": np.zeros((), np.int64)}
        self._C = C

    # -- layout adapters (subclasses) --------------------------------------------------
    def _layout(self, X):
        """(X3, lengths, pad) with X3 the kernel view of X."""
        raise NotImplementedError

    # -- statistics --------------------------------------------------------------------
    def _batch_stats(self, X3, lengths, m, nt):
        C = self._C
        zeros = _typed_buffer(self, "zeros", (C,), np.float64)
        zeros.fill(0)
        if self._rows:
            ws = _kn.rows_workspace(n=X3.shape[0], F=C, n_threads=nt)
            part = _typed_buffer(self, "part", ws["part"], np.float64)
            _kn.rows_sums(X3, lengths, zeros, part, square=False, n_threads=nt)
            mean = part[:ws["threads"]].sum(axis=0) / m
            _kn.rows_sums(X3, lengths, mean, part, square=True, n_threads=nt)
            var = part[:ws["threads"]].sum(axis=0) / m
        else:
            s = _typed_buffer(self, "s", (C,), np.float64)
            _kn.planes_sums(X3, zeros, s, square=False, n_threads=nt)
            mean = s / m
            _kn.planes_sums(X3, mean, s, square=True, n_threads=nt)
            var = s / m
        return mean, var

    def _update_running(self, mean, var, m):
        b = self.buffers
        b["num_batches_tracked"][...] += 1
        f = 1.0 / float(b["num_batches_tracked"]) if self.momentum is None else self.momentum
        unbiased = var * (m / (m - 1.0))
        rm, rv = b["running_mean"], b["running_var"]
        rm[...] = (1.0 - f) * rm.astype(np.float64) + f * mean
        rv[...] = (1.0 - f) * rv.astype(np.float64) + f * unbiased

    # -- forward / backward ------------------------------------------------------------
    def _forward(self, X, training=False):
        X3, lengths, m = self._layout(X)
        nt = _threads_for(X3)
        dt = self.dtype
        if training:
            if m < 2:
                raise ValueError(
                    f"{type(self).__name__} needs more than 1 value per channel in training "
                    f"mode (batch statistics); got {m}")
            mean, var = self._batch_stats(X3, lengths, m, nt)
            invstd = 1.0 / np.sqrt(var + self.eps)
        else:
            mean = self.buffers["running_mean"].astype(np.float64)
            invstd = 1.0 / np.sqrt(self.buffers["running_var"].astype(np.float64) + self.eps)
        w = self.params["weight"].astype(np.float64) if self.affine else 1.0
        a = np.ascontiguousarray(w * invstd, dt)
        b = (self.params["bias"] if self.affine else np.zeros(self._C, dt))
        mu = np.ascontiguousarray(mean, dt)
        Y3 = self._buffer("Y", X3.shape)
        relu = self.activation == "relu"
        if self._rows:
            _kn.rows_affine(X3, lengths, mu, a, b, Y3, relu=relu, n_threads=nt)
        else:
            _kn.planes_affine(X3, mu, a, b, Y3, relu=relu, n_threads=nt)
        if training:
            self._update_running(mean, var, m)
            self._ctx = (X3, Y3, lengths, m, mean, invstd)
        return Y3.reshape(X.shape)

    def _backward(self, dY):
        X3, Y3, lengths, m, mean, invstd = self._ctx
        dt = self.dtype
        dY3 = np.ascontiguousarray(dY, dt).reshape(X3.shape)
        nt = _threads_for(X3)
        C = self._C
        relu = self.activation == "relu"
        if self._rows:
            ws = _kn.rows_workspace(n=X3.shape[0], F=C, n_threads=nt)
            part = _typed_buffer(self, "gpart", ws["gpart"], np.float64)
            _kn.rows_grad_sums(dY3, X3, Y3, lengths, mean, part, relu=relu, n_threads=nt)
            tot = part[:ws["threads"]].sum(axis=0)
            s1, s2 = tot[:C], tot[C:]
        else:
            out = _typed_buffer(self, "gout", (2, C), np.float64)
            _kn.planes_grad_sums(dY3, X3, Y3, mean, out, relu=relu, n_threads=nt)
            s1, s2 = out[0], out[1]
        w = self.params["weight"].astype(np.float64) if self.affine else 1.0
        if self.affine:
            self.grads["weight"][...] = s2 * invstd
            self.grads["bias"][...] = s1
        if not self.needs_input_grad:
            return None
        k = np.ascontiguousarray(w * invstd * np.ones(C), dt)
        mdy = np.ascontiguousarray(s1 / m, dt)
        cc = np.ascontiguousarray(s2 * invstd * invstd / m, dt)
        mu = np.ascontiguousarray(mean, dt)
        dX3 = self._buffer("dX", X3.shape)
        if self._rows:
            _kn.rows_backward(dY3, X3, Y3, lengths, mu, k, mdy, cc, dX3, relu=relu, n_threads=nt)
        else:
            _kn.planes_backward(dY3, X3, Y3, mu, k, mdy, cc, dX3, relu=relu, n_threads=nt)
        return dX3.reshape(dY.shape)



class BatchNorm1D(_BatchNorm):
    """Batch normalisation over the features of vectors ``(n, F)`` or sequences ``(n, T, F)``.

    Parameters
    ----------
    num_features : int or None, default=None
        ``F``; inferred at ``build`` when None, checked when given (PyTorch's
        first argument).
    eps : float, default=1e-5
        Added to the variance.
    momentum : float or None, default=0.1
        Weight of the batch statistics in the running statistics
        (``running = (1 - momentum) * running + momentum * batch``, as in
        PyTorch); None means the cumulative average over all batches seen
        (``num_batches_tracked``).
    affine : bool, default=True
        Learn ``weight`` (init 1) and ``bias`` (init 0) per feature.
    activation : {"identity", "relu"}, default="identity"
        A ReLU fused into the same pass.  Use it rather than a following
        ``Activation("relu")`` on NaN-padded sequences: the fused ReLU keeps
        padded steps NaN, a separate one turns them into zeros.

    Notes
    -----
    PyTorch's ``BatchNorm1d`` normalises the channel axis of ``(N, C)`` or
    ``(N, C, L)``; fastnut's sequences are ``(n, T, F)`` (channels last), so
    this layer normalises the last axis, ``F``, with statistics over the batch
    and (for sequences) the time axis: ``BatchNorm1D`` on ``X`` equals
    ``torch.nn.BatchNorm1d(F)`` on ``X.transpose(0, 2, 1)``.

    In training mode (``forward(X, training=True)``) with ``m`` values per
    feature,

    .. math::

        \\mu = \\frac1m \\sum x,\\quad \\sigma^2 = \\frac1m \\sum (x - \\mu)^2,\\quad
        y = \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}}\\, w + b,

    and the buffers are updated with ``mu`` and the *unbiased* variance
    ``sigma^2 m / (m - 1)``, as PyTorch does.  In inference mode the running
    statistics take their place.  ``buffers`` holds ``running_mean`` (init 0),
    ``running_var`` (init 1) and ``num_batches_tracked``; they are fitted
    state (pickled) but not parameters (no gradient, no optimizer).

    NaN-padded sequences: padded steps (all-NaN rows at the end, see
    ``fastnut.nn._recurrent``) do not enter the statistics, stay NaN in the
    output and get a zero input gradient, so a recurrent or ``Conv1D`` layer
    after this one sees the same lengths.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import nn
    >>> bn = nn.BatchNorm1D()
    >>> bn.build((5, 3), random_state=0)
    (5, 3)
    >>> Y = bn.forward(np.arange(30, dtype=np.float32).reshape(2, 5, 3), training=True)
    >>> np.round(Y.mean(axis=(0, 1)), 6).tolist()
    [0.0, 0.0, 0.0]
    """

    @property
    def variable_axes(self):
        """(n, T, F) input takes any number of steps T; (n, F) input nothing free."""
        return (0,) if self.input_shape is None or len(self.input_shape) == 2 else ()

    axis_names = ("T",)


    _rows = True

    def _build(self, input_shape, rng):
        if len(input_shape) not in (1, 2):
            raise ValueError(
                f"BatchNorm1D expects inputs of shape (n, F) or (n, T, F); got per-sample "
                f"shape {tuple(input_shape)}")
        self._init_state(input_shape[-1], input_shape)
        return input_shape

    def _layout(self, X):
        X = np.ascontiguousarray(X, self.dtype)
        if X.ndim == 2:
            n = X.shape[0]
            return X.reshape(n, 1, X.shape[1]), _ones_lengths(self, n), n
        lengths, pad = sequence_lengths(self, X)
        m = int(lengths.sum())
        return X, lengths, m


class BatchNorm2D(_BatchNorm):
    """Batch normalisation over the channels of images ``(n, C, H, W)``.

    Parameters
    ----------
    num_features : int or None, default=None
        ``C``; inferred at ``build`` when None, checked when given.
    eps : float, default=1e-5
        Added to the variance before its square root.
    momentum : float or None, default=0.1
        Weight of the new batch in the running statistics; None keeps their
        cumulative average instead (PyTorch's convention).
    affine : bool, default=True
        Learn a per-channel scale ``weight`` and shift ``bias``.
    activation : {"identity", "relu"}, default="identity"
        A ReLU fused into the same pass (saves one sweep over the batch).

    Notes
    -----
    As ``torch.nn.BatchNorm2d``: statistics per channel over the batch and
    both spatial axes (``m = n*H*W`` values), biased variance to normalise,
    unbiased variance into ``running_var``; see ``BatchNorm1D`` for the
    formulas and the buffers.

    Examples
    --------
    >>> from fastnut import nn
    >>> bn = nn.BatchNorm2D(8)
    >>> bn.build((8, 4, 4), random_state=0)
    (8, 4, 4)
    >>> sorted(bn.params), sorted(bn.buffers)
    (['bias', 'weight'], ['num_batches_tracked', 'running_mean', 'running_var'])
    """

    _rows = False

    def _build(self, input_shape, rng):
        if len(input_shape) != 3:
            raise ValueError(
                f"BatchNorm2D expects inputs of shape (n, C, H, W); got per-sample shape "
                f"{tuple(input_shape)}")
        self._init_state(input_shape[0], input_shape)
        return input_shape

    def _layout(self, X):
        X = np.ascontiguousarray(X, self.dtype)
        n, C = X.shape[0], X.shape[1]
        P = int(np.prod(X.shape[2:]))
        return X.reshape(n, C, P), None, n * P
