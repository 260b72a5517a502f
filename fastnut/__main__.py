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


def demo_cnn():
    from fastnut import CNNClassifier
    Xtr, Xte, ytr, yte = _digits()
    clf = CNNClassifier(input_shape=(1, 8, 8), random_state=0)  # the defaults
    t = _timed_fit(clf, Xtr, ytr)
    return [("CNNClassifier  digits", "accuracy", clf.score(Xte, yte), t)]


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


def demo_autoencoder():
    import os

    from sklearn.decomposition import PCA
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from fastnut import (Autoencoder, ConvAutoencoder, DenoisingAutoencoder, LSTMAutoencoder,
                         SparseAutoencoder)
    Xtr, Xte, ytr, yte = _digits()
    rows = []
    # 2-D codes: digits classes stay apart (k-NN accuracy; PCA's 2-D projection gets ~0.6)
    ae2 = Autoencoder(2, encoder_layer_sizes=(128, 64), learning_rate_init=3e-3, max_iter=50,
                      random_state=0)
    t = _timed_fit(ae2, Xtr)
    knn = cross_val_score(KNeighborsClassifier(5), ae2.transform(Xte), yte, cv=3).mean()
    rows.append(("Autoencoder  2-D codes, k-NN", "accuracy", knn, t))
    # 16 components: held-out reconstruction error relative to PCA's
    ae16 = Autoencoder(16, encoder_layer_sizes=(128,), learning_rate_init=3e-3, max_iter=60,
                       random_state=0)
    t = _timed_fit(ae16, Xtr)
    pca = PCA(16).fit(Xtr)
    err_pca = np.mean((pca.inverse_transform(pca.transform(Xte)) - Xte) ** 2)
    rows.append(("Autoencoder  16-D, error / PCA's", "ratio", -ae16.score(Xte) / err_pca, t))
    # anomaly detection: random-noise images score below real digits
    noise = np.random.default_rng(0).random((100, 64)).astype(np.float32)
    s = ae16.score_samples(np.vstack([Xte, noise]))
    auc = roc_auc_score(np.r_[np.ones(len(Xte)), np.zeros(len(noise))], s)
    rows.append(("Autoencoder  noise outliers", "ROC AUC", auc, 0.0))
    dae = DenoisingAutoencoder(16, encoder_layer_sizes=(128,), noise_level=0.3,
                               learning_rate_init=3e-3, max_iter=40, random_state=0)
    t = _timed_fit(dae, Xtr)
    noisy = Xte + 0.3 * np.random.default_rng(1).standard_normal(Xte.shape).astype(np.float32)
    gain = np.mean((noisy - Xte) ** 2) / np.mean((dae.reconstruct(noisy) - Xte) ** 2)
    rows.append(("DenoisingAutoencoder  noise cut", "MSE ratio", gain, t))
    sae = SparseAutoencoder(32, encoder_layer_sizes=(64,), sparsity_weight=1.0,
                            learning_rate_init=3e-3, max_iter=30, random_state=0)
    t = _timed_fit(sae, Xtr)
    rows.append(("SparseAutoencoder  mean code unit", "activation", sae.transform(Xte).mean(), t))
    cae = ConvAutoencoder(8, filters=(8,), batch_size=64, learning_rate_init=3e-3,
                          max_iter=20, random_state=0)
    t = _timed_fit(cae, Xtr)
    rows.append(("ConvAutoencoder  8-D, error / PCA", "ratio",
                 -cae.score(Xte) / np.mean((PCA(8).fit(Xtr).inverse_transform(
                     PCA(8).fit(Xtr).transform(Xte)) - Xte) ** 2), t))
    # variable-length sine/cosine sequences, NaN-padded
    rng = np.random.default_rng(0)
    steps = np.arange(16) * 0.4
    phase = rng.uniform(0, 2 * np.pi, (200, 1))
    seq = np.stack([np.sin(steps + phase), np.cos(0.5 * steps + phase)], axis=2)
    for i, L in enumerate(rng.integers(8, 17, 200)):
        seq[i, L:] = np.nan
    lae = LSTMAutoencoder(8, learning_rate_init=1e-2, batch_size=32, max_iter=40, random_state=0)
    t = _timed_fit(lae, seq)
    rows.append(("LSTMAutoencoder  padded waves", "MSE", -lae.score(seq), t))
    out_dir = os.environ.get("FASTNUT_PLOTS")
    if out_dir:  # FASTNUT_PLOTS=dir saves the figures (needs matplotlib)
        import matplotlib
        matplotlib.use("Agg")
        from fastnut import plotting
        plotting.plot_reconstructions(ae16, Xte).savefig(
            os.path.join(out_dir, "autoencoder_reconstructions.png"), dpi=120)
        ax = plotting.plot_codes(ae2, Xte, yte, title="Autoencoder: 2-D codes of digits")
        ax.figure.savefig(os.path.join(out_dir, "autoencoder_codes.png"), dpi=120,
                          bbox_inches="tight")
    return rows


def demo_rnn():
    from fastnut import RNNClassifier, RNNRegressor
    Xtr, Xte, ytr, yte = _digits()
    # every digit read as a sequence of 8 rows of 8 pixels
    clf = RNNClassifier(input_shape=(8, 8), random_state=0)
    t_clf = _timed_fit(clf, Xtr, ytr)
    # the next value of a two-tone series from a window of the last 20
    t = np.arange(2400) * 0.1
    s = (np.sin(t) + 0.5 * np.sin(0.31 * t)).astype(np.float32)
    W = np.lib.stride_tricks.sliding_window_view(s, 21)
    reg = RNNRegressor(cell="gru", hidden_size=32, max_iter=30, random_state=0)
    t_reg = _timed_fit(reg, W[:1600, :20], W[:1600, 20])
    return [("RNNClassifier LSTM digits rows", "accuracy", clf.score(Xte, yte), t_clf),
            ("RNNRegressor GRU next value", "R^2", reg.score(W[1600:, :20], W[1600:, 20]),
             t_reg)]


def demo_rbm():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from fastnut import BernoulliRBM, DBNClassifier, DeepBeliefNetwork
    from threadpoolctl import threadpool_limits
    Xtr, Xte, ytr, yte = _digits()
    # small problems: several BLAS threads only add synchronisation
    with threadpool_limits(limits=1, user_api="blas"):
        # scikit-learn's "RBM features for digit classification", with fastnut's RBM
        pipe = make_pipeline(BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=10,
                                          random_state=0),
                             LogisticRegression(C=6000, solver="newton-cg", max_iter=1000))
        t_pipe = _timed_fit(pipe, Xtr, ytr)
        dbn = DeepBeliefNetwork((128, 64), n_iter=10, fine_tune_iter=3, random_state=0)
        t_dbn = _timed_fit(dbn, Xtr)
        clf = DBNClassifier(random_state=0)
        t_clf = _timed_fit(clf, Xtr, ytr)
    return [("BernoulliRBM + logistic digits", "accuracy", pipe.score(Xte, yte), t_pipe),
            ("DeepBeliefNetwork up-down recon.", "sq. error", dbn.loss_curve_[-1], t_dbn),
            ("DBNClassifier digits", "accuracy", clf.score(Xte, yte), t_clf)]


#: (family, function) in tour order; every family adds its own entry
DEMOS = [
    ("mlp", demo_mlp),
    ("cnn", demo_cnn),
    ("rnn", demo_rnn),
    ("som", demo_som),
    ("rbm", demo_rbm),
    ("autoencoder", demo_autoencoder),
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
