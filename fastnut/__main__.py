"""``fastnut demo`` (or ``python -m fastnut``): a tour of every estimator on bundled data.

Each family registers a demo, a function that takes the :class:`_Tour` and
reports one table row per model through ``tour.row(model, metric)``; the row
appears when the model starts and is completed when it is scored, so a long
fit is never silent.  ``fastnut demo mlp som`` picks families by name.
"""
import inspect
import os
import sys
import time
import warnings

import numpy as np

USAGE = """\
usage: fastnut [demo] [FAMILY ...]
       python -m fastnut [demo] [FAMILY ...]

A tour of fastnut's estimators on bundled data (scikit-learn's digits and
generated sets): each model is trained, scored on data it did not see, and
timed.  Without FAMILY every family runs, in well under a minute on 2 cores.

families:
{families}

environment:
  FASTNUT_PLOTS=DIR    also save the tour's figures as PNG files in DIR
                       (created if needed; needs matplotlib:
                       pip install "fastnut[plot]")
  OMP_NUM_THREADS=N    threads for fastnut's kernels

examples:
  fastnut demo
  fastnut demo som autoencoder
  FASTNUT_PLOTS=figures fastnut demo som
"""

# column widths of the tour's table
_W_FAMILY, _W_MODEL, _W_METRIC, _W_VALUE, _W_FIT = 11, 24, 35, 7, 6


def _text(s, stream=None):
    """``s`` as the output stream can print it (arrows fall back to ASCII)."""
    enc = getattr(stream or sys.stdout, "encoding", None) or "utf-8"
    for a, b in (("↑", "^"), ("↓", "v"), ("→", "->"), ("²", "^2"), ("—", "-")):
        if a in s:
            try:
                a.encode(enc)
            except (UnicodeEncodeError, LookupError):
                s = s.replace(a, b)
    return s


class _Row:
    """One line of the table: printed up to the metric when entered, finished on exit."""

    def __init__(self, tour, model, metric):
        self.tour, self.model, self.metric = tour, model, metric
        self.value = None
        self.seconds = None

    def fit(self, est, X, y=None):
        """Fit ``est`` and add the time to this row's fit column."""
        t0 = time.perf_counter()
        est.fit(X) if y is None else est.fit(X, y)
        self.seconds = (self.seconds or 0.0) + time.perf_counter() - t0
        return est

    def __enter__(self):
        self.tour.write(f"{self.tour.family:<{_W_FAMILY}} {self.model:<{_W_MODEL}} "
                        f"{self.metric:<{_W_METRIC}} ")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.tour.write("failed\n")
            return False
        value = "—" if self.value is None else f"{self.value:.4f}"
        fit = "—" if self.seconds is None else f"{self.seconds:.2f}"
        self.tour.write(f"{value:>{_W_VALUE}} {fit:>{_W_FIT}}\n")
        return False


