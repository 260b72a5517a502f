"""Recurrent layers (fastnut.nn.SimpleRNN / LSTM / GRU) and the rnn kernel.

Checked against the NumPy cells in tests/_reference/rnn.py, against central
finite differences in float64, and against PyTorch when it is installed.
"""
import pickle

import numpy as np
import pytest

from fastnut import nn
from fastnut.nn import _recurrent
from tests._reference.gradcheck import numerical_gradient
from tests._reference.rnn import layer_forward

CELLS = {"rnn": nn.SimpleRNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _padded(rng, n, T, F, lengths):
    X = rng.standard_normal((n, T, F))
    for b, L in enumerate(lengths):
        X[b, L:] = np.nan
    return X


def _layer(cell, H, T, F, dtype=np.float64, seed=0, **kw):
    layer = CELLS[cell](H, **kw)
    layer.build((T, F), random_state=seed, dtype=dtype)
    return layer


def _init(cell, rng, nd, n, H):
    h0 = rng.standard_normal((nd, n, H))
    if cell == "lstm":
        return (h0, rng.standard_normal((nd, n, H)))
    return h0


# -- forward against the NumPy reference -------------------------------------------

@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_matches_reference(cell, dtype, tol, return_sequences, bidirectional):
    rng = np.random.default_rng(1)
    n, T, F, H = 4, 6, 5, 7  # odd sizes
    X = _padded(rng, n, T, F, [6, 3, 1, 5])
    layer = _layer(cell, H, T, F, dtype, return_sequences=return_sequences,
                   bidirectional=bidirectional)
    Xd = X.astype(dtype)
    X_before = Xd.copy()
    Y = layer.forward(Xd)
    np.testing.assert_array_equal(Xd, X_before)  # input untouched
    R = layer_forward(cell, X, layer.params, return_sequences, bidirectional)
    assert Y.dtype == dtype and Y.shape == R.shape
    np.testing.assert_array_equal(np.isnan(Y), np.isnan(R))  # NaN exactly at padding
    np.testing.assert_allclose(np.nan_to_num(Y), np.nan_to_num(R), atol=tol, rtol=0)


@pytest.mark.parametrize("cell", list(CELLS))
def test_forward_with_initial_state(cell):
    rng = np.random.default_rng(2)
    n, T, F, H = 3, 4, 2, 5
    X = _padded(rng, n, T, F, [4, 2, 3])
    layer = _layer(cell, H, T, F, return_sequences=True, bidirectional=True)
    init = _init(cell, rng, 2, n, H)
    Y = layer.forward(X, initial_state=init)
    h0, c0 = init if cell == "lstm" else (init, None)
    R = layer_forward(cell, X, layer.params, True, True, h0=h0, c0=c0)
    np.testing.assert_allclose(np.nan_to_num(Y), np.nan_to_num(R), atol=1e-12)
    # the final state is the state at each sequence's last valid step
    hN = layer.final_state[0] if cell == "lstm" else layer.final_state
    np.testing.assert_allclose(hN[0], layer_forward(cell, X, layer.params, False, True,
                                                    h0=h0, c0=c0)[:, :H], atol=1e-12)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("n, T", [(1, 1), (1, 5), (3, 1)])
def test_edge_sizes(cell, n, T):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, T, 3))
    for rs in (False, True):
        layer = _layer(cell, 4, T, 3, return_sequences=rs, bidirectional=True)
        Y = layer.forward(X, training=True)
        np.testing.assert_allclose(Y, layer_forward(cell, X, layer.params, rs, True), atol=1e-12)
        dX = layer.backward(np.ones_like(Y))
        assert dX.shape == X.shape and np.isfinite(dX).all()


# -- gradients ------------------------------------------------------------------------

def _loss(layer, X, R, init):
    return float(np.nansum(layer.forward(X, training=True, initial_state=init) * R))


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("return_sequences, bidirectional",
                         [(False, False), (True, False), (False, True), (True, True)])
