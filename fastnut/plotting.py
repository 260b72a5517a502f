"""Optional matplotlib figures for fastnut models.

matplotlib is imported only when a plotting function is called; install it
with ``pip install "fastnut[plot]"``.  Every function draws into ``ax`` when
given (or a new figure otherwise) and returns the axes (or figure) it drew on.
"""
import numpy as np


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "fastnut.plotting needs matplotlib; install it with "
            "`pip install matplotlib` (or `pip install \"fastnut[plot]\"`)"
        ) from exc
    return plt


# -- self-organizing maps -----------------------------------------------------------

def _som_grid(som):
    from sklearn.utils.validation import check_is_fitted

    from ._grid import Grid
    check_is_fitted(som)
    return Grid(som.n_rows, som.n_cols, som.topology, som.periodic)


def _som_cells(grid):
    """Polygon of every unit: hexagons (pointy top) or unit squares, row 0 on top."""
    y, x = grid.coordinates[:, 0], grid.coordinates[:, 1]
    if grid.topology == "hexagonal":
        # circumradius 1/sqrt(3): neighbours in a row are 1 apart, rows sqrt(3)/2
        angles = np.deg2rad(90 + 60 * np.arange(6))
        r = 1 / np.sqrt(3)
        dx, dy = r * np.cos(angles), r * np.sin(angles)
    else:
        dx = np.array([-0.5, 0.5, 0.5, -0.5])
        dy = np.array([-0.5, -0.5, 0.5, 0.5])
    return np.stack([x[:, None] + dx, -(y[:, None] + dy)], axis=-1)


def _colorbar(mappable, ax, label):
    """A colour bar as tall as ``ax`` (not the figure), with its label."""
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    cax = make_axes_locatable(ax).append_axes("right", size="4%", pad=0.08)
    cbar = ax.figure.colorbar(mappable, cax=cax)
    if label:
        cbar.set_label(label)
    return cbar


def _text_colors(rgba):
    """Black or white, whichever contrasts with each background colour."""
    rgba = np.asarray(rgba, dtype=float)
    # relative luminance (sRGB, ITU-R BT.709) of the cell colours
    lin = np.where(rgba[:, :3] <= 0.04045, rgba[:, :3] / 12.92,
                   ((rgba[:, :3] + 0.055) / 1.055) ** 2.4)
    lum = lin @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(lum > 0.18, "black", "white")


