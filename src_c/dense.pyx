"""Element-wise kernels of the network engine: fused bias + activation, its
derivative, and the optimizers' parameter updates.

Each is one pass over memory where NumPy would make three or four.  The loops
live in ``_dense_math.h`` (restrict pointers, so they vectorise); this module
splits the rows or elements over OpenMP threads when the array is large
enough to pay for it.  Activation codes (shared with
``fastnut/nn/_activations.py``): 0 identity, 1 relu, 2 tanh, 3 logistic.
"""
from cython cimport floating
from cython.parallel cimport prange

from _blas cimport axpy, blas_int

cdef extern from "_dense_math.h" nogil:
    void fn_bias_act_f(Py_ssize_t n, Py_ssize_t m, float *Z, const float *b, int act)
    void fn_bias_act_d(Py_ssize_t n, Py_ssize_t m, double *Z, const double *b, int act)
    void fn_act_backward_f(Py_ssize_t n, float *d, const float *y, int act)
    void fn_act_backward_d(Py_ssize_t n, double *d, const double *y, int act)
    void fn_adam_f(Py_ssize_t n, float *p, const float *g, float *m, float *v,
                   float lr, float b1, float b2, float eps, float l2)
    void fn_adam_d(Py_ssize_t n, double *p, const double *g, double *m, double *v,
                   double lr, double b1, double b2, double eps, double l2)
    void fn_sgd_f(Py_ssize_t n, float *p, const float *g, float *vel, float lr, float mu,
                  int nesterov, float l2)
    void fn_sgd_d(Py_ssize_t n, double *p, const double *g, double *vel, double lr,
                  double mu, int nesterov, double l2)

cdef enum:
    PAR_MIN = 262144   # elements below which threads cost more than they save
    CHUNK = 16384      # elements per parallel task of the 1-D loops


cdef inline int _threads_for(Py_ssize_t size, int n_threads) noexcept nogil:
    return 1 if size < PAR_MIN else n_threads


def bias_act_forward(floating[:, ::1] Z,          # IN/OUT (n, m): pre-activation -> output
                     const floating[::1] bias,    # IN (m,) or empty for no bias
                     int act,
                     int n_threads):
    """Z[i, j] = act(Z[i, j] + bias[j]) in place."""
    cdef Py_ssize_t n = Z.shape[0], m = Z.shape[1], i, rows, start
    cdef Py_ssize_t n_blocks
    if n == 0 or m == 0:
        return
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    n_threads = _threads_for(n * m, n_threads)
    rows = max(1, CHUNK // m)
    n_blocks = (n + rows - 1) // rows
    with nogil:
        for i in prange(n_blocks, num_threads=n_threads, schedule="static"):
            start = i * rows
            if floating is float:
                fn_bias_act_f(min(rows, n - start), m, &Z[start, 0], b, act)
            else:
                fn_bias_act_d(min(rows, n - start), m, &Z[start, 0], b, act)


def act_backward(floating[:, ::1] dY,         # IN/OUT (n, m): dL/dY -> dL/dZ
                 const floating[:, ::1] Y,    # IN (n, m): the activation's output
                 int act,
                 int n_threads):
    """dY *= act'(Z), the derivative written through Y = act(Z)."""
    cdef Py_ssize_t size = dY.shape[0] * dY.shape[1], i, start, n_blocks
    if act == 0 or size == 0:
        return
    n_threads = _threads_for(size, n_threads)
    n_blocks = (size + CHUNK - 1) // CHUNK
    with nogil:
        for i in prange(n_blocks, num_threads=n_threads, schedule="static"):
            start = i * CHUNK
            if floating is float:
                fn_act_backward_f(min(CHUNK, size - start), &dY[0, 0] + start,
                                  &Y[0, 0] + start, act)
            else:
                fn_act_backward_d(min(CHUNK, size - start), &dY[0, 0] + start,
                                  &Y[0, 0] + start, act)


def adam_update(floating[::1] param,       # IN/OUT
                const floating[::1] grad,  # IN
                floating[::1] m,           # IN/OUT first moment
                floating[::1] v,           # IN/OUT second moment
                double lr_t, double beta_1, double beta_2, double epsilon,
                double l2, int n_threads):
    """One Adam step with the bias correction folded into ``lr_t``:

    g += l2 p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p -= lr_t m / (sqrt(v) + eps)
    """
    cdef Py_ssize_t size = param.shape[0], i, start, n_blocks
    if size == 0:
        return
    n_threads = _threads_for(size, n_threads)
    n_blocks = (size + CHUNK - 1) // CHUNK
    with nogil:
        for i in prange(n_blocks, num_threads=n_threads, schedule="static"):
            start = i * CHUNK
            if floating is float:
                fn_adam_f(min(CHUNK, size - start), &param[start], &grad[start], &m[start],
                          &v[start], lr_t, beta_1, beta_2, epsilon, l2)
            else:
                fn_adam_d(min(CHUNK, size - start), &param[start], &grad[start], &m[start],
                          &v[start], lr_t, beta_1, beta_2, epsilon, l2)


def sgd_update(floating[::1] param,       # IN/OUT
               const floating[::1] grad,  # IN
               floating[::1] velocity,    # IN/OUT
               double lr, double momentum, bint nesterov,
               double l2, int n_threads):
    """SGD with (Nesterov) momentum, the L2 term added on the fly:

    g += l2 p;  v = mu v - lr g;  p += v   (plain)   or   p += mu v - lr g   (Nesterov)
    """
    cdef Py_ssize_t size = param.shape[0], i, start, n_blocks
    if size == 0:
        return
    n_threads = _threads_for(size, n_threads)
    n_blocks = (size + CHUNK - 1) // CHUNK
    with nogil:
        for i in prange(n_blocks, num_threads=n_threads, schedule="static"):
            start = i * CHUNK
            if floating is float:
                fn_sgd_f(min(CHUNK, size - start), &param[start], &grad[start],
                         &velocity[start], lr, momentum, nesterov, l2)
            else:
                fn_sgd_d(min(CHUNK, size - start), &param[start], &grad[start],
                         &velocity[start], lr, momentum, nesterov, l2)


def axpy_inplace(floating[::1] y,          # IN/OUT
                 const floating[::1] x,    # IN
                 double alpha):
    """y += alpha * x through BLAS (no temporary: adds the L2 term to a gradient)."""
    cdef blas_int n = <blas_int> y.shape[0]
    if n == 0:
        return
    with nogil:
        axpy(n, <floating> alpha, &x[0], 1, &y[0], 1)
