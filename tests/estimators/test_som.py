"""SelfOrganizingMap: grid geometry and the estimator (quality on digits, schedules,
threads, persistence, bad input, plots)."""
import io
import pickle
import contextlib

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits

import fastnut
from fastnut import SelfOrganizingMap
from fastnut._grid import Grid
from tests._reference import som as ref

# -- grid geometry (hand-worked cases) --------------------------------------------

def test_grid_rectangular_planar_and_toroidal():
    g = Grid(3, 4)
    assert_allclose(g.pair_distances([0], [11]), [np.sqrt(13)])  # (0,0)-(2,3)
    assert g.adjacent([5], [10])[0]                               # diagonal: Moore
    assert not g.adjacent([0], [2])[0]
    assert_array_equal(g.neighbors()[0], [1, 4, 5])
    t = Grid(4, 5, periodic=True)
    assert_allclose(t.pair_distances([0], [19]), [np.sqrt(2)])    # (0,0)-(3,4) wraps
    assert_allclose(t.pair_distances([0], [2]), [2.0])
    assert_allclose(t.pair_distances([0], [3]), [2.0])            # 3 columns one way, 2 the other
    assert_array_equal(t.neighbors()[0], [1, 4, 5, 6, 9, 15, 16, 19])
    assert all(len(nb) == 8 for nb in t.neighbors())


def test_grid_hexagonal_planar_and_toroidal():
    g = Grid(4, 4, "hexagonal")
    for u in range(16):
        assert_allclose(g.coordinates[u], ref.hex_position(*divmod(u, 4)))
    # odd row (1,1) = unit 5 and even row (2,1) = unit 9
    assert_array_equal(g.neighbors()[5], [1, 2, 4, 6, 9, 10])
    assert_array_equal(g.neighbors()[9], [4, 5, 8, 10, 12, 13])
    assert_allclose(g.pair_distances([5] * 6, [1, 2, 4, 6, 9, 10]), 1.0)
    assert_allclose(g.pair_distances([0], [5]), [np.sqrt(3)])
    t = Grid(4, 4, "hexagonal", periodic=True)
    assert_array_equal(t.neighbors()[0], [1, 3, 4, 7, 12, 15])
    assert all(len(nb) == 6 for nb in t.neighbors())
    with pytest.raises(ValueError, match="even n_rows"):
        Grid(5, 4, "hexagonal", periodic=True)


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
@pytest.mark.parametrize("periodic", [False, True])
def test_grid_distance_table_matches_positions(topology, periodic):
    g = Grid(6, 5, topology, periodic)
    U = g.n_units
    a, b = np.divmod(np.arange(U * U), U)
    assert_allclose(g.sq_distances().ravel(), g.pair_distances(a, b) ** 2, atol=1e-12)


# -- estimator ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return load_digits().data / 16.0


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
def test_quality_on_digits(digits, topology):
    som = SelfOrganizingMap(12, 12, topology=topology, max_iter=10).fit(digits)
    init_qe = SelfOrganizingMap(12, 12, topology=topology, max_iter=1,
                                sigma_start=1e-3).fit(digits).quantization_errors_[0]
    qe = som.quantization_error(digits)
    assert qe < 0.8 * init_qe
    assert som.topographic_error(digits) <= 0.05
    assert som.n_iter_ == 10 and som.quantization_errors_.shape == (10,)
    assert np.all(np.diff(som.quantization_errors_[1:]) < 0.05)
    assert som.hit_map(digits).sum() == len(digits)
    # the map separates the classes: majority label per unit is ~90 % right
    y = load_digits().target
    lm = som.label_map(digits, y)
    assert np.mean(lm.ravel()[som.predict(digits)] == y) > 0.85


def test_online_quality_and_reproducibility(digits):
    X = digits[:600]
    a = SelfOrganizingMap(8, 8, algorithm="online", max_iter=4, random_state=3).fit(X)
    b = SelfOrganizingMap(8, 8, algorithm="online", max_iter=4, random_state=3, n_jobs=1).fit(X)
    assert_array_equal(a.weights_, b.weights_)
    assert a.topographic_error(X) <= 0.1
    assert a.quantization_errors_[-1] < a.quantization_errors_[0]


