"""``python -m fastnut``: a tour of every estimator on bundled data.

Each family registers a demo: a function returning ``(score_name, score,
fit_seconds)``; the tour runs them in order and prints one line each.
Run ``python -m fastnut mlp som`` to pick families by name.
"""
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def _digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


def _timed_fit(est, X, y=None):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X) if y is None else est.fit(X, y)
    return time.perf_counter() - t0


def demo_mlp():
    from fastnut import MLPClassifier
    Xtr, Xte, ytr, yte = _digits()
    clf = MLPClassifier(hidden_layer_sizes=(128,), max_iter=60, random_state=0)
    t = _timed_fit(clf, Xtr, ytr)
    return [("MLPClassifier  digits", "accuracy", clf.score(Xte, yte), t)]


def demo_som():
    import os

    from fastnut import SelfOrganizingMap
    # random RGB colours: similar colours must land on nearby units
    X = np.random.default_rng(0).random((3000, 3)).astype(np.float32)
    som = SelfOrganizingMap(20, 20, topology="hexagonal", max_iter=20, random_state=0)
    t_rgb = _timed_fit(som, X)
    if sys.stdout.isatty():  # the colour regions, one 24-bit block per unit
        rgb = (np.clip(som.weights_, 0, 1) * 255).astype(int)
        for r, row in enumerate(rgb):
            print("    " + " " * (r % 2) + "".join(
                "\x1b[48;2;%d;%d;%dm  \x1b[0m" % tuple(c) for c in row))
    out_dir = os.environ.get("FASTNUT_PLOTS")
    if out_dir:  # FASTNUT_PLOTS=dir saves the figures (needs matplotlib)
        import matplotlib
        matplotlib.use("Agg")
        from fastnut import plotting
        ax = plotting.plot_som_colors(som)
        ax.figure.savefig(os.path.join(out_dir, "som_rgb.png"), dpi=120)
        ax = plotting.plot_som_umatrix(som)
        ax.figure.savefig(os.path.join(out_dir, "som_rgb_umatrix.png"), dpi=120)
    # digits: label each unit by majority vote, classify held-out digits by BMU
    Xtr, Xte, ytr, yte = _digits()
    dig = SelfOrganizingMap(12, 12, max_iter=20, random_state=0)
    t_dig = _timed_fit(dig, Xtr)
    unit_label = dig.label_map(Xtr, ytr).filled(-1).ravel()
    acc = float(np.mean(unit_label[dig.predict(Xte)] == yte))
    return [("SelfOrganizingMap RGB colours", "topo. error", som.topographic_error(X), t_rgb),
            ("SelfOrganizingMap digits BMU vote", "accuracy", acc, t_dig)]


#: (family, function) in tour order; every family adds its own entry
DEMOS = [
    ("mlp", demo_mlp),
    ("som", demo_som),
]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    wanted = set(argv)
    known = {name for name, _ in DEMOS}
    unknown = wanted - known
    if unknown:
        print(f"unknown demo(s) {sorted(unknown)}; available: {sorted(known)}")
        return 2
    print(f"fastnut tour ({'OpenMP' if __import__('fastnut').openmp_enabled() else 'serial'} kernels)")
    total = time.perf_counter()
    for name, fn in DEMOS:
        if wanted and name not in wanted:
            continue
        for label, metric, score, seconds in fn():
            print(f"  {label:<34s} {metric} {score:7.4f}   fit {seconds:6.2f} s", flush=True)
    print(f"done in {time.perf_counter() - total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
