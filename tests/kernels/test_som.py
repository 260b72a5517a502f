"""SOM kernels (best-matching-unit search, neighbourhoods, batch and online
updates, grid smoothing) against the NumPy oracles in tests/_reference/som.py."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastnut._grid import Grid
from fastnut._kernels import som as K
from tests._reference import som as ref

METRIC = {code.name.lower(): int(code) for code in K.Metric}
KIND = {code.name.lower(): int(code) for code in K.Neighborhood}


def run_bmu(X, W, metric, n_threads=1):
    n, U = X.shape[0], W.shape[0]
    aux = np.empty(U, W.dtype)
    K.unit_aux(W, METRIC[metric], aux)
    best = np.empty(n, np.intp)
    second = np.empty(n, np.intp)
    dist = np.empty(n)
    K.bmu_search(X, W, aux, METRIC[metric], best, second, dist, n_threads)
    return best, second, dist


def grid_args(grid):
    """(cells, n_rows, width, periodic, class squared distances) for the kernels."""
    cells, width = grid.cells()
    return cells, grid.n_rows, width, grid.periodic, grid.class_sq_distances()


# -- BMU search -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bmu_matches_reference(dtype, metric, n_threads):
    rng = np.random.default_rng(0)
    U = 37
    chunk = K.block_rows(U)
    n = 2 * chunk + 3  # a partial last block
    X = rng.standard_normal((n, 5)).astype(dtype)
    W = rng.standard_normal((U, 5)).astype(dtype)
    X.setflags(write=False)
    W.setflags(write=False)
    X0 = X.copy()
    best, second, dist = run_bmu(X, W, metric, n_threads)
    rb, rs, rd = ref.bmu(X, W, metric)
    D = ref.distances(X, W, metric)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    # the GEMM expansion may swap near-ties; then the distances must agree
    rows = np.arange(n)
    assert np.mean(best == rb) > 0.99
    assert_allclose(D[rows, best], rd, rtol=tol, atol=tol)
    assert np.mean(second == rs) > 0.99
    assert_allclose(np.sort(D, axis=1)[:, 1], D[rows, second], rtol=tol, atol=tol)
    assert_allclose(dist, rd, rtol=tol, atol=tol)
    assert_array_equal(X, X0)


@pytest.mark.parametrize("n", [1, 7, 255, 256, 257, 513])
def test_bmu_chunk_boundaries_and_threads_identical(n):
    rng = np.random.default_rng(n)
    U = 500  # 256-row blocks: block_rows(500) = 262 -> min(256, .)
    X = rng.standard_normal((n, 16)).astype(np.float32)
    W = rng.standard_normal((U, 16)).astype(np.float32)
    one = run_bmu(X, W, "euclidean", 1)
    two = run_bmu(X, W, "euclidean", 2)
    for a, b in zip(one, two):
        assert_array_equal(a, b)
    # a row's answer does not depend on the other rows of its block
    for i in (0, n - 1):
        single = run_bmu(X[i:i + 1], W, "euclidean", 1)
        assert single[0][0] == one[0][i] and single[1][0] == one[1][i]
    assert_array_equal(one[0], ref.bmu(X, W)[0])


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bmu_ties_go_to_lowest_index(metric, dtype):
    # small integers: every distance is exact, ties are exact
    W = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [2, 2]], dtype=dtype)
    X = np.array([[1, 0], [0, 1], [1, 1], [3, 3]], dtype=dtype)
    best, second, dist = run_bmu(X, W, metric)
    rb, rs, rd = ref.bmu(X, W, metric)
    assert_array_equal(best, rb)
    assert_array_equal(second, rs)
    assert_allclose(dist, rd, atol=1e-6)
    # hand-checked euclidean answers: [1,0] -> units 0 then 2 (tie)
    if metric == "euclidean":
        assert_array_equal(best, [0, 1, 0, 4])
        assert_array_equal(second, [2, 3, 1, 0])


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_bmu_ties_on_large_maps(metric):
    # >= 64 units: the scan bounds the second-best score from a subsample and
    # skips groups of units; exact ties must still go to the lowest index
    rng = np.random.default_rng(5)
    W = rng.integers(0, 3, size=(150, 3)).astype(np.float32)  # many duplicate units
    X = rng.integers(0, 3, size=(300, 3)).astype(np.float32)
    best, second, _ = run_bmu(X, W, metric)
    rb, rs, _ = ref.bmu(X, W, metric)
    assert_array_equal(best, rb)
    assert_array_equal(second, rs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("U", [1, 5, 8, 150])
def test_best_unit_only_scan_matches_the_top_two_scan(dtype, U):
    # second_best=False (the batch epochs): one-pass float32 AVX2 scan; same
    # best unit (exact ties on duplicate units: lowest index), same distance,
    # ``second`` left as it was; U = 5 / 150 exercise the scalar tail
    rng = np.random.default_rng(6)
    W = rng.integers(0, 3, size=(U, 3)).astype(dtype)
    X = np.vstack([rng.integers(0, 3, size=(200, 3)),
                   rng.standard_normal((100, 3))]).astype(dtype)
    best, _, dist = run_bmu(X, W, "euclidean")
    aux = np.empty(U, dtype)
    K.unit_aux(W, 0, aux)
    b1 = np.empty(len(X), np.intp)
    s1 = np.full(len(X), -7, np.intp)
    d1 = np.empty(len(X))
    K.bmu_search(X, W, aux, 0, b1, s1, d1, 1, second_best=False)
    assert_array_equal(b1, best)
    assert_array_equal(d1, dist)
    assert_array_equal(s1, -7)
    assert_array_equal(b1[:200], ref.bmu(X[:200], W)[0])  # integer rows: exact ties
    # with the fused accumulation, and a NaN unit (the scalar fallback)
    Wn = W.copy()
    Wn[-1] = np.nan
    K.unit_aux(Wn, 0, aux)
    sums, counts = np.empty((U, 3)), np.empty(U)
    K.bmu_search(X, Wn, aux, 0, b1, s1, d1, 1, sums, counts, second_best=False)
    b2, _, d2 = run_bmu(X, Wn, "euclidean")
    assert_array_equal(b1, b2)
    assert_array_equal(d1, d2)
    assert_array_equal(counts, np.bincount(b2, minlength=U))


def test_bmu_single_unit_and_zero_vectors():
    X = np.zeros((3, 4))
    W = np.zeros((1, 4))
    best, second, dist = run_bmu(X, W, "cosine")
    assert_array_equal(best, 0)
    assert_array_equal(second, 0)
    assert_array_equal(dist, 1.0)  # cosine distance to a zero vector is 1


# -- neighbourhoods, batch and online updates -------------------------------------

@pytest.mark.parametrize("kind", list(KIND))
@pytest.mark.parametrize("sigma", [0.7, 1.0, 2.5])
@pytest.mark.parametrize("cutoff", [True, False])
def test_neighborhood_matrix(kind, sigma, cutoff):
    G2 = Grid(12, 13, "hexagonal").sq_distances()
    H = np.empty_like(G2)
    K.neighborhood_matrix(G2, KIND[kind], sigma, H, cutoff)
    assert_allclose(H, ref.neighborhood(kind, G2, sigma, cutoff), rtol=1e-12, atol=1e-15)
    assert_array_equal(np.diag(H), 1.0)
    # the gaussian's tail beyond 3 sigma is dropped only with the cut-off
    if kind == "gaussian" and sigma < 3:
        far = G2 > (3 * sigma) ** 2
        assert np.all(H[far] == 0) if cutoff else np.all(H[far] > 0)


def smooth_with_estimator_path(grid, kind, sigma, X, W, best):
    """One batch-map update through the estimator's smoother (fastnut.som)."""
    from fastnut.som import _BatchSmoother

    U, d = W.shape
    sums, counts = np.empty((U, d)), np.empty(U)
    K.batch_accumulate(X, best, sums, counts)
    Wk, aux = W.copy(), np.empty(U, W.dtype)
    _BatchSmoother(grid, d).update(KIND[kind], sigma, sums, counts, Wk, 0, aux)
    return Wk, aux, counts


