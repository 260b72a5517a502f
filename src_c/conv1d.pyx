# cython: language_level=3
"""1-D convolution and pooling kernels over NaN-padded sequences ``(n, T, C)``.

Layout: sequences are channels-last, ``X (n, T, C_in)`` (C-contiguous), as
every fastnut sequence layer; the convolution weight is PyTorch's
``(C_out, C_in, k)``; outputs are ``(n, T_out, C_out)``.

Geometry is given by the caller: ``stride``, ``pad`` (zero padding before the
first step, i.e. the left padding), ``dilation`` and the output length (read
from the output array).  Output step ``o`` reads input steps
``t = o*stride - pad + j*dilation`` for ``j < k``.

Variable length: ``lengths[i]`` is the number of valid steps of sequence
``i``; steps ``t >= lengths[i]`` are read as zeros (convolution) or as absent
(pooling), exactly like the zero padding after the end of a sequence of that
length, and ``vout[i]`` (computed by the caller from ``lengths[i]`` with the
same geometry) is its number of valid outputs.  Outputs ``o >= vout[i]`` are
written as NaN (the padding marker of fastnut's sequence layers), their
incoming gradient is ignored, and the input gradient at padded steps is 0.
A padded sequence therefore gets, step for step, the output it gets alone.

Convolution: each chunk of ``nb`` sequences is lowered to a column matrix
``col (nb*T_out, k*C_in)`` (row ``(i, o)`` holds the ``k`` input steps that
output ``o`` reads, one after the other, ``C_in`` values each: a handful of
contiguous copies in the channels-last layout), then one GEMM per chunk
writes the output rows in place: ``Y = col @ Wr`` with ``Wr (k*C_in, C_out)``
the reordered weight.  The backward pass recomputes ``col`` per chunk:
``dWr += colᵀ G``, ``db += Σ_rows G``, ``dcol = G Wrᵀ`` scattered back
(col2im).  Chunks are spread over OpenMP threads, each with its own slice of
the caller's scratch; per-thread weight gradients are reduced in a fixed
order, so results do not depend on scheduling.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport NAN, INFINITY
from libc.string cimport memset, memcpy

from _blas cimport gemm

cdef extern from *:
    """
    /* Python builds extensions with -fwrapv, which stops gcc from vectorising
       loops with int indices; nothing here relies on wrapping. */
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize ("no-wrapv")
    #endif
    #include "_simd.h"
    /* counts over one step of C values, branch-free so that they vectorise:
       NaN values, and values that are not finite (x - x is 0 only for
       finite x) */
    #define FASTNUT_STEP_COUNTS(T, S) \
    static int fastnut_count_nan_##S(const T *__restrict x, int C) { \
        int k = 0; for (int c = 0; c < C; c++) k += x[c] != x[c]; return k; } \
    static FASTNUT_CLONES int fastnut_count_nonfinite_##S(const T *__restrict x, Py_ssize_t m) { \
        int k = 0; for (Py_ssize_t q = 0; q < m; q++) k += (x[q] - x[q]) != (T)0; return k; }
    FASTNUT_STEP_COUNTS(float, f)
    FASTNUT_STEP_COUNTS(double, d)
    """
    int fastnut_count_nan_f(const float *x, int C) noexcept nogil
    int fastnut_count_nan_d(const double *x, int C) noexcept nogil
    int fastnut_count_nonfinite_f(const float *x, Py_ssize_t m) noexcept nogil
    int fastnut_count_nonfinite_d(const double *x, Py_ssize_t m) noexcept nogil


def sequence_lengths(const floating[:, :, ::1] X,  # IN  (n, T, C)
                     int[::1] lengths,             # OUT (n,) valid steps
                     int[::1] status,              # OUT (n,) 0 ok, 1 non-finite inside, 2 empty
                     int n_threads):
    """Lengths of NaN-padded sequences in one pass, and what is wrong with each.

    A sequence's padding is its trailing steps that are NaN in every
    feature; ``status[i]`` is 1 when a NaN or an infinity sits in its valid
    steps and 2 when it has no valid step.  Returns the number of padded
    sequences.
    """
    cdef int n = X.shape[0], T = X.shape[1], C = X.shape[2]
    cdef int i, t, L, npad = 0
    cdef const floating *x
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        x = &X[i, 0, 0]
        L = T
        while L > 0:
            if floating is float:
                if fastnut_count_nan_f(x + <Py_ssize_t> (L - 1) * C, C) != C:
                    break
            else:
                if fastnut_count_nan_d(x + <Py_ssize_t> (L - 1) * C, C) != C:
                    break
            L = L - 1
        lengths[i] = L
        if L == 0:
            status[i] = 2
        else:
            if floating is float:
                status[i] = fastnut_count_nonfinite_f(x, <Py_ssize_t> L * C) != 0
            else:
                status[i] = fastnut_count_nonfinite_d(x, <Py_ssize_t> L * C) != 0
        if L < T:
            npad += 1
    return npad


cdef void _im2col1d(const floating *x, int T, int C, int L, int k, int s, int pad, int d,
                    int To, int vo, floating *col) noexcept nogil:
    """col[o, j*C + c] = x[o*s - pad + j*d, c] for 0 <= t < L, else 0 (rows o >= vo: 0)."""
    cdef int o, j, c, t
    cdef Py_ssize_t kc = <Py_ssize_t> k * C
    cdef floating *dst
    cdef const floating *src
    for o in range(To):
        dst = col + o * kc
        if o >= vo:
            memset(dst, 0, kc * sizeof(floating))
            continue
        for j in range(k):
            t = o * s - pad + j * d
            if t < 0 or t >= L:
                for c in range(C):
                    dst[j * C + c] = 0
            else:
                src = x + <Py_ssize_t> t * C
                for c in range(C):
                    dst[j * C + c] = src[c]


cdef void _col2im1d(const floating *col, int T, int C, int L, int k, int s, int pad, int d,
                    int To, int vo, floating *x) noexcept nogil:
    """Adjoint of _im2col1d: x (zeroed here) += scatter of col's rows o < vo."""
    cdef int o, j, c, t
    cdef Py_ssize_t kc = <Py_ssize_t> k * C
    cdef const floating *src
    cdef floating *dst
    memset(x, 0, <Py_ssize_t> T * C * sizeof(floating))
    for o in range(vo):
        src = col + o * kc
        for j in range(k):
            t = o * s - pad + j * d
            if t >= 0 and t < L:
                dst = x + <Py_ssize_t> t * C
                for c in range(C):
                    dst[c] += src[j * C + c]


