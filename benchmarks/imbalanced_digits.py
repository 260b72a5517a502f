"""Imbalanced digits: fastnut's training controls side by side with skorch.

``python -m benchmarks.imbalanced_digits`` (needs the ``bench`` extra and
``pip install skorch``). Digits 5-9 keep one row in ten, so they are rare.
The data is split 70/30, stratified, with seed 0, and 15% of the training part
is held out for metric early stopping. The score is balanced accuracy on the
test part, for five seeds (mean and spread). This is an accuracy comparison,
not a timing one.
"""
import sys
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

EPOCHS, HIDDEN, LR = 60, 64, 0.01


def data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    keep = (y < 5) | (np.arange(len(y)) % 10 == 0)
    X, y = X[keep], y[keep]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    X_fit, X_val, y_fit, y_val = train_test_split(X_tr, y_tr, test_size=0.15, stratify=y_tr,
                                                  random_state=0)
    return X_tr, y_tr, X_fit, y_fit, X_val, y_val, X_te, y_te


def fastnut_runs(seed, d):
    from fastnut import MLPClassifier
    from fastnut.callbacks import EarlyStopping
    from fastnut.schedules import CosineAnnealing
    X_tr, y_tr, X_fit, y_fit, X_val, y_val, X_te, y_te = d
    kw = dict(hidden_layer_sizes=(HIDDEN,), max_iter=EPOCHS, learning_rate_init=LR,
              random_state=seed, n_iter_no_change=EPOCHS)
    out = {}
    out["fastnut plain"] = MLPClassifier(**kw).fit(X_tr, y_tr)
    out["fastnut class_weight"] = MLPClassifier(class_weight="balanced", **kw).fit(X_tr, y_tr)
    out["fastnut class_weight+cosine+metric ES"] = MLPClassifier(
        class_weight="balanced", lr_schedule=CosineAnnealing(n_epochs=EPOCHS, warmup_epochs=3),
        callbacks=[EarlyStopping("balanced_accuracy", validation_data=(X_val, y_val),
                                 patience=10)], **kw).fit(X_fit, y_fit)
    return {k: balanced_accuracy_score(y_te, m.predict(X_te)) for k, m in out.items()}


def skorch_run(seed, d):
    import torch
    from skorch import NeuralNetClassifier
    from skorch.callbacks import EarlyStopping, EpochScoring, LRScheduler
    from skorch.dataset import ValidSplit
    from skorch.helper import predefined_split
    from skorch.dataset import Dataset
    X_tr, y_tr, X_fit, y_fit, X_val, y_val, X_te, y_te = d
    torch.manual_seed(seed)
    classes = np.unique(y_tr)
    w = torch.tensor(compute_class_weight("balanced", classes=classes, y=y_fit),
                     dtype=torch.float32)
    module = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(),
                                 torch.nn.Linear(HIDDEN, len(classes)))
    net = NeuralNetClassifier(
        module, criterion=torch.nn.CrossEntropyLoss, criterion__weight=w,
        optimizer=torch.optim.Adam, lr=LR, max_epochs=EPOCHS, batch_size=200,
        train_split=predefined_split(Dataset(X_val, y_val.astype(np.int64))),
        callbacks=[EpochScoring("balanced_accuracy", lower_is_better=False, name="bacc"),
                   LRScheduler("CosineAnnealingLR", T_max=EPOCHS),
                   EarlyStopping(monitor="bacc", lower_is_better=False, patience=10,
                                 load_best=True)],
        verbose=0)
    net.fit(X_fit, y_fit.astype(np.int64))
    return {"skorch class weights+cosine+metric ES": balanced_accuracy_score(
        y_te, net.predict(X_te))}


def main():
    warnings.simplefilter("ignore")
    import torch
    torch.set_num_threads(1)
    d = data()
    print(f"train {len(d[1])} rows, test {len(d[7])}, class counts "
          f"{np.bincount(d[1]).tolist()}")
    scores = {}
    for seed in range(5):
        for k, v in {**fastnut_runs(seed, d), **skorch_run(seed, d)}.items():
            scores.setdefault(k, []).append(v)
    for k, v in scores.items():
        print(f"{k:45s} balanced accuracy {np.mean(v):.3f} "
              f"(min {np.min(v):.3f}, max {np.max(v):.3f})")


if __name__ == "__main__":
    sys.exit(main())
