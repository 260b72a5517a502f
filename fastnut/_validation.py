"""Input checks and reshaping shared by the estimators (DESIGN.md §2).

Estimators validate here, once, at the boundary; kernels then trust their
arguments.  Messages name the problem and the expected shape.
"""
import numpy as np


def resolve_dtype(dtype):
    """The compute dtype from an estimator's ``dtype`` parameter."""
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


# -- images (CNN*, ConvAutoencoder) -------------------------------------------


# -- sequences (RNN*, LSTMAutoencoder) ------------------------------------------

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


def to_sequences(X, input_shape=None, n_step_features=None):
    """Reshape a validated numeric array into sequences of shape (n, T, F).

    Parameters
    ----------
    X : ndarray of shape (n, T, F), (n, T) or (n, T*F)
        ``(n, T)`` is one feature per step, unless ``input_shape`` or
        ``n_step_features`` says how flat rows split into steps.
    input_shape : tuple (T, F) or None
        Shape of one sequence.  Flat rows must have exactly ``T*F`` values;
        3-D input must have ``F`` features per step (any ``T``).
    n_step_features : int or None
        Features per step when ``input_shape`` is None (the fitted ``F`` at
        predict time); 1 when None.

    Returns
    -------
    X3 : ndarray of shape (n, T, F)
        A view of ``X`` when possible.
    """
    if input_shape is not None:
        if len(input_shape) != 2 or min(input_shape) < 1:
            raise ValueError(f"input_shape must be (n_steps, n_features) of positive ints, "
                             f"got {input_shape!r}")
        T, F = (int(s) for s in input_shape)
    else:
        T, F = None, n_step_features
    if X.ndim == 3:
        if F is not None and X.shape[2] != F:
            raise ValueError(f"expected sequences of shape (n, T, {F}); got {X.shape}")
        out = X
    elif X.ndim == 2:
        width = X.shape[1]
        if T is not None:
            if width != T * F:
                raise ValueError(
                    f"flat X has {width} columns but input_shape={(T, F)} needs "
                    f"{T * F}; expected (n, {T}, {F}), (n, {T * F}) or, for one feature, "
                    f"(n, T)")
            out = X.reshape(X.shape[0], T, F)
        else:
            F = 1 if F is None else F
            if width % F:
                raise ValueError(f"flat X has {width} columns, not a multiple of the "
                                 f"{F} features per step; pass input_shape=(T, F)")
            out = X.reshape(X.shape[0], width // F, F)
    else:
        raise ValueError(f"sequences must have shape (n, T, F), (n, T) or flat (n, T*F) "
                         f"with input_shape=(T, F); got an array of shape {X.shape}")
    if out.shape[0] == 0 or out.shape[1] == 0 or out.shape[2] == 0:
        raise ValueError(f"empty sequences: got shape {out.shape}, expected (n, T, F) "
                         f"with n, T, F >= 1")
    return out