def test_gradients_finite_differences(cell, return_sequences, bidirectional):
    """Every parameter, the input and the initial state, with padding (float64)."""
    rng = np.random.default_rng(4)
    n, T, F, H = 3, 4, 2, 3
    X = _padded(rng, n, T, F, [4, 2, 1])
    layer = _layer(cell, H, T, F, return_sequences=return_sequences,
                   bidirectional=bidirectional, seed=5)
    nd = 2 if bidirectional else 1
    init = _init(cell, rng, nd, n, H)
    Y = layer.forward(X, training=True, initial_state=init)
    R = rng.standard_normal(Y.shape)
    # NaN in the output gradient at padded steps must be ignored
    dX = layer.backward(np.where(np.isnan(Y), np.nan, R)).copy()
    grads = {k: v.copy() for k, v in layer.grads.items()}
    ig = layer.initial_state_grad
    ig = [a.copy() for a in ig] if cell == "lstm" else [ig.copy()]
    f = lambda: _loss(layer, X, R, init)  # noqa: E731
    assert set(grads) == set(layer.params)
    for name, p in layer.params.items():
        np.testing.assert_allclose(grads[name], numerical_gradient(f, p), atol=1e-7, err_msg=name)
    np.testing.assert_allclose(dX, numerical_gradient(f, X), atol=1e-7)
    assert (dX[np.isnan(X)] == 0).all()
    states = init if cell == "lstm" else (init,)
    for g, s in zip(ig, states):
        np.testing.assert_allclose(g, numerical_gradient(f, s), atol=1e-7)


@pytest.mark.parametrize("cell", list(CELLS))
def test_float32_matches_float64(cell):
    rng = np.random.default_rng(6)
    n, T, F, H = 5, 9, 4, 16
    X = _padded(rng, n, T, F, [9, 9, 4, 7, 2])
    out = {}
    for dt in (np.float32, np.float64):
        layer = _layer(cell, H, T, F, dt, return_sequences=True, bidirectional=True)
        Y = layer.forward(X.astype(dt), training=True)
        dY = np.nan_to_num(Y * 0 + 1).astype(dt)
        out[dt] = (Y.copy(), layer.backward(dY).copy(),
                   {k: v.copy() for k, v in layer.grads.items()})
    Y32, dX32, g32 = out[np.float32]
    Y64, dX64, g64 = out[np.float64]
    np.testing.assert_allclose(np.nan_to_num(Y32), np.nan_to_num(Y64), atol=1e-5)
    np.testing.assert_allclose(dX32, dX64, atol=1e-4)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], atol=1e-4, rtol=1e-4, err_msg=k)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("n, H", [(1, 16), (7, 24), (13, 32), (8, 12)])
def test_float32_simd_paths_match_float64(cell, n, H):
    """Widths that take the AVX-512 per-step kernel (multiples of 16, with
    64-wide and 16-wide column blocks), the AVX2 + FMA cells (multiples of 8;
    12 takes the compiler's loops), and batches with row remainders (8 rows:
    two 4-row blocks)."""
    rng = np.random.default_rng(12)
    T, F = 5, 3
    X = _padded(rng, n, T, F, rng.integers(1, T + 1, size=n))
    out = {}
    for dt in (np.float32, np.float64):
        layer = _layer(cell, H, T, F, dt, return_sequences=True, bidirectional=True)
        Y = layer.forward(X.astype(dt), training=True).copy()
        dX = layer.backward(np.nan_to_num(Y * 0 + 1).astype(dt)).copy()
        out[dt] = (Y, dX, {k: v.copy() for k, v in layer.grads.items()}, layer.params)
    Y32, dX32, g32, _ = out[np.float32]
    Y64, dX64, g64, p64 = out[np.float64]
    R = layer_forward(cell, X, p64, True, True)
    np.testing.assert_allclose(np.nan_to_num(Y32), np.nan_to_num(R), atol=2e-5)
    np.testing.assert_allclose(dX32, dX64, atol=1e-4)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], atol=1e-4, rtol=1e-4, err_msg=k)


def test_concurrent_inference_matches_serial():
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    rng = np.random.default_rng(13)
    layer = _layer("lstm", 32, 6, 4, np.float32, return_sequences=True, bidirectional=True)
    batches = [_padded(rng, 5 + i, 6, 4, [6, 3, 1, 4, 2] + [6] * i).astype(np.float32)
               for i in range(6)]
    serial = [layer.forward(X).copy() for X in batches]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            got = list(pool.map(lambda X: layer.forward(X).copy(), batches))
            for a, b in zip(got, serial):
                np.testing.assert_array_equal(a, b)
    # the layers cap BLAS at one thread while they run, and put it back
    assert blas_threads() == before


# -- variable lengths -------------------------------------------------------------------

