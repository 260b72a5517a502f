"""Accuracy study: ``RNNClassifier`` against the same recipe as a plain PyTorch loop.

Not a timed benchmark (``python -m benchmarks`` does not run it): it trains
the recipe of issue 12,

    RNNClassifier(cell="gru", hidden_size=64, max_iter=200, batch_size=32,
                  learning_rate_init=1e-2, random_state=seed)

and the same recipe written as a plain PyTorch loop (``torch.nn.GRU`` and a
``Linear`` head on the state at each sequence's last valid step, PyTorch's
default initialisation, Adam with lr 1e-2, batch 32 reshuffled every epoch,
the mean cross-entropy, float32, no weight decay, no clipping) over several
seeds, and prints per-seed test accuracy, mean, std and fit seconds of both.
Both run on one thread in the same process, one after the other per seed.

Sets: ``digits`` (scikit-learn's 8x8 digits read as 8 steps of 8 pixels, the
README's fixed split: ``train_test_split(test_size=0.3, stratify=y,
random_state=0)``) and the UCR/UEA sets of ``benchmarks.ucr`` (GunPoint,
ItalyPowerDemand, BasicMotions, JapaneseVowels, ...).  Inputs are
standardised per feature with the training set's mean and standard
deviation over all valid steps, the same arrays going to both frameworks
(NaN padding stays NaN for fastnut and becomes a packed sequence for
PyTorch).

Factors are studied one at a time with options on either side:

``--fastnut k=v``
    any ``RNNClassifier`` parameter (``alpha=0``, ``clip_norm=None``,
    ``dtype=float64``, ``shuffle=False`` ...); ``head_init=torch`` redraws
    the output layer from PyTorch's ``Linear`` rule ``U(+-1/sqrt(fan_in))``
    and ``head_init=glorot`` from ``U(+-sqrt(6/(fan_in+fan_out)))``; ``pad=zero``
    feeds zeros instead of NaN padding (the head then reads the last step).
``--torch k=v``
    ``clip=5`` (``clip_grad_norm_``), ``alpha=1e-4`` (fastnut's L2 term: ``0.5
    alpha sum(W**2) / batch`` on the weights, not the biases),
    ``head_init=glorot``, ``binary=logistic`` (one logit and the binary
    log-loss for two classes, as fastnut and scikit-learn), ``dtype=float64``,
    ``state=last`` (read the last step, zero padded), ``eps``/``betas``.
``--parity``
    one check instead of the study: fastnut starts from the PyTorch model's
    initial weights, neither shuffles, float64, no L2, no clipping; prints the
    loss of both after every few epochs (they must agree: the same algorithm).

Examples::

    python -m benchmarks.rnn_study --sets GunPoint ItalyPowerDemand --seeds 0 1 2 3 4
    python -m benchmarks.rnn_study --sets GunPoint --fastnut alpha=0 clip_norm=None
    python -m benchmarks.rnn_study --sets BasicMotions --parity --epochs 20
"""
import argparse
import ast
import json
import statistics
import sys
import time

import numpy as np

from ._common import one_thread

RECIPE = dict(hidden_size=64, max_iter=200, batch_size=32, learning_rate_init=1e-2)


# -- data ----------------------------------------------------------------------
def load(name):
    """``(X_train, y_train, X_test, y_test)``: float64 ``(n, T, F)``, NaN-padded."""
    if name == "digits":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        X, y = load_digits(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X.reshape(-1, 8, 8), y, test_size=0.3,
                                              stratify=y, random_state=0)
        return Xtr, ytr, Xte, yte
    from .ucr import load_ucr
    return load_ucr(name)


def standardise(Xtr, Xte):
    """Per-feature z-scores from the training set's valid steps (NaN stays NaN)."""
    mean = np.nanmean(Xtr, axis=(0, 1))
    std = np.nanstd(Xtr, axis=(0, 1))
    std = np.where(std > 1e-8, std, 1.0)
    return (Xtr - mean) / std, (Xte - mean) / std


