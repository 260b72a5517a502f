"""NumPy oracle for batch normalisation (float64, from the definitions).

``X2`` is a matrix of values ``(m, C)``: one row per (sample, position), one
column per channel.  The layer tests bring their layouts to this form.
"""
import numpy as np


def batchnorm_train(X2, weight, bias, eps):
    """(Y2, mean, biased var) in training mode."""
    X2 = np.asarray(X2, np.float64)
    mean = X2.mean(axis=0)
    var = ((X2 - mean) ** 2).mean(axis=0)
    Y2 = (X2 - mean) / np.sqrt(var + eps) * weight + bias
    return Y2, mean, var


def batchnorm_backward(X2, dY2, weight, eps):
    """(dX2, dweight, dbias) of ``batchnorm_train`` (textbook three-term form)."""
    X2, dY2 = np.asarray(X2, np.float64), np.asarray(dY2, np.float64)
    m = X2.shape[0]
    mean = X2.mean(axis=0)
    var = ((X2 - mean) ** 2).mean(axis=0)
    istd = 1.0 / np.sqrt(var + eps)
    xhat = (X2 - mean) * istd
    dxhat = dY2 * weight
    dvar = np.sum(dxhat * (X2 - mean), axis=0) * -0.5 * istd ** 3
    dmean = -np.sum(dxhat * istd, axis=0) + dvar * np.mean(-2.0 * (X2 - mean), axis=0)
    dX2 = dxhat * istd + dvar * 2.0 * (X2 - mean) / m + dmean / m
    return dX2, np.sum(dY2 * xhat, axis=0), np.sum(dY2, axis=0)


def batchnorm_eval(X2, weight, bias, running_mean, running_var, eps):
    return (np.asarray(X2, np.float64) - running_mean) / np.sqrt(running_var + eps) \
        * weight + bias


def running_update(running_mean, running_var, mean, var, m, momentum):
    unbiased = var * m / (m - 1)
    return ((1 - momentum) * running_mean + momentum * mean,
            (1 - momentum) * running_var + momentum * unbiased)
