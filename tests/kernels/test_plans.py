"""Each kernel module states the scratch its kernels take, and the kernels hold to it.

``conv.conv2d_plan``, ``conv1d.conv1d_plan``, ``rnn.workspace``,
``rbm.fit_epoch_workspace``, ``rbm.free_energy_workspace``,
``norm.rows_workspace`` and ``som.online_workspace`` give the sizes the Python layers allocate; the kernels
run with arrays of exactly those sizes and refuse an array one element (or one
row) short with a ValueError that names the plan function.
"""
import numpy as np
import pytest

from fastnut._grid import Grid
from fastnut._kernels import conv, conv1d, norm, rbm, rnn, som

RNG = np.random.default_rng(0)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _short(shape):
    """The shape one element short: one row fewer, or one value fewer if 1-D."""
    return (shape[0] - 1,) + tuple(shape[1:])


# -- conv2d ---------------------------------------------------------------------------
def test_conv2d_plan_scratch_one_short_is_refused():
    n, C, H, W, Co, k = 2, 3, 6, 6, 4, 3
    Ho = Wo = H - k + 1
    plan = conv.conv2d_plan(C=C, kh=k, kw=k, sh=1, dh=1, Co=Co, Ho=Ho, Wo=Wo)
    X, Wt, b = _f32(n, C, H, W), _f32(Co, C, k, k), _f32(Co)
    Y = np.empty((n, Co, Ho, Wo), np.float32)
    geom = dict(sh=1, sw=1, ph=0, pw=0, dh=1, dw=1, relu=False, n_threads=1)
    col, g = np.empty((1, plan["col"]), np.float32), np.empty((1, plan["g"]), np.float32)
    wr = np.empty(plan["wr"], np.float32)
    conv.conv2d_forward(X, Wt, b, Y, col, g, wr, **geom)
    for name in ("col", "g"):
        bufs = {"col": col, "g": g}
        bufs[name] = np.empty((1, plan[name] - 1), np.float32)
        with pytest.raises(ValueError, match=f"scratch {name} .*see conv2d_plan"):
            conv.conv2d_forward(X, Wt, b, Y, bufs["col"], bufs["g"], wr, **geom)


# -- conv1d ---------------------------------------------------------------------------
def _conv1d_case(n=3, T=9, C=2, k=3, Co=4):
    To = T - k + 1
    lengths = np.array([T, T - 2, 4][:n], np.int32)
    vout = np.maximum(lengths - k + 1, 0).astype(np.int32)
    X = _f32(n, T, C)
    for i, L in enumerate(lengths):
        X[i, L:] = np.nan
    plan = conv1d.conv1d_plan(n=n, To=To, C=C, k=k, Co=Co)
    return X, _f32(Co, C, k), _f32(Co), lengths, vout, To, plan


def test_conv1d_plan_sizes():
    plan = conv1d.conv1d_plan(n=5, To=7, C=2, k=3, Co=4)
    assert plan == {"nb": 5, "chunks": 1, "col": 5 * 7 * 6, "g": 5 * 7 * 4,
                    "acc": 6 * 4 + 4, "wr": 6 * 4, "slots": 16}
    # ~2**18 lowered values per chunk
    big = conv1d.conv1d_plan(n=1000, To=512, C=16, k=4, Co=8)
    assert big["nb"] == (1 << 18) // (512 * 64) and big["chunks"] == -(-1000 // big["nb"])
    with pytest.raises(ValueError, match="conv1d_plan: sizes must be positive"):
        conv1d.conv1d_plan(n=1, To=1, C=0, k=1, Co=1)


