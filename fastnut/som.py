"""Self-organizing map (Kohonen map) with a scikit-learn API.

The estimator validates input, owns the epoch loop and the schedules, and
calls the Cython kernels of ``fastnut._kernels.som`` for every numeric step:
best-matching-unit (BMU) search, batch-map accumulation and smoothing, and
online updates.  Grid geometry comes from :mod:`fastnut._grid`.
"""
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin,
                          TransformerMixin, _fit_context)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._doc_link import DocLinkMixin
from ._state import AtomicState
from .nn import DivergenceError
from ._grid import Grid
from ._kernels import som as _som
from ._threads import blas_single_thread as _blas_single_thread
from ._threads import map_row_chunks, threads_for
from ._validation import predict_dtypes, resolve_dtype

__all__ = ["SelfOrganizingMap"]

# name -> kernel code, from the kernel's enums
_METRICS = {code.name.lower(): int(code) for code in _som.Metric}
_NEIGHBORHOODS = {code.name.lower(): int(code) for code in _som.Neighborhood}
_DECAYS = {code.name.lower(): int(code) for code in _som.Decay}

#: gaussian and mexican-hat taps whose weights are all below this are dropped
#: from the batch smoothing (the gaussian's beyond 11.75 sigma; see Notes)
_TAIL = 1e-30

