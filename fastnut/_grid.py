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

    def distance_classes(self):
        """All squared grid distances as a small table of values and an index.

        A grid distance only depends on the row offset and the (doubled,
        for hexagonal rows) column offset of two units, so the ``U x U``
        distances take at most ``n_rows * 2 n_cols`` values.  Evaluating a
        neighbourhood on ``values`` and gathering with ``index`` is much
        cheaper than evaluating it on every pair.

        Returns
        -------
        values : ndarray of shape (n_classes,), float64
            Squared distance of each class.
        index : ndarray of shape (n_units, n_units), intp
            Class of every pair of units: ``sq_distances() == values[index]``.
        """
        R = self.n_rows
        cells, width = self.cells()
        r, x = cells[:, 0], cells[:, 1]
        dr = np.abs(r[:, None] - r[None, :])
        dx = np.abs(x[:, None] - x[None, :])
        if self.periodic:
            np.minimum(dr, R - dr, out=dr)
            np.minimum(dx, width - dx, out=dx)
        index = dr * width + dx
        return self.class_sq_distances(), index

    def cells(self):
        """Integer cell of every unit and the cell width of a row.

        Returns
        -------
        cells : ndarray of shape (n_units, 2), intp
            ``(row, x)``; ``x`` counts half units on hexagonal grids
            (``2 col + row % 2``), so every offset is an integer.
        width : int
            Number of x cells per row (``n_cols``, or ``2 n_cols`` hexagonal);
            the distance class of an offset ``(dr, dx)`` is ``dr * width + dx``.
        """
        r, c = np.divmod(np.arange(self.n_units), self.n_cols)
        if self.topology == "hexagonal":
            return np.ascontiguousarray(np.column_stack([r, 2 * c + r % 2]), dtype=np.intp), 2 * self.n_cols
        return np.ascontiguousarray(np.column_stack([r, c]), dtype=np.intp), self.n_cols

    def class_sq_distances(self):
        """Squared grid distance of every distance class (see :meth:`cells`)."""
        _, width = self.cells()
        rows, cols = np.divmod(np.arange(self.n_rows * width), width)
        if self.topology == "hexagonal":
            return (rows * _SQRT3_2) ** 2 + (cols / 2.0) ** 2
        return rows.astype(float) ** 2 + cols.astype(float) ** 2

    def sq_distances(self):
        """Squared grid distances between all units.

        Returns
        -------
        ndarray of shape (n_units, n_units), float64
        """
        values, index = self.distance_classes()
        return values[index]

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