def plot_som_map(som, values, ax=None, cmap="viridis", colorbar=True, title="value per unit",
                 annotate=False, colorbar_label="value"):
    """Draw one value (or one RGB colour) per unit of a fitted map.

    Parameters
    ----------
    som : SelfOrganizingMap
        A fitted map; its topology decides squares or hexagons.
    values : array-like of shape (n_rows, n_cols) or (n_rows, n_cols, 3)
        A scalar per unit (coloured with ``cmap``) or an RGB colour in [0, 1].
        Masked entries are drawn blank.
    ax : matplotlib Axes, default=None
        Draw into these axes; None makes a new figure.
    cmap : str, default="viridis"
        Matplotlib colour map of scalar values.
    colorbar : bool, default=True
        Add a colour bar (scalar values only), as tall as the map.
    title : str or None, default="value per unit"
        None or ``""`` draws no title.
    annotate : bool, default=False
        Write each unit's value in its cell, in black or white, whichever
        contrasts with the cell.
    colorbar_label : str or None, default="value"
        What the colours measure.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into.
    """
    plt = _pyplot()
    from matplotlib.collections import PolyCollection

    grid = _som_grid(som)
    values = np.ma.asarray(values)
    if values.shape[:2] != (som.n_rows, som.n_cols) or values.ndim not in (2, 3):
        raise ValueError(f"values must have shape ({som.n_rows}, {som.n_cols}) or "
                         f"({som.n_rows}, {som.n_cols}, 3); got {values.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.35 * som.n_cols + 1.5, 0.35 * som.n_rows + 1))
    polygons = _som_cells(grid)
    cells = PolyCollection(polygons, edgecolors="white", linewidths=0.3)
    if values.ndim == 3:
        rgb = np.clip(np.ma.filled(values.astype(float), 1.0), 0, 1).reshape(-1, values.shape[2])
        cells.set_facecolor(rgb)
    else:
        cells.set_array(values.reshape(-1))
        cells.set_cmap(cmap)
        cells.autoscale()
    ax.add_collection(cells)
    if annotate and values.ndim == 2:
        flat = values.reshape(-1)
        colors = _text_colors(cells.to_rgba(np.ma.filled(flat.astype(float), 0.0)))
        # the label fits the cell: ~40% of a cell's width in points
        bbox = ax.get_position()
        cell_pt = 72 * ax.figure.get_figwidth() * bbox.width / (som.n_cols + 0.5)
        size = float(np.clip(0.4 * cell_pt, 5, 10))
        for (y, x), v, c in zip(grid.coordinates, flat, colors):
            if v is not np.ma.masked:
                ax.text(x, -y, f"{v:g}", ha="center", va="center", fontsize=size, color=c)
    # the map fills its axes: limits at the cells, no frame
    lo, hi = polygons.reshape(-1, 2).min(axis=0), polygons.reshape(-1, 2).max(axis=0)
    pad = 0.1
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    if colorbar and values.ndim == 2:
        _colorbar(cells, ax, colorbar_label)
    return ax


def plot_som_umatrix(som, ax=None, cmap="bone_r", **kwargs):
    """U-matrix of a fitted map: mean distance of each unit to its grid neighbours.

    Light cells are cluster interiors, dark cells the borders between them.

    Parameters
    ----------
    som : SelfOrganizingMap
        A fitted map.
    ax : matplotlib Axes, default=None
        Draw into these axes; None makes a new figure.
    cmap : str, default="bone_r"
        Matplotlib colour map.
    **kwargs : dict
        Passed to :func:`plot_som_map` (``title``, ``colorbar``, ...).

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into.
    """
    kwargs.setdefault("title", "U-matrix")
    kwargs.setdefault("colorbar_label", "mean distance to the neighbouring units")
    return plot_som_map(som, som.umatrix(), ax=ax, cmap=cmap, **kwargs)


def plot_som_hit_map(som, X, ax=None, cmap="viridis", annotate=True, **kwargs):
    """Draw the number of samples of ``X`` won by each unit (units never hit are blank).

    Parameters
    ----------
    som : SelfOrganizingMap
        A fitted map.
    X : array-like of shape (n_samples, n_features)
        The samples counted.
    ax : matplotlib Axes, default=None
        Draw into these axes; None makes a new figure.
    cmap : str, default="viridis"
        Matplotlib colour map.
    annotate : bool, default=True
        Write each cell's count in it.
    **kwargs : dict
        Passed to :func:`plot_som_map` (``title``, ``colorbar``, ...).

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into.
    """
    hits = som.hit_map(X)
    kwargs.setdefault("title", "hits: samples won by each unit")
    kwargs.setdefault("colorbar_label", "samples")
    return plot_som_map(som, np.ma.masked_equal(hits, 0), ax=ax, cmap=cmap,
                        annotate=annotate, **kwargs)


def plot_som_component_planes(som, features=None, feature_names=None, n_cols=4,
                              cmap="coolwarm", title="component planes: each feature's weight per unit"):
    """One map per input feature: the weight of that feature at each unit.

    Parameters
    ----------
    som : SelfOrganizingMap
        A fitted map.
    features : list of int, default=None
        Feature indices to draw (default: all).
    feature_names : list of str, default=None
        Titles (default: ``som.feature_names_in_`` when the map was fitted on
        a DataFrame, else ``feature i``).
    n_cols : int, default=4
        Panels per row.
    cmap : str, default="coolwarm"
        Matplotlib colour map of the weights.
    title : str or None, default="component planes: each feature's weight per unit"
        The figure's title; None or ``""`` draws none.

    Returns
    -------
    fig : matplotlib Figure
        The new figure.
    """
    plt = _pyplot()
    _som_grid(som)
    W = som.weights_
    features = list(range(W.shape[2])) if features is None else list(features)
    if feature_names is None:
        feature_names = getattr(som, "feature_names_in_", None)
    n = len(features)
    cols = max(1, min(n_cols, n))
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, squeeze=False,
                             figsize=(cols * (0.25 * som.n_cols + 1.2),
                                      rows * (0.25 * som.n_rows + 0.8)))
    for ax, f in zip(axes.ravel(), features):
        name = feature_names[f] if feature_names is not None else f"feature {f}"
        plot_som_map(som, W[:, :, f], ax=ax, cmap=cmap, title=str(name),
                     colorbar_label="weight")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_som_colors(som, ax=None, **kwargs):
    """Draw a map fitted on 3 features (e.g. RGB colours) in its own colours.

    Weights already in [0, 1] are drawn as they are; otherwise each feature
    is rescaled to [0, 1] over the map.

    Parameters
    ----------
    som : SelfOrganizingMap
        A map fitted on 3 features.
    ax : matplotlib Axes, default=None
        Draw into these axes; None makes a new figure.
    **kwargs : dict
        Passed to :func:`plot_som_map` (``title``, ``annotate``, ...).

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into.
    """
    W = np.asarray(som.weights_, dtype=float)
    if W.shape[2] != 3:
        raise ValueError(f"plot_som_colors needs a map of 3 features; this one has {W.shape[2]}")
    rgb = W
    if W.min() < 0 or W.max() > 1:
        lo, hi = W.min(axis=(0, 1)), W.max(axis=(0, 1))
        rgb = (W - lo) / np.where(hi > lo, hi - lo, 1.0)
    kwargs.setdefault("title", "codebook colours")
    return plot_som_map(som, rgb, ax=ax, **kwargs)


