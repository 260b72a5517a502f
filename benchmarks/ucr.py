"""Public UCR/UEA time-series sets for benchmarks and accuracy studies.

The sets come from the ``sktime`` wheel on PyPI, which ships a handful of the
archive's problems (GunPoint, ItalyPowerDemand, ArrowHead, OSULeaf, BasicMotions,
JapaneseVowels, ...) as ``.ts`` files.  The wheel is downloaded once with
``pip download`` (no install, no dependencies) into ``FASTNUT_DATA`` (default
``~/.cache/fastnut``) and only the ``.ts`` files are kept.  fastnut itself
never depends on it.

>>> from benchmarks.ucr import load_ucr
>>> X_train, y_train, X_test, y_test = load_ucr("GunPoint")   # doctest: +SKIP
>>> X_train.shape                                              # doctest: +SKIP
(50, 150, 1)

Sequences are returned as float64 arrays of shape ``(n, T, F)``, NaN-padded at
the end when the set has unequal lengths (fastnut's sequence input rule).
Labels are strings for classification sets, floats for regression sets.
"""
import glob
import os
import subprocess
import sys
import zipfile

import numpy as np

WHEEL = "sktime==1.2.0"
SETS = ("ArrowHead", "BasicMotions", "GunPoint", "ItalyPowerDemand",
        "JapaneseVowels", "OSULeaf", "ACSF1", "PLAID", "Tecator",
        "Covid3Month")


def data_dir():
    root = os.environ.get("FASTNUT_DATA",
                          os.path.join(os.path.expanduser("~"), ".cache", "fastnut"))
    return os.path.join(root, "ucr")


def _ensure_files():
    out = data_dir()
    if glob.glob(os.path.join(out, "*", "*_TRAIN.ts")):
        return out
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, "_wheel")
    print(f"downloading the UCR sets shipped in {WHEEL} into {out} ...",
          file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps",
                    "-q", "-d", tmp], check=True)
    (wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if "/datasets/data/" in name and name.endswith(".ts"):
                problem, fname = name.split("/")[-2:]
                os.makedirs(os.path.join(out, problem), exist_ok=True)
                with open(os.path.join(out, problem, fname), "wb") as f:
                    f.write(z.read(name))
    os.remove(wheel)
    os.rmdir(tmp)
    return out


def read_ts(path):
    """Parse one ``.ts`` file into ``(X, y)``; X is NaN-padded ``(n, T, F)``."""
    series, labels, regression = [], [], False
    in_data = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                low = line.lower()
                if low.startswith("@targetlabel true"):
                    regression = True
                if low.startswith("@data"):
                    in_data = True
                continue
            *dims, label = line.split(":")
            rows = [np.array([float(v) if v not in ("?", "NaN") else np.nan
                              for v in d.split(",")]) for d in dims]
            series.append(rows)
            labels.append(label.strip())
    n, F = len(series), len(series[0])
    T = max(len(r) for s in series for r in s)
    X = np.full((n, T, F), np.nan)
    for i, s in enumerate(series):
        for j, r in enumerate(s):
            X[i, :len(r), j] = r
    y = np.array(labels, dtype=float) if regression else np.array(labels)
    return X, y


def load_ucr(name):
    """``(X_train, y_train, X_test, y_test)`` of one of :data:`SETS`."""
    root = _ensure_files()
    base = os.path.join(root, name, name)
    if not os.path.exists(base + "_TRAIN.ts"):
        have = sorted(os.listdir(root))
        raise ValueError(f"unknown set {name!r}; available: {have}")
    X_train, y_train = read_ts(base + "_TRAIN.ts")
    X_test, y_test = read_ts(base + "_TEST.ts")
    T = max(X_train.shape[1], X_test.shape[1])

    def pad(X):
        if X.shape[1] == T:
            return X
        out = np.full((X.shape[0], T, X.shape[2]), np.nan)
        out[:, :X.shape[1]] = X
        return out
    return pad(X_train), y_train, pad(X_test), y_test


if __name__ == "__main__":
    for name in sys.argv[1:] or SETS:
        Xtr, ytr, Xte, yte = load_ucr(name)
        print(f"{name:18s} train {Xtr.shape} test {Xte.shape} "
              f"classes {len(np.unique(ytr)) if ytr.dtype.kind == 'U' else 'regression'}")
