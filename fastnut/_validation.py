"""Input checks and reshaping shared by the estimators (``docs/architecture.md``,
"Input conventions").

Estimators validate here, once, at the boundary; kernels then trust their
arguments.  Messages name the problem and the expected shape.
"""
import numpy as np

from .nn._sequence import sequence_lengths  # the engine owns the NaN-padding rule


def resolve_dtype(dtype):
    """The compute dtype from an estimator's ``dtype`` parameter."""
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


# -- prediction input, converted a row chunk at a time ----------------------------

def predict_dtypes(dtype):
    """``validate_data``'s ``dtype`` for prediction input.

    float32 and float64 arrays are kept as given (not converted whole): the
    predict paths convert them one row chunk at a time (:func:`model_rows`),
    so float64 input to a float32 model costs one chunk, not one copy of X.
    Any other dtype is converted to the model's ``dtype``.
    """
    dtype = np.dtype(dtype)
    return [dtype, np.dtype(np.float64 if dtype == np.float32 else np.float32)]


def model_rows(estimator, X, dtype, allow_nan=False):
    """A row chunk of prediction input as the model computes on it.

    Dense, C-contiguous, in the model's ``dtype`` (a copy only when needed),
    checked finite with scikit-learn's message (NaN allowed with
    ``allow_nan``: the padding of sequences).  A float64 value beyond
    float32's range is reported as "a value too large for dtype('float32')".
    """
    import scipy.sparse as sp
    from sklearn.utils.validation import _assert_all_finite

    if sp.issparse(X):
        X = X.toarray()
    with np.errstate(over="ignore"):
        X = np.ascontiguousarray(X, dtype=dtype)
    _assert_all_finite(X, allow_nan=allow_nan, input_name="X",
                       estimator_name=type(estimator).__name__)
    return X


# -- images (CNN*, ConvAutoencoder) -------------------------------------------

def image_shape(n_features, input_shape=None):
    """The per-sample image shape ``(C, H, W)`` of flat rows of ``n_features`` values.

    Parameters
    ----------
    n_features : int
    input_shape : tuple of 3 ints or None
        ``(C, H, W)``; one entry may be ``-1``, inferred from ``n_features``
        (as in ``numpy.reshape``), e.g. ``(1, 1, -1)`` reads every row as a
        one-pixel-high strip.  ``None`` reads a square number of features as
        one square channel.

    Raises ``ValueError`` when the shape does not fit or cannot be inferred.
    """
    if input_shape is None:
        side = int(round(np.sqrt(n_features)))
        if side * side != n_features or n_features < 1:
            raise ValueError(
                f"cannot infer the image shape of flat X with {n_features} features per "
                "sample (not a square): pass input_shape=(C, H, W) (one entry may be -1) "
                "or X of shape (n, C, H, W) or (n, H, W)")
        return (1, side, side)
    shape = check_input_shape(input_shape)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        if n_features % known or n_features == 0:
            raise ValueError(f"X has {n_features} features per sample, which does not fit "
                             f"input_shape={tuple(input_shape)}")
        shape = tuple(n_features // known if s == -1 else s for s in shape)
    elif int(np.prod(shape)) != n_features:
        raise ValueError(
            f"X has {n_features} features per sample but input_shape={tuple(shape)} "
            f"needs C*H*W = {int(np.prod(shape))}")
    return shape


def check_input_shape(input_shape):
    """Validate an ``input_shape`` parameter: 3 positive ints, at most one -1."""
    try:
        shape = tuple(int(s) for s in input_shape)
        ok = (len(shape) == 3 and all(s >= 1 or s == -1 for s in shape)
              and shape.count(-1) <= 1
              and all(float(s) == int(s) for s in input_shape))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"input_shape must be (C, H, W): three positive ints, one of which "
                         f"may be -1; got {input_shape!r}")
    return shape