@pytest.mark.parametrize("kind", list(KIND))
@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("sigma", [0.6, 1.3, 4.0])
def test_batch_update_matches_direct_formula(kind, topology, periodic, sigma):
    # separable passes (gaussian, mexican hat) and the direct stencil over the
    # support (bubble, triangle) against the U x U sum over samples
    rng = np.random.default_rng(1)
    grid = Grid(6, 7, topology, periodic)
    U, d = grid.n_units, 3
    X = rng.standard_normal((60, d))
    W = rng.standard_normal((U, d))
    best = ref.bmu(X, W)[0].astype(np.intp)
    Wk, aux, counts = smooth_with_estimator_path(grid, kind, sigma, X, W, best)
    assert_array_equal(counts, np.bincount(best, minlength=U))
    H = ref.neighborhood(kind, grid.sq_distances(), sigma, cutoff=False)
    expected = ref.batch_map(X, W, best, H)
    assert_allclose(Wk, expected, rtol=1e-11, atol=1e-11)
    assert_allclose(aux, (expected ** 2).sum(1), rtol=1e-10)
    if kind == "bubble":  # units with no hit within sigma keep their weights
        untouched = H @ counts == 0
        assert_array_equal(Wk[untouched], W[untouched])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("periodic", [False, True])
def test_gaussian_tail_truncation_is_within_its_bound(dtype, periodic):
    # a 3 x 40 map at sigma 1: taps beyond 11.75 sigma (weights below 1e-30)
    # are dropped; every unit then agrees with the untruncated update to
    # rounding, and units with no hit within 11.75 sigma (denominator below
    # 1e-30 * n, under the 1e-12 at which a unit moves) keep their weights
    rng = np.random.default_rng(5)
    grid = Grid(3, 40, "rectangular", periodic)
    U, d = grid.n_units, 4
    X = rng.standard_normal((100, d)).astype(dtype)
    W = rng.standard_normal((U, d)).astype(dtype)
    best = rng.integers(0, 8, size=100).astype(np.intp)  # hits in row 0, columns 0-7
    Wk, aux, counts = smooth_with_estimator_path(grid, "gaussian", 1.0, X, W, best)
    H = ref.neighborhood("gaussian", grid.sq_distances(), 1.0, cutoff=False)
    expected = ref.batch_map(X, W, best, H)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert_allclose(Wk, expected, rtol=tol, atol=tol)
    far = (H @ counts) <= 1e-12
    assert far.sum() >= (8 if periodic else 40)  # the bound is exercised
    assert_array_equal(Wk[far], W[far])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_accumulation_equals_separate_pass(dtype):
    rng = np.random.default_rng(3)
    U, d = 50, 7
    n = 3 * K.block_rows(U) + 5
    X = rng.standard_normal((n, d)).astype(dtype)
    W = rng.standard_normal((U, d)).astype(dtype)
    aux = np.empty(U, dtype)
    K.unit_aux(W, 0, aux)
    outs = [np.empty(n, np.intp), np.empty(n, np.intp), np.empty(n)]
    sums, counts = np.full((U, d), 7.0), np.full(U, 7.0)  # overwritten, not added to
    K.bmu_search(X, W, aux, 0, *outs, 1, sums, counts)
    best, second, dist = run_bmu(X, W, "euclidean", 2)
    assert_array_equal(outs[0], best)
    assert_array_equal(outs[1], second)
    assert_array_equal(outs[2], dist)
    s2, c2 = np.empty((U, d)), np.empty(U)
    K.batch_accumulate(X, best, s2, c2)
    assert_array_equal(sums, s2)
    assert_array_equal(counts, c2)
    with pytest.raises(ValueError, match="one thread"):
        K.bmu_search(X, W, aux, 0, *outs, 2, sums, counts)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("kind", ["gaussian", "mexican_hat", "bubble"])