@pytest.mark.parametrize("max_iter, hold_iter, decay, sigmas", [
    (7, 3, "linear", [4, 3, 2, 1, 1, 1, 1]),       # 4 schedule epochs, 3 held
    (5, 2, "exponential", [4, 2, 1, 1, 1]),        # p = 0, 1/2, 1: 4 (1/4)^p
    (3, 4, "linear", [4, 1, 1]),                   # held epochs capped at max_iter // 2
    (4, 0, "linear", [4, 3, 2, 1]),                # the plain schedule
    (1, 4, "linear", [4]),
])
def test_batch_schedule_holds_the_last_epochs_at_sigma_end(max_iter, hold_iter, decay, sigmas):
    # fastnut's map equals the reference batch map run at the hand-computed radii
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 3))
    W0 = rng.standard_normal((12, 3))
    som = SelfOrganizingMap(3, 4, max_iter=max_iter, hold_iter=hold_iter, decay=decay,
                            sigma_start=4.0, sigma_end=1.0, init=W0, dtype="float64").fit(X)
    grid = Grid(3, 4)
    W = W0.copy()
    for sigma in sigmas:
        H = ref.neighborhood("gaussian", grid.sq_distances(), sigma, cutoff=False)
        W = ref.batch_map(X, W, ref.bmu(X, W)[0], H)
    assert_allclose(som.weights_.reshape(12, 3), W, rtol=1e-10, atol=1e-12)
    # partial_fit follows the same radii, epoch by epoch
    part = SelfOrganizingMap(3, 4, max_iter=max_iter, hold_iter=hold_iter, decay=decay,
                             sigma_start=4.0, sigma_end=1.0, init=W0, dtype="float64")
    for _ in range(max_iter):
        part.partial_fit(X)
    assert_array_equal(part.weights_, som.weights_)