class _Tour:
    """Prints the table and saves the figures (``FASTNUT_PLOTS``)."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.family = ""
        self.figures = None

    def write(self, s):
        self.out.write(_text(s, self.out))
        self.out.flush()

    def row(self, model, metric):
        return _Row(self, model, metric)

    def header(self):
        self.write(f"{'family':<{_W_FAMILY}} {'model':<{_W_MODEL}} {'metric':<{_W_METRIC}} "
                   f"{'value':>{_W_VALUE}} {'fit s':>{_W_FIT}}\n")

    def open_figures(self, directory):
        """Prepare ``directory`` for the figures; False (with a message) if they cannot be made."""
        try:
            import matplotlib
        except ImportError:
            self.write(f"FASTNUT_PLOTS={directory} is set, but the figures need matplotlib, "
                       "which is not installed:\n"
                       "    pip install \"fastnut[plot]\"     (or: pip install matplotlib)\n"
                       "The tour runs without the figures.\n")
            return False
        matplotlib.use("Agg")
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            self.write(f"FASTNUT_PLOTS={directory}: cannot create the folder ({exc}); "
                       "the tour runs without the figures.\n")
            return False
        self.figures = os.path.abspath(directory)
        self.write(f"figures go to {self.figures}\n")
        return True

    def save(self, draw, name):
        """With ``FASTNUT_PLOTS``, save the figure ``draw()`` returns (a Figure or Axes)."""
        if self.figures is None:
            return
        import matplotlib.pyplot as plt

        fig = draw()
        fig = getattr(fig, "figure", fig)
        path = os.path.join(self.figures, name)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        self.write(f"{'':<{_W_FAMILY}} saved {path}\n")


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


def demo_mlp(tour):
    """MLPClassifier on the digits"""
    from fastnut import MLPClassifier
    Xtr, Xte, ytr, yte = _digits()
    with tour.row("MLPClassifier", "digits: accuracy ↑") as row:
        clf = row.fit(MLPClassifier(hidden_layer_sizes=(128,), max_iter=60, random_state=0),
                      Xtr, ytr)
        row.value = clf.score(Xte, yte)


def demo_cnn(tour):
    """CNNClassifier on the digits as 8x8 images"""
    from fastnut import CNNClassifier
    Xtr, Xte, ytr, yte = _digits()
    with tour.row("CNNClassifier", "digits as 8x8 images: accuracy ↑") as row:
        # the default layers; 40 epochs at twice the default rate reach the
        # defaults' accuracy (0.99, which tests/test_quality.py checks) in a third of the time
        clf = row.fit(CNNClassifier(input_shape=(1, 8, 8), learning_rate_init=2e-3, max_iter=40,
                                    random_state=0), Xtr, ytr)
        row.value = clf.score(Xte, yte)
    if tour.figures:
        from fastnut import plotting
        tour.save(lambda: plotting.plot_filters(clf), "cnn_filters.png")


def demo_rnn(tour):
    """LSTM classifier on digit rows; GRU forecaster of a two-tone series"""
    from fastnut import RNNClassifier, RNNRegressor
    Xtr, Xte, ytr, yte = _digits()
    # every digit read as a sequence of 8 rows of 8 pixels
    with tour.row("RNNClassifier (LSTM)", "digits, rows as steps: accuracy ↑") as row:
        clf = row.fit(RNNClassifier(input_shape=(8, 8), random_state=0), Xtr, ytr)
        row.value = clf.score(Xte, yte)
    # the next value of a two-tone series from a window of the last 20
    t = np.arange(2400) * 0.1
    s = (np.sin(t) + 0.5 * np.sin(0.31 * t)).astype(np.float32)
    W = np.lib.stride_tricks.sliding_window_view(s, 21)
    with tour.row("RNNRegressor (GRU)", "next value of a series: R² ↑") as row:
        reg = row.fit(RNNRegressor(cell="gru", hidden_size=32, max_iter=30, random_state=0),
                      W[:1600, :20], W[:1600, 20])
        row.value = reg.score(W[1600:, :20], W[1600:, 20])


def demo_som(tour):
    """SelfOrganizingMap on random colours and on the digits"""
    from fastnut import SelfOrganizingMap
    # random RGB colours: similar colours must land on nearby units
    X = np.random.default_rng(0).random((3000, 3)).astype(np.float32)
    with tour.row("SelfOrganizingMap", "RGB colours: topographic error ↓") as row:
        som = row.fit(SelfOrganizingMap(20, 20, topology="hexagonal", max_iter=20,
                                        random_state=0), X)
        row.value = som.topographic_error(X)
    if tour.out.isatty():  # the colour regions, one 24-bit block per unit
        rgb = (np.clip(som.weights_, 0, 1) * 255).astype(int)
        for r, line in enumerate(rgb):
            tour.write(" " * (_W_FAMILY + 1 + r % 2) + "".join(
                "\x1b[48;2;%d;%d;%dm  \x1b[0m" % tuple(c) for c in line) + "\n")
    # digits: label each unit by majority vote, classify held-out digits by BMU
    Xtr, Xte, ytr, yte = _digits()
    with tour.row("SelfOrganizingMap", "digits, unit vote: accuracy ↑") as row:
        dig = row.fit(SelfOrganizingMap(12, 12, max_iter=20, random_state=0), Xtr)
        unit_label = dig.label_map(Xtr, ytr).filled(-1).ravel()
        row.value = float(np.mean(unit_label[dig.predict(Xte)] == yte))
    if tour.figures:
        from fastnut import plotting
        tour.save(lambda: plotting.plot_som_colors(som), "som_rgb.png")
        tour.save(lambda: plotting.plot_som_umatrix(som), "som_rgb_umatrix.png")
        tour.save(lambda: plotting.plot_som_hit_map(dig, Xtr, title="digits: samples per unit"),
                  "som_digits_hits.png")


def demo_rbm(tour):
    """RBM features for a logistic regression; DBN; DBNClassifier"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    from fastnut import BernoulliRBM, DBNClassifier, DeepBeliefNetwork
    Xtr, Xte, ytr, yte = _digits()
    # small problems: several BLAS threads only add synchronisation
    with threadpool_limits(limits=1, user_api="blas"):
        # scikit-learn's "RBM features for digit classification", with fastnut's RBM
        with tour.row("BernoulliRBM + logistic", "digits: accuracy ↑") as row:
            pipe = row.fit(make_pipeline(
                BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=10, random_state=0),
                LogisticRegression(C=6000, solver="newton-cg", max_iter=1000)), Xtr, ytr)
            row.value = pipe.score(Xte, yte)
        with tour.row("DeepBeliefNetwork", "up-down: reconstruction error ↓") as row:
            dbn = row.fit(DeepBeliefNetwork((128, 64), n_iter=10, fine_tune_iter=3,
                                            random_state=0), Xtr)
            row.value = dbn.loss_curve_[-1]
        with tour.row("DBNClassifier", "digits: accuracy ↑") as row:
            clf = row.fit(DBNClassifier(random_state=0), Xtr, ytr)
            row.value = clf.score(Xte, yte)
    if tour.figures:
        from fastnut import plotting
        tour.save(lambda: plotting.plot_rbm_components(pipe[0]), "rbm_components.png")


