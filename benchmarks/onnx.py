"""Serving: onnxruntime running the exported model against fastnut's own predict.

For an MLP, a CNN and an RNN classifier, ``predict_proba`` of fastnut next to
``InferenceSession.run`` of the model ``fastnut.onnx.to_onnx`` exported, on
one sample (latency) and on 10,000 rows (throughput).  One thread on both
sides (BLAS/OpenMP limits for fastnut, ``intra_op_num_threads=1`` and
sequential execution for onnxruntime), same process, alternating calls.
``ratio`` is onnxruntime time / fastnut time (above 1: fastnut is faster).

Models (float32, weights from a 1-epoch fit on random data: the timing does
not depend on the values):

* MLP: 64 features -> 128 -> 64 relu -> 10 classes;
* CNN: 1x16x16 images, conv 8x3x3 + 2x2 max-pool, conv 16x3x3 + pool, dense 64 -> 10;
* RNN: LSTM, hidden 32, sequences of 20 steps x 8 features -> 10 classes.
"""
import numpy as np

from ._common import one_thread, time_alternating, try_import


def _models(quick):
    import fastnut
    rng = np.random.default_rng(0)
    n_fit = 200
    y = np.arange(n_fit) % 10
    mlp = fastnut.MLPClassifier((128, 64), max_iter=1, random_state=0)
    X_mlp = rng.standard_normal((n_fit, 64)).astype(np.float32)
    cnn = fastnut.CNNClassifier(conv_layers=((8, 3), (16, 3)), hidden_layer_sizes=(64,),
                                max_iter=1, random_state=0)
    X_cnn = rng.standard_normal((n_fit, 1, 16, 16)).astype(np.float32)
    rnn = fastnut.RNNClassifier("lstm", hidden_size=32, max_iter=1, random_state=0)
    X_rnn = rng.standard_normal((n_fit, 20, 8)).astype(np.float32)
    return [("MLP 64-128-64-10", mlp, X_mlp), ("CNN 1x16x16 c8-c16-d64", cnn, X_cnn),
            ("RNN LSTM h32 T20 F8", rnn, X_rnn)]


def run(args, peak):
    ort = try_import("onnxruntime")
    if ort is None or try_import("skl2onnx") is None:
        return []
    import warnings

    import fastnut.onnx
    from sklearn.exceptions import ConvergenceWarning

    n_big = 1000 if args.quick else 10_000
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    rows = []
    rng = np.random.default_rng(1)
    for name, model, X in _models(args.quick):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, np.arange(len(X)) % 10)
        onx = fastnut.onnx.to_onnx(model, X[:1])
        sess = ort.InferenceSession(onx.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0].name
        big = rng.standard_normal((n_big,) + X.shape[1:]).astype(np.float32)
        one = big[:1].copy()
        # same answers before timing anything
        diff = float(np.abs(sess.run(["probabilities"], {inp: big[:500]})[0]
                            - model.predict_proba(big[:500])).max())
        with one_thread():
            for label, batch in (("1 sample", one), (f"{n_big} rows", big)):
                t = time_alternating({
                    "fastnut": lambda b=batch: model.predict_proba(b),
                    "onnxruntime": lambda b=batch: sess.run(["probabilities"], {inp: b}),
                }, reps=3 if args.quick else 7, min_time=0.01 if args.quick else 0.1)
                row = {"name": f"{name}, {label}",
                       "fastnut_ms": t["fastnut"] * 1e3,
                       "onnxruntime_ms": t["onnxruntime"] * 1e3,
                       "fastnut_rows_per_s": len(batch) / t["fastnut"],
                       "onnxruntime_rows_per_s": len(batch) / t["onnxruntime"]}
                row["ratio"] = t["onnxruntime"] / t["fastnut"]
                row["max_abs_diff"] = diff
                rows.append(row)
    return rows
