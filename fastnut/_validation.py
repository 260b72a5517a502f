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
