"""Sequence helpers of the engine: the NaN-padding rule and time-axis layers.

Variable-length sequences are padded at the end with NaN: a padded step is
NaN in every feature (``sequence_lengths``).  Recurrent layers skip padded
steps, and ``SumSquaredError(masked=True)`` leaves them out of the loss.
``RepeatSteps`` and ``TimeDistributedDense`` are a sequence decoder's
"repeat the code over time" and "the same dense layer at every step";
``TimeDistributedDense`` skips padded (all-NaN) steps, so it is also the
per-step output head of a network that predicts one output per step, and
``MaskedStepLoss`` is that head's loss: one loss term per step (or per target
value), NaN targets left out.
"""
import numpy as np
from scipy.special import xlogy

from ._activations import logistic, softmax
from ._base import Layer
from ._layers import Dense
from ._losses import Loss


def sequence_lengths(X):
    """Valid length of each NaN-padded sequence of a batch ``X`` (n, T, F).

    Trailing steps that are NaN in every feature are padding.  Returns
    ``(lengths, pad)``: ``lengths`` an int32 array of shape (n,), ``pad`` the
    boolean (n, T) mask of padded steps, or None when nothing is padded.

    Raises ``ValueError`` for infinity, for NaN anywhere but trailing
    all-NaN steps, and for a sequence with no valid step.
    """
    n, T = X.shape[0], X.shape[1]
    nan = np.isnan(X)
    if not nan.any():
        if not np.isfinite(X).all():
            raise ValueError("sequences contain infinity; only trailing all-NaN steps "
                             "(padding) may be non-finite")
        return np.full(n, T, dtype=np.int32), None
    step_nan = nan.reshape(n, T, -1).all(axis=2)
    # length = T minus the number of trailing all-NaN steps
    valid_rev = ~step_nan[:, ::-1]
    if not valid_rev.any(axis=1).all():
        bad = int(np.flatnonzero(~valid_rev.any(axis=1))[0])
        raise ValueError(f"sequence {bad} is all NaN: every sequence needs at least one "
                         "valid step (NaN marks padding at the end)")
    lengths = (T - np.argmax(valid_rev, axis=1)).astype(np.int32)
    pad = np.arange(T)[None, :] >= lengths[:, None]
    inside = nan.reshape(n, T, -1)[~pad]
    if inside.any():
        bad = int(np.flatnonzero(nan.reshape(n, T, -1).any(axis=2) & ~pad)[0] // T)
        raise ValueError(
            f"sequence {bad} has NaN inside its valid steps: NaN is only allowed as "
            "padding, i.e. whole steps (all features NaN) at the end of a sequence")
    if np.isinf(X).any():
        raise ValueError("sequences contain infinity; only trailing all-NaN steps "
                         "(padding) may be non-finite")
    return lengths, pad


class RepeatSteps(Layer):
    """Repeat a vector over time: ``(n, k) -> (n, T, k)``.

    ``forward(X, n_steps=T)`` overrides the built length (a sequence
    decoder reconstructs inputs of any length).  Backward sums over time.

    Parameters
    ----------
    n_steps : int
        The number of steps ``T`` of the output, at least 1.
    """

    def __init__(self, n_steps):
        super().__init__()
        self.n_steps = int(n_steps)
        if self.n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps!r}")

    def get_config(self):
        return {"n_steps": self.n_steps}

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(f"RepeatSteps expects inputs of shape (n, k); got per-sample "
                             f"shape {input_shape}")
        return (self.n_steps, input_shape[0])

    def _forward(self, X, training=False, n_steps=None):
        T = self.n_steps if n_steps is None else int(n_steps)
        if T < 1:
            raise ValueError(f"RepeatSteps n_steps must be >= 1, got {n_steps!r}")
        Y = self._buffer("Y", (X.shape[0], T, X.shape[1]))
        np.copyto(Y, X[:, None, :])
        return Y

    def _backward(self, dY):
        if not self.needs_input_grad:
            return None
        dX = self._buffer("dX", (dY.shape[0], dY.shape[2]))
        np.sum(dY, axis=1, out=dX)
        return dX