def lengths_of(X):
    valid = ~np.isnan(X).all(axis=2)
    return valid.sum(axis=1)


# -- fastnut -----------------------------------------------------------------------
def _redraw_head(net, rule, rng):
    head = net.layers[-1]
    fan_in, fan_out = head.params["weight"].shape
    bound = (1 / np.sqrt(fan_in) if rule == "torch"
             else np.sqrt(6.0 / (fan_in + fan_out)))
    for k in ("weight", "bias"):
        p = head.params[k]
        p[...] = rng.uniform(-bound, bound, p.shape)


def fit_fastnut(cell, data, seed, options, init_weights=None):
    """Train ``RNNClassifier``; return test accuracy, seconds, epochs, final loss."""
    from fastnut import RNNClassifier
    Xtr, ytr, Xte, yte = data
    options = dict(options)
    head_init = options.pop("head_init", None)
    pad = options.pop("pad", "nan")

    class Study(RNNClassifier):
        def _make_network(self, X, Y, rng):
            net = super()._make_network(X, Y, rng)
            if head_init is not None:
                _redraw_head(net, head_init, rng)
            if init_weights is not None:
                for k, v in init_weights.items():
                    net.params[k][...] = v
            return net

    if pad == "zero":
        Xtr, Xte = np.nan_to_num(Xtr), np.nan_to_num(Xte)
    params = dict(RECIPE, cell=cell, random_state=seed)
    params.update(options)
    clf = Study(**params)
    t0 = time.perf_counter()
    clf.fit(Xtr, ytr)
    seconds = time.perf_counter() - t0
    return {"acc": float(clf.score(Xte, yte)), "s": seconds, "epochs": clf.n_iter_,
            "loss": float(clf.loss_), "curve": list(map(float, clf.loss_curve_))}


# -- PyTorch -------------------------------------------------------------------------
def _torch_model(torch, cell, F, H, n_out):
    rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[cell]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn(F, H, batch_first=True)
            self.head = torch.nn.Linear(H, n_out)

        def forward(self, x, lengths, state):
            if state == "valid" and bool((lengths < x.shape[1]).any()):
                packed = torch.nn.utils.rnn.pack_padded_sequence(
                    x, lengths, batch_first=True, enforce_sorted=False)
                _, h = self.rnn(packed)
            else:
                _, h = self.rnn(x)
            if cell == "lstm":
                h = h[0]
            return self.head(h[-1])

    return Net()


def fit_torch(cell, data, seed, options, epochs, batch_size=32, lr=1e-2, H=64,
              return_model_init=False, shuffle=True):
    """The recipe as a plain PyTorch loop; return test accuracy, seconds, final loss."""
    import torch
    Xtr, ytr, Xte, yte = data
    dtype = {"float32": torch.float32, "float64": torch.float64}[options.get("dtype", "float32")]
    classes, ytr_i = np.unique(ytr, return_inverse=True)
    yte_i = np.searchsorted(classes, yte)
    logistic = options.get("binary") == "logistic" and len(classes) == 2
    n_out = 1 if logistic else len(classes)
    state = options.get("state", "valid")
    torch.manual_seed(seed)
    model = _torch_model(torch, cell, Xtr.shape[2], H, n_out).to(dtype)
    if options.get("head_init") == "glorot":
        b = float(np.sqrt(6.0 / (H + n_out)))
        with torch.no_grad():
            model.head.weight.uniform_(-b, b)
            model.head.bias.uniform_(-b, b)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    betas = tuple(options.get("betas", (0.9, 0.999)))
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas,
                           eps=float(options.get("eps", 1e-8)))
    alpha = float(options.get("alpha", 0.0))
    clip = options.get("clip")
    penalised = [p for n, p in model.named_parameters() if "weight" in n]

    def tensors(X):
        L = torch.as_tensor(lengths_of(X), dtype=torch.int64)
        return torch.as_tensor(np.nan_to_num(X), dtype=dtype), L

    t0 = time.perf_counter()
    x, lengths = tensors(Xtr)
    y = torch.as_tensor(ytr_i, dtype=torch.int64)
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    loss_fn = (torch.nn.BCEWithLogitsLoss() if logistic else torch.nn.CrossEntropyLoss())
    curve = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        total = 0.0
        for s in range(0, n, batch_size):
            idx = order[s:s + batch_size]
            out = model(x[idx], lengths[idx], state)
            target = y[idx].to(dtype)[:, None] if logistic else y[idx]
            loss = loss_fn(out, target)
            value = loss
            if alpha:
                value = loss + 0.5 * alpha * sum((p * p).sum() for p in penalised) / len(idx)
            opt.zero_grad(set_to_none=True)
            value.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), float(clip))
            opt.step()
            total += float(value.detach()) * len(idx)
        curve.append(total / n)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        xt, lt = tensors(Xte)
        out = model(xt, lt, state)
        pred = (out[:, 0] > 0).long() if logistic else out.argmax(1)
        acc = float((pred.numpy() == yte_i).mean())
    res = {"acc": acc, "s": seconds, "epochs": epochs, "loss": curve[-1], "curve": curve}
    if return_model_init:
        res["init"] = init
    return res


