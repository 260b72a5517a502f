"""Activations: one table shared by Dense's fused path and the Activation layer."""
import numpy as np

from .._kernels import dense as _dense

#: name -> code understood by the kernels (the ``Activation`` enum of
#: ``fastnut._kernels.dense``)
ACTIVATION_CODES = {code.name.lower(): int(code) for code in _dense.Activation}


def check_activation(name):
    if name is None:
        return "identity"
    if name not in ACTIVATION_CODES:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATION_CODES)}, got {name!r}"
        )
    return name


def softmax(Z, out=None):
    """Row-wise softmax, stable for large logits."""
    out = np.subtract(Z, Z.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def logistic(Z, out=None):
    """Numerically safe 1 / (1 + exp(-Z))."""
    # exp(-|z|) never overflows; pick the algebraically equal branch by sign
    e = np.exp(-np.abs(Z))
    out = np.divide(1.0, 1.0 + e, out=out)
    neg = Z < 0
    out[neg] = e[neg] * out[neg]
    return out


def slope(name, Y, out):
    """``act'(Z)`` from the activation's output ``Y = act(Z)`` into ``out``."""
    if name == "logistic":
        np.subtract(1.0, Y, out=out)
        out *= Y
    elif name == "tanh":
        np.multiply(Y, Y, out=out)
        np.subtract(1.0, out, out=out)
    elif name == "relu":
        np.greater(Y, 0, out=out, casting="unsafe")
    else:
        out.fill(1.0)
    return out


def slope_derivative(name, Y, S):
    """``d act'(z) / dz`` from the output ``Y`` and the slope ``S = act'(z)``;
    None for relu and identity (piecewise-constant slopes)."""
    if name == "logistic":
        return S * (1.0 - 2.0 * Y)
    if name == "tanh":
        return -2.0 * Y * S
    return None