@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_padded_batch_equals_each_sequence_alone(cell, return_sequences):
    rng = np.random.default_rng(7)
    T, F, H = 7, 3, 5
    lengths = [7, 4, 1, 6]
    X = _padded(rng, len(lengths), T, F, lengths)
    layer = _layer(cell, H, T, F, return_sequences=return_sequences, bidirectional=True)
    Y = layer.forward(X, training=True).copy()
    dY = rng.standard_normal(Y.shape)
    dX = layer.backward(dY).copy()
    total = {k: np.zeros_like(v) for k, v in layer.grads.items()}
    for b, L in enumerate(lengths):
        Yb = layer.forward(X[b:b + 1, :L], training=True)
        if return_sequences:
            np.testing.assert_allclose(Yb[0], Y[b, :L], atol=1e-12)
            assert np.isnan(Y[b, L:]).all()
            dXb = layer.backward(dY[b:b + 1, :L])
        else:
            np.testing.assert_allclose(Yb[0], Y[b], atol=1e-12)
            dXb = layer.backward(dY[b:b + 1])
        np.testing.assert_allclose(dXb[0], dX[b, :L], atol=1e-12)
        assert (dX[b, L:] == 0).all()
        for k, v in layer.grads.items():
            total[k] += v
    layer.forward(X, training=True)
    layer.backward(dY)
    for k, v in layer.grads.items():
        np.testing.assert_allclose(v, total[k], atol=1e-12, err_msg=k)


def test_stacked_layers_in_sequential_keep_lengths():
    rng = np.random.default_rng(8)
    T, F = 6, 3
    lengths = [6, 2, 4]
    X = _padded(rng, 3, T, F, lengths)
    net = nn.Sequential([nn.LSTM(5, return_sequences=True, bidirectional=True), nn.GRU(4)])
    net.build((T, F), random_state=0, dtype=np.float64)
    Y = net.forward(X, training=True).copy()
    assert np.isfinite(Y).all()
    for b, L in enumerate(lengths):
        np.testing.assert_allclose(net.forward(X[b:b + 1, :L])[0], Y[b], atol=1e-12)


def test_threads_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(9)
    X = _padded(rng, 16, 5, 3, [5, 3] * 8)
    res = []
    for nt in (1, 2):
        monkeypatch.setattr(_recurrent._Recurrent, "_threads", staticmethod(lambda n, GH: nt))
        layer = _layer("lstm", 8, 5, 3, np.float32, return_sequences=True, bidirectional=True)
        Y = layer.forward(X.astype(np.float32), training=True).copy()
        dX = layer.backward(np.nan_to_num(Y)).copy()
        res.append((Y, dX, layer.grads["weight_hh"].copy()))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


# -- PyTorch parity (skipped when torch is not installed) -------------------------------