def padded_steps(X):
    """The boolean ``(n, T)`` mask of the all-NaN steps of ``X`` (n, T, F), or None.

    Unlike ``sequence_lengths`` this does not check where the padding is: a
    step-wise layer treats every all-NaN step as absent.  A step that is NaN
    in some features only is not padding (its NaN propagates).  The cost
    without padding is one pass over the first feature.
    """
    first = np.isnan(X[:, :, 0])
    if not first.any():
        return None
    pad = first
    pad[first] = np.isnan(X[first]).all(axis=1)
    return pad if pad.any() else None


class TimeDistributedDense(Dense):
    """The same ``Dense`` applied at every step: ``(n, T, H) -> (n, T, units)``.

    Parameters
    ----------
    units : int
        Output width at every step.
    activation : {"identity", "relu", "tanh", "logistic"}, default="identity"
        Applied in the same pass as the bias.
    use_bias : bool, default=True
        Add a learned bias ``params["bias"]``.
    init_factor : float, default=6.0
        Glorot-uniform bound factor, as for ``Dense``.
    padding_value : float, default=nan
        The output at padded input steps.  NaN (the padding marker) lets the
        layers after this one skip those steps too; a number (e.g. 0) suits
        the last layer of a network whose output goes to a loss that ignores
        those steps (``MaskedStepLoss``) and to finiteness checks.

    Notes
    -----
    ``weight (H, units)``, ``bias (units,)``.  The batch and time axes are
    merged into one GEMM.  Padded input steps (NaN in every feature, what
    the recurrent layers output past a sequence's end) are read as zeros,
    give ``padding_value`` at the output, ignore their output gradient and
    get a zero input gradient: they never reach the weight gradients, so a
    padded sequence trains and predicts as it does alone.
    """

    variable_axes = (0,)  # any number of steps T
    axis_names = ("T",)
    padding_value = np.nan  # (class default: layers pickled before the parameter)
    _forward_state = Dense._forward_state + ("_pad",)

    def __init__(self, units, activation="identity", use_bias=True, init_factor=6.0,
                 padding_value=np.nan):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         init_factor=init_factor)
        self.padding_value = float(padding_value)

    def get_config(self):
        return {**super().get_config(), "padding_value": self.padding_value}

    def _build(self, input_shape, rng):
        if len(input_shape) != 2:
            raise ValueError(f"TimeDistributedDense expects inputs of shape (n, T, features); "
                             f"got per-sample shape {input_shape}")
        Dense._build(self, (input_shape[1],), rng)
        return (input_shape[0], self.units)

    def _forward(self, X, training=False):
        n, T, H = X.shape
        X = np.ascontiguousarray(X)
        pad = padded_steps(X) if n * T else None
        if pad is not None:
            Xc = self._buffer("Xc", X.shape)
            np.copyto(Xc, X)
            Xc[pad] = 0
            X = Xc
        Y = super()._forward(X.reshape(n * T, H), training=training).reshape(n, T, self.units)
        if training:
            self._pad = pad
        if pad is None:
            return Y
        # Dense's backward reads its own (finite) output: mark a copy
        out = self._buffer("Yp", Y.shape)
        np.copyto(out, Y)
        out[pad] = self.padding_value
        return out

    def _backward(self, dY):
        n, T, U = dY.shape
        pad = self.__dict__.get("_pad")
        if pad is not None:
            dY[pad] = 0  # (layers may work on the gradient in place)
        dX = super()._backward(np.ascontiguousarray(dY).reshape(n * T, U))
        if dX is None:
            return None
        dX = dX.reshape(n, T, -1)
        if pad is not None:
            dX[pad] = 0
        return dX


