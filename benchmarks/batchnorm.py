"""Batch normalisation and embeddings: fastnut against PyTorch CPU, one thread.

* ``BatchNorm2D`` on (64, 32, 28, 28) images and ``BatchNorm1D`` on (64, 150,
  128) sequences: training forward+backward and inference forward, against
  ``torch.nn.BatchNorm2d``/``BatchNorm1d`` (sequences in torch's ``(N, C, L)``).
* ``Embedding(10000, 64)`` on (64, 100) token ids: forward+backward against
  ``torch.nn.Embedding``, and fastnut's scatter-add kernel against ``np.add.at``
  for the weight gradient alone.
"""
import numpy as np

from ._common import one_thread, time_alternating, try_import


def _bn_rows(nn, torch, name, layer, x, tshape, reps):
    rng = np.random.default_rng(1)
    g = rng.standard_normal(x.shape).astype(np.float32)

    def fb():
        layer.forward(x, training=True)
        layer.backward(g)

    def inf():
        layer.forward(x)
    fns = {"fwdbwd": fb, "infer": inf}
    if torch is not None:
        C = x.shape[1] if x.ndim == 4 else x.shape[2]
        m = (torch.nn.BatchNorm2d(C) if x.ndim == 4 else torch.nn.BatchNorm1d(C))
        xt = torch.from_numpy(np.ascontiguousarray(x if x.ndim == 4 else x.transpose(0, 2, 1)))
        gt = torch.from_numpy(np.ascontiguousarray(g if x.ndim == 4 else g.transpose(0, 2, 1)))
        xg = xt.clone().requires_grad_(True)

        def tfb():
            m.train()(xg).backward(gt)
            xg.grad = None
            m.weight.grad = m.bias.grad = None

        def tinf():
            with torch.inference_mode():
                m.eval()(xt)
        fns.update({"torch_fwdbwd": tfb, "torch_infer": tinf})
    t = time_alternating(fns, reps=reps, min_time=0.05)
    row = {"name": f"{name} (ms)", "fwdbwd_ms": t["fwdbwd"] * 1e3, "infer_ms": t["infer"] * 1e3}
    if torch is not None:
        row["torch_fwdbwd_ms"] = t["torch_fwdbwd"] * 1e3
        row["torch_infer_ms"] = t["torch_infer"] * 1e3
        row["speedup_fwdbwd"] = t["torch_fwdbwd"] / t["fwdbwd"]
        row["speedup_infer"] = t["torch_infer"] / t["infer"]
    return row


def run(args, peak):
    from fastnut import nn
    from fastnut._kernels import embedding as ke
    rows = []
    torch = try_import("torch")
    rng = np.random.default_rng(0)
    reps = 3 if args.quick else 7
    with one_thread():
        bn2 = nn.BatchNorm2D()
        bn2.build((32, 28, 28))
        x = rng.standard_normal((64, 32, 28, 28)).astype(np.float32)
        rows.append(_bn_rows(nn, torch, "BatchNorm2D (64, 32, 28, 28)", bn2, x, None, reps))
        bn1 = nn.BatchNorm1D()
        bn1.build((150, 128))
        x = rng.standard_normal((64, 150, 128)).astype(np.float32)
        rows.append(_bn_rows(nn, torch, "BatchNorm1D (64, 150, 128)", bn1, x, None, reps))

        V, D, n, T = 10000, 64, 64, 100
        emb = nn.Embedding(V, D)
        emb.build((T,), random_state=0)
        ids = rng.integers(0, V, (n, T))
        g = rng.standard_normal((n, T, D)).astype(np.float32)

        def efb():
            emb.forward(ids, training=True)
            emb.backward(g)
        fns = {"fastnut": efb}
        if torch is not None:
            m = torch.nn.Embedding(V, D)
            it = torch.from_numpy(ids)
            gt = torch.from_numpy(g)

            def tefb():
                m(it).backward(gt)
                m.weight.grad = None
            fns["torch"] = tefb
        t = time_alternating(fns, reps=reps, min_time=0.05)
        row = {"name": f"Embedding({V}, {D}) fwd+bwd ids ({n}, {T}) (ms)",
               "fastnut_ms": t["fastnut"] * 1e3}
        if torch is not None:
            row["torch_ms"] = t["torch"] * 1e3
            row["speedup"] = t["torch"] / t["fastnut"]
        rows.append(row)

        ids64 = np.ascontiguousarray(ids, np.int64)
        lengths = np.full(n, T, np.int32)
        dW = np.empty((V, D), np.float32)
        flat_ids, flat_g = ids64.reshape(-1), g.reshape(-1, D)

        def kernel():
            ke.embedding_backward(g, ids64, lengths, dW, -1, 1)

        def addat():
            dW[...] = 0
            np.add.at(dW, flat_ids, flat_g)
        t = time_alternating({"kernel": kernel, "add_at": addat}, reps=reps, min_time=0.05)
        rows.append({"name": "embedding weight gradient: kernel vs np.add.at (ms)",
                     "fastnut_ms": t["kernel"] * 1e3, "np_add_at_ms": t["add_at"] * 1e3,
                     "speedup": t["add_at"] / t["kernel"]})
    return rows
