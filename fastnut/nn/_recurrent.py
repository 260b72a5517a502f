"""Recurrent layers: SimpleRNN (tanh), LSTM and GRU over whole sequences.

Each direction of a layer is one call of the ``rnn`` kernel forward and one
backward: the time loop, the gate arithmetic and the weight-gradient GEMMs all
run in compiled code with the GIL released.  At inference, long sequences are
run in blocks of steps (``_time_block``), the state carried from one kernel
call to the next, so that Ctrl-C (and the end of a failed ``map_row_chunks``
call) lands within a fraction of a second; the results are the same bits.

Variable-length sequences
-------------------------
A batch of sequences of different lengths is padded at the end with NaN (a
padded step is NaN in every feature).  The layer finds each sequence's length
from its trailing all-NaN steps; the padded steps do not change the state, so
the final state is the state at the last valid step and the reverse direction
of a bidirectional layer starts at each sequence's own last valid step.  With
``return_sequences=True`` the output is NaN at the padded steps, so a stacked
recurrent layer sees the same lengths.  Backward ignores the output gradient at
padded steps and returns a zero input gradient there.  A NaN anywhere else is a
``ValueError``.
"""

import numpy as np

from .._kernels import rnn as _k
from .._threads import blas_single_thread, raise_if_cancelled, threads_for
from ._base import Layer
from ._sequence import sequence_lengths

_CELL_CODES = {"rnn": int(_k.Cell.RNN_TANH), "lstm": int(_k.Cell.LSTM), "gru": int(_k.Cell.GRU)}

#: multiply-adds of one inference kernel call (batch x steps x gates x (F + H)):
#: ~2**25 is 10-50 ms on one core, the longest Ctrl-C waits for
_BLOCK_WORK = 1 << 25