class MaskedStepLoss(Loss):
    """A loss over per-step outputs ``Z`` of shape (n, T, k), NaN targets ignored.

    Parameters
    ----------
    base : {"log_loss", "binary_log_loss", "squared_error"}
        The per-step loss and its link, applied along the last axis:
        softmax cross-entropy (one-hot targets of ``k`` classes), logistic
        cross-entropy summed over the ``k`` outputs (``k = 1`` for two
        classes), or half the squared error.

    Notes
    -----
    A loss *term* is one step for the classification losses (a step whose
    target row is NaN is missing) and one target value for the squared
    error (each NaN value is missing).  With sample weights ``w_i`` and the
    set ``E`` of present terms,

    .. math::

        L = \\frac{\\sum_{(i, e) \\in E} w_i \\ell_{ie}}{\\sum_{(i, e) \\in E} w_i},
        \\qquad
        \\frac{\\partial L}{\\partial Z_{ie}} = \\frac{w_i (P_{ie} - y_{ie})}{\\sum_E w_i}

    (zero at missing terms): the weighted mean over the present terms, so a
    missing target is exactly an absent one, and a row whose targets are all
    missing weighs nothing.  ``weight_sum`` passed by the trainer (the rows'
    weight sum) is not the normaliser here.  ``Z`` and ``P`` may be anything
    (NaN, padding values) at missing terms.  A batch without a present term
    has loss 0 and gradient 0.
    """

    _LINKS = {"log_loss": "softmax", "binary_log_loss": "logistic",
              "squared_error": "identity"}

    def __init__(self, base):
        if base not in self._LINKS:
            raise ValueError(f"MaskedStepLoss base must be one of {sorted(self._LINKS)}, "
                             f"got {base!r}")
        self.base = base
        self.name = "masked_step_" + base
        self.link = self._LINKS[base]

    def predict(self, Z, out=None):
        if self.link == "identity":
            return super().predict(Z, out)
        k = Z.shape[-1]
        Z2 = np.ascontiguousarray(Z).reshape(-1, k)
        out2 = None if out is None else out.reshape(-1, k)
        with np.errstate(invalid="ignore"):  # NaN rows (padded steps) stay NaN
            P = (softmax if self.link == "softmax" else logistic)(Z2, out=out2)
        return P.reshape(Z.shape)

    def _present(self, y):
        if self.base == "squared_error":
            return ~np.isnan(y)
        return ~np.isnan(y[..., 0])  # one mask per step

    def _terms(self, P, y, sample_weight):
        """(present mask, P, y, w of the present terms)."""
        present = self._present(y)
        Pp, yp = P[present], y[present]
        if sample_weight is None:
            wp = np.ones(len(yp), P.dtype)
        else:
            shape = (-1,) + (1,) * (present.ndim - 1)
            wp = np.broadcast_to(np.asarray(sample_weight).reshape(shape), present.shape)[present]
        return present, Pp, yp, wp

    def _term_losses(self, Pp, yp):
        if self.base == "squared_error":
            return 0.5 * (Pp - yp) ** 2
        eps = np.finfo(Pp.dtype).eps
        Pc = np.clip(Pp, eps, 1 - eps)
        if self.base == "log_loss":
            return -xlogy(yp, Pc).sum(axis=1)
        return -(xlogy(yp, Pc) + xlogy(1 - yp, 1 - Pc)).sum(axis=1)

    def value(self, P, y, sample_weight=None):
        _, Pp, yp, wp = self._terms(P, y, sample_weight)
        denom = float(wp.sum())
        if denom <= 0:
            return 0.0
        return float(np.dot(wp, self._term_losses(Pp, yp)) / denom)

    def gradient(self, P, y, sample_weight, weight_sum, out):
        present, Pp, yp, wp = self._terms(P, y, sample_weight)
        out.fill(0)
        denom = float(wp.sum())
        if denom > 0:
            scale = (wp / denom).astype(out.dtype, copy=False)
            out[present] = (Pp - yp) * (scale if Pp.ndim == 1 else scale[:, None])
        return out

    def evaluate(self, Z, y, sample_weight, weight_sum, P, dZ):
        P = self.predict(Z, out=P)
        present, Pp, yp, wp = self._terms(P, y, sample_weight)
        dZ.fill(0)
        denom = float(wp.sum())
        if denom <= 0:
            return 0.0
        scale = (wp / denom).astype(dZ.dtype, copy=False)
        dZ[present] = (Pp - yp) * (scale if Pp.ndim == 1 else scale[:, None])
        return float(np.dot(wp, self._term_losses(Pp, yp)) / denom)
