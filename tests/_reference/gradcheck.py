"""Central finite-difference checks for fastnut.nn layers (float64).

``check_layer_gradients(layer, X)`` projects the output on a fixed random
tensor R (L = Σ Y·R), runs ``backward(R)`` and compares dL/dX and every
``grads[name]`` with central differences of L.

Sequence layers write NaN at padded output steps: with ``padded=True`` those
outputs are left out of L, and ``backward`` gets a large value there instead
(the layer must ignore it).
"""
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Central differences of scalar ``f()`` with respect to array ``x`` (in place).

    NaN entries of ``x`` (sequence padding) are left alone; their gradient is 0.
    """
    g = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        if np.isnan(flat[i]):
            continue
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def check_layer_gradients(layer, X, rtol=1e-5, atol=1e-7, seed=0, training=True,
                          check_input=True, padded=False):
    """Assert analytic gradients of ``layer`` match finite differences at ``X``."""
    rng = np.random.default_rng(seed)
    X = np.ascontiguousarray(X, dtype=np.float64)
    Y = layer.forward(X, training=training)
    R = rng.standard_normal(Y.shape)
    R_back = R.copy()
    if padded:
        nan = np.isnan(Y)
        R[nan] = 0
        R_back[nan] = 1e3

    def objective():
        Y = layer.forward(X, training=training)
        if padded:
            Y = np.where(np.isnan(Y), 0.0, Y)
        return float(np.sum(Y * R))

    layer.forward(X, training=training)
    dX = layer.backward(R_back)
    dX = None if dX is None else np.array(dX, copy=True)
    analytic = {k: np.array(v, copy=True) for k, v in layer.grads.items()}
    if check_input:
        num = numerical_gradient(objective, X)
        np.testing.assert_allclose(dX, num, rtol=rtol, atol=atol, err_msg="dL/dX")
    for name, p in layer.params.items():
        num = numerical_gradient(objective, p)
        np.testing.assert_allclose(analytic[name], num, rtol=rtol, atol=atol,
                                   err_msg=f"dL/d{name}")