# -- autoencoders --------------------------------------------------------------------

def _as_images(X, image_shape):
    X = np.asarray(X)
    if image_shape is not None:
        return X.reshape((X.shape[0],) + tuple(image_shape)[-2:])
    if X.ndim == 4:
        if X.shape[1] != 1:
            raise ValueError("plot_reconstructions draws one channel; pass image_shape "
                             f"or single-channel images, got {X.shape}")
        return X[:, 0]
    if X.ndim == 3:
        return X
    side = int(round(np.sqrt(X.shape[1])))
    if side * side != X.shape[1]:
        raise ValueError(f"rows of {X.shape[1]} values are not square images; pass "
                         "image_shape=(H, W)")
    return X.reshape(X.shape[0], side, side)


def plot_reconstructions(autoencoder, X, n_images=8, image_shape=None, cmap="gray_r",
                         fig=None, title="originals and their reconstructions"):
    """Draw originals (top row) above their reconstructions (bottom row).

    Parameters
    ----------
    autoencoder : fitted fastnut autoencoder
        Anything with ``reconstruct`` (or ``transform`` and
        ``inverse_transform``) on image rows.
    X : array-like of shape (n_samples, H*W), (n_samples, H, W) or (n_samples, 1, H, W)
        The images to reconstruct.
    n_images : int, default=8
        The first ``n_images`` rows are drawn.
    image_shape : tuple (H, W) or None, default=None
        Needed for flat rows that are not square.
    cmap : str, default="gray_r"
        Matplotlib colour map.
    fig : matplotlib Figure, default=None
        Draw into this figure (cleared first); a new one otherwise.
    title : str or None, default="originals and their reconstructions"
        None or ``""`` draws no title.

    Returns
    -------
    fig : matplotlib Figure
        The figure drawn into.
    """
    plt = _pyplot()
    X = np.asarray(X)[:n_images]
    if hasattr(autoencoder, "reconstruct"):
        R = autoencoder.reconstruct(X)
    else:
        R = autoencoder.inverse_transform(autoencoder.transform(X))
    orig, rec = _as_images(X, image_shape), _as_images(R, image_shape)
    k = len(orig)
    fig = fig or plt.figure(figsize=(1.2 * k, 2.6))
    axes = fig.subplots(2, k, squeeze=False)
    lo, hi = float(np.min(orig)), float(np.max(orig))
    for j in range(k):
        for row, imgs in enumerate((orig, rec)):
            ax = axes[row, j]
            ax.imshow(imgs[j], cmap=cmap, vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("reconstructed")
    if title:
        fig.suptitle(title)
    return fig


def plot_codes(codes_or_autoencoder, X=None, y=None, ax=None, cmap="tab10", s=8,
               title="2-D codes"):
    """Draw a scatter of 2-D codes, coloured by label.

    Parameters
    ----------
    codes_or_autoencoder : ndarray of shape (n_samples, 2) or fitted transformer
        Codes, or a fitted model whose ``transform(X)`` gives them (the first
        two components are drawn).
    X : array-like, default=None
        Inputs to encode when a model is given.
    y : array-like of shape (n_samples,), default=None
        Labels for the colours (and the legend).
    ax : matplotlib Axes, default=None
        Draw into these axes; None makes a new figure.
    cmap : str, default="tab10"
        Matplotlib colour map of the labels.
    s : float, default=8
        Marker size.
    title : str or None, default="2-D codes"
        None or ``""`` draws no title.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into.
    """
    plt = _pyplot()
    if hasattr(codes_or_autoencoder, "transform"):
        if X is None:
            raise ValueError("plot_codes needs X to encode when given a model")
        Z = np.asarray(codes_or_autoencoder.transform(X))
    else:
        Z = np.asarray(codes_or_autoencoder)
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise ValueError(f"plot_codes draws 2-D codes; got codes of shape {Z.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    if y is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=s, color="0.3")
    else:
        y = np.asarray(y)
        labels = np.unique(y)
        colors = plt.get_cmap(cmap)(np.linspace(0, 1, max(len(labels), 2)))
        if len(labels) <= 10 and cmap == "tab10":
            colors = plt.get_cmap(cmap)(np.arange(len(labels)))
        for lab, col in zip(labels, colors):
            m = y == lab
            ax.scatter(Z[m, 0], Z[m, 1], s=s, color=col, label=str(lab))
        ax.legend(markerscale=2, fontsize="small", frameon=False, loc="center left",
                  bbox_to_anchor=(1.0, 0.5), title="label", title_fontsize="small")
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    if title:
        ax.set_title(title)
    return ax


# -- convolutional networks ------------------------------------------------------------

def plot_filters(est, n_cols=8, cmap="gray", fig=None, title="first-layer filters"):
    """Draw the filters of the first convolution of a fitted CNN, one panel each.

    Parameters
    ----------
    est : CNNClassifier, CNNRegressor, fastnut.nn.Conv2D or ndarray
        A fitted estimator (its first ``Conv2D`` layer), a built layer, or a
        weight array of shape ``(C_out, C_in, kh, kw)``.
    n_cols : int, default=8
        Panels per row.
    cmap : str, default="gray"
        Colour map for one-channel filters (3-channel filters are drawn as
        RGB images).
    fig : matplotlib Figure or None
        Draw into this figure (cleared first); a new one otherwise.
    title : str or None, default="first-layer filters"
        The figure's title, followed by the filters' shape; None or ``""``
        draws no title.

    Returns
    -------
    fig : matplotlib Figure
        The figure drawn into.

    Notes
    -----
    Each filter is scaled to its own ``[min, max]``.  Filters with other than
    1 or 3 input channels are shown as their mean over the channels.
    """
    from .nn import Conv2D

    W = est
    if hasattr(est, "network_"):
        convs = [l for l in est.network_.layers if isinstance(l, Conv2D)]
        W = convs[0].params["weight"]
    elif isinstance(est, Conv2D):
        if "weight" not in est.params:
            raise ValueError("plot_filters needs a built Conv2D layer (call build first)")
        W = est.params["weight"]
    elif hasattr(est, "fit"):
        from sklearn.exceptions import NotFittedError
        raise NotFittedError(f"This {type(est).__name__} instance is not fitted yet; "
                             "call fit before plot_filters")
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 4:
        raise ValueError(f"filters must have shape (C_out, C_in, kh, kw); got {W.shape}")
    plt = _pyplot()
    n = W.shape[0]
    n_cols = max(1, min(int(n_cols), n))
    n_rows = -(-n // n_cols)
    if fig is None:
        fig = plt.figure(figsize=(1.2 * n_cols, 1.2 * n_rows + (0.4 if title else 0)))
    else:
        fig.clear()
    for k in range(n):
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        f = W[k]
        f = (f - f.min()) / (np.ptp(f) or 1.0)
        if f.shape[0] == 3:
            ax.imshow(np.moveaxis(f, 0, -1), interpolation="nearest")
        else:
            ax.imshow(f.mean(axis=0), cmap=cmap, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(f"{title}: {n} filters of shape {W.shape[1]}x{W.shape[2]}x{W.shape[3]}, "
                     "each scaled to its own range")
    return fig


# -- Boltzmann machines --------------------------------------------------------------------

def plot_rbm_components(est, n_components=64, image_shape=None, n_cols=8, cmap="gray",
                        fig=None, title="first-layer weights"):
    """Draw the first-layer weights of a fitted RBM or deep belief model as images.

    Parameters
    ----------
    est : BernoulliRBM, GaussianBernoulliRBM, DeepBeliefNetwork, DeepBoltzmannMachine or DBNClassifier
        A fitted model; its first-layer weights are drawn, one hidden unit
        per panel (a ``DBNClassifier`` shows its fine-tuned first layer).
    n_components : int, default=64
        Number of hidden units to draw (the first ones).
    image_shape : tuple (H, W) or None
        Shape of one input image; None infers a square image.
    n_cols : int, default=8
        Panels per row.
    cmap : str, default="gray"
        Matplotlib colour map.
    fig : matplotlib Figure or None
        Draw into this figure (cleared first); a new one otherwise.
    title : str or None, default="first-layer weights"
        The figure's title, followed by the number of units drawn; None or
        ``""`` draws no title.

    Returns
    -------
    fig : matplotlib Figure
        The figure drawn into.

    Notes
    -----
    Each unit's weights are scaled to its own ``[min, max]``.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    if hasattr(est, "components_"):
        W = est.components_
    elif hasattr(est, "coefs_"):
        W = est.coefs_[0].T
    elif hasattr(est, "network_"):
        W = est.network_.layers[0].params["weight"].T
    else:
        raise TypeError(f"plot_rbm_components needs a fitted RBM, DBN or DBM, got "
                        f"{type(est).__name__}")
    W = np.asarray(W, dtype=np.float64)[: int(n_components)]
    images = _as_images(W, image_shape)
    plt = _pyplot()
    n = images.shape[0]
    n_cols = max(1, min(int(n_cols), n))
    n_rows = -(-n // n_cols)
    if fig is None:
        fig = plt.figure(figsize=(1.1 * n_cols, 1.1 * n_rows + (0.4 if title else 0)))
    else:
        fig.clear()
    for k in range(n):
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        f = images[k]
        ax.imshow((f - f.min()) / (np.ptp(f) or 1.0), cmap=cmap, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(f"{title}: {n} hidden units, each scaled to its own range")
    return fig
