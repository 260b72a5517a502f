"""Threads: every family's fit and predict at 1 thread and at all cores.

For each family, the same estimator call runs under two settings, alternating
in the same process (A B B A ...):

* ``1``: ``threadpool_limits(1)`` (BLAS and OpenMP; PyTorch
  ``set_num_threads(1)``), what ``OMP_NUM_THREADS=1`` gives;
* ``all``: the default environment (nothing set; PyTorch at ``os.cpu_count()``
  threads), what a user deploying on a server gets.

Each row gives the best time of each setting, the spread (slowest / best
over the repetitions: on a shared machine the best is the figure, the spread
says how noisy it was) and ``speedup = best(1) / best(all)``: at least 1.0
means the default is never slower, above 1 that the free cores are used.
PyTorch runs the same model at the same thread counts where it has one
(MLP, LeNet, LSTM, dense autoencoder), scikit-learn's BernoulliRBM for the RBM.

``FASTNUT_BENCH_THREADS=mlp,rnn`` runs some families only;
``FASTNUT_BENCH_BUSY=1`` keeps one core busy with another process for the
whole run (a loaded server: the "all" setting must still not lose to "1").
Training picks its thread count by timing its steps (``StepThreads`` in
``fastnut/_threads.py``), and each fit is a new estimator, so the "all" fit
times include that choice's probes.

Workloads: MLP (256, 128) on 784 features (fit 20,000 rows batch 128;
predict_proba 100,000 rows and a 200-row batch); LeNet on 28 x 28 (fit batch
64; predict 10,000 images); LSTM h128 over 200 steps (fit batch 32; predict
2,048 sequences); SOM 20 x 20 on 64 features (fit 20,000 rows; transform
100,000); BernoulliRBM 256 hidden on 784 (fit batch 100; transform 100,000);
dense Autoencoder (256,) -> 32 (fit 20,000 rows; transform 100,000).
"""
import contextlib
import os
import warnings

import numpy as np

from ._common import perf, try_import

CONFIGS = ("1", "all")


@contextlib.contextmanager
def _setting(cfg, torch):
    from threadpoolctl import threadpool_limits
    n = 1 if cfg == "1" else (os.cpu_count() or 1)
    old = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    try:
        if cfg == "1":
            with threadpool_limits(limits=1):
                yield
        else:
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(old)


def _is_peer(name):
    return name.startswith(("torch", "sklearn"))


def _time(cases, torch, reps):
    """{(case, cfg): [seconds per call, ...]} with the settings alternating.

    fastnut's cases and the peers' run in separate passes: a peer's thread
    pool keeps spinning for a while after its call and would slow down
    whatever runs next.
    """
    samples = {(k, c): [] for k in cases for c in CONFIGS}
    for group in ([k for k in cases if not _is_peer(k)], [k for k in cases if _is_peer(k)]):
        for k in group:  # warm-up: buffers, thread pools
            for c in CONFIGS:
                with _setting(c, torch):
                    cases[k][0]()
        for r in range(reps):
            for c in (CONFIGS if r % 2 == 0 else CONFIGS[::-1]):
                with _setting(c, torch):
                    for k in group:
                        fn, inner = cases[k]
                        t0 = perf()
                        for _ in range(inner):
                            fn()
                        samples[(k, c)].append((perf() - t0) / inner)
    return samples


def _rows(family, samples, names):
    rows = []
    for k in names:
        one, allc = samples[(k, "1")], samples[(k, "all")]
        rows.append({"name": f"{family} {k}",
                     "s_1": min(one), "s_all": min(allc),
                     "speedup": min(one) / min(allc),
                     "median_speedup": float(np.median(one) / np.median(allc)),
                     "spread_1": max(one) / min(one), "spread_all": max(allc) / min(allc)})
    return rows


def _quiet(fn):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    return run


def _images(n, rng):
    X = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    return X, rng.integers(0, 10, n)


