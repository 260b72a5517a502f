"""Element-wise kernels of the network engine: fused bias + activation, its
derivative, and the optimizers' parameter updates.

Each is one pass over memory where NumPy would make three or four.  Rows are
split over OpenMP threads only when the array is large enough to pay for it.
Activation codes (shared with ``fastnut/nn/_activations.py``):
0 identity, 1 relu, 2 tanh, 3 logistic.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, tanh, tanhf, sqrt, sqrtf, fabs

cdef enum:
    PAR_MIN = 65536   # elements below which threads cost more than they save


cdef inline floating _act(floating z, int act) noexcept nogil:
    if act == 1:
        return z if z > 0 else 0
    elif act == 2:
        if floating is float:
            return tanhf(z)
        else:
            return tanh(z)
    elif act == 3:
        # logistic, written to never overflow exp
        if floating is float:
            if z >= 0:
                return 1.0 / (1.0 + expf(-z))
            return expf(z) / (1.0 + expf(z))
        else:
            if z >= 0:
                return 1.0 / (1.0 + exp(-z))
            return exp(z) / (1.0 + exp(z))
    return z


cdef inline floating _dact(floating y, int act) noexcept nogil:
    """Derivative of the activation written in terms of its output y."""
    if act == 1:
        return 1 if y > 0 else 0
    elif act == 2:
        return 1 - y * y
    elif act == 3:
        return y * (1 - y)
    return 1


def bias_act_forward(floating[:, ::1] Z,          # IN/OUT (n, m): pre-activation -> output
                     const floating[::1] bias,    # IN (m,) or empty for no bias
                     int act,
                     int n_threads):
    """Z[i, j] = act(Z[i, j] + bias[j]) in place."""
    cdef Py_ssize_t n = Z.shape[0], m = Z.shape[1], i, j
    cdef bint has_bias = bias.shape[0] > 0
    if n * m < PAR_MIN:
        n_threads = 1
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            if has_bias:
                for j in range(m):
                    Z[i, j] = _act(Z[i, j] + bias[j], act)
            else:
                for j in range(m):
                    Z[i, j] = _act(Z[i, j], act)


def act_backward(floating[:, ::1] dY,         # IN/OUT (n, m): dL/dY -> dL/dZ
                 const floating[:, ::1] Y,    # IN (n, m): the activation's output
                 int act,
                 int n_threads):
    """dY[i, j] *= act'(Z[i, j]), the derivative written through Y = act(Z)."""
    cdef Py_ssize_t n = dY.shape[0], m = dY.shape[1], i, j
    if act == 0:
        return
    if n * m < PAR_MIN:
        n_threads = 1
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            for j in range(m):
                dY[i, j] = dY[i, j] * _dact(Y[i, j], act)


def adam_update(floating[::1] param,       # IN/OUT
                const floating[::1] grad,  # IN
                floating[::1] m,           # IN/OUT first moment
                floating[::1] v,           # IN/OUT second moment
                double lr_t, double beta_1, double beta_2, double epsilon,
                int n_threads):
    """One Adam step with the bias correction folded into ``lr_t``:

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p -= lr_t m / (sqrt(v) + eps)
    """
    cdef Py_ssize_t n = param.shape[0], i
    cdef floating g, b1 = beta_1, b2 = beta_2, eps = epsilon, lr = lr_t
    if n < PAR_MIN:
        n_threads = 1
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            g = grad[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            if floating is float:
                param[i] = param[i] - lr * m[i] / (sqrtf(v[i]) + eps)
            else:
                param[i] = param[i] - lr * m[i] / (sqrt(v[i]) + eps)


def sgd_update(floating[::1] param,       # IN/OUT
               const floating[::1] grad,  # IN
               floating[::1] velocity,    # IN/OUT
               double lr, double momentum, bint nesterov,
               int n_threads):
    """SGD with (Nesterov) momentum:

    v = mu v - lr g;  p += v   (plain)   or   p += mu v - lr g   (Nesterov)
    """
    cdef Py_ssize_t n = param.shape[0], i
    cdef floating mu = momentum, eta = lr, g
    if n < PAR_MIN:
        n_threads = 1
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            g = grad[i]
            velocity[i] = mu * velocity[i] - eta * g
            if nesterov:
                param[i] = param[i] + mu * velocity[i] - eta * g
            else:
                param[i] = param[i] + velocity[i]