def test_online_schedule_holds_the_last_epochs_at_the_end_values(monkeypatch):
    # 4 epochs, 2 held: the online kernel runs progress 0 -> 1/2, 1/2 -> 1, then 1 -> 1 twice
    import fastnut.som as som_module

    seen = []
    real = som_module._som.online_epoch

    def online_epoch(*args, **kw):
        seen.append((kw["p_first"], kw["p_last"]))
        return real(*args, **kw)

    monkeypatch.setattr(som_module._som, "online_epoch", online_epoch)
    X = np.random.default_rng(0).standard_normal((30, 2))
    som = SelfOrganizingMap(3, 3, algorithm="online", max_iter=4, hold_iter=2, random_state=0)
    som.fit(X)
    assert seen == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.0), (1.0, 1.0)]
    seen.clear()
    som.set_params(hold_iter=0).fit(X)
    assert seen == [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_held_epochs_lower_the_topographic_error_on_digits(digits, dtype):
    # 12 x 12 map, 12 batch epochs: the default schedule (sigma 6 -> 1.1 in 8
    # epochs, 4 held at 1.1) against the plain one to 1.0: same quantization
    # error (measured 1.3357 against 1.3353), topographic error 14 against 34
    # of 1797 samples
    new = SelfOrganizingMap(12, 12, max_iter=12, dtype=dtype).fit(digits)
    old = SelfOrganizingMap(12, 12, max_iter=12, hold_iter=0, sigma_end=1.0,
                            dtype=dtype).fit(digits)
    assert new.quantization_error(digits) <= 1.003 * old.quantization_error(digits)
    assert new.topographic_error(digits) <= 0.6 * old.topographic_error(digits)


@pytest.mark.parametrize("value", [-1, 1.5, "4"])
def test_hold_iter_must_be_a_non_negative_int(digits, value):
    with pytest.raises(ValueError, match=r"The 'hold_iter' parameter of SelfOrganizingMap "
                                         r"must be an int in the range \[0, inf\)"):
        SelfOrganizingMap(3, 3, hold_iter=value).fit(digits[:20])


@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_partial_fit_continues_the_schedule(digits, algorithm):
    X = digits[:300]
    kw = dict(algorithm=algorithm, max_iter=3, random_state=0, init="sample")
    full = SelfOrganizingMap(6, 6, **kw).fit(X)
    part = SelfOrganizingMap(6, 6, **kw)
    for _ in range(3):
        part.partial_fit(X)
    assert part.n_iter_ == 3
    assert_array_equal(part.weights_, full.weights_)
    assert_array_equal(part.quantization_errors_, full.quantization_errors_)
    part.partial_fit(X)  # past the schedule: end values, still fine
    assert part.n_iter_ == 4 and np.all(np.isfinite(part.weights_))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_thread_count_does_not_change_the_map(digits, n_jobs):
    ref_map = SelfOrganizingMap(10, 10, max_iter=3, n_jobs=1).fit(digits)
    som = SelfOrganizingMap(10, 10, max_iter=3, n_jobs=n_jobs).fit(digits)
    assert_array_equal(som.weights_, ref_map.weights_)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
def test_predict_transform_against_reference(digits, metric):
    X = digits[:200]
    som = SelfOrganizingMap(5, 6, topology="hexagonal", metric=metric, max_iter=3,
                            dtype="float64").fit(X)
    W = som.weights_.reshape(30, -1)
    best, second, dist = ref.bmu(X, W, metric)
    assert_array_equal(som.predict(X), best)
    assert_allclose(som.quantization_error(X), dist.mean(), rtol=1e-10)
    assert som.score(X) == -som.quantization_error(X)
    rows, cols = np.divmod(best, 6)
    assert_allclose(som.transform(X), np.column_stack(ref.hex_position(rows, cols)))
    # TE from the reference second-best and hand-written hex adjacency
    pos = np.column_stack(ref.hex_position(*np.divmod(np.arange(30), 6)))
    gap = np.linalg.norm(pos[best] - pos[second], axis=1)
    assert_allclose(som.topographic_error(X), np.mean(gap > 1 + 1e-9))
    assert_array_equal(som.fit_predict(X), som.predict(X))


def test_umatrix_hit_map_label_map_by_hand():
    som = SelfOrganizingMap(1, 3, max_iter=1, init=np.array([[0.0], [1.0], [3.0]]),
                            sigma_start=1e-3, sigma_end=1e-3, dtype="float64")
    X = np.array([[0.0], [0.1], [1.0], [3.1], [2.9]])
    som.fit(X)  # sigma ~ 0: the batch map is one k-means step
    assert_allclose(som.weights_.ravel(), [0.05, 1.0, 3.0])
    assert_allclose(som.umatrix(), [[0.95, (0.95 + 2.0) / 2, 2.0]])
    assert_array_equal(som.hit_map(X), [[2, 1, 2]])
    lm = som.label_map(X, ["a", "b", "b", "c", "c"])
    assert list(lm.ravel()) == ["a", "b", "c"]  # unit 0: tie a/b -> smallest
    lm = som.label_map(X[:2], [1, 1])
    assert list(lm.mask.ravel()) == [False, True, True] and lm[0, 0] == 1


def test_toroidal_map_trains_and_wraps(digits):
    som = SelfOrganizingMap(6, 8, periodic=True, topology="hexagonal", max_iter=5).fit(digits)
    assert som.topographic_error(digits) < 0.2
    assert som.umatrix().shape == (6, 8) and np.all(som.umatrix() > 0)


@pytest.mark.parametrize("init", ["pca", "random", "sample"])
def test_init_options_and_seed(digits, init):
    a = SelfOrganizingMap(4, 5, init=init, max_iter=2, random_state=1).fit(digits)
    b = SelfOrganizingMap(4, 5, init=init, max_iter=2, random_state=1).fit(digits)
    assert_array_equal(a.weights_, b.weights_)
    assert a.weights_.dtype == np.float32 and a.weights_.shape == (4, 5, 64)


@pytest.mark.parametrize("dtype", [np.float64, "float64", np.dtype("float64")])
def test_float32_and_float64_maps_agree(digits, dtype):
    m32 = SelfOrganizingMap(6, 6, max_iter=5).fit(digits)
    m64 = SelfOrganizingMap(6, 6, max_iter=5, dtype=dtype).fit(digits)
    assert m32.weights_.dtype == np.float32 and m64.weights_.dtype == np.float64
    assert_allclose(m32.quantization_errors_, m64.quantization_errors_, rtol=1e-3)
    assert_allclose(m32.weights_, m64.weights_, atol=2e-2)
    assert np.mean(m32.predict(digits) == m64.predict(digits)) > 0.99


def test_verbose_prints_every_epoch(digits):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        SelfOrganizingMap(4, 4, max_iter=3, verbose=1).fit(digits)
    lines = buf.getvalue().strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1: quantization error")


def test_pickle_round_trip(digits):
    som = SelfOrganizingMap(5, 5, max_iter=2).fit(digits)
    again = pickle.loads(pickle.dumps(som))
    assert_array_equal(again.predict(digits), som.predict(digits))


def test_concurrent_predict_matches_serial(digits):
    from concurrent.futures import ThreadPoolExecutor
    from threadpoolctl import threadpool_info

    som = SelfOrganizingMap(8, 8, max_iter=2).fit(digits)
    before = {(i["filepath"], i["num_threads"]) for i in threadpool_info()}
    serial = [som.predict(digits[i::4]) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            parallel = list(pool.map(lambda i: som.predict(digits[i::4]), range(4)))
            for a, b in zip(serial, parallel):
                assert_array_equal(a, b)
    # the BLAS thread limits are restored once every call has left
    assert {(i["filepath"], i["num_threads"]) for i in threadpool_info()} == before


def test_divergence_is_an_error(digits):
    som = SelfOrganizingMap(4, 4, algorithm="online", neighborhood="bubble",
                            learning_rate_start=1e3, learning_rate_end=1e3, max_iter=2)
    with pytest.raises(fastnut.DivergenceError, match="diverged"):
        som.fit(digits * 1e3)


def test_bad_input(digits):
    X = digits[:50].copy()
    X0 = X.copy()
    som = SelfOrganizingMap(3, 3, max_iter=1).fit(X)
    assert_array_equal(X, X0)
    with pytest.raises(ValueError, match="64 features"):
        som.predict(X[:, :10])
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SelfOrganizingMap(3, 3).fit(Xn)
    with pytest.raises(ValueError, match=r"init array must have shape .*\(3, 3, 64\)"):
        SelfOrganizingMap(3, 3, init=np.zeros((4, 64))).fit(X)
    with pytest.raises(ValueError, match="even n_rows"):
        SelfOrganizingMap(3, 4, topology="hexagonal", periodic=True).fit(X)
    with pytest.raises(ValueError, match="topology"):
        SelfOrganizingMap(topology="triangular").fit(X)
    with pytest.raises(ValueError, match="y has 3 labels"):
        som.label_map(X, [0, 1, 2])
    with pytest.raises(ValueError, match="2D array"):
        som.transform(X[0])
    with pytest.raises(ValueError, match="call fit to start a new map"):
        som.set_params(n_rows=4).partial_fit(X)
    assert list(som.get_feature_names_out()) == ["selforganizingmap0", "selforganizingmap1"]


@pytest.mark.parametrize("topology, n_vertices", [("rectangular", 4), ("hexagonal", 6)])
def test_plots_draw_one_cell_per_unit(topology, n_vertices):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from fastnut import plotting

    rng = np.random.default_rng(0)
    X = rng.random((200, 3))
    som = SelfOrganizingMap(4, 6, topology=topology, max_iter=3).fit(X)
    for ax in (plotting.plot_som_umatrix(som), plotting.plot_som_hit_map(som, X),
               plotting.plot_som_colors(som)):
        (cells,) = ax.collections
        paths = cells.get_paths()
        assert len(paths) == 24
        assert len(np.unique(np.round(paths[0].vertices, 9), axis=0)) == n_vertices
    fig = plotting.plot_som_component_planes(som, feature_names=["r", "g", "b"])
    assert [a.get_title() for a in fig.axes[:3]] == ["r", "g", "b"]
    with pytest.raises(ValueError, match=r"values must have shape \(4, 6\)"):
        plotting.plot_som_map(som, np.zeros((6, 4)))
    with pytest.raises(ValueError, match="3 features"):
        plotting.plot_som_colors(SelfOrganizingMap(2, 2, max_iter=1).fit(X[:, :2]))
    plt.close("all")


# -- Ctrl-C ---------------------------------------------------------------------

def _interrupted_fit(est, method, X, after=0.2):
    """Call est.method(X) with a Ctrl-C (``_thread.interrupt_main``) after
    ``after`` seconds; return the seconds from the interrupt to its arrival."""
    import _thread
    import threading
    import time

    sent = []

    def ctrl_c():
        sent.append(time.perf_counter())
        _thread.interrupt_main()

    timer = threading.Timer(after, ctrl_c)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            getattr(est, method)(X)
            time.sleep(30)  # the fit ended first: wait for the interrupt here
    finally:
        timer.cancel()
    return time.perf_counter() - sent[0]


@pytest.fixture(scope="module")
def long_epoch_data():
    # one batch epoch on a 30 x 30 map is 2e9 multiply-adds (seconds), one
    # online epoch 40,000 steps of 900 units
    return np.random.default_rng(0).standard_normal((40_000, 64)).astype(np.float32)


@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_ctrl_c_stops_an_epoch_and_leaves_a_fresh_map_unfitted(long_epoch_data, algorithm):
    from sklearn.exceptions import NotFittedError

    som = SelfOrganizingMap(30, 30, algorithm=algorithm, max_iter=1000, init="sample",
                            random_state=0, n_jobs=1)
    late = _interrupted_fit(som, "fit", long_epoch_data)
    assert late < 1.0  # within a fraction of a second, not at the end of the epoch
    with pytest.raises(NotFittedError):
        som.predict(long_epoch_data[:3])
    assert not hasattr(som, "weights_") and not hasattr(som, "n_iter_")


@pytest.mark.parametrize("method, algorithm", [("fit", "batch"), ("partial_fit", "online")])
def test_ctrl_c_leaves_a_fitted_map_as_it_was(long_epoch_data, method, algorithm):
    # partial_fit runs one epoch: the online one (seconds) outlasts the timer
    X = long_epoch_data
    som = SelfOrganizingMap(30, 30, algorithm=algorithm, max_iter=2, init="sample",
                            random_state=0, n_jobs=1).partial_fit(X[:2000])
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v)
              for k, v in vars(som).items()}
    som.set_params(max_iter=1000)
    before["max_iter"] = 1000
    late = _interrupted_fit(som, method, X)
    assert late < 1.0
    assert set(vars(som)) == set(before)
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            assert_array_equal(getattr(som, k), v)
        else:
            assert getattr(som, k) == v
    assert som.n_iter_ == 1