class SelfOrganizingMap(DocLinkMixin, AtomicState, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                        BaseEstimator):
    """Self-organizing map: a 2-D grid of prototypes fitted to the data.

    Every unit of an ``n_rows x n_cols`` grid holds a weight vector in input
    space.  Training pulls the best-matching unit (BMU) of each sample, and
    its grid neighbours to a lesser degree, towards the sample, so that
    similar inputs land on nearby units: the map is a topology-preserving
    2-D picture of the data.  ``predict`` gives each sample's BMU (a
    clustering into ``n_rows * n_cols`` units) and ``transform`` its position
    on the map (a 2-D embedding).

    Parameters
    ----------
    n_rows, n_cols : int, default=10
        Map size; unit ``u = row * n_cols + col``.
    topology : {"rectangular", "hexagonal"}, default="rectangular"
        Unit layout.  Hexagonal maps offset odd rows by half a unit so each
        unit has 6 neighbours at distance 1; rectangular units have 8
        (Moore neighbourhood).
    periodic : bool, default=False
        Toroidal map: both axes wrap around (a hexagonal torus needs an
        even ``n_rows``).
    neighborhood : {"gaussian", "bubble", "mexican_hat", "triangle"}, \
            default="gaussian"
        Neighbourhood function ``h(r; sigma)`` of the grid distance r, with a
        cut-off beyond which units are not touched (see Notes).
    metric : {"euclidean", "cosine", "manhattan"}, default="euclidean"
        Distance used to find the BMU and reported by the quality measures.
    algorithm : {"batch", "online"}, default="batch"
        ``"batch"``: Kohonen's batch map, one update per epoch (no learning
        rate).  ``"online"``: sequential updates, one per sample, visited in
        a random order every epoch.
    max_iter : int, default=20
        Number of epochs (passes over the data) of ``fit``; also the length
        of the schedule that ``partial_fit`` follows.
    hold_iter : int, default=4
        Number of final epochs of the ``max_iter`` that hold the end values
        (``sigma_end``, ``learning_rate_end``): the schedules run from their
        start to their end values in the first ``max_iter - h`` epochs, with
        ``h = min(hold_iter, max_iter // 2)`` (at least half of the epochs
        follow the schedule), and the last ``h`` epochs stay there.  A batch
        map moves towards the fixed point of its final radius in these
        epochs, which lowers both the quantization and the topographic error
        (see Notes); 0 gives the plain schedule.
    sigma_start : float, default=None
        Neighbourhood radius at the first epoch, in grid units; ``None``
        means half the larger side of the map.
    sigma_end : float, default=1.1
        Neighbourhood radius at the end of the schedule (and during the
        ``hold_iter`` epochs after it).
    learning_rate_start, learning_rate_end : float, default=0.5, 0.01
        Learning rate at the start and the end of training (online only).
    decay : {"linear", "exponential"}, default="linear"
        Shape of the sigma and learning-rate schedules.
    init : {"pca", "random", "sample"} or array-like, default="pca"
        Initial weights: ``"pca"`` spreads the map over the plane of the
        two leading principal components (deterministic); ``"random"`` draws
        uniformly in the data's bounding box; ``"sample"`` picks random
        samples; an array of shape ``(n_rows, n_cols, n_features)`` or
        ``(n_rows * n_cols, n_features)`` is used as given.
    random_state : int, RandomState instance or None, default=None
        Seeds the ``"random"``/``"sample"`` initialisations and the online
        visiting order.  The same seed, data and parameters give the same
        map for any number of threads.
    verbose : int, default=0
        Print the quantization error and seconds of every epoch.
    dtype : {"float32", "float64"}, default="float32"
        Compute dtype of the weights and the BMU search.
    n_jobs : int, default=None
        OpenMP threads of the BMU search (``None``: all that the environment
        allows, see ``threadpoolctl``).

    Attributes
    ----------
    weights_ : ndarray of shape (n_rows, n_cols, n_features)
        The map's weight vectors (the codebook).
    quantization_errors_ : ndarray of shape (n_iter_,)
        Mean distance of the training samples to their BMU during each epoch
        (batch: against the map entering the epoch; online: against the map
        as it was when each sample was visited).
    n_iter_ : int
        Epochs run so far (``fit`` resets it, ``partial_fit`` adds one).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.cluster.KMeans : the ``sigma -> 0`` limit of the batch map.

    Notes
    -----
    With grid distance ``r`` between units and schedule progress
    ``p in [0, 1]``, ``sigma(p) = s0 + (s1 - s0) p`` (linear) or
    ``s0 (s1 / s0)^p`` (exponential), and likewise for the learning rate.
    Neighbourhoods (online updates touch only the units within the cut-off
    in brackets; the batch map uses the whole neighbourhood, so that units
    with no data nearby still follow their neighbours):

    * gaussian: ``h = exp(-r^2 / (2 sigma^2))``  (r > 3 sigma)
    * bubble: ``h = 1``  (r > sigma)
    * triangle: ``h = 1 - r / sigma``  (r > sigma)
    * mexican_hat: ``h = (1 - r^2 / sigma^2) exp(-r^2 / (2 sigma^2))``
      (r > 4 sigma)

    The schedules run over the first ``L = max_iter - h`` epochs, ``h =
    min(hold_iter, max_iter // 2)``, and stay at their end values after.
    Batch epoch e (``p = min(e / (L - 1), 1)``, 0 when L = 1): with ``b(x)`` the BMU of x,
    Voronoi sums ``S_v = sum_{b(x)=v} x`` and counts ``c_v``, every unit is
    set to ``w_u = sum_v h_uv S_v / sum_v h_uv c_v`` (a unit whose
    denominator is not above 1e-12 keeps its weights).  The BMU search,
    O(n U d), is done as blocked GEMM (``||x||^2 - 2 x.w + ||w||^2``); the
    accumulation is O(n d).  The smoothing costs what the neighbourhood's
    support does, never O(U^2): the gaussian is separable, ``g(dy) g(dx)``,
    and the mexican hat a sum of two separable terms, so they take one pass
    along the rows and one across, O(U (K_rows + K_cols) d) for the taps
    each axis keeps; bubble and triangle (compact support) are summed over
    the K units within sigma, O(U K d), exactly.  The gaussian's and mexican
    hat's taps whose weights are all below 1e-30 (beyond about 11.75 sigma
    along an axis) are dropped: each dropped pair weighs less than 2e-30,
    so the denominators move by less than ``2e-30 n``, far under the 1e-12
    threshold, and a unit moves by less than ``2e-30 n / den_u`` times the
    data's diameter (``den_u > 1e-12``): at most ``2e-18 n``, below float32
    rounding up to n = 1e10 samples.  The update is a weighted mean
    whatever the metric.  The mexican hat's negative weights make little
    sense in batch mode; use it with ``algorithm="online"`` and a small learning rate
    (its negative lobe pushes units away from the samples, and large steps
    diverge, which ``fit`` reports as a ``fastnut.DivergenceError``, a ``ValueError``).

    Online step t (``p = min(t / (L n), 1)``): ``w_u += lr(p) h(r(b, u); sigma(p))
    (x - w_u)`` for the units within the cut-off only.

    The held epochs (``hold_iter``) and ``sigma_end = 1.1``: a batch epoch
    replaces the map by the smoothed means of its Voronoi cells, so a
    schedule that ends on one epoch at its final radius leaves the map one
    step away from that radius's fixed point; a few epochs at the final
    radius move it most of the way (the online map likewise settles at its
    final rate).  On the digits (12 x 12, 12 batch epochs, ``benchmarks/som.py``)
    the defaults give quantization error 1.336 and topographic error 0.0078,
    against 1.335 and 0.0189 for the plain schedule to 1.0; a radius of 1.0
    at the fixed point gives a lower quantization error (1.30) but more
    folds (topographic error 0.014).

    ``fit`` and ``partial_fit`` honour Ctrl-C (``KeyboardInterrupt``) within
    a fraction of a second, between blocks of samples or of map rows, even
    in the middle of an epoch; the estimator is then left as it was before
    the call (a fresh one stays unfitted), since fitted state is replaced
    only when a fit returns.

    The quantization error is the mean distance of samples to their BMU in
    ``metric`` (euclidean: ``||x - w||``; cosine: ``1 - cos(x, w)``;
    manhattan: ``sum |x - w|``).  The topographic error is the fraction of
    samples whose best and second-best units are not grid neighbours.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import SelfOrganizingMap
    >>> X = np.random.default_rng(0).random((500, 3))
    >>> som = SelfOrganizingMap(8, 8, random_state=0).fit(X)
    >>> som.weights_.shape
    (8, 8, 3)
    >>> som.transform(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        "n_rows": [Interval(Integral, 1, None, closed="left")],
        "n_cols": [Interval(Integral, 1, None, closed="left")],
        "topology": [StrOptions({"rectangular", "hexagonal"})],
        "periodic": ["boolean"],
        "neighborhood": [StrOptions(set(_NEIGHBORHOODS))],
        "metric": [StrOptions(set(_METRICS))],
        "algorithm": [StrOptions({"batch", "online"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "hold_iter": [Interval(Integral, 0, None, closed="left")],
        "sigma_start": [Interval(Real, 0, None, closed="neither"), None],
        "sigma_end": [Interval(Real, 0, None, closed="neither")],
        "learning_rate_start": [Interval(Real, 0, None, closed="neither")],
        "learning_rate_end": [Interval(Real, 0, None, closed="neither")],
        "decay": [StrOptions(set(_DECAYS))],
        "init": [StrOptions({"pca", "random", "sample"}), "array-like"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "dtype": [StrOptions({"float32", "float64"}), type, np.dtype],
        "n_jobs": [Integral, None],
    }

    def __init__(self, n_rows=10, n_cols=10, *, topology="rectangular", periodic=False,
                 neighborhood="gaussian", metric="euclidean", algorithm="batch",
                 max_iter=20, hold_iter=4, sigma_start=None, sigma_end=1.1,
                 learning_rate_start=0.5, learning_rate_end=0.01, decay="linear",
                 init="pca", random_state=None, verbose=0, dtype="float32",
                 n_jobs=None):
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.topology = topology
        self.periodic = periodic
        self.neighborhood = neighborhood
        self.metric = metric
        self.algorithm = algorithm
        self.max_iter = max_iter
        self.hold_iter = hold_iter
        self.sigma_start = sigma_start
        self.sigma_end = sigma_end
        self.learning_rate_start = learning_rate_start
        self.learning_rate_end = learning_rate_end
        self.decay = decay
        self.init = init
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype
        self.n_jobs = n_jobs

    # -- scikit-learn plumbing ------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # transform returns map coordinates
        return tags

    @property
    def _n_features_out(self):
        """transform gives the 2 map coordinates (names: selforganizingmap0/1)."""
        return 2

    def _threads(self, n_samples):
        """OpenMP threads for a BMU search over n_samples: no more than blocks."""
        U = self.n_rows * self.n_cols
        blocks = -(-n_samples // _som.block_rows(n_units=U))
        flops = 2.0 * n_samples * U * self.weights_.shape[-1]
        return threads_for(flops, "bmu", self.n_jobs, cap=blocks)

    def _grid(self):
        return Grid(self.n_rows, self.n_cols, self.topology, self.periodic)

    def _schedule_epochs(self):
        """Epochs over which the schedules run from start to end values."""
        return self.max_iter - min(self.hold_iter, self.max_iter // 2)

    def _sigma_start(self):
        if self.sigma_start is None:
            return max(self.n_rows, self.n_cols) / 2.0
        return float(self.sigma_start)

    # -- fitting --------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the map for ``max_iter`` epochs, starting from ``init``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : SelfOrganizingMap
            The trained map.
        """
        X = self._validate_fit_input(X, reset=True)
        with _blas_single_thread():
            self._start(X)
            self._epochs(X, self.max_iter)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Run one more epoch on ``X``, continuing the schedule.

        The first call initialises the map from ``X``; call k (counting from
        0) trains at the schedule position of epoch k of ``max_iter`` (past
        the end, the end values are kept).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data for this epoch.
        y : None
            Ignored.

        Returns
        -------
        self : SelfOrganizingMap
            The trained map.
        """
        first = not hasattr(self, "weights_")
        X = self._validate_fit_input(X, reset=first)
        with _blas_single_thread():
            if first:
                self._start(X)
            self._epochs(X, 1)
        return self

    def _validate_fit_input(self, X, reset):
        dtype = resolve_dtype(self.dtype) if reset else self.weights_.dtype
        X = validate_data(self, X, dtype=dtype, order="C", reset=reset)
        if not reset and self.weights_.shape[:2] != (self.n_rows, self.n_cols):
            raise ValueError(
                f"the map was initialised as {self.weights_.shape[0]} x "
                f"{self.weights_.shape[1]} but n_rows x n_cols is now "
                f"{self.n_rows} x {self.n_cols}; call fit to start a new map")
        return X

    def _start(self, X):
        grid = self._grid()  # checks the topology / periodic combination
        rng = check_random_state(self.random_state)
        W = self._initial_weights(X, grid, rng)
        self.weights_ = W.reshape(self.n_rows, self.n_cols, X.shape[1])
        self.n_iter_ = 0
        self.quantization_errors_ = np.empty(0)
        # per-fit seed of the online visiting orders: epoch e uses
        # default_rng([seed, e]), so partial_fit continues the same stream
        self._seed = int(rng.randint(2 ** 31 - 1))

    def _initial_weights(self, X, grid, rng):
        n, d = X.shape
        U = grid.n_units
        if not isinstance(self.init, str):
            W = np.array(self.init, dtype=X.dtype, copy=True)
            if W.shape not in ((self.n_rows, self.n_cols, d), (U, d)):
                raise ValueError(
                    f"init array must have shape (n_rows, n_cols, n_features) = "
                    f"({self.n_rows}, {self.n_cols}, {d}) or (n_rows * n_cols, n_features) "
                    f"= ({U}, {d}); got {W.shape}")
            if not np.all(np.isfinite(W)):
                raise ValueError("init array contains NaN or infinity")
            return np.ascontiguousarray(W.reshape(U, d))
        if self.init == "sample":
            idx = rng.choice(n, size=U, replace=U > n)
            W = X[idx]
        elif self.init == "random":
            lo, hi = X.min(axis=0), X.max(axis=0)
            W = lo + (hi - lo) * rng.random_sample((U, d))
        else:  # pca: the plane of the two leading components, +- 1 std
            mean, comps = _leading_components(X, 2)
            if len(comps) < 2:
                comps = np.vstack([comps, np.zeros((2 - len(comps), d))])
            pos = grid.coordinates  # (y, x): the longer extent gets the first component

            def spread(v):
                span = v.max() - v.min()
                return (v - v.min()) / span * 2.0 - 1.0 if span > 0 else np.zeros_like(v)

            a, b = spread(pos[:, 0]), spread(pos[:, 1])
            if self.n_cols > self.n_rows:
                a, b = b, a
            W = mean + a[:, None] * comps[0] + b[:, None] * comps[1]
        return np.ascontiguousarray(W, dtype=X.dtype)

    def _epochs(self, X, n_epochs):
        grid = self._grid()
        U, d = grid.n_units, X.shape[1]
        W = self.weights_.reshape(U, d)  # a view: kernels update weights_ in place
        metric = _METRICS[self.metric]
        kind = _NEIGHBORHOODS[self.neighborhood]
        decay = _DECAYS[self.decay]
        s0, s1 = self._sigma_start(), float(self.sigma_end)
        w_aux = np.empty(U, dtype=W.dtype)
        nt = self._threads(X.shape[0])
        n = X.shape[0]
        L = self._schedule_epochs()
        if self.algorithm == "batch":
            bmu = np.empty(n, dtype=np.intp)
            second = np.empty(n, dtype=np.intp)
            dist = np.empty(n, dtype=np.float64)
            sums = np.empty((U, d), dtype=np.float64)
            counts = np.empty(U, dtype=np.float64)
            smoother = _BatchSmoother(grid, d)
            # BMU search in calls of ~2**25 multiply-adds a thread, so that
            # Ctrl-C is seen between them; whole blocks, so the per-sample
            # results and the accumulation order do not depend on the calls
            step = _som.block_rows(n_units=U) * nt
            step *= max(1, ((1 << 25) * nt) // max(step * U * d, 1))
        else:
            cells, width = grid.cells()
            class_sq = grid.class_sq_distances()
            scratch = np.empty(_som.online_workspace(n_units=U)["scratch"], dtype=W.dtype)
        qes = []
        # the caller holds _blas_single_thread()
        for _ in range(n_epochs):
            e = self.n_iter_
            t0 = time.perf_counter()
            _som.unit_aux(W, w_aux=w_aux, metric=metric)  # exact, every epoch
            if self.algorithm == "batch":
                p = min(e / max(L - 1, 1), 1.0)
                sigma = s0 + (s1 - s0) * p if decay == 0 else s0 * (s1 / s0) ** p
                if nt == 1:  # accumulate block by block, while in cache
                    sums[:] = 0.0
                    counts[:] = 0.0
                for a in range(0, n, step):
                    sl = slice(a, min(a + step, n))
                    if nt == 1:
                        _som.bmu_search(X[sl], W, w_aux, bmu=bmu[sl], second=second[sl],
                                        dist=dist[sl], sums=sums, counts=counts,
                                        metric=metric, accumulate=True, second_best=False,
                                        n_threads=1)
                    else:
                        _som.bmu_search(X[sl], W, w_aux, bmu=bmu[sl], second=second[sl],
                                        dist=dist[sl], metric=metric, second_best=False,
                                        n_threads=nt)
                if nt != 1:
                    _som.batch_accumulate(X, bmu, sums, counts)
                qe = float(dist.mean())
                smoother.update(kind, sigma, sums, counts, W, metric, w_aux)
            else:
                p0 = min(e / L, 1.0)
                p1 = min((e + 1) / L, 1.0)
                order = np.random.default_rng([self._seed, e]).permutation(n).astype(np.intp)
                total = _som.online_epoch(
                    X, order, W, w_aux, cells, class_sq=class_sq, scratch=scratch,
                    n_rows=self.n_rows, width=width, periodic=self.periodic, metric=metric,
                    kind=kind, decay=decay, sigma_start=s0, sigma_end=s1,
                    lr_start=float(self.learning_rate_start),
                    lr_end=float(self.learning_rate_end), p_first=p0, p_last=p1)
                qe = total / n
            if not np.isfinite(qe) or not np.all(np.isfinite(w_aux)):
                hint = ("; the mexican hat's negative lobe pushes units away from "
                        "the samples, so it needs a small learning rate"
                        if self.neighborhood == "mexican_hat" else "")
                raise DivergenceError(
                    f"SelfOrganizingMap diverged at epoch {e + 1} (non-finite weights); "
                    f"lower learning_rate_start or scale the data{hint}")
            qes.append(qe)
            self.n_iter_ = e + 1
            if self.verbose:
                print(f"epoch {e + 1}: quantization error {qe:.6g}, "
                      f"{time.perf_counter() - t0:.3f} s", flush=True)
        self.quantization_errors_ = np.concatenate([self.quantization_errors_, qes])

    # -- using the map ---------------------------------------------------------
    def _check_X(self, X):
        """Validated X, checked finite; float32 and float64 kept as given (each row
        chunk is converted to the map's dtype in ``_bmus``: memory stays flat)."""
        check_is_fitted(self)
        return validate_data(self, X, dtype=predict_dtypes(self.weights_.dtype), reset=False)

    def _bmus(self, X):
        """(best unit, second-best unit, distance to best) of validated X."""
        U, d = self.n_rows * self.n_cols, self.weights_.shape[2]
        W = np.ascontiguousarray(self.weights_.reshape(U, d))
        metric = _METRICS[self.metric]
        w_aux = np.empty(U, dtype=W.dtype)
        _som.unit_aux(W, w_aux=w_aux, metric=metric)
        n = X.shape[0]
        bmu = np.empty(n, dtype=np.intp)
        second = np.empty(n, dtype=np.intp)
        dist = np.empty(n, dtype=np.float64)

        def chunk(a, b):  # row chunks on the free cores, one thread each
            Xc = np.ascontiguousarray(X[a:b], dtype=W.dtype)
            _som.bmu_search(Xc, W, w_aux, bmu=bmu[a:b], second=second[a:b], dist=dist[a:b],
                            metric=metric, n_threads=1)
        block = _som.block_rows(n_units=U)
        map_row_chunks(chunk, n, 8 * block, self.n_jobs, align=block)
        return bmu, second, dist

    def predict(self, X):
        """Index of each sample's best-matching unit (``row * n_cols + col``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, with the features the map was fitted on.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
            The BMU index of each sample.
        """
        return self._bmus(self._check_X(X))[0].astype(np.int64, copy=False)

    def fit_predict(self, X, y=None):
        """Fit the map, then return the BMU index of every training sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
            The BMU index (``row * n_cols + col``) of each sample.
        """
        return self.fit(X).predict(X)

    def transform(self, X):
        """Map position ``(y, x)`` of each sample's best-matching unit.

        Rectangular maps: ``(row, col)``; hexagonal maps: ``(row * sqrt(3)/2,
        col + 0.5 * (row % 2))``, so that plane distances are grid distances.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, with the features the map was fitted on.

        Returns
        -------
        X_map : ndarray of shape (n_samples, 2), float64
            The plane coordinates of each sample's BMU.
        """
        bmu = self._bmus(self._check_X(X))[0]
        return self._grid().coordinates[bmu]

    def quantization_error(self, X):
        """Mean distance (in ``metric``) of the samples to their BMU.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, with the features the map was fitted on.

        Returns
        -------
        qe : float
            The mean sample-to-BMU distance.
        """
        return float(self._bmus(self._check_X(X))[2].mean())

    def score(self, X, y=None):
        """Return minus the quantization error of ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, with the features the map was fitted on.
        y : None
            Ignored.

        Returns
        -------
        score : float
            ``-quantization_error(X)``.
        """
        return -self.quantization_error(X)

    def topographic_error(self, X):
        """Fraction of samples whose best and second-best units are not adjacent.

        Adjacent means grid neighbours in this map's topology (8 units on a
        rectangular grid, 6 on a hexagonal one, wrapping on a torus).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, with the features the map was fitted on.

        Returns
        -------
        te : float
            The fraction, in [0, 1].
        """
        bmu, second, _ = self._bmus(self._check_X(X))
        if self.n_rows * self.n_cols == 1:
            return 0.0
        return float(np.mean(~self._grid().adjacent(bmu, second)))

    def umatrix(self):
        """Mean distance (in ``metric``) of each unit's weights to its grid neighbours'.

        Returns
        -------
        umatrix : ndarray of shape (n_rows, n_cols), float64
            The mean neighbour distance of each unit (the U-matrix).
        """
        check_is_fitted(self)
        grid = self._grid()
        W = self.weights_.reshape(grid.n_units, -1).astype(np.float64)
        out = np.zeros(grid.n_units)
        for u, nb in enumerate(grid.neighbors()):
            if len(nb):
                out[u] = _pair_distance(W[u], W[nb], self.metric).mean()
        return out.reshape(self.n_rows, self.n_cols)

    def hit_map(self, X):
        """Count the samples of ``X`` won by each unit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, with the features the map was fitted on.

        Returns
        -------
        hits : ndarray of shape (n_rows, n_cols), int64
            The number of samples whose BMU each unit is.
        """
        bmu = self._bmus(self._check_X(X))[0]
        return np.bincount(bmu, minlength=self.n_rows * self.n_cols).reshape(
            self.n_rows, self.n_cols)

    def label_map(self, X, y):
        """Find the majority label of the samples won by each unit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, with the features the map was fitted on.
        y : array-like of shape (n_samples,)
            Labels (any type ``numpy.unique`` can sort).

        Returns
        -------
        labels : numpy.ma.MaskedArray of shape (n_rows, n_cols)
            Most frequent label per unit (ties: the smallest label); units
            that win no sample are masked.
        """
        X = self._check_X(X)
        y = column_or_1d(y, warn=True)
        if len(y) != X.shape[0]:
            raise ValueError(f"y has {len(y)} labels for {X.shape[0]} samples; "
                             "expected y of shape (n_samples,)")
        classes, codes = np.unique(y, return_inverse=True)
        U = self.n_rows * self.n_cols
        bmu = self._bmus(X)[0]
        counts = np.bincount(bmu * len(classes) + codes,
                             minlength=U * len(classes)).reshape(U, len(classes))
        labels = classes[np.argmax(counts, axis=1)]
        return np.ma.MaskedArray(labels, mask=counts.sum(axis=1) == 0).reshape(
            self.n_rows, self.n_cols)


class _BatchSmoother:
    """The batch-map update over the neighbourhood's support, for one grid.

    ``update`` sets ``w_u = sum_v h_uv S_v / sum_v h_uv c_v`` from the
    Voronoi sums S and counts c.  Sums and counts travel together as R rows
    of C items of ``d + 1`` values.  The gaussian is separable,
    ``exp(-(y^2 + x^2) / 2 s^2) = g(y) g(x)``, and the mexican hat is a sum of
    two separable terms, ``(1 - y^2/s^2) g(y) g(x) + g(y) (-x^2/s^2) g(x)``:
    one pass along the rows (``smooth_x``) and one across them
    (``smooth_y``) per term, O(U (K_y + K_x) d) for K taps an axis.  Bubble
    and triangle are smoothed directly over their (compact) support
    (``smooth_2d``), O(U K d) for the K units within sigma.  Hexagonal rows
    are offset by half a unit: the column offset in half units
    ``2 k + p_u - p_v`` depends on both rows' parities, so the row pass is
    done once per destination parity.
    """

    def __init__(self, grid, d):
        self.grid = grid
        R, C = grid.n_rows, grid.n_cols
        self.hex = grid.topology == "hexagonal"
        self.e = d + 1
        P = 2 if self.hex else 1
        self.SC = np.empty((R, C * self.e))
        self.A = np.empty((P * R, C * self.e))
        self.A2 = None
        self._taps = {}  # (kind, sigma) -> the last epoch's taps
        self.class_sq = grid.class_sq_distances()
        self.width = grid.cells()[1]
        # row offsets (each source row once) and their wrapped distances
        if grid.periodic:
            self.dr = np.arange(R, dtype=np.intp)
            self.dr_dist = np.minimum(self.dr, R - self.dr)
        else:
            self.dr = np.arange(-(R - 1), R, dtype=np.intp)
            self.dr_dist = np.abs(self.dr)
        # column taps per parity table t = 2 p_u + p_v: shift k, |x offset| in cells
        if grid.periodic:
            k = np.arange(C, dtype=np.intp)
        else:
            k = np.arange(-(C - 1), C, dtype=np.intp)
        self.k = k
        tables = [(0, 0), (0, 1), (1, 0), (1, 1)] if self.hex else [(0, 0)]
        self.dx_cells = []
        for pu, pv in tables:
            half = 2 * k + (pu - pv) if self.hex else k
            if grid.periodic:
                half = np.mod(half, self.width)
                half = np.minimum(half, self.width - half)
            self.dx_cells.append(np.abs(half))
        self.y2 = self.class_sq[self.dr_dist * self.width]  # squared plane y offsets
        self.x2 = [self.class_sq[dx] for dx in self.dx_cells]

    def _row_pass(self, factors):
        """smooth_x with one tap table per parity, keeping taps whose factors
        are not all below _TAIL; factors: list of f(x2) -> weights."""
        ptr, ks, hs = [0], [], [[] for _ in factors]
        for x2 in self.x2:
            vals = [f(x2) for f in factors]
            keep = np.max(np.abs(vals), axis=0) >= _TAIL
            ks.append(self.k[keep])
            for h, v in zip(hs, vals):
                h.append(v[keep])
            ptr.append(ptr[-1] + int(keep.sum()))
        ptr, ks = np.asarray(ptr, np.intp), np.concatenate(ks).astype(np.intp)
        return [(ptr, ks, np.ascontiguousarray(np.concatenate(h))) for h in hs]

    def _col_taps(self, factors):
        vals = [f(self.y2) for f in factors]
        keep = np.max(np.abs(vals), axis=0) >= _TAIL
        return self.dr[keep], [np.ascontiguousarray(v[keep]) for v in vals]

    def _compact_taps(self, kind, sigma):
        """(row offsets, tap_ptr, k, h) of bubble / triangle within sigma."""
        cut = sigma * sigma + 1e-9
        rows = np.flatnonzero(self.y2 <= cut)
        ptr, ks, hs = [0], [], []
        for i in rows:
            for dx in self.dx_cells:
                g2 = self.class_sq[self.dr_dist[i] * self.width + dx]
                inside = np.flatnonzero(g2 <= cut)
                h = np.empty((1, inside.size))
                _som.neighborhood_matrix(np.ascontiguousarray(g2[inside][None, :]), H=h,
                                         kind=kind, sigma=sigma, cutoff=False)
                nz = h[0] != 0.0
                ks.append(self.k[inside][nz])
                hs.append(h[0][nz])
                ptr.append(ptr[-1] + int(nz.sum()))
        return (self.dr[rows], np.asarray(ptr, np.intp),
                np.concatenate(ks).astype(np.intp), np.concatenate(hs))

    def update(self, kind, sigma, sums, counts, W, metric, w_aux):
        grid, e, C = self.grid, self.e, self.grid.n_cols
        SC = self.SC
        SC3 = SC.reshape(grid.n_units, e)
        SC3[:, :-1] = sums
        SC3[:, -1] = counts
        s2 = 2.0 * sigma * sigma
        per, hx = grid.periodic, self.hex
        cols = dict(periodic=per, hexagonal=hx)          # the smoothers' geometry
        rows = dict(cols, C=C)

        def g(z2):
            return np.exp(-z2 / s2)

        taps = self._taps.get((kind, sigma))
        if taps is None:  # the epochs held at sigma_end reuse their taps
            if kind == _NEIGHBORHOODS["gaussian"]:
                taps = self._row_pass([g]) + [self._col_taps([g])]
            elif kind == _NEIGHBORHOODS["mexican_hat"]:
                taps = self._row_pass([g, lambda z2: -(z2 / (sigma * sigma)) * g(z2)]) + [
                    self._col_taps([lambda z2: (1.0 - z2 / (sigma * sigma)) * g(z2), g])]
            else:
                taps = self._compact_taps(kind, sigma)
            self._taps = {(kind, sigma): taps}
        if kind == _NEIGHBORHOODS["gaussian"]:
            (ptr, ks, h), (dr, (hy,)) = taps
            _som.smooth_x(SC, self.A, tap_ptr=ptr, tap_k=ks, tap_h=h, **rows)
            _som.smooth_y(self.A, SC, dr=dr, h=hy, **cols)
        elif kind == _NEIGHBORHOODS["mexican_hat"]:
            if self.A2 is None:
                self.A2 = np.empty_like(self.A)
            (p1, k1, h1), (p2, k2, h2), (dr, (hy1, hy2)) = taps
            _som.smooth_x(SC, self.A, tap_ptr=p1, tap_k=k1, tap_h=h1, **rows)
            _som.smooth_x(SC, self.A2, tap_ptr=p2, tap_k=k2, tap_h=h2, **rows)
            _som.smooth_y(self.A, SC, dr=dr, h=hy1, **cols)
            _som.smooth_y(self.A2, SC, dr=dr, h=hy2, accumulate=True, **cols)
        else:  # bubble, triangle: compact support
            dr, ptr, ks, h = taps
            out = self.A[:grid.n_rows]
            _som.smooth_2d(SC, out, dr=dr, tap_ptr=ptr, tap_k=ks, tap_h=h, **rows)
            SC = out
        _som.batch_finish(SC.reshape(grid.n_units, e), W, w_aux=w_aux, metric=metric)


#: up to this many samples or features, the PCA init decomposes exactly (the
#: d x d covariance or the n x n Gram matrix, O(n d min(n, d))); beyond, a
#: randomized SVD costs O(n d k) for the k = 2 components
_EXACT_PCA_MAX_DIM = 128
#: rows of the centred float64 blocks the exact covariance is summed from
_PCA_BLOCK_ROWS = 512


def _leading_components(X, k):
    """Mean and the k leading principal axes of X, scaled by their std.

    Returns ``(mean, comps)`` with ``comps`` of shape ``(min(k, n, d), d)``
    in float64, each row a principal axis times the square root of its
    variance (``n - 1`` in the denominator).  Deterministic: exact for
    ``min(n, d) <= _EXACT_PCA_MAX_DIM`` (the covariance eigenproblem when d
    is small, the Gram matrix's when n is), else scikit-learn's
    ``randomized_svd`` with a fixed seed (4 or more power iterations, 10
    oversamples: the plane agrees with the exact one to rounding on data
    whose third component is clearly smaller).  Signs are fixed so that the
    largest ``|entry|`` of each axis is positive.
    """
    n, d = X.shape
    mean = X.mean(axis=0, dtype=np.float64)
    scale = 1.0 / max(n - 1, 1)
    if d <= _EXACT_PCA_MAX_DIM:
        # the covariance from float64 row blocks of the centred data: no
        # n x d float64 copy (its allocation cost more than the product on
        # a map of the digits' size); the k largest eigenpairs only
        from scipy.linalg import eigh

        cov = np.zeros((d, d))
        buf = np.empty((min(n, _PCA_BLOCK_ROWS), d))
        for a in range(0, n, _PCA_BLOCK_ROWS):
            xc = buf[:min(n - a, _PCA_BLOCK_ROWS)]
            np.subtract(X[a:a + _PCA_BLOCK_ROWS], mean, out=xc)
            cov += xc.T @ xc
        cov *= scale
        kk = min(k, d)
        evals, evecs = eigh(cov, subset_by_index=[d - kk, d - 1])
        order = np.argsort(evals)[::-1]
        axes, var = evecs[:, order].T, evals[order]
    elif n <= _EXACT_PCA_MAX_DIM:  # few samples: the n x n Gram matrix
        Xc = X.astype(np.float64) - mean
        evals, evecs = np.linalg.eigh(Xc @ Xc.T)
        order = np.argsort(evals)[::-1][:min(k, n)]
        s = np.sqrt(np.maximum(evals[order], 0.0))
        axes = (Xc.T @ evecs[:, order]).T
        axes /= np.where(s > 0, s, 1.0)[:, None]
        var = s ** 2 * scale
    else:
        from sklearn.utils.extmath import randomized_svd

        _, s, axes = randomized_svd(X.astype(np.float64) - mean, k, random_state=0)
        var = s ** 2 * scale
    comps = axes * np.sqrt(np.maximum(var, 0.0))[:, None]
    signs = np.sign(comps[np.arange(len(comps)), np.argmax(np.abs(comps), axis=1)])
    comps *= np.where(signs == 0, 1.0, signs)[:, None]
    return mean, comps


def _pair_distance(w, V, metric):
    """Distance in ``metric`` between a vector w and each row of V (float64)."""
    if metric == "euclidean":
        return np.sqrt(((V - w) ** 2).sum(axis=1))
    if metric == "manhattan":
        return np.abs(V - w).sum(axis=1)
    nw, nv = np.linalg.norm(w), np.linalg.norm(V, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where((nw > 0) & (nv > 0), V @ w / (nw * nv), 0.0)
    return np.maximum(0.0, 1.0 - cos)