def test_online_epoch_matches_reference(metric, kind):
    rng = np.random.default_rng(2)
    grid = Grid(4, 4, "hexagonal", periodic=True)
    U, d, n = grid.n_units, 3, 40
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((U, d))
    order = rng.permutation(n).astype(np.intp)
    G2 = grid.sq_distances()
    s0, s1, l0, l1, p0, p1 = 2.0, 1.0, 0.5, 0.05, 0.25, 0.5
    p = p0 + (p1 - p0) * np.arange(n) / n
    Wk, aux = W.copy(), np.empty(U)
    K.unit_aux(Wk, METRIC[metric], aux)
    total = K.online_epoch(X, order, Wk, aux, *grid_args(grid), METRIC[metric], KIND[kind], 0,
                           s0, s1, l0, l1, p0, p1, np.empty(2 * U))
    We, te = ref.online_map(X, order, W, G2, metric, kind,
                            s0 + (s1 - s0) * p, l0 + (l1 - l0) * p)
    assert_allclose(Wk, We, rtol=1e-10, atol=1e-12)
    assert_allclose(total, te, rtol=1e-10)


def test_online_exponential_schedule_and_cutoff():
    # one sample on a 1 x 9 line, bubble radius sigma: only units within it move
    grid = Grid(1, 9)
    W = np.zeros((9, 2))
    X = np.array([[1.0, 1.0]])
    aux = np.zeros(9)
    K.online_epoch(X, np.array([0], np.intp), W, aux, *grid_args(grid), 0, KIND["bubble"],
                   1, 4.0, 1.0, 0.8, 0.2, 0.5, 1.0, np.empty(18))
    # p = 0.5: sigma = 4 * (1/4)^0.5 = 2, lr = 0.8 * (0.25)^0.5 = 0.4; BMU is unit 0 (tie)
    assert_allclose(W[:3], 0.4)
    assert_array_equal(W[3:], 0.0)
    assert_allclose(aux[:3], 2 * 0.4 ** 2)
    with pytest.raises(ValueError, match="scratch must hold 2"):
        K.online_epoch(X, np.array([0], np.intp), W, aux, *grid_args(grid), 0, 0, 0,
                       1.0, 1.0, 0.5, 0.5, 0.0, 1.0, np.empty(9))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_bmu_of_a_sample_does_not_depend_on_its_block(metric):
    # float32 goes through fastnut's GEMM (one fixed-order sum per product)
    # and the vector top-2 scan: one sample alone, in a block of 7 and in
    # full blocks get the same units and distances, bit for bit
    rng = np.random.default_rng(7)
    U = 150
    X = rng.standard_normal((2 * K.block_rows(U) + 11, 9)).astype(np.float32)
    W = rng.standard_normal((U, 9)).astype(np.float32)
    best, second, dist = run_bmu(X, W, metric)
    edge = K.block_rows(U)
    for a, b in [(0, 1), (5, 12), (edge - 3, edge + 4), (len(X) - 1, len(X))]:
        rb, rs, rd = run_bmu(X[a:b], W, metric)
        assert_array_equal(rb, best[a:b])
        assert_array_equal(rs, second[a:b])
        assert_array_equal(rd, dist[a:b])
    rb, rs, rd = ref.bmu(X, W, metric)
    assert np.mean(best == rb) > 0.99 and np.mean(second == rs) > 0.98