def torch_to_fastnut(init, cell):
    """fastnut parameter names and layouts of a PyTorch ``Net`` state dict."""
    out = {}
    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        out[f"0.{k}"] = init[f"rnn.{k}_l0"].double().numpy()
    out["1.weight"] = init["head.weight"].double().numpy().T
    out["1.bias"] = init["head.bias"].double().numpy()
    return out


# -- driver ----------------------------------------------------------------------------
def _parse_kv(items):
    out = {}
    for item in items or ():
        k, _, v = item.partition("=")
        if v in ("float32", "float64"):
            out[k] = v if k != "dtype" else getattr(np, v)
            continue
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


def _summary(accs):
    return statistics.mean(accs), (statistics.stdev(accs) if len(accs) > 1 else 0.0)


def _import_torch():
    # imported before one_thread() so that it limits torch's own threads too
    import torch
    return torch


def study(args):
    _import_torch()
    fn_opts, t_opts = _parse_kv(args.fastnut), _parse_kv(args.torch)
    t_opts_print = {k: v for k, v in t_opts.items()}
    if "dtype" in t_opts:
        t_opts["dtype"] = np.dtype(t_opts["dtype"]).name
    rows = []
    for name in args.sets:
        Xtr, ytr, Xte, yte = load(name)
        data = standardise(Xtr, Xte)
        data = (data[0], ytr, data[1], yte)
        for cell in args.cells:
            fn_opts_cell = dict(fn_opts, max_iter=args.epochs)
            res = {"fastnut": [], "torch": []}
            for seed in args.seeds:
                with one_thread():
                    if not args.torch_only:
                        res["fastnut"].append(fit_fastnut(cell, data, seed, fn_opts_cell))
                    if not args.fastnut_only:
                        res["torch"].append(fit_torch(cell, data, seed, t_opts, args.epochs))
                line = [f"{name} {cell} seed {seed}:"]
                for side in ("fastnut", "torch"):
                    if res[side]:
                        r = res[side][-1]
                        line.append(f"{side} {r['acc']:.4f} ({r['s']:.1f}s, {r['epochs']} ep, "
                                    f"loss {r['loss']:.4f})")
                print("  ".join(line), flush=True)
            row = {"set": name, "cell": cell, "epochs": args.epochs, "seeds": list(args.seeds),
                   "fastnut_options": {k: str(v) for k, v in fn_opts.items()},
                   "torch_options": {k: str(v) for k, v in t_opts_print.items()}}
            for side in ("fastnut", "torch"):
                if res[side]:
                    accs = [r["acc"] for r in res[side]]
                    m, s = _summary(accs)
                    row[side] = {"acc": accs, "mean": m, "std": s,
                                 "seconds": [r["s"] for r in res[side]],
                                 "final_loss": [r["loss"] for r in res[side]]}
                    print(f"{name} {cell} {side}: mean {m:.4f} std {s:.4f}  per seed "
                          + " ".join(f"{a:.3f}" for a in accs)
                          + f"  fit s median {statistics.median(row[side]['seconds']):.1f}",
                          flush=True)
            rows.append(row)
            if args.json:  # as each set and cell ends: a long study keeps what it ran
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
    return rows