def demo_autoencoder(tour):
    """Five autoencoders: codes, reconstruction against PCA, outliers, denoising"""
    from sklearn.decomposition import PCA
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from fastnut import (Autoencoder, ConvAutoencoder, DenoisingAutoencoder, LSTMAutoencoder,
                         SparseAutoencoder)
    Xtr, Xte, ytr, yte = _digits()

    def pca_error(k):
        pca = PCA(k).fit(Xtr)
        return np.mean((pca.inverse_transform(pca.transform(Xte)) - Xte) ** 2)

    # 2-D codes: digits classes stay apart (k-NN accuracy; PCA's 2-D projection gets ~0.6)
    with tour.row("Autoencoder (2-D codes)", "k-NN accuracy on the codes ↑") as row:
        ae2 = row.fit(Autoencoder(2, encoder_layer_sizes=(128, 64), learning_rate_init=3e-3,
                                  max_iter=50, random_state=0), Xtr)
        row.value = cross_val_score(KNeighborsClassifier(5), ae2.transform(Xte), yte,
                                    cv=3).mean()
    # 16 components: held-out reconstruction error relative to PCA's
    with tour.row("Autoencoder (16-D)", "reconstruction error / PCA's ↓") as row:
        ae16 = row.fit(Autoencoder(16, encoder_layer_sizes=(128,), learning_rate_init=3e-3,
                                   max_iter=60, random_state=0), Xtr)
        row.value = -ae16.score(Xte) / pca_error(16)
    # anomaly detection with the same model: random-noise images score below real digits
    with tour.row("Autoencoder (16-D)", "noise images found: ROC AUC ↑") as row:
        noise = np.random.default_rng(0).random((100, 64)).astype(np.float32)
        s = ae16.score_samples(np.vstack([Xte, noise]))
        row.value = roc_auc_score(np.r_[np.ones(len(Xte)), np.zeros(len(noise))], s)
    with tour.row("DenoisingAutoencoder", "noise error / after denoising ↑") as row:
        dae = row.fit(DenoisingAutoencoder(16, encoder_layer_sizes=(128,), noise_level=0.3,
                                           learning_rate_init=3e-3, max_iter=40,
                                           random_state=0), Xtr)
        rng = np.random.default_rng(1)
        noisy = Xte + 0.3 * rng.standard_normal(Xte.shape).astype(np.float32)
        row.value = np.mean((noisy - Xte) ** 2) / np.mean((dae.reconstruct(noisy) - Xte) ** 2)
    with tour.row("SparseAutoencoder", "mean code activation → 0.05") as row:
        sae = row.fit(SparseAutoencoder(32, encoder_layer_sizes=(64,), sparsity_weight=1.0,
                                        learning_rate_init=3e-3, max_iter=30, random_state=0),
                      Xtr)
        row.value = sae.transform(Xte).mean()
    with tour.row("ConvAutoencoder (8-D)", "reconstruction error / PCA's ↓") as row:
        cae = row.fit(ConvAutoencoder(8, filters=(8,), batch_size=64, learning_rate_init=3e-3,
                                      max_iter=20, random_state=0), Xtr)
        row.value = -cae.score(Xte) / pca_error(8)
    # variable-length sine/cosine sequences, NaN-padded
    rng = np.random.default_rng(0)
    steps = np.arange(16) * 0.4
    phase = rng.uniform(0, 2 * np.pi, (200, 1))
    seq = np.stack([np.sin(steps + phase), np.cos(0.5 * steps + phase)], axis=2)
    for i, L in enumerate(rng.integers(8, 17, 200)):
        seq[i, L:] = np.nan
    with tour.row("LSTMAutoencoder", "padded waves: reconstruction MSE ↓") as row:
        lae = row.fit(LSTMAutoencoder(8, learning_rate_init=1e-2, batch_size=32, max_iter=40,
                                      random_state=0), seq)
        row.value = -lae.score(seq)
    if tour.figures:
        from fastnut import plotting
        tour.save(lambda: plotting.plot_reconstructions(ae16, Xte), "autoencoder_reconstructions.png")
        tour.save(lambda: plotting.plot_codes(ae2, Xte, yte, title="Autoencoder: 2-D codes of digits"),
                  "autoencoder_codes.png")