def check_images(estimator, X, input_shape=None, reset=True, dtype=np.float32,
                 ensure_all_finite=True):
    """Validate image input and return it as a C-contiguous ``(n, C, H, W)`` array.

    Parameters
    ----------
    estimator : BaseEstimator
        Passed to scikit-learn's ``validate_data`` (``n_features_in_`` and
        ``feature_names_in_`` count the flat ``C*H*W`` features, whatever
        form ``X`` had).
    X : array-like of shape (n, C, H, W), (n, H, W) or (n, C*H*W)
        ``(n, H, W)`` is one channel.  Flat rows are reshaped with
        ``input_shape`` (see :func:`image_shape`).
    input_shape : tuple (C, H, W) or None
        At predict time, pass the fitted shape.
    reset : bool
        True at fit time.
    dtype : float32 or float64, or a list of dtypes kept as given
    ensure_all_finite : bool, default=True
        False at prediction time: :func:`model_rows` checks each chunk.

    Returns
    -------
    X4 : ndarray of shape (n, C, H, W)
        A view of the validated array when no copy is needed; ``X`` itself
        is never modified.
    """
    from sklearn.utils.validation import validate_data
    import scipy.sparse as sp

    ndim = getattr(X, "ndim", None)
    if ndim is None and not sp.issparse(X):
        X = np.asarray(X)
        ndim = X.ndim
    shape = None
    if ndim in (3, 4):
        X = np.asarray(X)
        shape = X.shape[1:] if ndim == 4 else (1,) + X.shape[1:]
        if input_shape is not None:
            want = check_input_shape(input_shape)
            if any(w != -1 and w != s for w, s in zip(want, shape)):
                raise ValueError(f"X has images of shape (C, H, W) = {tuple(shape)} but "
                                 f"input_shape={tuple(input_shape)}")
        X = X.reshape(X.shape[0], -1) if X.shape[0] else X.reshape(0, int(np.prod(shape)))
    elif ndim not in (None, 1, 2):
        raise ValueError(f"X must have shape (n, C, H, W), (n, H, W) or flat (n, C*H*W); "
                         f"got an array with {ndim} dimensions")
    X = validate_data(estimator, X, reset=reset, dtype=dtype, order="C",
                      ensure_all_finite=ensure_all_finite)
    if shape is None:
        shape = image_shape(X.shape[1], input_shape)
    return X.reshape((X.shape[0],) + tuple(shape))



# -- sequences (RNN*, LSTMAutoencoder) ------------------------------------------

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


def check_sequences(estimator, X, input_shape=None, n_step_features=None, reset=True,
                    dtype=np.float32, predict=False):
    """Validate sequence input and return it as a C-contiguous ``(n, T, F)`` array.

    Parameters
    ----------
    estimator : BaseEstimator
        Gets ``n_features_in_`` (the flat ``T*F`` count of the training
        sequences) and, for 2-D input, ``feature_names_in_`` through
        scikit-learn's ``validate_data``.
    X : array-like of shape (n, T, F), (n, T) or (n, T*F)
        NaN-padded at the end for shorter sequences (see
        :func:`sequence_lengths`).  ``(n, T)`` is one feature per step unless
        ``input_shape`` or ``n_step_features`` says otherwise.
    input_shape : tuple (T, F) or None
    n_step_features : int or None
        Features per step of the fitted model (predict time).
    reset : bool
        True at fit time.
    dtype : numpy dtype, or a list of dtypes kept as given
    predict : bool, default=False
        Prediction input: the values are checked a row chunk at a time by
        :func:`model_rows` and the layers (NaN padding), not here, and the
        array is not made contiguous (the chunks are).

    Returns
    -------
    X3 : ndarray of shape (n, T, F)
    """
    from sklearn.utils import check_array
    from sklearn.utils.validation import validate_data
    ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
    if ndim > 3:
        raise ValueError(f"sequences must have shape (n, T, F), (n, T) or flat (n, T*F) "
                         f"with input_shape=(T, F); got an array with {ndim} dimensions")
    if ndim == 3:
        X = check_array(X, dtype=dtype, order=None if predict else "C", allow_nd=True,
                        ensure_all_finite=not predict and "allow-nan", input_name="X")
        if reset:
            estimator.n_features_in_ = X.shape[1] * X.shape[2]
            estimator.__dict__.pop("feature_names_in_", None)
    else:
        X = validate_data(estimator, X, reset=reset, dtype=dtype,
                          order=None if predict else "C",
                          ensure_all_finite=not predict and "allow-nan")
    X3 = to_sequences(X, input_shape, n_step_features)
    if predict:
        return X3
    sequence_lengths(X3)  # NaN only as trailing padding, no infinity
    return np.ascontiguousarray(X3)


def refuse_zero_columns(estimator, X):
    """A clear error for a 2-D container without columns (a frame with no columns
    otherwise fails deep in the conversion with "at least one array or dtype is
    required")."""
    shape = getattr(X, "shape", None)
    if shape is not None and not isinstance(X, np.ndarray) and len(shape) == 2 \
            and shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={tuple(shape)}) while a "
                         f"minimum of 1 is required by {type(estimator).__name__}.")
