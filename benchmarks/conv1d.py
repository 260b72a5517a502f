"""1-D convolutions over sequences: fastnut against PyTorch CPU, one thread, same process.

* The three convolutions of Wang et al.'s FCN for time series (128-256-128
  filters, kernels 8-5-3, ``"same"`` padding) on univariate sequences of 150
  steps (GunPoint's length), batch 16: forward and forward+backward GFLOP/s
  against ``torch.nn.functional.conv1d`` in its native ``(N, C, L)`` layout.
* A whole FCN training step (Conv1D + BatchNorm1D + ReLU three times, global
  average pooling, Dense, softmax cross-entropy, Adam) against the same
  network as a PyTorch loop.
* ``SequenceCNNClassifier`` (the FCN, its defaults: batch 16, Adam 1e-3) on a
  GunPoint-sized problem (50 univariate sequences of 150 steps, 2 classes):
  ``fit`` for a few epochs and ``predict_proba`` on 150 sequences, against the
  same network (bias-free convolutions, batch normalisation, ReLU, global
  average pooling, linear output) as a PyTorch loop over shuffled mini-batches
  of 16 and a ``no_grad`` forward in eval mode.
* Max pooling (2, stride 2) forward+backward over (16, 150, 128).
"""
import numpy as np

from ._common import one_thread, time_alternating, try_import

FCN = [(1, 128, 8), (128, 256, 5), (256, 128, 3)]  # (C_in, C_out, k)


def _fastnut_fcn(T, n_classes, dtype=np.float32):
    from fastnut import nn
    layers = []
    for _, cout, k in FCN:
        layers += [nn.Conv1D(cout, k, padding="same"), nn.BatchNorm1D(activation="relu")]
    net = nn.Sequential(layers + [nn.GlobalAvgPool1D(), nn.Dense(n_classes)])
    net.build((T, 1), random_state=0, dtype=dtype)
    net.needs_input_grad = False
    return net


def _torch_fcn(torch, n_classes):
    from torch import nn
    torch.manual_seed(0)
    layers = []
    for cin, cout, k in FCN:
        layers += [nn.Conv1d(cin, cout, k, padding="same"), nn.BatchNorm1d(cout), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(128, n_classes))


def run(args, peak):
    from fastnut import nn
    rows = []
    torch = try_import("torch")
    rng = np.random.default_rng(0)
    bs, T = 16, 150
    reps = 3 if args.quick else 7
    with one_thread():
        # ---- the FCN convolutions alone --------------------------------------
        for cin, cout, k in FCN:
            layer = nn.Conv1D(cout, k, padding="same")
            layer.build((T, cin), random_state=0)
            layer.needs_input_grad = cin > 1
            x = rng.standard_normal((bs, T, cin)).astype(np.float32)
            g = rng.standard_normal((bs, T, cout)).astype(np.float32)
            fl = 2.0 * bs * T * cin * k * cout
            fb = fl * (3 if cin > 1 else 2)

            def fwd(layer=layer, x=x):
                layer.forward(x)

            def fwdbwd(layer=layer, x=x, g=g):
                layer.forward(x, training=True)
                layer.backward(g)
            fns = {"fwd": fwd, "fwdbwd": fwdbwd}
            if torch is not None:
                import torch.nn.functional as F
                xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
                wt = torch.from_numpy(layer.params["weight"].copy())
                bt = torch.from_numpy(layer.params["bias"].copy())
                gt = torch.from_numpy(np.ascontiguousarray(g.transpose(0, 2, 1)))
                xg = xt.clone().requires_grad_(cin > 1)
                wg, bg = wt.clone().requires_grad_(True), bt.clone().requires_grad_(True)

                def tfwd(xt=xt, wt=wt, bt=bt):
                    with torch.no_grad():
                        F.conv1d(xt, wt, bt, padding="same")

                def tfb(xg=xg, wg=wg, bg=bg, gt=gt):
                    F.conv1d(xg, wg, bg, padding="same").backward(gt)
                    wg.grad = bg.grad = xg.grad = None
                fns.update({"torch_fwd": tfwd, "torch_fwdbwd": tfb})
            t = time_alternating(fns, reps=reps, min_time=0.05)
            row = {"name": f"conv1d {cin}->{cout} k{k} T{T} bs{bs} (GFLOP/s)",
                   "fwd": fl / t["fwd"] / 1e9, "fwdbwd": fb / t["fwdbwd"] / 1e9,
                   "fwdbwd_pct_peak": 100 * fb / t["fwdbwd"] / 1e9 / peak}
            if torch is not None:
                row["torch_fwd"] = fl / t["torch_fwd"] / 1e9
                row["torch_fwdbwd"] = fb / t["torch_fwdbwd"] / 1e9
                row["speedup_fwdbwd"] = t["torch_fwdbwd"] / t["fwdbwd"]
            rows.append(row)

        # ---- an FCN training step ---------------------------------------------
        nc = 2
        X = rng.standard_normal((bs * 4, T, 1)).astype(np.float32)
        y = rng.integers(0, nc, bs * 4)
        Y1 = np.eye(nc, dtype=np.float32)[y]
        net = _fastnut_fcn(T, nc)
        loss, opt = nn.get_loss("log_loss"), nn.Adam(1e-3)
        G, P = np.empty((bs, nc), np.float32), np.empty((bs, nc), np.float32)
        batches = [(np.ascontiguousarray(X[i * bs:(i + 1) * bs]), Y1[i * bs:(i + 1) * bs])
                   for i in range(4)]
        st = {"i": 0}

        def fstep():
            xb, yb = batches[st["i"] % 4]
            st["i"] += 1
            loss.predict(net.forward(xb, training=True), out=P)
            net.backward(loss.gradient(P, yb, None, bs, G))
            opt.update(net.params, net.grads)
        fns = {"fastnut": fstep}
        if torch is not None:
            import torch.nn.functional as F
            m = _torch_fcn(torch, nc)
            topt = torch.optim.Adam(m.parameters(), lr=1e-3)
            tb = [(torch.from_numpy(np.ascontiguousarray(X[i * bs:(i + 1) * bs].transpose(0, 2, 1))),
                   torch.from_numpy(y[i * bs:(i + 1) * bs].astype(np.int64))) for i in range(4)]
            tst = {"i": 0}

            def tstep():
                xb, yb = tb[tst["i"] % 4]
                tst["i"] += 1
                topt.zero_grad(set_to_none=True)
                F.cross_entropy(m(xb), yb).backward()
                topt.step()
            fns["torch"] = tstep
        t = time_alternating(fns, reps=reps, min_time=0.2, warmup=2)
        row = {"name": f"FCN (Wang et al.) train step T{T} bs{bs} (ms)",
               "fastnut_ms": t["fastnut"] * 1e3}
        if torch is not None:
            row["torch_ms"] = t["torch"] * 1e3
            row["speedup"] = t["torch"] / t["fastnut"]
        rows.append(row)

        # ---- the estimator: SequenceCNNClassifier fit and predict ------------------
        rows += _estimator_rows(torch, rng, T, bs, args.quick)

        # ---- max pooling ---------------------------------------------------------
        pool = nn.MaxPool1D(2)
        pool.build((T, 128))
        x = rng.standard_normal((bs, T, 128)).astype(np.float32)
        g = rng.standard_normal((bs, T // 2, 128)).astype(np.float32)

        def pfb():
            pool.forward(x, training=True)
            pool.backward(g)
        fns = {"fastnut": pfb}
        if torch is not None:
            xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1))).requires_grad_(True)
            gt = torch.from_numpy(np.ascontiguousarray(g.transpose(0, 2, 1)))

            def tpfb():
                torch.nn.functional.max_pool1d(xt, 2).backward(gt)
                xt.grad = None
            fns["torch"] = tpfb
        t = time_alternating(fns, reps=reps, min_time=0.05)
        row = {"name": f"maxpool1d 2 fwd+bwd ({bs}, {T}, 128) (ms)", "fastnut_ms": t["fastnut"] * 1e3}
        if torch is not None:
            row["torch_ms"] = t["torch"] * 1e3
            row["speedup"] = t["torch"] / t["fastnut"]
        rows.append(row)
    return rows


