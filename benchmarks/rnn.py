"""Recurrent layers: fastnut.nn.{LSTM,GRU,SimpleRNN} against torch.nn.{LSTM,GRU,RNN}.

One thread, same process, alternating calls.  Batch 32, 16 features, one
layer, float32, every step's output (``return_sequences=True``), with
PyTorch timed the same way:

* forward + backward (``out.sum().backward()``; no input gradient on either
  side, as for a first layer), hidden 128 with T = 200 and hidden 64 with
  T = 50;
* inference (forward only, no autograd), as sequences per second.

Each framework runs in its own native layout (PyTorch sequence-first,
fastnut batch-first).  ``gflops`` counts the gate GEMM FLOPs of the forward
pass (``2 * B * T * gates * H * (F + H)``), times 3 for forward + backward.
"""
import numpy as np

from ._common import one_thread, time_alternating, try_import

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _fastnut(cell, H, T, F, B, dtype=np.float32):
    from fastnut import nn
    cls = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.SimpleRNN}[cell]
    layer = cls(H, return_sequences=True)
    layer.build((T, F), random_state=0, dtype=dtype)
    layer.needs_input_grad = False
    X = np.random.default_rng(0).standard_normal((B, T, F)).astype(dtype)
    dY = np.ones((B, T, H), dtype)

    def fwd():
        layer.forward(X, training=False)

    def fwd_bwd():
        layer.forward(X, training=True)
        layer.backward(dY)

    return fwd, fwd_bwd


def _torch(torch, cell, H, T, F, B):
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}[cell]
    torch.manual_seed(0)
    m = cls(F, H, num_layers=1)
    x = torch.randn(T, B, F)

    def fwd():
        with torch.no_grad():
            m(x)

    def fwd_bwd():
        out, _ = m(x)
        out.sum().backward()
        m.zero_grad(set_to_none=True)

    return fwd, fwd_bwd


def run(args, peak):
    torch = try_import("torch")
    B, F = 32, 16
    shapes = [(128, 200), (64, 50)] if not args.quick else [(32, 20)]
    rows = []
    with one_thread():
        for H, T in shapes:
            for cell in ("LSTM", "GRU", "RNN"):
                flops = 2.0 * B * T * GATES[cell] * H * (F + H)
                f_fwd, f_fb = _fastnut(cell, H, T, F, B)
                fns = {"fastnut_fb": f_fb, "fastnut_fwd": f_fwd}
                if torch is not None:
                    t_fwd, t_fb = _torch(torch, cell, H, T, F, B)
                    fns.update(torch_fb=t_fb, torch_fwd=t_fwd)
                reps = 3 if args.quick else 7
                t = time_alternating(fns, reps=reps, min_time=0.05 if not args.quick else 0.01)
                for kind, label in (("fb", "fwd+bwd"), ("fwd", "inference")):
                    row = {"name": f"{cell} h{H} T{T} {label}",
                           "fastnut_ms": t[f"fastnut_{kind}"] * 1e3}
                    if torch is not None:
                        row["torch_ms"] = t[f"torch_{kind}"] * 1e3
                        row["speedup_vs_torch"] = t[f"torch_{kind}"] / t[f"fastnut_{kind}"]
                    mult = 3.0 if kind == "fb" else 1.0
                    row["gflops"] = mult * flops / t[f"fastnut_{kind}"] / 1e9
                    row["pct_peak"] = 100.0 * row["gflops"] / peak
                    if kind == "fwd":
                        row["fastnut_seq_per_s"] = B / t["fastnut_fwd"]
                        if torch is not None:
                            row["torch_seq_per_s"] = B / t["torch_fwd"]
                    rows.append(row)
    return rows