def parity(args):
    """Same initial weights, no shuffling, float64: the two loss curves must agree."""
    _import_torch()
    cell = args.cells[0]
    for name in args.sets:
        Xtr, ytr, Xte, yte = load(name)
        d = standardise(Xtr, Xte)
        data = (d[0], ytr, d[1], yte)
        seed = args.seeds[0]
        with one_thread():
            tr = fit_torch(cell, data, seed, {"dtype": "float64"}, args.epochs,
                           return_model_init=True, shuffle=False)
            fn = fit_fastnut(cell, data, seed,
                             dict(max_iter=args.epochs, shuffle=False, alpha=0.0,
                                  clip_norm=None, dtype=np.float64),
                             init_weights=torch_to_fastnut(tr["init"], cell))
        print(f"{name} {cell} parity (float64, same init, no shuffle, no L2/clip):")
        for e in sorted({0, 1, 2, 4, 9, args.epochs - 1}):
            if e < args.epochs:
                print(f"  epoch {e + 1:4d}: fastnut loss {fn['curve'][e]:.10f}  "
                      f"torch loss {tr['curve'][e]:.10f}")
        print(f"  test accuracy: fastnut {fn['acc']:.4f}  torch {tr['acc']:.4f}", flush=True)


def render(paths):
    """Markdown tables (per-seed accuracy, mean, std, median fit seconds) of JSON lines."""
    lines = []
    for path in paths:
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        for row in rows:
            opts = ", ".join(f"{k}={v}" for k, v in row["fastnut_options"].items()) or "defaults"
            topts = ", ".join(f"{k}={v}" for k, v in row["torch_options"].items()) or "recipe"
            lines += ["", f"{row['set']}, {row['cell']}, {row['epochs']} epochs "
                      f"(fastnut: {opts}; PyTorch: {topts})", "",
                      "| | " + " | ".join(f"seed {s}" for s in row["seeds"])
                      + " | mean | std | fit s (median) |",
                      "|---" * (len(row["seeds"]) + 4) + "|"]
            for side in ("fastnut", "torch"):
                if side in row:
                    r = row[side]
                    lines.append(f"| {side} | " + " | ".join(f"{a:.3f}" for a in r["acc"])
                                 + f" | **{r['mean']:.3f}** | {r['std']:.3f} | "
                                 f"{statistics.median(r['seconds']):.1f} |")
    print("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.rnn_study", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", nargs="+", default=["digits", "GunPoint", "ItalyPowerDemand",
                                                  "BasicMotions"])
    p.add_argument("--cells", nargs="+", default=["gru"], choices=["gru", "lstm", "rnn"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--fastnut", nargs="*", metavar="K=V", help="RNNClassifier overrides")
    p.add_argument("--torch", nargs="*", metavar="K=V", help="PyTorch loop variations")
    p.add_argument("--fastnut-only", action="store_true")
    p.add_argument("--torch-only", action="store_true")
    p.add_argument("--parity", action="store_true", help="same-init loss-curve check")
    p.add_argument("--json", help="append one JSON line per set and cell to this file")
    p.add_argument("--render", nargs="+", metavar="JSONL",
                   help="print the tables of earlier --json files as markdown and exit")
    args = p.parse_args(argv)
    if args.render:
        return render(args.render)
    print("command: python -m benchmarks.rnn_study " + " ".join(
        sys.argv[1:] if argv is None else argv), flush=True)
    if args.parity:
        parity(args)
    else:
        study(args)


if __name__ == "__main__":
    main()