def mlp(args, torch, reps):
    from fastnut import MLPClassifier
    rng = np.random.default_rng(0)
    n_fit, n_pred = (4000, 20000) if args.quick else (20000, 100000)
    X = rng.standard_normal((n_pred, 784)).astype(np.float32)
    y = rng.integers(0, 10, n_pred)
    kw = dict(hidden_layer_sizes=(256, 128), batch_size=128, max_iter=1, tol=0.0,
              n_iter_no_change=10 ** 9, random_state=0)
    fitted = _quiet(lambda: MLPClassifier(**kw).fit(X[:2000], y[:2000]))()
    cases = {
        f"fit {n_fit}x784 b128": (_quiet(lambda: MLPClassifier(**kw).fit(X[:n_fit], y[:n_fit])), 1),
        f"predict_proba {n_pred}x784": (lambda: fitted.predict_proba(X), 1),
        "predict_proba 200x784": (lambda: fitted.predict_proba(X[:200]), 20),
    }
    if torch is not None:
        nn = torch.nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                              nn.Linear(128, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

        def torch_fit():
            perm = torch.randperm(n_fit)
            for s in range(0, n_fit, 128):
                idx = perm[s:s + 128]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
                opt.step()

        def torch_predict(rows):
            with torch.inference_mode():
                torch.softmax(model(Xt[:rows]), 1).numpy()
        cases[f"torch fit {n_fit}x784 b128"] = (torch_fit, 1)
        cases[f"torch predict_proba {n_pred}x784"] = (lambda: torch_predict(n_pred), 1)
        cases["torch predict_proba 200x784"] = (lambda: torch_predict(200), 20)
    return _rows("mlp", _time(cases, torch, reps), cases)


def cnn(args, torch, reps):
    from fastnut import CNNClassifier
    rng = np.random.default_rng(0)
    n_fit, n_pred = (512, 2048) if args.quick else (2048, 10000)
    X, y = _images(n_pred, rng)
    kw = dict(conv_layers=((16, 5), (32, 5)), hidden_layer_sizes=(), batch_size=64,
              max_iter=1, tol=0.0, n_iter_no_change=10 ** 9, random_state=0)
    fitted = _quiet(lambda: CNNClassifier(**kw).fit(X[:512], y[:512]))()
    cases = {
        f"LeNet fit {n_fit} b64": (_quiet(lambda: CNNClassifier(**kw).fit(X[:n_fit], y[:n_fit])), 1),
        f"LeNet predict {n_pred}": (lambda: fitted.predict(X), 1),
    }
    if torch is not None:
        nn = torch.nn
        torch.manual_seed(0)
        m = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

        def torch_fit():
            for s in range(0, n_fit, 64):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(m(Xt[s:s + 64]), yt[s:s + 64]).backward()
                opt.step()

        def torch_predict():
            with torch.inference_mode():
                for s in range(0, n_pred, 256):
                    m(Xt[s:s + 256]).argmax(1).numpy()
        cases[f"torch LeNet fit {n_fit} b64"] = (torch_fit, 1)
        cases[f"torch LeNet predict {n_pred}"] = (torch_predict, 1)
    return _rows("cnn", _time(cases, torch, reps), cases)


def rnn(args, torch, reps):
    from fastnut import RNNClassifier
    rng = np.random.default_rng(0)
    T, F, H = 200, 16, 128
    n_fit, n_pred = (64, 512) if args.quick else (256, 2048)
    X = rng.standard_normal((n_pred, T, F)).astype(np.float32)
    y = rng.integers(0, 2, n_pred)
    kw = dict(cell="lstm", hidden_size=H, batch_size=32, max_iter=1, tol=0.0,
              n_iter_no_change=10 ** 9, random_state=0)
    fitted = _quiet(lambda: RNNClassifier(**kw).fit(X[:64], y[:64]))()
    cases = {
        f"LSTM h{H} T{T} fit {n_fit} b32": (_quiet(lambda: RNNClassifier(**kw).fit(X[:n_fit], y[:n_fit])), 1),
        f"LSTM h{H} T{T} predict {n_pred}": (lambda: fitted.predict(X), 1),
    }
    if torch is not None:
        torch.manual_seed(0)
        lstm, head = torch.nn.LSTM(F, H, batch_first=True), torch.nn.Linear(H, 2)
        opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-2)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

        def torch_fit():
            for s in range(0, n_fit, 32):
                opt.zero_grad()
                out, _ = lstm(Xt[s:s + 32])
                torch.nn.functional.cross_entropy(head(out[:, -1]), yt[s:s + 32]).backward()
                opt.step()

        def torch_predict():
            with torch.inference_mode():
                for s in range(0, n_pred, 512):
                    out, _ = lstm(Xt[s:s + 512])
                    head(out[:, -1]).argmax(1).numpy()
        cases[f"torch LSTM h{H} T{T} fit {n_fit} b32"] = (torch_fit, 1)
        cases[f"torch LSTM h{H} T{T} predict {n_pred}"] = (torch_predict, 1)
    return _rows("rnn", _time(cases, torch, reps), cases)


def som(args, torch, reps):
    from fastnut import SelfOrganizingMap
    rng = np.random.default_rng(0)
    n_fit, n_pred = (5000, 20000) if args.quick else (20000, 100000)
    X = rng.standard_normal((n_pred, 64)).astype(np.float32)
    kw = dict(n_rows=20, n_cols=20, max_iter=5, random_state=0)
    fitted = SelfOrganizingMap(**kw).fit(X[:2000])
    cases = {
        f"20x20 fit {n_fit}x64 5 epochs": (lambda: SelfOrganizingMap(**kw).fit(X[:n_fit]), 1),
        f"20x20 transform {n_pred}x64": (lambda: fitted.transform(X), 1),
    }
    return _rows("som", _time(cases, torch, reps), cases)


