# cython: language_level=3
"""Recurrent cell loops: SimpleRNN (tanh), LSTM and GRU over whole sequences.

One call runs one direction of one layer over a batch of sequences, forward
or backward through time, with the GIL released and no Python per step.

Layouts (all C-contiguous, row ``r = b * T + t`` for sequence ``b``, step ``t``):

* ``X`` (n*T, F): the layer input with padding replaced by zeros.
* ``G`` (n*T, G*H): the activated gates of every step (gate order i, f, g,
  o for LSTM; r, z, n for GRU; the new state for the tanh RNN).  Backward
  overwrites each row with the gradient with respect to the gates'
  pre-activations on the input side.
* ``Hs`` (n*T, H): the hidden state after each step (zero at padded steps).
* ``Cs`` (n*T, H): LSTM cell state; GRU ``W_hn h + b_hn`` in forward, then
  its gradient in backward; unused by the tanh RNN.
* ``TC`` (n*T, H): LSTM ``tanh(c)``; unused otherwise.

Sequence ``b`` has ``lengths[b]`` valid steps (1..T).  Step ``s`` of the loop
processes position ``t = s`` (forward direction) or ``t = lengths[b]-1-s``
(reverse direction); sequences whose length is ``<= s`` keep their state.

Forward, per step: one GEMM ``[x_t | h] [W_ih^T ; W_hh^T]`` over the batch.
The input projection rides along in that product (K = F + H) instead of being
one GEMM over all n*T rows up front: at batch 32, T = 200, H = 128 the
up-front projection writes and re-reads 13 MB per call, more than the extra
K costs.  Then one fused SIMD pass per sequence over its gates.

Backward, per step: one fused pass computing the gate gradients, one GEMM
``dG W_hh`` for the recurrent gradient.  Afterwards the weight and bias
gradients come from a single GEMM ``dG^T [X | 1 | H_prev]`` over all n*T
rows, and ``dX = dG W_ih`` from another.

Float32 per-step products use the prepacked GEMM of ``_gemm.h`` (AVX-512 or
AVX2 + FMA; BLAS repacks the weights on every call, and its result for a
sequence would depend on the batch); float64 and CPUs without AVX2 use BLAS.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset, memcpy

from _blas cimport gemm

cdef extern from "_rnn_math.h" nogil:
    void fastnut_lstm_bwd_f(Py_ssize_t H, float *g, const float *cprev, const float *tc,
                            float *dh, float *dc)
    void fastnut_lstm_bwd_d(Py_ssize_t H, double *g, const double *cprev, const double *tc,
                            double *dh, double *dc)
    void fastnut_gru_bwd_f(Py_ssize_t H, float *g, float *hn, const float *hprev, float *dh)
    void fastnut_gru_bwd_d(Py_ssize_t H, double *g, double *hn, const double *hprev,
                           double *dh)
    void fastnut_lstm_fwd_cell(Py_ssize_t H, float *g, const float *hh, const float *b_ih,
                            const float *b_hh, float *h, float *c, float *hs, float *cs,
                            float *tc)
    void fastnut_lstm_fwd_d(Py_ssize_t H, double *g, const double *hh, const double *b_ih,
                            const double *b_hh, double *h, double *c, double *hs, double *cs,
                            double *tc)
    void fastnut_gru_fwd_cell(Py_ssize_t H, float *g, const float *hh, const float *b_ih,
                           const float *b_hh, float *h, float *hs, float *cs)
    void fastnut_gru_fwd_d(Py_ssize_t H, double *g, const double *hh, const double *b_ih,
                           const double *b_hh, double *h, double *hs, double *cs)
    void fastnut_rnn_fwd_cell(Py_ssize_t H, float *g, const float *hh, const float *b_ih,
                           const float *b_hh, float *h, float *hs)
    void fastnut_rnn_fwd_d(Py_ssize_t H, double *g, const double *hh, const double *b_ih,
                           const double *b_hh, double *h, double *hs)
    int fastnut_small_gemm_available(Py_ssize_t N)
    void fastnut_sgemm_prepacked(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                                 const float *A, Py_ssize_t lda, const float *Bp, int beta,
                                 float *C, Py_ssize_t ldc)
    Py_ssize_t fastnut_packed_index(Py_ssize_t K, Py_ssize_t N, Py_ssize_t k, Py_ssize_t j)
    int fastnut_gemm_kernel()
    void fastnut_sgemm_auto(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                            const float *A, Py_ssize_t a_row, Py_ssize_t a_col,
                            const float *B, Py_ssize_t b_row, Py_ssize_t b_col,
                            float *C, Py_ssize_t ldc, int beta)

cdef extern from *:
    void __builtin_prefetch(const void *addr, int rw, int locality) nogil

# cell codes, shared with Python (fastnut/nn/_recurrent.py reads this enum)
cpdef enum Cell:
    RNN_TANH = 0
    LSTM = 1
    GRU = 2


def workspace(int cell, Py_ssize_t n, Py_ssize_t T, Py_ssize_t F, Py_ssize_t H, *,
              bint keep_gates, bint keep_states):
    """The shapes of the arrays ``forward`` and ``backward`` take, as a dict.

    For ``n`` sequences of ``T`` steps (the rows of this call's ``X``), ``F``
    inputs and ``H`` hidden units.  ``keep_gates``/``keep_states`` as in
    ``forward`` (training keeps both; inference keeps the states only when they
    are the output).  Forward: ``G``, ``Hs``, ``Cs``, ``TC`` (``(1, 1)`` where
    the cell has no such array), ``work``, ``Bcat``, ``A``; backward (after a
    forward with ``keep_gates`` and ``keep_states``): ``dGs``, ``Z``, ``dWcat``,
    ``Wp``.  The kernels refuse smaller arrays, naming this function.
    """
    if cell < RNN_TANH or cell > GRU:
        raise ValueError(f"rnn.workspace: cell must be an rnn.Cell, got {cell!r}")
    if n < 1 or T < 1 or F < 0 or H < 1:
        raise ValueError(f"rnn.workspace: sizes must be positive, got n={n}, T={T}, F={F}, "
                         f"H={H}")
    cdef Py_ssize_t GH = (1 if cell == RNN_TANH else 4 if cell == LSTM else 3) * H
    cdef Py_ssize_t NB = 4 * H if cell == GRU else GH
    cdef Py_ssize_t rows = n * T if keep_gates else n
    cdef tuple none = (1, 1)      # a cell without that array: a (1, 1) placeholder
    return {
        "G": (rows, GH),
        "Hs": (n * T if keep_states else n, H),
        "Cs": (rows, H) if cell != RNN_TANH else none,
        "TC": (rows, H) if cell == LSTM else none,
        "work": (n, NB),
        "Bcat": (F + H, NB),
        "A": (n, F + H),
        "dGs": (n, GH),
        "Z": (n * T, F + 1 + H),
        "dWcat": (GH + H, F + 1 + H),
        "Wp": (GH, H),
    }


cdef int _check_ws(str kernel, str name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t need_rows,
                   Py_ssize_t need_cols) except -1:
    """Rows are addressed through raw pointers: the width must be exact, the
    number of rows at least the need."""
    if rows < need_rows or cols != need_cols:
        raise ValueError(f"rnn.{kernel}: {name} has shape {(rows, cols)}, needs "
                         f"{(need_rows, need_cols)} (see rnn.workspace)")
    return 0


cdef int _check_call(str kernel, int cell, Py_ssize_t n, Py_ssize_t nT, Py_ssize_t F,
                     Py_ssize_t GH, Py_ssize_t H, Py_ssize_t F_w) except -1:
    if cell < RNN_TANH or cell > GRU:
        raise ValueError(f"rnn.{kernel}: cell must be an rnn.Cell, got {cell!r}")
    if n < 1 or nT % n != 0 or nT == 0:
        raise ValueError(f"rnn.{kernel}: X has {nT} rows for {n} sequences (needs n*T)")
    if GH != (1 if cell == RNN_TANH else 4 if cell == LSTM else 3) * H or F_w != F:
        raise ValueError(f"rnn.{kernel}: weights of shape ({GH}, {H}) and (., {F_w}) do not "
                         f"fit cell {cell} with {F} inputs")
    return 0


# -- the per-step product -------------------------------------------------------------

cdef inline bint _packed(Py_ssize_t N, floating *dummy) noexcept nogil:
    """Whether this call's per-step products with N columns use the packed
    prepacked float32 kernel of _gemm.h (else BLAS on the k-major matrix)."""
    if floating is float:
        return fastnut_small_gemm_available(N) != 0
    else:
        return False


cdef inline Py_ssize_t _bindex(bint packed, Py_ssize_t K, Py_ssize_t N, Py_ssize_t k,
                               Py_ssize_t j) noexcept nogil:
    """Position of B[k, j] (K x N) in the layout the per-step product reads."""
    return fastnut_packed_index(K, N, k, j) if packed else k * N + j


cdef void _tgemm(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const floating *A,
                 Py_ssize_t lda, const floating *B, Py_ssize_t ldb, floating *C,
                 Py_ssize_t ldc, int n_threads) noexcept nogil:
    """C (M x N) = A^T B for A (K x M) and B (K x N), row-major with row strides.

    The weight gradients' product over all n*T rows.  float32 on fastnut's
    kernel, its rows of C split over ``n_threads`` in blocks of 6 (each
    element one fixed-order sum: the same bits on any thread count); float64
    (or no AVX2 + FMA) on BLAS, one call.
    """
    cdef Py_ssize_t rows, th, i0, m
    if floating is float:
        if fastnut_gemm_kernel() > 0:
            if n_threads < 1:
                n_threads = 1
            rows = ((M + n_threads - 1) // n_threads + 5) // 6 * 6
            if n_threads == 1:
                fastnut_sgemm_auto(M, N, K, A, 1, lda, B, ldb, 1, C, ldc, 0)
                return
            for th in prange(n_threads, num_threads=n_threads, schedule="static"):
                i0 = th * rows
                if i0 < M:
                    m = rows if i0 + rows < M else M - i0
                    fastnut_sgemm_auto(m, N, K, A + i0, 1, lda, B, ldb, 1, C + i0 * ldc, ldc, 0)
            return
    gemm(True, False, M, N, K, 1, A, lda, B, ldb, 0, C, ldc)


cdef inline void _step_gemm(bint packed, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                            const floating *A, const floating *B, bint beta,
                            floating *C) noexcept nogil:
    """C (M x N) = A (M x K) B (+ C if beta), A and C contiguous.

    ``B`` is packed (``_bindex``) when ``packed``, else k-major (K x N).
    """
    if floating is float:
        if packed:
            fastnut_sgemm_prepacked(M, N, K, A, K, B, beta, C, N)
            return
    gemm(False, False, M, N, K, 1, A, K, B, N, 1 if beta else 0, C, N)


# -- one sequence, one step -------------------------------------------------------

cdef inline void _fwd_row(int cell, Py_ssize_t H, floating *g, const floating *hh,
                          const floating *b_ih, const floating *b_hh,
                          floating *h, floating *c, floating *hs, floating *cs,
                          floating *tc) noexcept nogil:
    """Advance one sequence by one step.

    ``hh``: the step's GEMM row (pre-activations without biases, see
    ``forward``); ``g``: activated gates out; ``h``/``c``: running state,
    updated in place; ``hs``/``cs``/``tc``: the rows of ``Hs``/``Cs``/``TC``.
    """
    if cell == LSTM:
        if floating is float:
            fastnut_lstm_fwd_cell(H, g, hh, b_ih, b_hh, h, c, hs, cs, tc)
        else:
            fastnut_lstm_fwd_d(H, g, hh, b_ih, b_hh, h, c, hs, cs, tc)
    elif cell == GRU:
        if floating is float:
            fastnut_gru_fwd_cell(H, g, hh, b_ih, b_hh, h, hs, cs)
        else:
            fastnut_gru_fwd_d(H, g, hh, b_ih, b_hh, h, hs, cs)
    else:
        if floating is float:
            fastnut_rnn_fwd_cell(H, g, hh, b_ih, b_hh, h, hs)
        else:
            fastnut_rnn_fwd_d(H, g, hh, b_ih, b_hh, h, hs)


cdef inline void _bwd_row(int cell, Py_ssize_t H, floating *g, floating *gs,
                          const floating *hs, const floating *hprev, floating *cs,
                          const floating *cprev, const floating *tc,
                          floating *dh, floating *dc) noexcept nogil:
    """Gate gradients of one sequence at one step.

    ``dh`` holds dL/dh_t on entry (recurrent + output parts) and the part of
    dL/dh_{t-1} that bypasses ``W_hh`` on exit; ``dc`` is dL/dc_t in,
    dL/dc_{t-1} out.  ``g`` (gates in, input-side pre-activation gradients
    out) and ``gs`` (recurrent-side pre-activation gradients, for the
    ``dh @ W_hh`` GEMM) are rows of length G*H.  GRU: ``cs`` is ``W_hn h +
    b_hn`` in and its gradient out.
    """
    cdef Py_ssize_t j
    cdef floating d
    if cell == LSTM:
        if floating is float:
            fastnut_lstm_bwd_f(H, g, cprev, tc, dh, dc)
        else:
            fastnut_lstm_bwd_d(H, g, cprev, tc, dh, dc)
        memcpy(gs, g, 4 * H * sizeof(floating))
    elif cell == GRU:
        if floating is float:
            fastnut_gru_bwd_f(H, g, cs, hprev, dh)
        else:
            fastnut_gru_bwd_d(H, g, cs, hprev, dh)
        memcpy(gs, g, 2 * H * sizeof(floating))
        memcpy(gs + 2 * H, cs, H * sizeof(floating))
    else:
        for j in range(H):
            d = dh[j] * (1 - hs[j] * hs[j])
            g[j] = d
            gs[j] = d
            dh[j] = 0


cdef inline void _prefetch(const void *p, Py_ssize_t nbytes, int rw) noexcept nogil:
    """Ask for ``nbytes`` from ``p`` into cache (64-byte lines).

    Rows of one sequence are ``T`` rows apart in the batch-major workspaces,
    so every step touches ``n`` scattered rows; fetching a sequence's next
    row while the rest of the batch is processed hides the memory latency.
    """
    cdef Py_ssize_t o
    # the builtin wants literal flags (also at -O0, where nothing is inlined)
    if rw:
        for o in range(0, nbytes, 64):
            __builtin_prefetch(<const char *> p + o, 1, 3)
    else:
        for o in range(0, nbytes, 64):
            __builtin_prefetch(<const char *> p + o, 0, 3)


cdef inline void _fwd_seq(int cell, Py_ssize_t b, Py_ssize_t s, Py_ssize_t T, Py_ssize_t H,
                          Py_ssize_t GH, Py_ssize_t NB, Py_ssize_t F, const int *lengths,
                          bint reverse, bint keep_gates, bint keep_states,
                          const floating *X, floating *A, floating *G,
                          const floating *work, const floating *b_ih, const floating *b_hh,
                          floating *c_cur, floating *Hs, floating *Cs,
                          floating *TC) noexcept nogil:
    """Gate pass of sequence ``b`` at loop step ``s``, then stage its next input.

    ``A`` row b is ``[x | h]`` for the next step's GEMM: the state part is
    updated in place by the gate pass, the input part gets the next step's x.
    Without ``keep_gates`` (inference) ``G``/``Cs``/``TC`` are one row per
    sequence, overwritten every step; without ``keep_states`` so is ``Hs``.
    """
    cdef Py_ssize_t L = lengths[b], t, row, grow, hrow, W = F + H
    if s >= L:
        # padding: the state is carried, the saved rows stay finite (zero)
        if keep_states:
            memset(Hs + (b * T + s) * H, 0, H * sizeof(floating))
        return
    t = L - 1 - s if reverse else s
    row = b * T + t
    grow = row if keep_gates else b
    hrow = row if keep_states else b
    _fwd_row(cell, H, G + grow * GH, work + b * NB, b_ih, b_hh,
             A + b * W + F, c_cur + b * H, Hs + hrow * H, Cs + grow * H, TC + grow * H)
    if s + 1 < L:
        row = row - 1 if reverse else row + 1
        memcpy(A + b * W, X + row * F, F * sizeof(floating))
        if keep_gates:
            _prefetch(G + row * GH, GH * sizeof(floating), 1)


cdef inline void _bwd_seq(int cell, Py_ssize_t b, Py_ssize_t s, Py_ssize_t T, Py_ssize_t H,
                          Py_ssize_t GH, const int *lengths, bint reverse,
                          floating *G, floating *dGs, const floating *Hs, floating *Cs,
                          const floating *TC, const floating *h0, const floating *c0,
                          const floating *dseq, Py_ssize_t ldseq, bint has_seq,
                          const floating *dlast, Py_ssize_t ldlast, bint has_last,
                          floating *dh_cur, floating *dc_cur) noexcept nogil:
    cdef Py_ssize_t L = lengths[b], t, row, prow, j
    cdef const floating *hprev
    cdef const floating *cprev
    cdef floating *dh = dh_cur + b * H
    if s >= L:
        # this sequence has not started (backward runs from its last step)
        memset(dGs + b * GH, 0, GH * sizeof(floating))
        memset(dh, 0, H * sizeof(floating))
        memset(dc_cur + b * H, 0, H * sizeof(floating))
        memset(G + (b * T + s) * GH, 0, GH * sizeof(floating))
        if cell == GRU:
            memset(Cs + (b * T + s) * H, 0, H * sizeof(floating))
        return
    if reverse:
        t = L - 1 - s
        prow = b * T + t + 1 if t < L - 1 else -1
    else:
        t = s
        prow = b * T + t - 1 if t > 0 else -1
    row = b * T + t
    if prow >= 0:
        hprev = Hs + prow * H
        cprev = Cs + prow * H
    else:
        hprev = h0 + b * H
        cprev = c0 + b * H
    if has_seq:
        for j in range(H):
            dh[j] = dh[j] + dseq[row * ldseq + j]
    if has_last and s == L - 1:
        for j in range(H):
            dh[j] = dh[j] + dlast[b * ldlast + j]
    _bwd_row(cell, H, G + row * GH, dGs + b * GH, Hs + row * H, hprev, Cs + row * H,
             cprev, TC + row * H, dh, dc_cur + b * H)
    if s > 0:  # this sequence's row of the next (earlier) step
        row = row + 1 if reverse else row - 1
        _prefetch(G + row * GH, GH * sizeof(floating), 1)
        _prefetch(Hs + row * H, H * sizeof(floating), 0)
        if cell != RNN_TANH:
            _prefetch(Cs + row * H, H * sizeof(floating), 1)
        if cell == LSTM:
            _prefetch(TC + row * H, H * sizeof(floating), 0)
        if has_seq:
            _prefetch(dseq + row * ldseq, H * sizeof(floating), 0)


# -- whole sequences ----------------------------------------------------------------

def forward(const floating[:, ::1] X,       # IN  (n*T, F) input, padding zeroed
            const floating[:, ::1] W_ih,    # IN  (G*H, F)
            const floating[:, ::1] W_hh,    # IN  (G*H, H)
            const floating[::1] b_ih,       # IN  (G*H,)
            const floating[::1] b_hh,       # IN  (G*H,)
            const int[::1] lengths,         # IN  (n,) valid steps per sequence, 1..T
            floating[:, ::1] h_cur,         # IN/OUT (n, H) initial state in, final state out
            floating[:, ::1] c_cur,         # IN/OUT (n, H) LSTM cell state (else unused)
            floating[:, ::1] G,             # OUT (n*T, G*H) activated gates
            floating[:, ::1] Hs,            # OUT (n*T, H) hidden states
            floating[:, ::1] Cs,            # OUT (n*T, H) LSTM c / GRU W_hn h + b_hn
            floating[:, ::1] TC,            # OUT (n*T, H) LSTM tanh(c)
            floating[:, ::1] work,          # scratch (n, NB): NB = G*H, or 4H for GRU
            floating[:, ::1] Bcat,          # scratch (F+H, NB): stacked weights
            floating[:, ::1] A,             # scratch (n, F+H): [x_t | h] per sequence
            *, int cell,                    # an rnn.Cell
            bint reverse,
            bint keep_gates,                # False: G, Cs, TC are (n, .) scratch
            bint keep_states,               # False: Hs is (n, H) scratch
            int n_threads):
    """Run one direction of a recurrent layer over a batch of sequences.

    Each step is one GEMM ``[x_t | h] [W_ih^T ; W_hh^T]`` over the batch (the
    input projection rides along: K = F + H), then one fused pass over the
    gates of each sequence.  For GRU the product has 4H columns, the n gate's
    input and recurrent parts apart (``r`` multiplies only the latter).
    The shapes of the arrays are :func:`workspace`'s (checked here, O(1)).
    """
    cdef Py_ssize_t n = lengths.shape[0]
    cdef Py_ssize_t nT = X.shape[0], F = X.shape[1]
    cdef Py_ssize_t GH = W_hh.shape[0], H = W_hh.shape[1]
    _check_call("forward", cell, n, nT, F, GH, H, W_ih.shape[1])
    cdef Py_ssize_t NB = 4 * H if cell == GRU else GH, W = F + H
    cdef Py_ssize_t T = nT // n
    cdef Py_ssize_t rows = nT if keep_gates else n
    if W_ih.shape[0] != GH or b_ih.shape[0] != GH or b_hh.shape[0] != GH:
        raise ValueError(f"rnn.forward: W_ih and the biases need {GH} rows")
    _check_ws("forward", "h_cur", h_cur.shape[0], h_cur.shape[1], n, H)
    if cell == LSTM:
        _check_ws("forward", "c_cur", c_cur.shape[0], c_cur.shape[1], n, H)
    _check_ws("forward", "G", G.shape[0], G.shape[1], rows, GH)
    _check_ws("forward", "Hs", Hs.shape[0], Hs.shape[1], nT if keep_states else n, H)
    if cell != RNN_TANH:
        _check_ws("forward", "Cs", Cs.shape[0], Cs.shape[1], rows, H)
    if cell == LSTM:
        _check_ws("forward", "TC", TC.shape[0], TC.shape[1], rows, H)
    _check_ws("forward", "work", work.shape[0], work.shape[1], n, NB)
    _check_ws("forward", "Bcat", Bcat.shape[0], Bcat.shape[1], W, NB)
    _check_ws("forward", "A", A.shape[0], A.shape[1], n, W)
    cdef Py_ssize_t s, b, i, j, t, th, blk, r0, r1
    cdef floating *pG = &G[0, 0]
    cdef floating *pwork = &work[0, 0]
    cdef floating *pc = &c_cur[0, 0]
    cdef floating *pHs = &Hs[0, 0]
    cdef floating *pCs = &Cs[0, 0]
    cdef floating *pTC = &TC[0, 0]
    cdef floating *pB = &Bcat[0, 0]
    cdef floating *pA = &A[0, 0]
    cdef const floating *pX = &X[0, 0]
    cdef const int *pL = &lengths[0]
    cdef bint packed = _packed(NB, pB)
    with nogil:
        # stacked weights [W_ih^T ; W_hh^T] (W x NB): rows 0..F-1 from W_ih,
        # F..F+H-1 from W_hh; GRU: gate n's input part in columns 2H..3H-1,
        # its recurrent part in 3H..4H-1
        memset(pB, 0, W * NB * sizeof(floating))
        for i in range(GH):
            j = i + H if (cell == GRU and i >= 2 * H) else i
            for t in range(F):
                pB[_bindex(packed, W, NB, t, i)] = W_ih[i, t]
            for t in range(H):
                pB[_bindex(packed, W, NB, F + t, j)] = W_hh[i, t]
        for b in range(n):
            t = lengths[b] - 1 if reverse else 0
            memcpy(pA + b * W, pX + (b * T + t) * F, F * sizeof(floating))
            memcpy(pA + b * W + F, &h_cur[b, 0], H * sizeof(floating))
        if packed and n_threads > 1:
            # fastnut's kernel gives each row the same bits in any block of
            # rows, and the sequences are independent: each thread runs its
            # block of rows through all the steps, with no barrier per step
            blk = (n + n_threads - 1) // n_threads
            for th in prange(n_threads, num_threads=n_threads, schedule="static"):
                r0 = th * blk
                r1 = r0 + blk if r0 + blk < n else n
                if r0 < r1:
                    for s in range(T):
                        _step_gemm(packed, r1 - r0, NB, W, pA + r0 * W, pB, False,
                                   pwork + r0 * NB)
                        for b in range(r0, r1):
                            _fwd_seq(cell, b, s, T, H, GH, NB, F, pL, reverse, keep_gates,
                                     keep_states, pX, pA, pG, pwork, &b_ih[0], &b_hh[0], pc,
                                     pHs, pCs, pTC)
        else:
          for s in range(T):
            _step_gemm(packed, n, NB, W, pA, pB, False, pwork)
            if n_threads > 1:
                for b in prange(n, num_threads=n_threads, schedule="static"):
                    _fwd_seq(cell, b, s, T, H, GH, NB, F, pL, reverse, keep_gates,
                             keep_states, pX, pA, pG, pwork, &b_ih[0], &b_hh[0], pc, pHs,
                             pCs, pTC)
            else:
                for b in range(n):
                    _fwd_seq(cell, b, s, T, H, GH, NB, F, pL, reverse, keep_gates,
                             keep_states, pX, pA, pG, pwork, &b_ih[0], &b_hh[0], pc, pHs,
                             pCs, pTC)
        for b in range(n):
            memcpy(&h_cur[b, 0], pA + b * W + F, H * sizeof(floating))


cdef void _fill_inputs(Py_ssize_t n, Py_ssize_t T, Py_ssize_t F, Py_ssize_t H,
                       const floating *X, const floating *Hs, const floating *h0,
                       const int *lengths, bint reverse, floating *Z) noexcept nogil:
    """Z[r] = [x_r, 1, h_prev(r)] for every row: what the weights multiplied.

    h_prev is the state before the step (``h0`` at each sequence's first
    processed step), zero at padded steps.  With it, dW_ih, dW_hh and the
    bias gradients (the column of ones) come from one GEMM ``dG^T Z`` that
    reads the gate gradients once.
    """
    cdef Py_ssize_t b, t, r, L, W = F + 1 + H
    cdef const floating *src
    for b in range(n):
        L = lengths[b]
        for t in range(T):
            r = b * T + t
            memcpy(Z + r * W, X + r * F, F * sizeof(floating))
            Z[r * W + F] = 1
            if t >= L:
                memset(Z + r * W + F + 1, 0, H * sizeof(floating))
                continue
            if reverse:
                src = Hs + (r + 1) * H if t < L - 1 else h0 + b * H
            else:
                src = Hs + (r - 1) * H if t > 0 else h0 + b * H
            memcpy(Z + r * W + F + 1, src, H * sizeof(floating))


def backward(const floating[:, ::1] X,      # IN  (n*T, F) input, padding zeroed
             const floating[:, ::1] W_ih,   # IN  (G*H, F)
             const floating[:, ::1] W_hh,   # IN  (G*H, H)
             const int[::1] lengths,        # IN  (n,)
             const floating[:, ::1] h0,     # IN  (n, H) initial state
             const floating[:, ::1] c0,     # IN  (n, H) LSTM initial cell state (else h0)
             floating[:, ::1] G,            # IN/OUT gates from forward -> input-side dGates
             const floating[:, ::1] Hs,     # IN  (n*T, H)
             floating[:, ::1] Cs,           # IN (LSTM c) / IN/OUT (GRU hn -> its gradient)
             const floating[:, ::1] TC,     # IN  (n*T, H)
             const floating[:, :] dseq,     # IN  (n*T, H) dL/dh_t, every step (unit col stride)
             const floating[:, :] dlast,    # IN  (n, H) dL/d(final state) (unit column stride)
             floating[:, ::1] dW_ih,        # OUT (G*H, F)
             floating[:, ::1] dW_hh,        # OUT (G*H, H)
             floating[::1] db_ih,           # OUT (G*H,)
             floating[::1] db_hh,           # OUT (G*H,)
             floating[:, ::1] dX,           # OUT (n*T, F) (written if need_dx)
             floating[:, ::1] dh_cur,       # OUT (n, H) dL/dh0
             floating[:, ::1] dc_cur,       # OUT (n, H) dL/dc0 (LSTM)
             floating[:, ::1] dGs,          # scratch (n, G*H)
             floating[:, ::1] Z,            # scratch (n*T, F+1+H)
             floating[:, ::1] dWcat,        # scratch (G*H+H, F+1+H)
             floating[:, ::1] Wp,           # scratch (G*H, H): W_hh packed for the steps
             *, int cell,                   # an rnn.Cell
             bint reverse,
             bint has_seq,                  # dseq is given
             bint has_last,                 # dlast is given
             bint need_dx, bint accumulate_dx,
             int n_threads):
    """Backpropagation through time for one direction (after ``forward``).

    ``G`` must hold the gates of the matching ``forward`` call; it is
    overwritten.  Weight gradients are overwritten (not accumulated); ``dX``
    is accumulated into when ``accumulate_dx`` (the second direction).
    The shapes of the arrays are :func:`workspace`'s (checked here, O(1)).
    """
    cdef Py_ssize_t n = lengths.shape[0]
    cdef Py_ssize_t nT = X.shape[0], F = X.shape[1]
    cdef Py_ssize_t GH = W_hh.shape[0], H = W_hh.shape[1]
    _check_call("backward", cell, n, nT, F, GH, H, W_ih.shape[1])
    cdef Py_ssize_t T = nT // n
    _check_ws("backward", "G", G.shape[0], G.shape[1], nT, GH)
    _check_ws("backward", "Hs", Hs.shape[0], Hs.shape[1], nT, H)
    if cell != RNN_TANH:
        _check_ws("backward", "Cs", Cs.shape[0], Cs.shape[1], nT, H)
    if cell == LSTM:
        _check_ws("backward", "TC", TC.shape[0], TC.shape[1], nT, H)
        _check_ws("backward", "c0", c0.shape[0], c0.shape[1], n, H)
        _check_ws("backward", "dc_cur", dc_cur.shape[0], dc_cur.shape[1], n, H)
    _check_ws("backward", "h0", h0.shape[0], h0.shape[1], n, H)
    _check_ws("backward", "dh_cur", dh_cur.shape[0], dh_cur.shape[1], n, H)
    if has_seq:
        _check_ws("backward", "dseq", dseq.shape[0], dseq.shape[1], nT, H)
    if has_last:
        _check_ws("backward", "dlast", dlast.shape[0], dlast.shape[1], n, H)
    if need_dx:
        _check_ws("backward", "dX", dX.shape[0], dX.shape[1], nT, F)
    _check_ws("backward", "dW_ih", dW_ih.shape[0], dW_ih.shape[1], GH, F)
    _check_ws("backward", "dW_hh", dW_hh.shape[0], dW_hh.shape[1], GH, H)
    if db_ih.shape[0] != GH or db_hh.shape[0] != GH:
        raise ValueError(f"rnn.backward: the bias gradients need {GH} values")
    _check_ws("backward", "dGs", dGs.shape[0], dGs.shape[1], n, GH)
    _check_ws("backward", "Z", Z.shape[0], Z.shape[1], nT, F + 1 + H)
    _check_ws("backward", "dWcat", dWcat.shape[0], dWcat.shape[1], GH + H, F + 1 + H)
    _check_ws("backward", "Wp", Wp.shape[0], Wp.shape[1], GH, H)
    cdef Py_ssize_t s, b, r, j, th, blk, r0, r1
    cdef Py_ssize_t item = sizeof(floating)
    cdef Py_ssize_t ldseq = dseq.strides[0] // item if has_seq else 0
    cdef Py_ssize_t ldlast = dlast.strides[0] // item if has_last else 0
    if (has_seq and dseq.strides[1] != item) or (has_last and dlast.strides[1] != item):
        raise ValueError("rnn.backward: output gradients need a unit column stride")
    cdef floating *pG = &G[0, 0]
    cdef floating *pdGs = &dGs[0, 0]
    cdef floating *pCs = &Cs[0, 0]
    cdef floating *pdh = &dh_cur[0, 0]
    cdef floating *pdc = &dc_cur[0, 0]
    cdef const floating *pseq = &dseq[0, 0] if has_seq else NULL
    cdef const floating *plast = &dlast[0, 0] if has_last else NULL
    cdef const int *pL = &lengths[0]
    cdef floating *pZ
    cdef floating *pW
    cdef Py_ssize_t W
    cdef floating *pWp = &Wp[0, 0]
    cdef bint packed = _packed(H, pWp)
    cdef Py_ssize_t k
    with nogil:
        if packed:
            for k in range(GH):
                for j in range(H):
                    pWp[fastnut_packed_index(GH, H, k, j)] = W_hh[k, j]
        else:
            pWp = <floating *> &W_hh[0, 0]
        memset(pdh, 0, n * H * sizeof(floating))
        memset(pdc, 0, n * H * sizeof(floating))
        if packed and n_threads > 1:
            # as in forward: a block of rows per thread through all the steps
            blk = (n + n_threads - 1) // n_threads
            for th in prange(n_threads, num_threads=n_threads, schedule="static"):
                r0 = th * blk
                r1 = r0 + blk if r0 + blk < n else n
                if r0 < r1:
                    for s in range(T - 1, -1, -1):
                        for b in range(r0, r1):
                            _bwd_seq(cell, b, s, T, H, GH, pL, reverse, pG, pdGs, &Hs[0, 0],
                                     pCs, &TC[0, 0], &h0[0, 0], &c0[0, 0], pseq, ldseq,
                                     has_seq, plast, ldlast, has_last, pdh, pdc)
                        _step_gemm(packed, r1 - r0, H, GH, pdGs + r0 * GH, pWp, True,
                                   pdh + r0 * H)
        else:
         for s in range(T - 1, -1, -1):
            if n_threads > 1:
                for b in prange(n, num_threads=n_threads, schedule="static"):
                    _bwd_seq(cell, b, s, T, H, GH, pL, reverse, pG, pdGs, &Hs[0, 0], pCs,
                             &TC[0, 0], &h0[0, 0], &c0[0, 0], pseq, ldseq, has_seq,
                             plast, ldlast, has_last, pdh, pdc)
            else:
                for b in range(n):
                    _bwd_seq(cell, b, s, T, H, GH, pL, reverse, pG, pdGs, &Hs[0, 0], pCs,
                             &TC[0, 0], &h0[0, 0], &c0[0, 0], pseq, ldseq, has_seq,
                             plast, ldlast, has_last, pdh, pdc)
            _step_gemm(packed, n, H, GH, pdGs, pWp, True, pdh)

        # weight and bias gradients: [dW_ih | db | dW_hh] = dG^T [X | 1 | H_prev],
        # one GEMM over all n*T rows.  GRU: the n rows of the recurrent side
        # use r * dn (in Cs), so they get their own GEMM into the extra rows.
        W = F + 1 + H
        _fill_inputs(n, T, F, H, &X[0, 0], &Hs[0, 0], &h0[0, 0], pL, reverse, &Z[0, 0])
        pZ = &Z[0, 0]
        pW = &dWcat[0, 0]
        if cell == GRU:
            _tgemm(2 * H, W, nT, pG, GH, pZ, W, pW, W, n_threads)
            _tgemm(H, F + 1, nT, pG + 2 * H, GH, pZ, W, pW + 2 * H * W, W, n_threads)
            _tgemm(H, H + 1, nT, pCs, H, pZ + F, W, pW + GH * W + F, W, n_threads)
        else:
            _tgemm(GH, W, nT, pG, GH, pZ, W, pW, W, n_threads)
        for r in range(GH):
            memcpy(&dW_ih[r, 0], pW + r * W, F * sizeof(floating))
            db_ih[r] = pW[r * W + F]
            if cell == GRU and r >= 2 * H:
                memcpy(&dW_hh[r, 0], pW + (r + H) * W + F + 1, H * sizeof(floating))
                db_hh[r] = pW[(r + H) * W + F]
            else:
                memcpy(&dW_hh[r, 0], pW + r * W + F + 1, H * sizeof(floating))
                db_hh[r] = db_ih[r]
        if need_dx:
            gemm(False, False, nT, F, GH, 1, pG, GH, &W_ih[0, 0], F,
                 1 if accumulate_dx else 0, &dX[0, 0], F)