#: (family, function) in tour order; every family adds its own entry.  A demo
#: takes the tour and reports its rows through ``tour.row``; a demo without
#: parameters may instead return rows ``(label, metric, value, fit_seconds)``.
DEMOS = [
    ("mlp", demo_mlp),
    ("cnn", demo_cnn),
    ("rnn", demo_rnn),
    ("som", demo_som),
    ("rbm", demo_rbm),
    ("autoencoder", demo_autoencoder),
]


def _run(tour, fn):
    if inspect.signature(fn).parameters:
        fn(tour)
        return
    for label, metric, value, seconds in fn():
        with tour.row(label, metric) as row:
            row.value, row.seconds = value, seconds


def usage():
    lines = []
    for name, fn in DEMOS:
        doc = (fn.__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<12s} {doc[0] if doc else ''}")
    return USAGE.format(families="\n".join(lines))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help", "help") for a in argv):
        print(_text(usage()), end="")
        return 0
    if "--version" in argv:
        from fastnut import __version__
        print(f"fastnut {__version__}")
        return 0
    if argv and argv[0] == "demo":
        argv = argv[1:]
    known = [name for name, _ in DEMOS]
    unknown = [a for a in argv if a not in known]
    if unknown:
        print(f"fastnut: unknown demo {' '.join(unknown)!s}; the demos are {', '.join(known)}"
              "\n(fastnut --help for the usage)", file=sys.stderr)
        return 2
    import fastnut

    tour = _Tour()
    kernels = "OpenMP" if fastnut.openmp_enabled() else "serial (no OpenMP)"
    tour.write(f"fastnut {fastnut.__version__} tour: {kernels} kernels, "
               f"{os.cpu_count()} CPUs; fit times in seconds\n")
    plots = os.environ.get("FASTNUT_PLOTS")
    if plots:
        tour.open_figures(plots)
    tour.header()
    total = time.perf_counter()
    with warnings.catch_warnings():
        # the tour trains for few epochs on purpose: convergence warnings would
        # break the table without telling the reader anything
        warnings.simplefilter("ignore")
        for name, fn in DEMOS:
            if argv and name not in argv:
                continue
            tour.family = name
            _run(tour, fn)
    tour.write(f"done in {time.perf_counter() - total:.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
