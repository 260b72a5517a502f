"""Slow, obviously-correct NumPy recurrent cells (the oracle for fastnut.nn's
SimpleRNN, LSTM and GRU): one sequence, one step at a time, float64."""
import numpy as np


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def cell_step(cell, x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One step of one sequence; returns the new (h, c)."""
    H = h.shape[0]
    if cell == "rnn":
        return np.tanh(W_ih @ x + b_ih + W_hh @ h + b_hh), c
    if cell == "lstm":
        a = W_ih @ x + b_ih + W_hh @ h + b_hh
        i, f, g, o = (a[k * H:(k + 1) * H] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        return _sigmoid(o) * np.tanh(c), c
    if cell == "gru":
        ax = W_ih @ x + b_ih
        ah = W_hh @ h + b_hh
        r = _sigmoid(ax[:H] + ah[:H])
        z = _sigmoid(ax[H:2 * H] + ah[H:2 * H])
        n = np.tanh(ax[2 * H:] + r * ah[2 * H:])
        return (1 - z) * n + z * h, c
    raise ValueError(cell)


def run_direction(cell, X, W_ih, W_hh, b_ih, b_hh, reverse=False, h0=None, c0=None):
    """Run one direction over a batch of NaN-padded sequences.

    Returns (states (n, T, H) NaN at padded steps, h_n (n, H), c_n (n, H)).
    """
    X = np.asarray(X, np.float64)
    n, T, _ = X.shape
    H = W_hh.shape[1]
    states = np.full((n, T, H), np.nan)
    hN = np.zeros((n, H))
    cN = np.zeros((n, H))
    for b in range(n):
        L = T
        while L > 0 and np.isnan(X[b, L - 1]).all():
            L -= 1
        h = np.zeros(H) if h0 is None else np.array(h0[b], np.float64)
        c = np.zeros(H) if c0 is None else np.array(c0[b], np.float64)
        steps = range(L - 1, -1, -1) if reverse else range(L)
        for t in steps:
            h, c = cell_step(cell, X[b, t], h, c, W_ih, W_hh, b_ih, b_hh)
            states[b, t] = h
        hN[b], cN[b] = h, c
    return states, hN, cN


def layer_forward(cell, X, params, return_sequences=False, bidirectional=False,
                  h0=None, c0=None):
    """What ``fastnut.nn.{SimpleRNN,LSTM,GRU}.forward`` should return.

    ``params`` uses the PyTorch names (``weight_ih``, ..., ``*_reverse``);
    ``h0``/``c0`` have shape (directions, n, H) or are None.
    """
    outs, finals = [], []
    for d, sfx in enumerate(("", "_reverse") if bidirectional else ("",)):
        p = [np.asarray(params[k + sfx], np.float64)
             for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        states, hN, _ = run_direction(cell, X, *p, reverse=d == 1,
                                      h0=None if h0 is None else h0[d],
                                      c0=None if c0 is None else c0[d])
        outs.append(states)
        finals.append(hN)
    if return_sequences:
        return np.concatenate(outs, axis=2)
    return np.concatenate(finals, axis=1)