cdef void _bias_act_rows(floating *y, const floating *b, bint has_bias, bint relu,
                         int To, int vo, int Co) noexcept nogil:
    """y[o, :] = act(y[o, :] + b) for o < vo, NaN for o >= vo."""
    cdef int o, c
    cdef floating v
    cdef floating *row
    for o in range(To):
        row = y + <Py_ssize_t> o * Co
        if o >= vo:
            for c in range(Co):
                row[c] = NAN
        elif relu:
            for c in range(Co):
                v = row[c] + (b[c] if has_bias else 0)
                row[c] = v if v > 0 else 0
        elif has_bias:
            for c in range(Co):
                row[c] = row[c] + b[c]


#: lowered values per chunk (per thread) the convolution aims for: ~1 MiB of
#: float32 stays in L2 while the GEMM reads it
cdef Py_ssize_t CHUNK_VALUES = 1 << 18


def conv1d_plan(Py_ssize_t n, Py_ssize_t To, Py_ssize_t C, Py_ssize_t k, Py_ssize_t Co):
    """Chunking and scratch sizes of ``conv1d_forward``/``conv1d_backward``, as a dict.

    For ``n`` sequences of ``To`` output steps, ``C`` input channels, kernel
    size ``k`` and ``Co`` filters: ``nb`` sequences per GEMM (about
    ``2**18`` lowered values per chunk), ``chunks`` chunks (the most threads
    that can work); ``col`` and ``g`` are per-thread lengths (one row of the
    scratch per thread), ``acc`` the length of one partial weight gradient
    (``conv1d_backward`` wants ``conv1d_acc_rows(n, plan)`` of them: at most
    ``slots``) and ``wr`` a total length.
    """
    if n < 0 or To < 0 or C < 1 or k < 1 or Co < 1:
        raise ValueError(f"conv1d_plan: sizes must be positive, got n={n}, To={To}, C={C}, "
                         f"k={k}, Co={Co}")
    cdef Py_ssize_t kc = k * C
    cdef Py_ssize_t nb = max(1, min(n, CHUNK_VALUES // max(To * kc, 1)))
    return {"nb": nb, "chunks": (n + nb - 1) // nb, "col": nb * To * kc, "g": nb * To * Co,
            "acc": kc * Co + Co, "wr": kc * Co, "slots": ACC_SLOTS}


cdef enum:
    # partial weight gradients of conv1d_backward: threads share these, so the
    # sum's order is fixed by the batch alone (at most this many threads help)
    ACC_SLOTS = 16


def conv1d_acc_rows(Py_ssize_t n, dict plan):
    """Rows of ``acc`` that ``conv1d_backward`` needs for a batch of ``n``.

    The weight gradient is summed in ``min(chunks, plan["slots"])`` partial
    sums over contiguous runs of chunks, then added in slot order: the bits
    depend on the batch, never on the thread count.
    """
    cdef Py_ssize_t chunks = (n + plan["nb"] - 1) // plan["nb"]
    return max(1, min(chunks, plan["slots"]))


cdef int _check_scratch(str kernel, str name, Py_ssize_t rows, Py_ssize_t length,
                        Py_ssize_t nt, Py_ssize_t need) except -1:
    if rows < nt or length < need:
        raise ValueError(f"{kernel}: scratch {name} has shape {(rows, length)}, needs at "
                         f"least {(nt, need)} (see conv1d_plan"
                         + (" and conv1d_acc_rows)" if name == "acc" else ")"))
    return 0


cdef int _check_conv1d(str kernel, Py_ssize_t n, Py_ssize_t C, Py_ssize_t Co_w,
                       Py_ssize_t C_w, Py_ssize_t k, Py_ssize_t nbias, Py_ssize_t ny,
                       Py_ssize_t Co_y, Py_ssize_t nlen, Py_ssize_t nvout, int nb,
                       int n_threads) except -1:
    """Raise ValueError unless the arrays of a 1-D convolution agree."""
    if C_w != C:
        raise ValueError(f"{kernel}: the weight has {C_w} input channels, X has {C}")
    if ny != n or Co_y != Co_w:
        raise ValueError(f"{kernel}: the output (gradient) has {ny} sequences of {Co_y} "
                         f"channels, needs {n} of {Co_w}")
    if nbias != 0 and nbias != Co_w:
        raise ValueError(f"{kernel}: bias has {nbias} values for {Co_w} filters")
    if nlen != n or nvout != n:
        raise ValueError(f"{kernel}: lengths and vout need {n} values, have {nlen} and "
                         f"{nvout}")
    if nb < 1 or n_threads < 1 or k < 1:
        raise ValueError(f"{kernel}: nb, n_threads and the kernel size must be >= 1 "
                         f"(see conv1d_plan)")
    return 0


def conv1d_forward(const floating[:, :, ::1] X,   # IN  (n, T, C_in)
                   const floating[:, :, ::1] Wt,  # IN  (C_out, C_in, k)
                   const floating[::1] bias,      # IN  (C_out,) or (0,) for no bias
                   const int[::1] lengths,        # IN  (n,) valid input steps
                   const int[::1] vout,           # IN  (n,) valid output steps
                   floating[:, :, ::1] Y,         # OUT (n, T_out, C_out)
                   floating[:, ::1] col,          # SCRATCH (>= nt, nb*T_out*k*C_in)
                   floating[::1] wr,              # SCRATCH (k*C_in*C_out,)
                   int stride, int pad, int dilation, int nb, bint relu, int n_threads):
    """Y = act(conv1d(X, W) + b), NaN at outputs past each sequence's valid ones.

    ``nb`` sequences share one GEMM; ``nt = min(n_threads, chunks)`` threads
    each use row ``threadid()`` of ``col``.
    """
    cdef int n = X.shape[0], T = X.shape[1], C = X.shape[2]
    cdef int Co = Wt.shape[0], k = Wt.shape[2], To = Y.shape[1]
    cdef int kc = k * C
    cdef int has_bias = bias.shape[0] > 0
    cdef int nchunks, ch, i0, m, b, t, co, c, j, allfull
    cdef const floating *colp
    cdef int ldc
    cdef bint can_direct = k == 1 and stride == 1 and pad == 0 and To == T
    _check_conv1d("conv1d_forward", n, C, Co, Wt.shape[1], k, bias.shape[0], Y.shape[0],
                  Y.shape[2], lengths.shape[0], vout.shape[0], nb, n_threads)
    if n == 0:
        return
    nchunks = (n + nb - 1) // nb
    _check_scratch("conv1d_forward", "col", col.shape[0], col.shape[1],
                   min(n_threads, nchunks), <Py_ssize_t> min(nb, n) * To * kc)
    if wr.shape[0] < <Py_ssize_t> kc * Co:
        raise ValueError(f"conv1d_forward: scratch wr has {wr.shape[0]} values, needs at "
                         f"least {kc * Co} (see conv1d_plan)")
    with nogil:
        for co in range(Co):
            for c in range(C):
                for j in range(k):
                    wr[(j * C + c) * Co + co] = Wt[co, c, j]
    for ch in prange(nchunks, nogil=True, schedule="static", num_threads=n_threads):
        t = threadid()
        i0 = ch * nb
        m = n - i0 if n - i0 < nb else nb
        allfull = can_direct
        if allfull:
            for b in range(m):
                if lengths[i0 + b] != T:
                    allfull = 0
        if allfull:
            colp = &X[i0, 0, 0]   # a 1x1 convolution of unpadded sequences reads X as is
        else:
            for b in range(m):
                _im2col1d(&X[i0 + b, 0, 0], T, C, lengths[i0 + b], k, stride, pad, dilation,
                          To, vout[i0 + b], &col[t, 0] + <Py_ssize_t> b * To * kc)
            colp = &col[t, 0]
        gemm(False, False, m * To, Co, kc, 1, colp, kc, &wr[0], Co, 0, &Y[i0, 0, 0], Co)
        for b in range(m):
            _bias_act_rows(&Y[i0 + b, 0, 0], &bias[0] if has_bias else NULL, has_bias, relu,
                           To, vout[i0 + b], Co)


def conv1d_backward(const floating[:, :, ::1] X,   # IN  (n, T, C_in)
                    const floating[:, :, ::1] Wt,  # IN  (C_out, C_in, k)
                    const floating[:, :, ::1] dY,  # IN  (n, T_out, C_out)
                    const floating[:, :, ::1] Y,   # IN  forward output (ReLU mask) if relu
                    const int[::1] lengths,        # IN  (n,)
                    const int[::1] vout,           # IN  (n,)
                    floating[:, :, ::1] dX,        # OUT (n, T, C_in) if need_dx
                    floating[:, :, ::1] dW,        # OUT (C_out, C_in, k)
                    floating[::1] db,              # OUT (C_out,) or (0,)
                    floating[:, ::1] col,          # SCRATCH (>= nt, nb*T_out*k*C_in)
                    floating[:, ::1] g,            # SCRATCH (>= nt, nb*T_out*C_out)
                    floating[:, ::1] acc,          # SCRATCH (>= conv1d_acc_rows, plan["acc"])
                    floating[::1] wr,              # SCRATCH (k*C_in*C_out,)
                    int stride, int pad, int dilation, int nb, bint relu, bint need_dx,
                    int n_threads):
    """Gradients of ``Y = act(conv1d(X, W) + b)`` given dL/dY.

    dW and db are overwritten with the sums over the batch, dX (when
    ``need_dx``) is overwritten; dY at invalid outputs is ignored and dX is 0
    at padded input steps.  The weight gradient is summed in slots of
    consecutive chunks fixed by the batch (``conv1d_acc_rows``), each slot
    run by one thread, then added in slot order: no bit depends on
    ``n_threads``.
    """
    cdef int n = X.shape[0], T = X.shape[1], C = X.shape[2]
    cdef int Co = Wt.shape[0], k = Wt.shape[2], To = dY.shape[1]
    cdef int kc = k * C
    cdef int has_bias = db.shape[0] > 0
    cdef Py_ssize_t KW = <Py_ssize_t> kc * Co, q, r, rows
    cdef int nchunks, ch, i0, m, b, t, co, c, j, o, nt, vo, allfull, nslots, s, c0, c1
    cdef bint can_direct = k == 1 and stride == 1 and pad == 0 and To == T
    cdef const floating *colp
    cdef const floating *dy
    cdef const floating *yy
    cdef floating *gp
    cdef floating *grow
    cdef floating *dbt
    _check_conv1d("conv1d_backward", n, C, Co, Wt.shape[1], k, db.shape[0], dY.shape[0],
                  dY.shape[2], lengths.shape[0], vout.shape[0], nb, n_threads)
    if dW.shape[0] != Co or dW.shape[1] != C or dW.shape[2] != k:
        raise ValueError(f"conv1d_backward: dW has shape {tuple(dW.shape)[:3]}, needs "
                         f"{(Co, C, k)}")
    if need_dx and (dX.shape[0] != n or dX.shape[1] != T or dX.shape[2] != C):
        raise ValueError(f"conv1d_backward: dX has shape {tuple(dX.shape)[:3]}, needs "
                         f"{(n, T, C)}")
    nchunks = (n + nb - 1) // nb
    nslots = nchunks if nchunks < ACC_SLOTS else ACC_SLOTS
    if nslots < 1:
        nslots = 1
    nt = n_threads if n_threads < nslots else nslots
    if nt < 1:
        nt = 1
    _check_scratch("conv1d_backward", "acc", acc.shape[0], acc.shape[1], nslots, KW + Co)
    if n > 0:
        _check_scratch("conv1d_backward", "col", col.shape[0], col.shape[1], nt,
                       <Py_ssize_t> min(nb, n) * To * kc)
        _check_scratch("conv1d_backward", "g", g.shape[0], g.shape[1], nt,
                       <Py_ssize_t> min(nb, n) * To * Co)
    if wr.shape[0] < KW:
        raise ValueError(f"conv1d_backward: scratch wr has {wr.shape[0]} values, needs at "
                         f"least {KW} (see conv1d_plan)")
    with nogil:
        for s in range(nslots):
            memset(&acc[s, 0], 0, (KW + Co) * sizeof(floating))
        for co in range(Co):
            for c in range(C):
                for j in range(k):
                    wr[(j * C + c) * Co + co] = Wt[co, c, j]
    if n > 0:
        # slot s sums the chunks [s * nchunks / nslots, (s + 1) * nchunks / nslots)
        # in order; a thread runs whole slots, so the thread count changes no bit
        for s in prange(nslots, nogil=True, schedule="static", num_threads=nt):
          t = threadid()
          c0 = <int> ((<Py_ssize_t> s * nchunks) // nslots)
          c1 = <int> ((<Py_ssize_t> (s + 1) * nchunks) // nslots)
          for ch in range(c0, c1):
              i0 = ch * nb
              m = n - i0 if n - i0 < nb else nb
              rows = <Py_ssize_t> m * To
              # G (m*T_out, C_out): dY, ReLU-masked, zero at invalid outputs
              gp = &g[t, 0]
              dbt = &acc[s, 0] + KW
              for b in range(m):
                  vo = vout[i0 + b]
                  for o in range(To):
                      grow = gp + (<Py_ssize_t> b * To + o) * Co
                      if o >= vo:
                          memset(grow, 0, Co * sizeof(floating))
                          continue
                      dy = &dY[i0 + b, o, 0]
                      if relu:
                          yy = &Y[i0 + b, o, 0]
                          for co in range(Co):
                              grow[co] = dy[co] if yy[co] > 0 else 0
                      else:
                          for co in range(Co):
                              grow[co] = dy[co]
                      if has_bias:
                          for co in range(Co):
                              dbt[co] += grow[co]
              allfull = can_direct
              if allfull:
                  for b in range(m):
                      if lengths[i0 + b] != T:
                          allfull = 0
              if allfull:
                  colp = &X[i0, 0, 0]
              else:
                  for b in range(m):
                      _im2col1d(&X[i0 + b, 0, 0], T, C, lengths[i0 + b], k, stride, pad,
                                dilation, To, vout[i0 + b],
                                &col[t, 0] + <Py_ssize_t> b * To * kc)
                  colp = &col[t, 0]
              # dWr_t (kC, Co) += col^T (kC, rows) @ G (rows, Co)
              gemm(True, False, kc, Co, <int> rows, 1, colp, kc, gp, Co, 1, &acc[s, 0], Co)
              if need_dx:
                  if allfull:
                      # 1x1, unpadded: dX = G @ Wr^T straight into dX
                      gemm(False, True, <int> rows, kc, Co, 1, gp, Co, &wr[0], Co, 0,
                           &dX[i0, 0, 0], kc)
                  else:
                      # dcol (rows, kC) = G (rows, Co) @ Wr^T (Co, kC), reusing col
                      gemm(False, True, <int> rows, kc, Co, 1, gp, Co, &wr[0], Co, 0,
                           &col[t, 0], kc)
                      for b in range(m):
                          _col2im1d(&col[t, 0] + <Py_ssize_t> b * To * kc, T, C,
                                    lengths[i0 + b], k, stride, pad, dilation, To,
                                    vout[i0 + b], &dX[i0 + b, 0, 0])
    # fixed-order reduction of the slots' partial sums
    with nogil:
        for s in range(1, nslots):
            for q in range(KW + Co):
                acc[0, q] += acc[s, q]
        for co in range(Co):
            for c in range(C):
                for j in range(k):
                    dW[co, c, j] = acc[0, (j * C + c) * Co + co]
        if has_bias:
            memcpy(&db[0], &acc[0, KW], Co * sizeof(floating))


# -- pooling -------------------------------------------------------------------------

def maxpool1d_forward(const floating[:, :, ::1] X,  # IN  (n, T, C)
                      const int[::1] lengths,       # IN  (n,)
                      const int[::1] vout,          # IN  (n,)
                      floating[:, :, ::1] Y,        # OUT (n, T_out, C)
                      int[:, :, ::1] idx,           # OUT (n, T_out, C) argmax step (-1: none)
                      int k, int stride, int pad, int n_threads):
    """Max over the valid steps of each window (first maximum on ties)."""
    cdef int n = X.shape[0], T = X.shape[1], C = X.shape[2], To = Y.shape[1]
    cdef int i, o, j, t, c, L, vo
    cdef floating v
    cdef floating *y
    cdef int *ix
    cdef const floating *x
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        L = lengths[i]
        vo = vout[i]
        for o in range(To):
            y = &Y[i, o, 0]
            ix = &idx[i, o, 0]
            if o >= vo:
                for c in range(C):
                    y[c] = NAN
                    ix[c] = -1
                continue
            for c in range(C):
                y[c] = -INFINITY
                ix[c] = -1
            for j in range(k):
                t = o * stride - pad + j
                if t < 0 or t >= L:
                    continue
                x = &X[i, t, 0]
                for c in range(C):
                    v = x[c]
                    if v > y[c] or ix[c] < 0:
                        y[c] = v
                        ix[c] = t


def maxpool1d_backward(const floating[:, :, ::1] dY,  # IN  (n, T_out, C)
                       const int[:, :, ::1] idx,      # IN  (n, T_out, C) from forward
                       floating[:, :, ::1] dX,        # OUT (n, T, C)
                       int n_threads):
    """dX = scatter-add of dY at the remembered argmax steps (none for -1)."""
    cdef int n = dX.shape[0], T = dX.shape[1], C = dX.shape[2], To = dY.shape[1]
    cdef int i, o, c, t
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        memset(&dX[i, 0, 0], 0, <Py_ssize_t> T * C * sizeof(floating))
        for o in range(To):
            for c in range(C):
                t = idx[i, o, c]
                if t >= 0:
                    dX[i, t, c] += dY[i, o, c]


cdef inline int _window_count(int o, int k, int s, int pad, int L) noexcept nogil:
    """Number of steps of window o inside [0, L)."""
    cdef int lo = o * s - pad, hi = o * s - pad + k
    if lo < 0:
        lo = 0
    if hi > L:
        hi = L
    return hi - lo if hi > lo else 0


def avgpool1d_forward(const floating[:, :, ::1] X,  # IN  (n, T, C)
                      const int[::1] lengths,       # IN  (n,)
                      const int[::1] vout,          # IN  (n,)
                      floating[:, :, ::1] Y,        # OUT (n, T_out, C)
                      int k, int stride, int pad, int n_threads):
    """Mean over the valid steps of each window (padding is not counted)."""
    cdef int n = X.shape[0], T = X.shape[1], C = X.shape[2], To = Y.shape[1]
    cdef int i, o, j, t, c, L, vo, cnt
    cdef floating inv
    cdef floating *y
    cdef const floating *x
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        L = lengths[i]
        vo = vout[i]
        for o in range(To):
            y = &Y[i, o, 0]
            cnt = _window_count(o, k, stride, pad, L)
            if o >= vo or cnt == 0:
                for c in range(C):
                    y[c] = NAN
                continue
            for c in range(C):
                y[c] = 0
            for j in range(k):
                t = o * stride - pad + j
                if t < 0 or t >= L:
                    continue
                x = &X[i, t, 0]
                for c in range(C):
                    y[c] += x[c]
            inv = 1.0 / cnt
            for c in range(C):
                y[c] *= inv


def avgpool1d_backward(const floating[:, :, ::1] dY,  # IN  (n, T_out, C)
                       const int[::1] lengths,        # IN  (n,)
                       const int[::1] vout,           # IN  (n,)
                       floating[:, :, ::1] dX,        # OUT (n, T, C)
                       int k, int stride, int pad, int n_threads):
    """dX[window] += dY / (valid steps of the window)."""
    cdef int n = dX.shape[0], T = dX.shape[1], C = dX.shape[2], To = dY.shape[1]
    cdef int i, o, j, t, c, L, vo, cnt
    cdef floating inv
    cdef const floating *dy
    cdef floating *dx
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        L = lengths[i]
        vo = vout[i]
        memset(&dX[i, 0, 0], 0, <Py_ssize_t> T * C * sizeof(floating))
        for o in range(vo):
            cnt = _window_count(o, k, stride, pad, L)
            if cnt == 0:
                continue
            inv = 1.0 / cnt
            dy = &dY[i, o, 0]
            for j in range(k):
                t = o * stride - pad + j
                if t < 0 or t >= L:
                    continue
                dx = &dX[i, t, 0]
                for c in range(C):
                    dx[c] += dy[c] * inv


def global_avgpool1d_forward(const floating[:, :, ::1] X,  # IN  (n, T, C)
                             const int[::1] lengths,       # IN  (n,)
                             floating[:, ::1] Y,           # OUT (n, C)
                             int n_threads):
    """Y[i] = mean of X[i, :lengths[i]] (summed in double)."""
    cdef int n = X.shape[0], C = X.shape[2]
    cdef int i, t, c, L
    cdef double acc
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        L = lengths[i]
        for c in range(C):
            acc = 0
            for t in range(L):
                acc = acc + X[i, t, c]
            Y[i, c] = <floating> (acc / L)


def global_avgpool1d_backward(const floating[:, ::1] dY,  # IN  (n, C)
                              const int[::1] lengths,     # IN  (n,)
                              floating[:, :, ::1] dX,     # OUT (n, T, C)
                              int n_threads):
    """dX[i, t] = dY[i] / lengths[i] for valid steps, 0 at padded ones."""
    cdef int n = dX.shape[0], T = dX.shape[1], C = dX.shape[2]
    cdef int i, t, c, L
    cdef floating inv
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        L = lengths[i]
        inv = 1.0 / L
        for t in range(T):
            if t < L:
                for c in range(C):
                    dX[i, t, c] = dY[i, c] * inv
            else:
                for c in range(C):
                    dX[i, t, c] = 0


def global_maxpool1d_forward(const floating[:, :, ::1] X,  # IN  (n, T, C)
                             const int[::1] lengths,       # IN  (n,)
                             floating[:, ::1] Y,           # OUT (n, C)
                             int[:, ::1] idx,              # OUT (n, C) argmax step
                             int n_threads):
    """Y[i] = max of X[i, :lengths[i]] per channel (first maximum on ties)."""
    cdef int n = X.shape[0], C = X.shape[2]
    cdef int i, t, c, L
    cdef floating v
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        L = lengths[i]
        for c in range(C):
            Y[i, c] = X[i, 0, c]
            idx[i, c] = 0
        for t in range(1, L):
            for c in range(C):
                v = X[i, t, c]
                if v > Y[i, c]:
                    Y[i, c] = v
                    idx[i, c] = t


def global_maxpool1d_backward(const floating[:, ::1] dY,  # IN  (n, C)
                              const int[:, ::1] idx,      # IN  (n, C) from forward
                              floating[:, :, ::1] dX,     # OUT (n, T, C)
                              int n_threads):
    """dX[i, idx[i, c], c] = dY[i, c], 0 elsewhere."""
    cdef int n = dX.shape[0], T = dX.shape[1], C = dX.shape[2]
    cdef int i, c
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        memset(&dX[i, 0, 0], 0, <Py_ssize_t> T * C * sizeof(floating))
        for c in range(C):
            dX[i, idx[i, c], c] = dY[i, c]