def _time_block(n, T, GH, F, H):
    """Steps per kernel call at inference (T: one call)."""
    return int(min(T, max(16, _BLOCK_WORK // max(1, n * GH * (F + H)))))
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class _Recurrent(Layer):
    """Shared machinery of SimpleRNN, LSTM and GRU (one code path, three cells)."""

    _cell = None
    _forward_state = Layer._forward_state + ("_saved", "_ctx")
    variable_axes = (0,)  # any number of steps T
    axis_names = ("T",)

    def __init__(self, hidden_size, return_sequences=False, bidirectional=False):
        super().__init__()
        self.hidden_size = int(hidden_size)
        if self.hidden_size < 1 or self.hidden_size != hidden_size:
            raise ValueError(f"hidden_size must be a positive int, got {hidden_size!r}")
        self.return_sequences = bool(return_sequences)
        self.bidirectional = bool(bidirectional)
        self.initial_state_grad = None

    @property
    def final_state(self):
        """``h_n`` (``(h_n, c_n)`` for LSTM) of this thread's last ``forward``,
        shape ``(directions, n, hidden_size)``; internal buffers (copy to keep)."""
        return getattr(self._tls, "final_state", None)

    def get_config(self):
        return {"hidden_size": self.hidden_size, "return_sequences": self.return_sequences,
                "bidirectional": self.bidirectional}

    @property
    def _ndir(self):
        return 2 if self.bidirectional else 1

    @property
    def _suffixes(self):
        return ("", "_reverse")[: self._ndir]

    def _build(self, input_shape, rng):
        if len(input_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (n, T, features); got "
                f"per-sample shape {input_shape}")
        T, F = input_shape
        H, GH = self.hidden_size, _GATES[self._cell] * self.hidden_size
        k = 1.0 / np.sqrt(H)  # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H)) everywhere
        for sfx in self._suffixes:
            self.params["weight_ih" + sfx] = rng.uniform(-k, k, (GH, F)).astype(self.dtype)
            self.params["weight_hh" + sfx] = rng.uniform(-k, k, (GH, H)).astype(self.dtype)
            self.params["bias_ih" + sfx] = rng.uniform(-k, k, GH).astype(self.dtype)
            self.params["bias_hh" + sfx] = rng.uniform(-k, k, GH).astype(self.dtype)
        out = self._ndir * H
        return (T, out) if self.return_sequences else (out,)

    # -- initial state -----------------------------------------------------------
    def _initial_states(self, initial_state, n):
        """(h0, c0) per direction as C-contiguous (n, H) arrays of the layer dtype."""
        H, nd = self.hidden_size, self._ndir
        zeros = self._buffer("zeros", (n, H))
        zeros.fill(0)
        if initial_state is None:
            return [zeros] * nd, [zeros] * nd, False
        if self._cell == "lstm":
            if not (isinstance(initial_state, (tuple, list)) and len(initial_state) == 2):
                raise ValueError("LSTM initial_state must be a tuple (h0, c0)")
            parts = initial_state
        else:
            parts = (initial_state,)
        out = []
        for name, a in zip(("h0", "c0"), parts):
            a = np.asarray(a, dtype=self.dtype)
            if a.ndim == 2 and nd == 1:
                a = a[None]
            if a.shape != (nd, n, H):
                raise ValueError(
                    f"{name} must have shape {(nd, n, H)} (directions, batch, hidden_size)"
                    f"{' or ' + str((n, H)) if nd == 1 else ''}; got {a.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"{name} contains NaN or infinity")
            out.append([np.ascontiguousarray(a[d]) for d in range(nd)])
        c0 = out[1] if len(out) > 1 else [zeros] * nd
        return out[0], c0, True

    # -- forward / backward ---------------------------------------------------------
    def _forward(self, X, training=False, initial_state=None):
        """Run the layer over a batch of sequences.

        Parameters
        ----------
        X : ndarray of shape (n, T, F)
            NaN-padded at the end for sequences shorter than ``T``.
        training : bool, default=False
            Keep what ``backward`` needs.
        initial_state : ndarray or tuple of ndarray, default=None
            ``h0`` (``(h0, c0)`` for LSTM) of shape ``(directions, n,
            hidden_size)`` (or ``(n, hidden_size)`` for one direction);
            zeros when None.  After ``backward``, ``initial_state_grad``
            holds dL/d(initial state) in the same form.

        Returns
        -------
        Y : ndarray of shape (n, T, D*hidden_size) or (n, D*hidden_size)
            All states (NaN at padded steps) or the final state, directions
            concatenated along the last axis (D = 2 if bidirectional).
            ``final_state`` holds ``h_n`` (and ``c_n``) of shape ``(D, n,
            hidden_size)`` (internal buffers: copy to keep).
        """
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if X.ndim != 3 or X.shape[2] != self.input_shape[1]:
            raise ValueError(
                f"{type(self).__name__} expects X of shape (n, T, {self.input_shape[1]}); "
                f"got {X.shape}")
        n, T, F = X.shape
        if n == 0 or T == 0:
            raise ValueError(f"{type(self).__name__} got an empty batch of shape {X.shape}")
        H, nd = self.hidden_size, self._ndir
        GH = _GATES[self._cell] * H
        lengths, pad = sequence_lengths(X)
        if pad is not None:
            Xc = self._buffer("Xc", X.shape)
            np.copyto(Xc, X)
            Xc[pad] = 0  # padded steps are all-NaN rows: make them finite zeros
        else:
            Xc = X
        X2 = Xc.reshape(n * T, F)
        h0s, c0s, has_init = self._initial_states(initial_state, n)
        cell = _CELL_CODES[self._cell]
        nt = self._threads(n, GH)
        dummy = self._buffer("dummy", (1, 1))
        hN = self._buffer("hN", (nd, n, H))
        cN = self._buffer("cN", (nd, n, H)) if self._cell == "lstm" else None
        saved = []
        # inference keeps no per-step workspace: one row per sequence,
        # and every step's state only when it is the output
        keep_states = training or self.return_sequences
        tb = T if training else _time_block(n, T, GH, F, H)
        ws = _k.workspace(cell=cell, n=n, T=T, F=F, H=H, keep_gates=training,
                          keep_states=keep_states)
        for d, sfx in enumerate(self._suffixes):
            p = self.params
            tag = "" if training else "i"
            G = self._buffer(f"G{tag}{d}", ws["G"])
            if not training and self.return_sequences and nd == 1:
                # one direction at inference: the states are the output
                Hs = self._buffer("Y", (n, T, H)).reshape(n * T, H)
            else:
                Hs = self._buffer(f"Hs{tag}{d}", ws["Hs"])
            Cs = self._buffer(f"Cs{tag}{d}", ws["Cs"]) if self._cell != "rnn" else dummy
            TC = self._buffer(f"TC{tag}{d}", ws["TC"]) if self._cell == "lstm" else dummy
            work = self._buffer("work", ws["work"])
            Bcat = self._buffer("Bcat", ws["Bcat"])
            A = self._buffer("A", ws["A"])
            h = hN[d]
            h[...] = h0s[d]
            if cN is not None:
                c = cN[d]
                c[...] = c0s[d]
            else:
                c = dummy
            weights = (p["weight_ih" + sfx], p["weight_hh" + sfx], p["bias_ih" + sfx],
                       p["bias_hh" + sfx])
            with blas_single_thread():
                if tb >= T:
                    _k.forward(X2, *weights, lengths, h, c, G, Hs, Cs, TC, work, Bcat, A,
                               cell=cell, reverse=d == 1, keep_gates=training,
                               keep_states=keep_states, n_threads=nt)
                else:
                    self._forward_blocks(cell, Xc, weights, lengths, d == 1, h, c, G, Hs,
                                         Cs, TC, keep_states, work, Bcat, A, nt, tb)
            saved.append((G, Hs, Cs, TC))
        # per thread, like the scratch: inference stores nothing on self
        self._tls.final_state = (hN, cN) if self._cell == "lstm" else hN
        if self.return_sequences:
            Y = self._buffer("Y", (n, T, nd * H))
            for d in range(nd):
                Hs = saved[d][1].reshape(n, T, H)
                if not np.may_share_memory(Hs, Y):  # one direction at inference: Y is Hs
                    Y[:, :, d * H:(d + 1) * H] = Hs
            if pad is not None:
                Y[pad] = np.nan
        else:
            Y = self._buffer("Y", (n, nd * H))
            for d in range(nd):
                Y[:, d * H:(d + 1) * H] = hN[d]
        if training:
            self._saved = saved
            self._ctx = (X2, lengths, h0s, c0s, has_init, (n, T, F))
        return Y

    def _forward_blocks(self, cell, Xc, weights, lengths, reverse, h, c, G, Hs, Cs, TC,
                        keep_states, work, Bcat, A, nt, tb):
        """Inference over blocks of ``tb`` steps: one kernel call each, the state
        (``h``, ``c``) carried from call to call.

        Block ``k`` holds loop steps ``s0 = k tb`` to ``s0 + tb`` of every
        sequence, i.e. times ``s`` (forward) or ``L - 1 - s`` (reverse, from
        each sequence's own last valid step): the input rows are gathered in
        processing order, so every call runs forward in time, and a sequence
        with ``L <= s0`` is all padding in the block (its state is carried).
        Each step is the kernel's own arithmetic on the same rows: the results
        are bitwise those of one call.
        """
        n, T, F = Xc.shape
        H = self.hidden_size
        Hs3 = Hs.reshape(n, T, H) if keep_states else None
        rows = np.arange(n)[:, None]
        for s0 in range(0, T, tb):
            s1 = min(T, s0 + tb)
            steps = np.arange(s0, s1)
            blen = np.clip(lengths - s0, 0, s1 - s0).astype(np.int32)
            if reverse:
                t = lengths[:, None] - 1 - steps[None, :]        # (n, block) times
                Xb = Xc[rows, np.clip(t, 0, T - 1)]
            else:
                Xb = Xc[:, s0:s1]
            Xb = np.ascontiguousarray(Xb).reshape(-1, F)
            Hb = self._buffer("Hblock", (Xb.shape[0], H)) if keep_states else Hs
            _k.forward(Xb, *weights, blen, h, c, G, Hb, Cs, TC, work, Bcat, A, cell=cell,
                       reverse=False, keep_gates=False, keep_states=keep_states,
                       n_threads=nt)
            if keep_states:
                Hb = Hb.reshape(n, s1 - s0, H)
                if reverse:
                    valid = t >= 0
                    Hs3[np.broadcast_to(rows, t.shape)[valid], t[valid]] = Hb[valid]
                else:
                    Hs3[:, s0:s1] = Hb
            raise_if_cancelled()  # a worker's share of an interrupted call stops here

    def _backward(self, dY):
        if getattr(self, "_saved", None) is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward needs a forward(X, training=True) first, one "
                "per backward: the previous backward used the workspace it kept")
        X2, lengths, h0s, c0s, has_init, (n, T, F) = self._ctx
        H, nd = self.hidden_size, self._ndir
        GH = _GATES[self._cell] * H
        dY = np.ascontiguousarray(dY, dtype=self.dtype)
        cell = _CELL_CODES[self._cell]
        nt = self._threads(n, GH)
        need_dx = self.needs_input_grad
        dX = self._buffer("dX", (n * T, F)) if need_dx else self._buffer("dummy", (1, 1))
        ws = _k.workspace(cell=cell, n=n, T=T, F=F, H=H, keep_gates=True, keep_states=True)
        dGs = self._buffer("dGs", ws["dGs"])
        Z = self._buffer("Z", ws["Z"])
        dWcat = self._buffer("dWcat", ws["dWcat"])
        Wp = self._buffer("Wp", ws["Wp"])
        dh0 = self._buffer("dh0", (nd, n, H))
        dc0 = self._buffer("dc0", (nd, n, H))
        empty = np.empty((0, H), self.dtype)
        if self.return_sequences:
            dflat = dY.reshape(n * T, nd * H)
        for d, sfx in enumerate(self._suffixes):
            G, Hs, Cs, TC = self._saved[d]
            if self.return_sequences:
                dseq, dlast = dflat[:, d * H:(d + 1) * H], empty
            else:
                dseq, dlast = empty, dY[:, d * H:(d + 1) * H]
            with blas_single_thread():
                _k.backward(X2, self.params["weight_ih" + sfx],
                            self.params["weight_hh" + sfx], lengths, h0s[d], c0s[d],
                            G, Hs, Cs, TC, dseq, dlast,
                            self.grads["weight_ih" + sfx], self.grads["weight_hh" + sfx],
                            self.grads["bias_ih" + sfx], self.grads["bias_hh" + sfx],
                            dX, dh0[d], dc0[d], dGs, Z, dWcat, Wp, cell=cell, reverse=d == 1,
                            has_seq=self.return_sequences,
                            has_last=not self.return_sequences, need_dx=need_dx,
                            accumulate_dx=d == 1, n_threads=nt)
        self._saved = None  # the gate workspace now holds gradients
        if has_init:
            self.initial_state_grad = (dh0, dc0) if self._cell == "lstm" else dh0
        else:
            self.initial_state_grad = None
        return dX.reshape(n, T, F) if need_dx else None

    @staticmethod
    def _threads(n, GH):
        # THRESHOLDS["recurrent"] in fastnut._threads: large steps, >= 16 rows a thread
        return threads_for(n * GH, "recurrent", cap=n // 16)

    def __getstate__(self):
        state = super().__getstate__()
        for k in ("_saved", "_ctx"):  # views of scratch buffers
            state.pop(k, None)
        state["initial_state_grad"] = None
        return state


class SimpleRNN(_Recurrent):
    """Elman recurrent layer with tanh: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Parameters
    ----------
    hidden_size : int
        Width ``H`` of the state.
    return_sequences : bool, default=False
        Output every step's state ``(n, T, D*H)`` instead of the final one
        ``(n, D*H)``.
    bidirectional : bool, default=False
        Also run the sequence backwards (parameters with suffix
        ``_reverse``) and concatenate both directions (D = 2).

    Notes
    -----
    Parameters follow PyTorch's ``nn.RNN``: ``weight_ih (H, F)``,
    ``weight_hh (H, H)``, ``bias_ih (H,)``, ``bias_hh (H,)``, initialised
    from ``U(-1/sqrt(H), 1/sqrt(H))``.  Sequences padded at the end with
    all-NaN steps are handled as explained in ``fastnut.nn._recurrent``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import nn
    >>> layer = nn.SimpleRNN(8)
    >>> layer.build((5, 3), random_state=0)
    (8,)
    >>> layer.forward(np.zeros((2, 5, 3), np.float32)).shape
    (2, 8)
    """

    _cell = "rnn"


class LSTM(_Recurrent):
    """Long short-term memory layer (gate order i, f, g, o, as PyTorch).

    Parameters
    ----------
    hidden_size : int
        Width ``H`` of the hidden and cell states.
    return_sequences : bool, default=False
        Output every step's hidden state ``(n, T, D*H)`` instead of the final
        one ``(n, D*H)``.
    bidirectional : bool, default=False
        Also run the sequence backwards and concatenate both directions.

    Notes
    -----
    With ``a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`` split in four blocks of
    ``H`` rows:

    .. math::

        i = \\sigma(a_i),\\ f = \\sigma(a_f),\\ g = \\tanh(a_g),\\ o = \\sigma(a_o),\\quad
        c_t = f c_{t-1} + i g,\\quad h_t = o \\tanh(c_t).

    ``weight_ih (4H, F)``, ``weight_hh (4H, H)``, ``bias_ih (4H,)``,
    ``bias_hh (4H,)`` as in PyTorch's ``nn.LSTM``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import nn
    >>> layer = nn.LSTM(8, return_sequences=True, bidirectional=True)
    >>> layer.build((5, 3), random_state=0)
    (5, 16)
    """

    _cell = "lstm"


class GRU(_Recurrent):
    """Gated recurrent unit layer (gate order r, z, n, as PyTorch).

    Parameters
    ----------
    hidden_size : int
        Width ``H`` of the state.
    return_sequences : bool, default=False
        Output every step's state ``(n, T, D*H)`` instead of the final one.
    bidirectional : bool, default=False
        Also run the sequence backwards and concatenate both directions.

    Notes
    -----
    .. math::

        r = \\sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}),\\quad
        z = \\sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}),

        n = \\tanh(W_{in} x + b_{in} + r (W_{hn} h + b_{hn})),\\quad
        h_t = (1 - z) n + z h_{t-1}.

    ``weight_ih (3H, F)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)``,
    ``bias_hh (3H,)`` as in PyTorch's ``nn.GRU``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import nn
    >>> layer = nn.GRU(8)
    >>> layer.build((5, 3), random_state=0)
    (8,)
    """

    _cell = "gru"