def rbm(args, torch, reps):
    from sklearn.neural_network import BernoulliRBM as SkRBM
    from fastnut import BernoulliRBM
    rng = np.random.default_rng(0)
    n_fit, n_pred = (4000, 20000) if args.quick else (20000, 100000)
    X = (rng.random((n_pred, 784)) < 0.3).astype(np.float32)
    kw = dict(n_components=256, batch_size=100, n_iter=1, random_state=0)
    fitted = BernoulliRBM(**kw).fit(X[:2000])
    ref = SkRBM(**kw).fit(X[:2000])
    cases = {
        f"fit {n_fit}x784 b100": (lambda: BernoulliRBM(**kw).fit(X[:n_fit]), 1),
        f"transform {n_pred}x784": (lambda: fitted.transform(X), 1),
        f"sklearn fit {n_fit}x784 b100": (lambda: SkRBM(**kw).fit(X[:n_fit]), 1),
        f"sklearn transform {n_pred}x784": (lambda: ref.transform(X), 1),
    }
    return _rows("rbm", _time(cases, torch, reps), cases)


def autoencoder(args, torch, reps):
    from fastnut import Autoencoder
    rng = np.random.default_rng(0)
    n_fit, n_pred = (4000, 20000) if args.quick else (20000, 100000)
    X = rng.random((n_pred, 784)).astype(np.float32)
    kw = dict(n_components=32, encoder_layer_sizes=(256,), activation="relu", batch_size=128,
              max_iter=1, tol=0.0, n_iter_no_change=10 ** 9, random_state=0)
    fitted = _quiet(lambda: Autoencoder(**kw).fit(X[:2000]))()
    cases = {
        f"(256,)->32 fit {n_fit}x784 b128": (_quiet(lambda: Autoencoder(**kw).fit(X[:n_fit])), 1),
        f"(256,)->32 transform {n_pred}x784": (lambda: fitted.transform(X), 1),
        f"(256,)->32 reconstruct {n_pred}x784": (
            lambda: fitted.inverse_transform(fitted.transform(X)), 1),
    }
    if torch is not None:
        nn = torch.nn
        torch.manual_seed(0)
        enc = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 32))
        dec = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 784))
        opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
        Xt = torch.from_numpy(X)

        def torch_fit():
            perm = torch.randperm(n_fit)
            for s in range(0, n_fit, 128):
                xb = Xt[perm[s:s + 128]]
                opt.zero_grad()
                (0.5 * ((dec(enc(xb)) - xb) ** 2).sum(1).mean()).backward()
                opt.step()

        def torch_transform():
            with torch.inference_mode():
                enc(Xt).numpy()
        cases[f"torch (256,)->32 fit {n_fit}x784 b128"] = (torch_fit, 1)
        cases[f"torch (256,)->32 transform {n_pred}x784"] = (torch_transform, 1)
    return _rows("autoencoder", _time(cases, torch, reps), cases)


FAMILIES = {"mlp": mlp, "cnn": cnn, "rnn": rnn, "som": som, "rbm": rbm,
            "autoencoder": autoencoder}


def _spin(parent):  # pragma: no cover - runs in a child process
    # busy until the benchmark's process is gone (even if it was killed)
    while os.getppid() == parent:
        for _ in range(1 << 20):
            pass


def run(args, peak):
    torch = try_import("torch")
    reps = 3 if args.quick else 5
    only = [f for f in os.environ.get("FASTNUT_BENCH_THREADS", "").split(",") if f]
    rows = [{"name": f"cores: {os.cpu_count()}; load average at start: "
                     f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""}]
    hog = None
    if os.environ.get("FASTNUT_BENCH_BUSY"):
        # another process that holds one core for the whole run (a busy server)
        import multiprocessing
        hog = multiprocessing.get_context("spawn").Process(target=_spin, args=(os.getpid(),),
                                                           daemon=True)
        hog.start()
        rows.append({"name": "FASTNUT_BENCH_BUSY: a busy-loop process holds one core"})
    try:
        for fam, fn in FAMILIES.items():
            if only and fam not in only:
                continue
            fam_rows = fn(args, torch, reps)
            for r in fam_rows:
                print("    " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{v}"
                                         for k, v in r.items()), flush=True)
            rows += fam_rows
    finally:
        if hog is not None:
            hog.terminate()
            hog.join()
    if hasattr(os, "getloadavg"):
        rows.append({"name": f"load average at the end: {os.getloadavg()[0]:.1f}"})
    return rows
