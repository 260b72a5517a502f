"""Convolutional networks: fastnut against PyTorch CPU, one thread, same process.

* LeNet-like training step on 28x28x1 images, batch 64 (Conv 16@5x5 pad 2 ->
  ReLU -> MaxPool 2 -> Conv 32@5x5 pad 2 -> ReLU -> MaxPool 2 -> Dense 10,
  softmax cross-entropy, Adam), forward + backward + update, against PyTorch
  in its default layout and in ``channels_last`` (its fastest).
* The convolution layers alone (batch 64): achieved GFLOP/s and the fraction of
  the measured float32 GEMM peak.  fwd+bwd counts the forward, weight-gradient
  and (for conv2) input-gradient GEMM FLOPs, as PyTorch computes them.
* Inference throughput (images/s) of the same network at batch 256.
"""
import numpy as np

from ._common import one_thread, time_alternating, try_import


def conv_flops(n, cin, cout, ho, wo, k):
    return 2.0 * n * cout * cin * k * k * ho * wo


def _fastnut_lenet(seed=0):
    from fastnut import nn
    net = nn.Sequential([
        nn.Conv2D(16, 5, padding=2, activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(32, 5, padding=2, activation="relu"), nn.MaxPool2D(2),
        nn.Flatten(), nn.Dense(10)])
    net.build((1, 28, 28), random_state=seed, dtype=np.float32)
    net.needs_input_grad = False  # the images need no gradient (as in PyTorch)
    return net


def _torch_lenet(torch, channels_last):
    from torch import nn
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
    return m


def run(args, peak):
    from fastnut import nn
    rows = []
    torch = try_import("torch")
    rng = np.random.default_rng(0)
    bs, nbatch = 64, 8
    X = rng.standard_normal((bs * nbatch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, bs * nbatch)
    Y1 = np.eye(10, dtype=np.float32)[y]
    reps = 3 if args.quick else 7

    with one_thread():
        # ---- LeNet training step --------------------------------------------
        net = _fastnut_lenet()
        loss = nn.get_loss("log_loss")
        opt = nn.Adam(1e-3)
        G = np.empty((bs, 10), np.float32)
        P = np.empty((bs, 10), np.float32)
        batches = [(np.ascontiguousarray(X[i * bs:(i + 1) * bs]), Y1[i * bs:(i + 1) * bs])
                   for i in range(nbatch)]
        state = {"i": 0}

        def fastnut_step():
            xb, yb = batches[state["i"] % nbatch]
            state["i"] += 1
            loss.predict(net.forward(xb, training=True), out=P)
            net.backward(loss.gradient(P, yb, None, bs, G))
            opt.update(net.params, net.grads)

        fns = {"fastnut": fastnut_step}
        if torch is not None:
            import torch.nn.functional as F
            Xt = torch.from_numpy(X)
            yt = torch.from_numpy(y.astype(np.int64))
            for name, cl in (("torch_channels_last", True), ("torch_nchw", False)):
                m = _torch_lenet(torch, cl)
                topt = torch.optim.Adam(m.parameters(), lr=1e-3)
                fmt = torch.channels_last if cl else torch.contiguous_format
                tb = [(Xt[i * bs:(i + 1) * bs].contiguous(memory_format=fmt), yt[i * bs:(i + 1) * bs])
                      for i in range(nbatch)]
                st = {"i": 0}

                def step(m=m, topt=topt, tb=tb, st=st):
                    xb, yb = tb[st["i"] % nbatch]
                    st["i"] += 1
                    topt.zero_grad(set_to_none=True)
                    F.cross_entropy(m(xb), yb).backward()
                    topt.step()
                fns[name] = step
        t = time_alternating(fns, reps=reps, min_time=0.1, warmup=3)
        row = {"name": "lenet28 train step bs64 (ms)", "fastnut": t["fastnut"] * 1e3}
        if torch is not None:
            row["torch_channels_last"] = t["torch_channels_last"] * 1e3
            row["torch_nchw"] = t["torch_nchw"] * 1e3
            row["speedup_vs_channels_last"] = t["torch_channels_last"] / t["fastnut"]
            row["speedup_vs_nchw"] = t["torch_nchw"] / t["fastnut"]
        rows.append(row)

        # ---- the convolution layers alone ------------------------------------
        for name, (cin, cout, hw, k, in_grad) in {
                "conv1 1->16 5x5 28x28": (1, 16, 28, 5, False),
                "conv2 16->32 5x5 14x14": (16, 32, 14, 5, True)}.items():
            layer = nn.Conv2D(cout, k, padding=k // 2)
            layer.build((cin, hw, hw), random_state=0, dtype=np.float32)
            layer.needs_input_grad = in_grad
            xc = rng.standard_normal((bs, cin, hw, hw)).astype(np.float32)
            gc = rng.standard_normal((bs, cout, hw, hw)).astype(np.float32)
            fl = conv_flops(bs, cin, cout, hw, hw, k)

            def fwd(layer=layer, xc=xc):
                layer.forward(xc, training=False)

            def fwdbwd(layer=layer, xc=xc, gc=gc):
                layer.forward(xc, training=True)
                layer.backward(gc)
            fns = {"fwd": fwd, "fwdbwd": fwdbwd}
            if torch is not None:
                import torch.nn.functional as F
                xt = torch.from_numpy(xc).contiguous(memory_format=torch.channels_last)
                wt = (torch.randn(cout, cin, k, k) * 0.1).contiguous(memory_format=torch.channels_last)
                bt = torch.zeros(cout)
                xg = xt.clone().requires_grad_(in_grad)
                wg = wt.clone().requires_grad_(True)
                bg = bt.clone().requires_grad_(True)
                gt = torch.from_numpy(gc).contiguous(memory_format=torch.channels_last)

                def tfwd():
                    with torch.no_grad():
                        F.conv2d(xt, wt, bt, padding=k // 2)

                def tfb():
                    F.conv2d(xg, wg, bg, padding=k // 2).backward(gt)
                    wg.grad = bg.grad = xg.grad = None
                fns.update({"torch_fwd": tfwd, "torch_fwdbwd": tfb})
            t = time_alternating(fns, reps=reps, min_time=0.05)
            fb = fl * (3 if in_grad else 2)
            row = {"name": f"{name} bs64 (GFLOP/s)",
                   "fwd": fl / t["fwd"] / 1e9, "fwd_pct_peak": 100 * fl / t["fwd"] / 1e9 / peak,
                   "fwdbwd": fb / t["fwdbwd"] / 1e9,
                   "fwdbwd_pct_peak": 100 * fb / t["fwdbwd"] / 1e9 / peak}
            if torch is not None:
                row["torch_cl_fwd"] = fl / t["torch_fwd"] / 1e9
                row["torch_cl_fwdbwd"] = fb / t["torch_fwdbwd"] / 1e9
            rows.append(row)

        # ---- inference at batch 256 -----------------------------------------
        Xi = rng.standard_normal((256, 1, 28, 28)).astype(np.float32)

        def finfer():
            net.forward(Xi, training=False)
        fns = {"fastnut": finfer}
        if torch is not None:
            for name, cl in (("torch_channels_last", True), ("torch_nchw", False)):
                m = _torch_lenet(torch, cl).eval()
                fmt = torch.channels_last if cl else torch.contiguous_format
                xi = torch.from_numpy(Xi).contiguous(memory_format=fmt)

                def infer(m=m, xi=xi):
                    with torch.inference_mode():
                        m(xi)
                fns[name] = infer
        t = time_alternating(fns, reps=reps, min_time=0.1)
        row = {"name": "lenet28 inference bs256 (images/s)", "fastnut": 256 / t["fastnut"]}
        if torch is not None:
            row["torch_channels_last"] = 256 / t["torch_channels_last"]
            row["torch_nchw"] = 256 / t["torch_nchw"]
            row["speedup_vs_channels_last"] = t["torch_channels_last"] / t["fastnut"]
        rows.append(row)
    return rows
