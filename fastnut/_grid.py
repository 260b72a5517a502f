"""Geometry of a self-organizing map's grid, defined once.

Training (neighbourhood matrices), the U-matrix, the topographic error,
``transform`` and the plots all take unit positions and grid distances from
:class:`Grid`, so rectangular/hexagonal and planar/toroidal maps behave the
same everywhere.

Unit ``u = row * n_cols + col`` sits at plane position ``(y, x)``:

* rectangular: ``(row, col)``; grid neighbours are the 8 units of the
  Moore neighbourhood (distance 1 or sqrt(2));
* hexagonal ("offset rows"): ``(row * sqrt(3)/2, col + 0.5 * (row % 2))``,
  so the 6 neighbours of a unit are all at distance 1.

A toroidal (periodic) grid wraps both axes: the period is ``n_cols`` along x
and ``n_rows`` (rectangular) or ``n_rows * sqrt(3)/2`` (hexagonal) along y;
a hexagonal torus needs an even ``n_rows`` for the row offsets to line up.
"""
import numpy as np

_SQRT3_2 = np.sqrt(3.0) / 2.0
_EPS = 1e-9


class Grid:
    """Unit positions and grid distances of an ``n_rows x n_cols`` map.

    Parameters
    ----------
    n_rows, n_cols : int
        Map size.
    topology : {"rectangular", "hexagonal"}
    periodic : bool
        Wrap both axes (toroidal map).
    """

    def __init__(self, n_rows, n_cols, topology="rectangular", periodic=False):
        if topology not in ("rectangular", "hexagonal"):
            raise ValueError(f"topology must be 'rectangular' or 'hexagonal', got {topology!r}")
        if periodic and topology == "hexagonal" and n_rows % 2:
            raise ValueError(
                "a periodic hexagonal map needs an even n_rows (the row offsets "
                f"must line up across the wrap), got n_rows={n_rows}")
        self.n_rows, self.n_cols = int(n_rows), int(n_cols)
        self.topology, self.periodic = topology, bool(periodic)
        self.n_units = self.n_rows * self.n_cols
        r, c = np.divmod(np.arange(self.n_units), self.n_cols)
        if topology == "hexagonal":
            self.coordinates = np.column_stack([r * _SQRT3_2, c + 0.5 * (r % 2)])
            self.periods = np.array([self.n_rows * _SQRT3_2, self.n_cols], dtype=float)
            self.neighbor_radius = 1.0
        else:
            self.coordinates = np.column_stack([r, c]).astype(float)
            self.periods = np.array([self.n_rows, self.n_cols], dtype=float)
            self.neighbor_radius = np.sqrt(2.0)

    def _delta(self, a, b):
        """|a - b| per axis, wrapped on a torus; a, b of shape (..., 2)."""
        diff = np.abs(a - b)
        if self.periodic:
            diff = np.minimum(diff, self.periods - diff)
        return diff

    def sq_distances(self, units_a=None, units_b=None):
        """Squared grid distances between two sets of units (default: all).

        Returns
        -------
        ndarray of shape (len(units_a), len(units_b)), float64, C-contiguous
        """
        ca = self.coordinates if units_a is None else self.coordinates[units_a]
        cb = self.coordinates if units_b is None else self.coordinates[units_b]
        out = np.zeros((len(ca), len(cb)))
        for axis in range(2):  # one axis at a time: no (a, b, 2) temporary
            diff = np.abs(ca[:, axis, None] - cb[None, :, axis])
            if self.periodic:
                np.minimum(diff, self.periods[axis] - diff, out=diff)
            out += diff * diff
        return out

    def pair_distances(self, a, b):
        """Grid distance between units ``a[i]`` and ``b[i]`` (arrays of ints)."""
        diff = self._delta(self.coordinates[a], self.coordinates[b])
        return np.sqrt((diff ** 2).sum(-1))

    def adjacent(self, a, b):
        """Whether units ``a[i]`` and ``b[i]`` are grid neighbours (or equal)."""
        return self.pair_distances(a, b) <= self.neighbor_radius + _EPS

    def neighbors(self):
        """Grid neighbours of every unit.

        Returns
        -------
        list of ndarray
            ``neighbors()[u]`` holds the units adjacent to ``u`` (itself
            excluded), in increasing order.
        """
        r, c = np.divmod(np.arange(self.n_units), self.n_cols)
        cand = []
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr == 0 and dc == 0:
                    continue
                rr, cc = r + dr, c + dc
                if self.periodic:
                    rr, cc = rr % self.n_rows, cc % self.n_cols
                    ok = np.ones(self.n_units, dtype=bool)
                else:
                    ok = (rr >= 0) & (rr < self.n_rows) & (cc >= 0) & (cc < self.n_cols)
                v = np.where(ok, rr * self.n_cols + cc, 0)
                ok &= self.adjacent(np.arange(self.n_units), v) & (v != np.arange(self.n_units))
                cand.append(np.where(ok, v, -1))
        cand = np.stack(cand, axis=1)
        return [np.unique(row[row >= 0]) for row in cand]
