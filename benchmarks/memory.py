"""Prediction memory: peak extra memory of every reading method, float64 input.

Every family's models compute in float32 here, and the input is float64
(``n x 64``, ``--quick``: 100,000 rows, else 1,000,000): the methods must
convert it one row chunk at a time, so the extra memory of a call is its
output plus a few chunks, flat in the number of rows -- never a float32 copy
of X (``copy_MB``) nor an intermediate as large as X.

Measured with ``tracemalloc`` (NumPy reports its buffers to it) as the peak
of traced memory during the call minus the memory traced before it; the
model is fitted on 2,000 rows first.  ``extra_MB = peak_MB - out_MB`` is
what the call needs besides its result; ``extra_vs_copy`` divides that by
one float32 copy of X.  Run alone: ``python -m benchmarks memory``.
"""
import gc
import tracemalloc

import numpy as np

N_FEATURES = 64


def peak_during(fn):
    """(peak traced bytes above the start during ``fn()``, the result's bytes)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    outs = out if isinstance(out, list) else [out]
    nbytes = sum(getattr(o, "nbytes", 0) for o in outs)
    return peak, nbytes


def cases(n_fit=2000, seed=0):
    """(name, fitted model, method name, input builder) for every family."""
    import fastnut

    rng = np.random.RandomState(seed)
    d = N_FEATURES
    Xf = rng.rand(n_fit, d).astype(np.float32)
    yc = (Xf[:, 0] > 0.5).astype(int)
    yr = Xf[:, :2].sum(1)
    quick = dict(max_iter=2, random_state=0)
    boltz = dict(n_iter=1, random_state=0, batch_size=50)
    ae = dict(max_iter=2, random_state=0)

    def unit(n):  # [0, 1] rows for the Boltzmann machines
        return np.random.RandomState(1).rand(n, d)

    def codes(k):
        return lambda n: np.random.RandomState(2).rand(n, k)

    def fit(model, *a):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(*a)

    mlp_c = fit(fastnut.MLPClassifier(hidden_layer_sizes=(32,), **quick), Xf, yc)
    mlp_r = fit(fastnut.MLPRegressor(hidden_layer_sizes=(32,), **quick), Xf, yr)
    cnn = fit(fastnut.CNNClassifier(conv_layers=[(4, 3)], hidden_layer_sizes=(8,),
                                    input_shape=(1, 8, 8), **quick), Xf, yc)
    rnn = fit(fastnut.RNNRegressor(hidden_size=8, input_shape=(16, 4), **quick), Xf, yr)
    auto = fit(fastnut.Autoencoder(n_components=8, encoder_layer_sizes=(16,), **ae), Xf)
    rbm = fit(fastnut.BernoulliRBM(n_components=32, **boltz), Xf)
    grbm = fit(fastnut.GaussianBernoulliRBM(n_components=32, **boltz), Xf)
    dbn = fit(fastnut.DeepBeliefNetwork(hidden_layer_sizes=(32, 16), **boltz), Xf)
    dbm = fit(fastnut.DeepBoltzmannMachine(hidden_layer_sizes=(32, 16), **boltz), Xf)
    som = fit(fastnut.SelfOrganizingMap(n_rows=8, n_cols=8, max_iter=1, random_state=0,
                                        init="random"), Xf)
    return [
        ("MLPClassifier", mlp_c, "predict", unit),
        ("MLPClassifier", mlp_c, "predict_proba", unit),
        ("MLPRegressor", mlp_r, "predict", unit),
        ("CNNClassifier", cnn, "predict_proba", unit),
        ("RNNRegressor", rnn, "predict", unit),
        ("Autoencoder", auto, "transform", unit),
        ("Autoencoder", auto, "score_samples", unit),
        ("Autoencoder", auto, "inverse_transform", codes(8)),
        ("BernoulliRBM", rbm, "transform", unit),
        ("BernoulliRBM", rbm, "score_samples", unit),
        ("BernoulliRBM", rbm, "free_energy", unit),
        ("BernoulliRBM", rbm, "inverse_transform", codes(32)),
        ("GaussianBernoulliRBM", grbm, "score_samples", unit),
        ("DeepBeliefNetwork", dbn, "transform", unit),
        ("DeepBeliefNetwork", dbn, "inverse_transform", codes(16)),
        ("DeepBoltzmannMachine", dbm, "transform", unit),
        ("SelfOrganizingMap", som, "predict", unit),
        ("SelfOrganizingMap", som, "transform", unit),
    ]


def measure(n, only=None):
    rows = []
    for name, model, method, make in cases():
        if only is not None and name not in only:
            continue
        X = make(n)
        fn = getattr(model, method)
        fn(X[:100])  # warm caches and pools outside the measurement
        peak, out = peak_during(lambda: fn(X))
        copy = X.size * 4
        rows.append({"name": f"{name}.{method} {n}x{X.shape[1]} float64",
                     "peak_MB": peak / 1e6, "out_MB": out / 1e6,
                     "extra_MB": (peak - out) / 1e6, "copy_MB": copy / 1e6,
                     "extra_vs_copy": (peak - out) / copy})
    return rows


def run(args, peak):
    return measure(100_000 if args.quick else 1_000_000)