def _torch_fcn_nobias(torch, n_classes):
    """The estimator's network in PyTorch: convolutions without bias before BN."""
    from torch import nn
    torch.manual_seed(0)
    layers = []
    for cin, cout, k in FCN:
        layers += [nn.Conv1d(cin, cout, k, padding="same", bias=False), nn.BatchNorm1d(cout),
                   nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(128, n_classes))


def _estimator_rows(torch, rng, T, bs, quick):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from fastnut import SequenceCNNClassifier
    n_train, n_test, epochs = 50, 150, (1 if quick else 3)
    X = rng.standard_normal((n_train, T, 1)).astype(np.float32)
    y = rng.integers(0, 2, n_train)
    Xte = rng.standard_normal((n_test, T, 1)).astype(np.float32)
    fitted = {}

    def ffit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted["m"] = SequenceCNNClassifier(max_iter=epochs, batch_size=bs,
                                                random_state=0).fit(X, y)
    fns = {"fastnut": ffit}
    if torch is not None:
        import torch.nn.functional as F
        Xt = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 2, 1)))
        yt = torch.from_numpy(y.astype(np.int64))
        order_rng = np.random.default_rng(0)

        def tfit():
            m = _torch_fcn_nobias(torch, 2)
            opt = torch.optim.Adam(m.parameters(), lr=1e-3)
            m.train()
            for _ in range(epochs):
                idx = torch.from_numpy(order_rng.permutation(n_train))
                for start in range(0, n_train, bs):
                    sel = idx[start:start + bs]
                    opt.zero_grad(set_to_none=True)
                    F.cross_entropy(m(Xt[sel]), yt[sel]).backward()
                    opt.step()
            fitted["t"] = m
        fns["torch"] = tfit
    t = time_alternating(fns, reps=3, min_time=0.0, warmup=1)
    rows = [{"name": f"SequenceCNNClassifier fit, FCN, {n_train}x{T}x1, {epochs} epochs (s)",
             "fastnut_s": t["fastnut"]}]
    if torch is not None:
        rows[0]["torch_s"] = t["torch"]
        rows[0]["speedup"] = t["torch"] / t["fastnut"]
    model = fitted["m"]
    fns = {"fastnut": lambda: model.predict_proba(Xte)}
    if torch is not None:
        tm = fitted["t"].eval()
        Xtt = torch.from_numpy(np.ascontiguousarray(Xte.transpose(0, 2, 1)))

        def tpred():
            with torch.no_grad():
                torch.softmax(tm(Xtt), dim=1)
        fns["torch"] = tpred
    t = time_alternating(fns, reps=5, min_time=0.1)
    row = {"name": f"SequenceCNNClassifier predict_proba, FCN, {n_test}x{T}x1 (ms)",
           "fastnut_ms": t["fastnut"] * 1e3}
    if torch is not None:
        row["torch_ms"] = t["torch"] * 1e3
        row["speedup"] = t["torch"] / t["fastnut"]
    rows.append(row)
    return rows
