"""Writes tests/data/pickles_0.1.0.pkl; run from the repository root at commit 7d96f06
(fastnut 0.1.0, before the engine was filed by role): ``PYTHONPATH=. python
tests/data/make_pickles_0.1.0.py``.  Kept for the record; the bytes it wrote are the fixture."""
import pickle, warnings
import numpy as np
import fastnut
rng = np.random.RandomState(0)
X = rng.rand(24, 6)
y = (X[:, 0] > 0.5).astype(int)
S = rng.rand(12, 5, 2)
yS = (S[:, :, 0].mean(1) > 0.5).astype(int)
models = {
    "MLPClassifier": (fastnut.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0), X, y),
    "Autoencoder": (fastnut.Autoencoder(n_components=2, encoder_layer_sizes=(4,), tied_weights=True, max_iter=3, random_state=0), X, None),
    "SparseAutoencoder": (fastnut.SparseAutoencoder(n_components=2, encoder_layer_sizes=(4,), max_iter=3, random_state=0), X, None),
    "DenoisingAutoencoder": (fastnut.DenoisingAutoencoder(n_components=2, encoder_layer_sizes=(4,), max_iter=3, random_state=0), X, None),
    "ContractiveAutoencoder": (fastnut.ContractiveAutoencoder(n_components=2, max_iter=3, random_state=0), X, None),
    "DeepContractive": (fastnut.ContractiveAutoencoder(n_components=2, encoder_layer_sizes=(3,), max_iter=3, random_state=0), X, None),
    "LSTMAutoencoder": (fastnut.LSTMAutoencoder(n_components=2, max_iter=2, random_state=0), S, None),
    "RNNClassifier": (fastnut.RNNClassifier(hidden_size=3, num_layers=2, dropout=0.1, max_iter=2, random_state=0), S, yS),
}
out = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for name, (est, A, t) in models.items():
        est.fit(A) if t is None else est.fit(A, t)
        pred = est.predict_proba(A) if hasattr(est, "predict_proba") else est.transform(A)
        out[name] = (pickle.dumps(est, protocol=4), A, np.asarray(pred))
with open("tests/data/pickles_0.1.0.pkl", "wb") as f:
    pickle.dump(out, f, protocol=4)