def test_conv1d_scratch_one_short_is_refused():
    X, Wt, b, lengths, vout, To, plan = _conv1d_case()
    n, T, C = X.shape
    Co = Wt.shape[0]
    nt = 1
    Xz = np.where(np.isnan(X), 0, X).astype(np.float32)
    Y = np.empty((n, To, Co), np.float32)
    kw = dict(stride=1, pad=0, dilation=1, nb=plan["nb"], relu=False, n_threads=nt)
    bufs = {name: np.empty((nt, plan[name]), np.float32) for name in ("col", "g", "acc")}
    bufs["wr"] = np.empty(plan["wr"], np.float32)
    conv1d.conv1d_forward(Xz, Wt, b, lengths, vout, Y, bufs["col"], bufs["wr"], **kw)
    dY, dX = _f32(n, To, Co), np.empty_like(Xz)
    dW, db = np.empty_like(Wt), np.empty_like(b)

    def backward(b_):
        conv1d.conv1d_backward(Xz, Wt, dY, Y, lengths, vout, dX, dW, db, b_["col"], b_["g"],
                               b_["acc"], b_["wr"], need_dx=True, **kw)
    backward(bufs)
    for name in ("col", "wr"):
        short = dict(bufs)
        short[name] = (np.empty((nt, plan[name] - 1), np.float32) if name != "wr"
                       else np.empty(plan["wr"] - 1, np.float32))
        with pytest.raises(ValueError, match=f"conv1d_forward: scratch {name} .*conv1d_plan"):
            conv1d.conv1d_forward(Xz, Wt, b, lengths, vout, Y, short["col"], short["wr"], **kw)
    for name in ("col", "g", "acc", "wr"):
        short = dict(bufs)
        short[name] = (np.empty((nt, plan[name] - 1), np.float32) if name != "wr"
                       else np.empty(plan["wr"] - 1, np.float32))
        with pytest.raises(ValueError, match=f"conv1d_backward: scratch {name} .*conv1d_plan"):
            backward(short)
    # one row per thread: 3 chunks of one sequence on 2 threads need 2 rows
    kw2 = dict(kw, nb=1, n_threads=2)
    col1 = np.empty((2, plan["col"] // plan["nb"]), np.float32)
    conv1d.conv1d_forward(Xz, Wt, b, lengths, vout, Y, col1, bufs["wr"], **kw2)
    with pytest.raises(ValueError, match=r"scratch col has shape \(1, .*needs at least \(2"):
        conv1d.conv1d_forward(Xz, Wt, b, lengths, vout, Y, col1[:1], bufs["wr"], **kw2)


def test_conv1d_checks_the_arrays_it_is_given():
    X, Wt, b, lengths, vout, To, plan = _conv1d_case()
    n, T, C = X.shape
    Xz = np.nan_to_num(X)
    Y = np.empty((n, To, Wt.shape[0]), np.float32)
    col, wr = np.empty((1, plan["col"]), np.float32), np.empty(plan["wr"], np.float32)
    kw = dict(stride=1, pad=0, dilation=1, nb=plan["nb"], relu=False, n_threads=1)
    with pytest.raises(ValueError, match="bias has 3 values for 4 filters"):
        conv1d.conv1d_forward(Xz, Wt, b[:3], lengths, vout, Y, col, wr, **kw)
    with pytest.raises(ValueError, match="lengths and vout need 3 values"):
        conv1d.conv1d_forward(Xz, Wt, b, lengths[:2], vout, Y, col, wr, **kw)
    with pytest.raises(ValueError, match="the weight has 2 input channels, X has 1"):
        conv1d.conv1d_forward(np.ascontiguousarray(Xz[:, :, :1]), Wt, b, lengths, vout, Y,
                              col, wr, **kw)


# -- recurrent ------------------------------------------------------------------------
FORWARD = ("G", "Hs", "Cs", "TC", "work", "Bcat", "A")
BACKWARD = ("dGs", "Z", "dWcat", "Wp")
GATES = {rnn.Cell.RNN_TANH: 1, rnn.Cell.LSTM: 4, rnn.Cell.GRU: 3}


def _rnn_case(cell, n=3, T=5, F=2, H=4):
    GH = GATES[cell] * H
    ws = rnn.workspace(cell=cell, n=n, T=T, F=F, H=H, keep_gates=True, keep_states=True)
    arrays = {name: np.zeros(ws[name], np.float32) for name in FORWARD + BACKWARD}
    weights = (_f32(GH, F), _f32(GH, H), _f32(GH), _f32(GH))
    return ws, arrays, weights, _f32(n * T, F), np.array([T, 3, 1], np.int32), (n, T, F, H)


def _rnn_forward(cell, arrays, weights, X, lengths, n, H):
    h, c = np.zeros((n, H), np.float32), np.zeros((n, H), np.float32)
    a = arrays
    rnn.forward(X, *weights, lengths, h, c, a["G"], a["Hs"], a["Cs"], a["TC"], a["work"],
                a["Bcat"], a["A"], cell=cell, reverse=False, keep_gates=True, keep_states=True,
                n_threads=1)


def _rnn_backward(cell, arrays, weights, X, lengths, n, T, F, H):
    GH = weights[0].shape[0]
    a = arrays
    z = np.zeros((n, H), np.float32)
    rnn.backward(X, weights[0], weights[1], lengths, z, z, a["G"], a["Hs"], a["Cs"], a["TC"],
                 np.empty((0, H), np.float32), _f32(n, H), np.empty((GH, F), np.float32),
                 np.empty((GH, H), np.float32), np.empty(GH, np.float32),
                 np.empty(GH, np.float32), np.empty((n * T, F), np.float32),
                 np.empty((n, H), np.float32), np.empty((n, H), np.float32), a["dGs"], a["Z"],
                 a["dWcat"], a["Wp"], cell=cell, reverse=False, has_seq=False, has_last=True,
                 need_dx=True, accumulate_dx=False, n_threads=1)


@pytest.mark.parametrize("cell", list(rnn.Cell))
def test_rnn_workspace_one_row_short_is_refused(cell):
    ws, arrays, weights, X, lengths, (n, T, F, H) = _rnn_case(cell)
    _rnn_forward(cell, arrays, weights, X, lengths, n, H)
    _rnn_backward(cell, arrays, weights, X, lengths, n, T, F, H)
    for name in FORWARD:
        if ws[name] == (1, 1):          # the cell has no such array
            continue
        short = dict(arrays, **{name: np.zeros(_short(ws[name]), np.float32)})
        with pytest.raises(ValueError, match=rf"rnn.forward: {name} has shape .*rnn.workspace"):
            _rnn_forward(cell, short, weights, X, lengths, n, H)
    for name in BACKWARD:
        short = dict(arrays, **{name: np.zeros(_short(ws[name]), np.float32)})
        with pytest.raises(ValueError, match=rf"rnn.backward: {name} has shape .*workspace"):
            _rnn_backward(cell, short, weights, X, lengths, n, T, F, H)


def test_rnn_workspace_shapes():
    ws = rnn.workspace(cell=rnn.Cell.GRU, n=2, T=7, F=3, H=5, keep_gates=False,
                       keep_states=False)
    assert ws["G"] == (2, 15) and ws["Hs"] == (2, 5) and ws["Cs"] == (2, 5)
    assert ws["TC"] == (1, 1) and ws["work"] == (2, 20) and ws["Bcat"] == (8, 20)
    assert ws["A"] == (2, 8) and ws["Z"] == (14, 9) and ws["dWcat"] == (20, 9)
    ws = rnn.workspace(cell=rnn.Cell.LSTM, n=2, T=7, F=3, H=5, keep_gates=True,
                       keep_states=True)
    assert ws["G"] == (14, 20) and ws["Hs"] == (14, 5) and ws["TC"] == (14, 5)
    with pytest.raises(ValueError, match="cell must be an rnn.Cell"):
        rnn.workspace(cell=7, n=1, T=1, F=1, H=1, keep_gates=True, keep_states=True)


def test_rnn_refuses_a_code_outside_the_enum():
    ws, arrays, weights, X, lengths, (n, T, F, H) = _rnn_case(rnn.Cell.LSTM)
    with pytest.raises(ValueError, match="cell must be an rnn.Cell"):
        _rnn_forward(5, arrays, weights, X, lengths, n, H)


# -- rbm ------------------------------------------------------------------------------
def _rbm_epoch(X, starts, n_hid, n_chains, persistent, scratch, **over):
    n_vis = X.shape[1]
    Wt = _f32(n_vis, n_hid) * 0.01
    args = dict(learning_rate=0.1, momentum=0.5, weight_decay=0.0, k=2, persistent=persistent,
                visible_type=rbm.UnitType.BERNOULLI, hidden_scale=1.0, visible_scale=1.0,
                key=1, stream=0, n_threads=1)
    args.update(over)
    chains = np.zeros((n_chains, n_hid), np.float32)
    return rbm.fit_epoch(X, starts, Wt, np.zeros(n_hid, np.float32),
                         np.zeros(n_vis, np.float32), np.zeros_like(Wt),
                         np.zeros(n_hid, np.float32), np.zeros(n_vis, np.float32), chains,
                         *scratch, **args)


@pytest.mark.parametrize("persistent", [False, True])
def test_fit_epoch_workspace_one_row_short_is_refused(persistent):
    X = (RNG.random((23, 6)) < 0.5).astype(np.float32)
    starts = np.array([0, 10, 20, 23], np.intp)
    n_chains = 12 if persistent else 10
    ws = rbm.fit_epoch_workspace(max_batch=10, n_chains=n_chains, n_visible=6, n_hidden=5)
    # the smallest the kernel accepts: R = n_chains (PCD) or the batch (CD)
    R = n_chains if persistent else 10
    need = {"Hcat": (10 + R, 5), "Vcat": (10 + R, 6), "Hs": (R, 5)}
    assert all(ws[k][0] >= need[k][0] and ws[k][1] == need[k][1] for k in need)
    names = ("Hcat", "Vcat", "Hs")
    _rbm_epoch(X, starts, 5, n_chains, persistent,
               [np.empty(ws[k], np.float32) for k in names])
    _rbm_epoch(X, starts, 5, n_chains, persistent,
               [np.empty(need[k], np.float32) for k in names])
    for name in names:
        scratch = [np.empty(_short(need[k]) if k == name else need[k], np.float32)
                   for k in names]
        with pytest.raises(ValueError,
                           match=f"fit_epoch: scratch {name} .*see fit_epoch_workspace"):
            _rbm_epoch(X, starts, 5, n_chains, persistent, scratch)


def test_fit_epoch_checks_codes_and_batches():
    X = np.zeros((4, 3), np.float32)
    ws = rbm.fit_epoch_workspace(max_batch=4, n_chains=4, n_visible=3, n_hidden=2)
    scratch = [np.empty(ws[k], np.float32) for k in ("Hcat", "Vcat", "Hs")]
    with pytest.raises(ValueError, match="visible_type must be a UnitType"):
        _rbm_epoch(X, np.array([0, 4], np.intp), 2, 4, False, scratch, visible_type=3)
    with pytest.raises(ValueError, match=r"batch 0 \[0, 5\) is outside X's 4 rows"):
        _rbm_epoch(X, np.array([0, 5], np.intp), 2, 4, False, scratch)


def test_free_energy_workspace():
    assert rbm.free_energy_workspace(n_rows=10, n_hidden=3) == {"scratch": (10, 3)}
    assert rbm.free_energy_workspace(n_rows=0, n_hidden=3) == {"scratch": (1, 3)}
    assert rbm.free_energy_workspace(n_rows=10 ** 6, n_hidden=3) == {"scratch": (4096, 3)}
    X, Wt = _f32(10, 4), _f32(4, 3)
    bh, bv, out = _f32(3), _f32(4), np.empty(10)
    ws = rbm.free_energy_workspace(n_rows=10, n_hidden=3)
    rbm.free_energy(X, Wt, bh, bv, np.empty(ws["scratch"], np.float32), out, gaussian=False,
                    n_threads=1)
    # a smaller chunk gives the same energies
    small = np.empty_like(out)
    rbm.free_energy(X, Wt, bh, bv, np.empty((3, 3), np.float32), small, gaussian=False,
                    n_threads=1)
    np.testing.assert_allclose(small, out, rtol=1e-6)
    with pytest.raises(ValueError, match="scratch scratch .*see free_energy_workspace"):
        rbm.free_energy(X, Wt, bh, bv, np.empty((3, 2), np.float32), out, gaussian=False,
                        n_threads=1)


# -- som ------------------------------------------------------------------------------
def test_online_workspace_one_short_is_refused():
    grid = Grid(2, 3)
    U = grid.n_units
    need = som.online_workspace(n_units=U)["scratch"]
    assert need == 2 * U
    cells, width = grid.cells()
    X = np.ones((1, 2))
    args = dict(n_rows=grid.n_rows, width=width, periodic=grid.periodic,
                class_sq=grid.class_sq_distances(), metric=som.Metric.EUCLIDEAN,
                kind=som.Neighborhood.GAUSSIAN, decay=som.Decay.LINEAR, sigma_start=1.0,
                sigma_end=1.0, lr_start=0.5, lr_end=0.5, p_first=0.0, p_last=1.0)
    W, aux = np.zeros((U, 2)), np.zeros(U)
    order = np.array([0], np.intp)
    som.online_epoch(X, order, W, aux, cells, scratch=np.empty(need), **args)
    with pytest.raises(ValueError, match="online_epoch: scratch must hold .*online_workspace"):
        som.online_epoch(X, order, W, aux, cells, scratch=np.empty(need - 1), **args)


# -- normalization over rows ----------------------------------------------------------
@pytest.mark.parametrize("n_threads", [1, 2, 8])
def test_rows_workspace_one_row_short_is_refused(n_threads):
    n, T, F = 5, 4, 3
    X, dY = _f32(n, T, F), _f32(n, T, F)
    lengths = np.array([4, 2, 1, 4, 3], np.int32)
    mu = np.zeros(F)
    ws = norm.rows_workspace(n=n, F=F, n_threads=n_threads)
    assert ws["threads"] == min(n_threads, n)
    assert ws["part"] == (ws["threads"], F) and ws["gpart"] == (ws["threads"], 2 * F)
    part = np.empty(ws["part"])
    norm.rows_sums(X, lengths, mu, part, square=False, n_threads=n_threads)
    valid = np.concatenate([X[i, :L] for i, L in enumerate(lengths)])
    np.testing.assert_allclose(part[:ws["threads"]].sum(axis=0), valid.sum(axis=0), rtol=1e-6)
    gpart = np.empty(ws["gpart"])
    norm.rows_grad_sums(dY, X, X, lengths, mu, gpart, relu=False, n_threads=n_threads)
    dvalid = np.concatenate([dY[i, :L] for i, L in enumerate(lengths)])
    np.testing.assert_allclose(gpart[:ws["threads"], :F].sum(axis=0), dvalid.sum(axis=0),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="rows_sums: part has shape .*rows_workspace"):
        norm.rows_sums(X, lengths, mu, np.empty(_short(ws["part"])), square=False,
                       n_threads=n_threads)
    with pytest.raises(ValueError, match="rows_sums: part has shape .*rows_workspace"):
        norm.rows_sums(X, lengths, mu, np.empty((ws["threads"], F - 1)), square=False,
                       n_threads=n_threads)
    with pytest.raises(ValueError, match="rows_grad_sums: part has shape .*rows_workspace"):
        norm.rows_grad_sums(dY, X, X, lengths, mu, np.empty((ws["threads"], 2 * F - 1)),
                            relu=False, n_threads=n_threads)