@pytest.mark.parametrize("cell", list(CELLS))
def test_matches_torch(cell):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    n, T, F, H = 3, 5, 4, 6
    X = rng.standard_normal((n, T, F))
    layer = _layer(cell, H, T, F, return_sequences=True, bidirectional=True)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    m = cls(F, H, batch_first=True, bidirectional=True).double()
    with torch.no_grad():
        for name, p in layer.params.items():
            tname = name.replace("_reverse", "_l0_reverse") if "reverse" in name else name + "_l0"
            getattr(m, tname).copy_(torch.from_numpy(p))
    xt = torch.from_numpy(X).requires_grad_(True)
    out, _ = m(xt)
    dY = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(dY))
    Y = layer.forward(X, training=True)
    np.testing.assert_allclose(Y, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.backward(dY), xt.grad.numpy(), atol=1e-12)
    for name in layer.params:
        tname = name.replace("_reverse", "_l0_reverse") if "reverse" in name else name + "_l0"
        np.testing.assert_allclose(layer.grads[name], getattr(m, tname).grad.numpy(),
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", list(CELLS))
def test_training_loop_matches_a_torch_adam_loop(cell):
    """Same initial weights, same batches: a GRU/LSTM/RNN + Dense trained by
    fastnut's Trainer (Adam, mean cross-entropy, no L2, no clipping) follows
    the plain PyTorch loop's loss curve (Adam's epsilon made negligible: fastnut
    adds it to sqrt(v) before the bias correction, as scikit-learn; PyTorch after)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    n, T, F, H, K = 40, 6, 2, 8, 3
    X = rng.standard_normal((n, T, F))
    X[::4, 4:] = np.nan  # some shorter sequences: the head reads the last valid step
    y = rng.integers(0, K, n)
    torch.manual_seed(0)
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        F, H, batch_first=True).double()
    head = torch.nn.Linear(H, K).double()
    net = nn.Sequential([CELLS[cell](H), nn.Dense(K)])
    net.build((T, F), random_state=0, dtype=np.float64)
    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        net.params["0." + k][...] = getattr(rnn, k + "_l0").detach().numpy()
    net.params["1.weight"][...] = head.weight.detach().numpy().T
    net.params["1.bias"][...] = head.bias.detach().numpy()
    config = nn.TrainConfig(solver="adam", learning_rate_init=1e-2, batch_size=16,
                            shuffle=False, max_iter=4, alpha=0.0, clip_norm=None,
                            epsilon=1e-14, n_iter_no_change=None)
    trainer = nn.Trainer(net, nn.SoftmaxCrossEntropy(), config)
    trainer.fit_epochs(X, np.eye(K)[y])
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-2, eps=1e-14)
    lengths = torch.as_tensor((~np.isnan(X).all(axis=2)).sum(axis=1))
    x, yt = torch.from_numpy(np.nan_to_num(X)), torch.from_numpy(y)
    curve = []
    for _ in range(4):
        total = 0.0
        for s in range(0, n, 16):
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                x[s:s + 16], lengths[s:s + 16], batch_first=True, enforce_sorted=False)
            h = rnn(packed)[1]
            h = h[0] if cell == "lstm" else h
            loss = torch.nn.functional.cross_entropy(head(h[-1]), yt[s:s + 16])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(yt[s:s + 16])
        curve.append(total / n)
    np.testing.assert_allclose(trainer.loss_curve, curve, rtol=1e-9)
    np.testing.assert_allclose(net.params["0.weight_hh"], rnn.weight_hh_l0.detach().numpy(),
                               rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("cell", list(CELLS))
def test_initialisation_is_pytorchs_rule(cell):
    """Every weight and both biases from U(-1/sqrt(H), 1/sqrt(H)), as the
    layers' docs and PyTorch's nn.RNN/LSTM/GRU (the recipe RNNClassifier's
    accuracy is measured against in benchmarks/rnn_study.py)."""
    from scipy import stats
    H, F = 16, 5
    layer = _layer(cell, H, 7, F, bidirectional=True, seed=1)
    k = 1 / np.sqrt(H)
    for name, p in layer.params.items():
        assert np.abs(p).max() <= k, name
        assert stats.kstest(p.ravel(), stats.uniform(-k, 2 * k).cdf).pvalue > 1e-3, name
    # both directions, every parameter, independent draws
    assert not np.allclose(layer.params["weight_ih"], layer.params["weight_ih_reverse"])
    assert not np.allclose(layer.params["bias_ih"], layer.params["bias_hh"])


# -- layer API and bad input ------------------------------------------------------------

def test_parameter_names_and_shapes():
    H, F = 5, 3
    for cell, g in (("rnn", 1), ("lstm", 4), ("gru", 3)):
        layer = _layer(cell, H, 4, F, bidirectional=True)
        assert layer.params["weight_ih"].shape == (g * H, F)
        assert layer.params["weight_hh_reverse"].shape == (g * H, H)
        assert layer.params["bias_ih"].shape == (g * H,)
        assert set(layer.params) == {f"{k}{s}" for k in ("weight_ih", "weight_hh", "bias_ih",
                                                         "bias_hh") for s in ("", "_reverse")}


def test_bad_input():
    layer = _layer("lstm", 4, 5, 3)
    X = np.random.default_rng(0).standard_normal((2, 5, 3))
    with pytest.raises(ValueError, match=r"\(n, T, 3\)"):
        layer.forward(X[:, :, :2])
    bad = X.copy()
    bad[0, 1, 0] = np.nan  # NaN inside the valid steps
    with pytest.raises(ValueError, match="NaN inside"):
        layer.forward(bad)
    bad = X.copy()
    bad[1, 2:, 1] = np.nan  # trailing but not whole steps
    with pytest.raises(ValueError, match="NaN inside"):
        layer.forward(bad)
    bad = X.copy()
    bad[1] = np.nan
    with pytest.raises(ValueError, match="all NaN"):
        layer.forward(bad)
    bad = X.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        layer.forward(bad)
    with pytest.raises(ValueError, match="tuple"):
        layer.forward(X, initial_state=np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 2, 4\)"):
        layer.forward(X, initial_state=(np.zeros((2, 2, 4)), np.zeros((1, 2, 4))))
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRU(0)
    with pytest.raises(ValueError, match="expects inputs of shape"):
        nn.GRU(3).build((5,))


def test_pickle_roundtrip():
    rng = np.random.default_rng(11)
    X = _padded(rng, 3, 4, 2, [4, 1, 3])
    layer = _layer("gru", 5, 4, 2, return_sequences=True, bidirectional=True)
    Y = layer.forward(X, training=True).copy()
    clone = pickle.loads(pickle.dumps(layer))
    np.testing.assert_array_equal(clone.forward(X), Y)
    assert repr(clone) == "GRU(hidden_size=5, return_sequences=True, bidirectional=True)"
