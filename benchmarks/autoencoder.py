"""Autoencoder: fastnut's dense Autoencoder vs the same network in PyTorch.

Workload (issue 7): 20,000 x 784 float32 in [0, 1], dense 784-256-32-256-784
(relu hidden layers, linear code and output), squared error summed over
features, Adam lr 1e-3, batch 200, shuffled; fit time per epoch and training
GFLOP/s, then encoding throughput (``transform``).  One thread everywhere.
"""
import warnings

import numpy as np

from ._common import one_thread, time_alternating, try_import

SIZES = [784, 256, 32, 256, 784]
BATCH = 200


def _data(n, d=784, rank=20, seed=0):
    """Images-like rows: a non-negative low-rank mixture squashed into [0, 1]."""
    rng = np.random.default_rng(seed)
    basis = rng.random((rank, d)).astype(np.float32)
    coef = rng.exponential(1.0, (n, rank)).astype(np.float32)
    X = np.tanh(coef @ basis / rank) + 0.05 * rng.random((n, d), dtype=np.float32)
    return np.clip(X, 0, 1).astype(np.float32)


def _train_flops(n, sizes):
    """Forward 2·n·Σ in·out, backward twice that minus the first layer's dX."""
    mm = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 2.0 * n * (3 * mm - sizes[0] * sizes[1])


def _torch_autoencoder(torch):
    torch.manual_seed(0)
    L = torch.nn.Linear
    enc = torch.nn.Sequential(L(784, 256), torch.nn.ReLU(), L(256, 32))
    dec = torch.nn.Sequential(L(32, 256), torch.nn.ReLU(), L(256, 784))
    return enc, dec


def run(args, peak):
    from fastnut import Autoencoder
    n = 4000 if args.quick else 20000
    epochs = 1
    X = _data(n)
    kw = dict(n_components=32, encoder_layer_sizes=(256,), activation="relu", solver="adam",
              learning_rate_init=1e-3, batch_size=BATCH, max_iter=epochs, tol=0.0,
              n_iter_no_change=10 ** 9, random_state=0)
    rows = []
    torch = try_import("torch")
    with one_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fns = {"fastnut": lambda: Autoencoder(**kw).fit(X)}
        if torch is not None:
            Xt = torch.from_numpy(X)
            enc, dec = _torch_autoencoder(torch)
            params = list(enc.parameters()) + list(dec.parameters())
            opt = torch.optim.Adam(params, lr=1e-3)

            def torch_fit():
                for _ in range(epochs):
                    perm = torch.randperm(n)
                    for s in range(0, n, BATCH):
                        xb = Xt[perm[s:s + BATCH]]
                        opt.zero_grad()
                        loss = 0.5 * ((dec(enc(xb)) - xb) ** 2).sum(dim=1).mean()
                        loss.backward()
                        opt.step()
            fns["torch"] = torch_fit
        t = time_alternating(fns, reps=3, min_time=0.0, warmup=1)
        flops = _train_flops(n, SIZES) * epochs
        for name, sec in t.items():
            rows.append({"name": f"fit {n}x784 784-256-32-256-784 adam b{BATCH}, {name}",
                         "s_per_epoch": sec / epochs, "gflops": flops / sec / 1e9,
                         "pct_peak": 100 * flops / sec / 1e9 / peak})
        if "torch" in t:
            rows.append({"name": "fit speed-up vs torch (>1: fastnut faster)",
                         "ratio": t["torch"] / t["fastnut"]})

        ours = Autoencoder(**kw).fit(X)
        tf = {"fastnut": lambda: ours.transform(X)}
        if torch is not None:
            def torch_encode():
                with torch.inference_mode():
                    return enc(Xt).numpy()
            tf["torch"] = torch_encode
        tt = time_alternating(tf, reps=5, min_time=0.1)
        for name, sec in tt.items():
            rows.append({"name": f"transform {n}x784 -> 32, {name}", "samples_per_s": n / sec})
        if "torch" in tt:
            rows.append({"name": "transform speed-up vs torch",
                         "ratio": tt["torch"] / tt["fastnut"]})
        # sanity: one epoch from a fresh start reaches a similar error in both
        rows.append({"name": "fastnut reconstruction MSE after 1 epoch",
                     "mse": float(-ours.score(X))})
        if torch is not None:
            enc, dec = _torch_autoencoder(torch)
            opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
            torch_fit()
            with torch.inference_mode():
                rows.append({"name": "torch reconstruction MSE after 1 epoch",
                             "mse": float(((dec(enc(Xt)) - Xt) ** 2).mean())})
    return rows