@pytest.mark.parametrize("shape", [(400, 200), (60, 300), (300, 20)])
def test_pca_init_spans_the_exact_principal_plane(shape):
    # randomized SVD (n and d > 128), the n x n Gram matrix (n small) and the
    # d x d covariance (d small) all give the exact leading axes, scaled by
    # their std, with the largest |entry| of each axis positive
    from fastnut.som import _leading_components

    n, d = shape
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((n, d)) * np.r_[6.0, 3.0, np.ones(d - 2)]
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = (Z @ Q + 5.0).astype(np.float32)
    mean, comps = _leading_components(X, 2)
    X64 = X.astype(np.float64)
    _, s, vt = np.linalg.svd(X64 - X64.mean(0), full_matrices=False)
    exact = vt[:2] * (s[:2] / np.sqrt(n - 1))[:, None]
    exact *= np.sign(exact[np.arange(2), np.argmax(np.abs(exact), axis=1)])[:, None]
    assert_allclose(mean, X64.mean(0), rtol=1e-12)
    # same plane: the axes' projections off the exact plane vanish
    basis = vt[:2]
    axes = comps / np.linalg.norm(comps, axis=1, keepdims=True)
    assert np.abs(axes - axes @ basis.T @ basis).max() < 1e-5
    randomized = min(n, d) > 128
    tol = 1e-5 if randomized else 1e-6  # a few power iterations vs exact
    assert_allclose(comps, exact, rtol=0, atol=tol * np.abs(exact).max())
    # the map's corners sit at mean +- std along the two axes
    som = SelfOrganizingMap(5, 4, max_iter=1, sigma_start=1e-3, dtype="float64")
    W0 = som._initial_weights(X, som._grid(), None)
    assert_allclose(W0[0], mean - exact[0] - exact[1], rtol=1e-5, atol=1e-5)
    assert_allclose(W0[-1], mean + exact[0] + exact[1], rtol=1e-5, atol=1e-5)


def test_pca_init_of_wide_data_does_not_solve_a_d_x_d_problem(monkeypatch):
    # 2 samples x 4000 features: the Gram matrix is 2 x 2 (the d x d
    # covariance eigenproblem took 10.7 s; benchmarks/som.py row D times it)
    calls = []
    real = np.linalg.eigh

    def eigh(a, *args, **kwargs):
        calls.append(a.shape)
        return real(a, *args, **kwargs)

    monkeypatch.setattr(np.linalg, "eigh", eigh)
    X = np.random.default_rng(0).standard_normal((2, 4000))
    som = SelfOrganizingMap(4, 4, max_iter=1).fit(X)
    assert calls == [(2, 2)]
    span = som.weights_.reshape(16, -1) - X.mean(0)
    direction = (X[1] - X[0]) / np.linalg.norm(X[1] - X[0])
    # one component: every unit lies on the line through the two samples
    assert_allclose(span - np.outer(span @ direction, direction), 0.0, atol=1e-5)
