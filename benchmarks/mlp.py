"""MLP: fastnut vs scikit-learn's MLPClassifier (and PyTorch when installed).

Workload (issue 2): 20,000 x 784 float32, 10 classes, hidden (256, 128), relu,
adam, batch 128, alpha 1e-4; fit time per epoch and training GFLOP/s; the same
data with scikit-learn's defaults (hidden (100,), batch 200); then
single-sample predict latency and batch predict throughput.
"""
import statistics
import time
import warnings

import numpy as np

from ._common import one_thread, time_alternating, try_import

HIDDEN = (256, 128)


def _data(n, d=784, k=10, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)).astype(np.float32)
    y = rng.integers(0, k, n)
    X = centers[y] + 2.0 * rng.standard_normal((n, d)).astype(np.float32)
    return X, y


def _train_flops(n, sizes):
    """Forward 2·n·Σ in·out, backward twice that minus the first layer's dX."""
    mm = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 2.0 * n * (3 * mm - sizes[0] * sizes[1])


def _torch_mlp(torch, sizes, lr, alpha, batch):
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=alpha / batch)
    lossf = torch.nn.CrossEntropyLoss()
    return model, opt, lossf


def run(args, peak):
    from sklearn.neural_network import MLPClassifier as SkMLP
    from fastnut import MLPClassifier
    n = 4000 if args.quick else 20000
    epochs = 1 if args.quick else 2
    X, y = _data(n)
    sizes = [784, *HIDDEN, 10]
    kw = dict(hidden_layer_sizes=HIDDEN, solver="adam", batch_size=128, max_iter=epochs,
              tol=0.0, n_iter_no_change=10 ** 9, random_state=0, alpha=1e-4)
    rows = []
    torch = try_import("torch")
    with one_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fns = {
            "fastnut": lambda: MLPClassifier(**kw).fit(X, y),
            "sklearn": lambda: SkMLP(**kw).fit(X, y),
        }
        if torch is not None:
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
            model, opt, lossf = _torch_mlp(torch, sizes, 1e-3, 1e-4, 128)

            def torch_fit():
                for _ in range(epochs):
                    perm = torch.randperm(n)
                    for s in range(0, n, 128):
                        idx = perm[s:s + 128]
                        opt.zero_grad()
                        loss = lossf(model(Xt[idx]), yt[idx])
                        loss.backward()
                        opt.step()
            fns["torch"] = torch_fit
        t = time_alternating(fns, reps=3, min_time=0.0, warmup=0)
        flops = _train_flops(n, sizes) * epochs
        for name, sec in t.items():
            rows.append({"name": f"fit {n}x784 (256,128) adam b128, {name}",
                         "s_per_epoch": sec / epochs, "gflops": flops / sec / 1e9,
                         "pct_peak": 100 * flops / sec / 1e9 / peak})
        rows.append({"name": "fit speed-up vs sklearn", "ratio": t["sklearn"] / t["fastnut"]})
        if "torch" in t:
            rows.append({"name": "fit speed-up vs torch", "ratio": t["torch"] / t["fastnut"]})

        # what most users run: scikit-learn's defaults (hidden (100,), batch 200)
        dkw = dict(max_iter=epochs, tol=0.0, n_iter_no_change=10 ** 9, random_state=0)
        td = time_alternating({"fastnut": lambda: MLPClassifier(**dkw).fit(X, y),
                               "sklearn": lambda: SkMLP(**dkw).fit(X, y)},
                              reps=3, min_time=0.0, warmup=0)
        for name, sec in td.items():
            rows.append({"name": f"fit {n}x784 sklearn defaults ((100,), b200), {name}",
                         "s_per_epoch": sec / epochs})
        rows.append({"name": "defaults fit speed-up vs sklearn",
                     "ratio": td["sklearn"] / td["fastnut"]})

        # prediction latency, one sample, and throughput
        ours = MLPClassifier(**{**kw, "max_iter": 1}).fit(X[:2000], y[:2000])
        ref = SkMLP(**{**kw, "max_iter": 1}).fit(X[:2000], y[:2000])
        x1 = X[:1].copy()
        lat = {}
        for name, est in [("fastnut", ours), ("sklearn", ref)]:
            samples = []
            for _ in range(2000):
                t0 = time.perf_counter()
                est.predict(x1)
                samples.append(time.perf_counter() - t0)
            lat[name] = statistics.median(samples)
            rows.append({"name": f"predict 1 sample, {name}", "us": lat[name] * 1e6})
        if torch is not None:
            model.eval()
            xt1 = torch.from_numpy(x1)
            samples = []
            with torch.inference_mode():
                for _ in range(2000):
                    t0 = time.perf_counter()
                    model(xt1).argmax(1).numpy()
                    samples.append(time.perf_counter() - t0)
            rows.append({"name": "predict 1 sample, torch", "us": statistics.median(samples) * 1e6})
        rows.append({"name": "predict latency ratio vs sklearn", "ratio": lat["sklearn"] / lat["fastnut"]})
        tp = time_alternating({"fastnut": lambda: ours.predict(X), "sklearn": lambda: ref.predict(X)},
                              reps=3, min_time=0.1)
        for name, sec in tp.items():
            rows.append({"name": f"predict throughput, {name}", "samples_per_s": n / sec})
    return rows
