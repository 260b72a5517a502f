"""Writes tests/data/pickles_boltzmann_0.1.pkl; run from the repository root at commit
1f7260f (before the Boltzmann drivers moved to ``fastnut/_boltzmann.py`` and
``DeepBoltzmannMachine`` to ``fastnut/dbm.py``): ``PYTHONPATH=. python
tests/data/make_pickles_boltzmann_0.1.py``.  Kept for the record; the bytes it wrote are
the fixture."""
import pickle, warnings
import numpy as np
import fastnut
rng = np.random.RandomState(0)
X = (rng.rand(40, 6) < 0.4).astype(float)
y = (X[:, 0] > 0.5).astype(int)
models = {
    "BernoulliRBM": (fastnut.BernoulliRBM(n_components=3, n_iter=2, random_state=0), X, None),
    "GaussianBernoulliRBM": (fastnut.GaussianBernoulliRBM(n_components=3, n_iter=2, random_state=0), X, None),
    "DeepBeliefNetwork": (fastnut.DeepBeliefNetwork((4, 3), n_iter=2, fine_tune_iter=2, random_state=0), X, None),
    "DeepBoltzmannMachine": (fastnut.DeepBoltzmannMachine((4, 3), n_iter=2, pretrain_iter=2, batch_size=10, n_chains=7, random_state=0), X, None),
    "DBNClassifier": (fastnut.DBNClassifier((4,), rbm_n_iter=2, max_iter=3, random_state=0), X, y),
}
out = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for name, (est, A, t) in models.items():
        est.fit(A) if t is None else est.fit(A, t)
        pred = est.predict_proba(A) if hasattr(est, "predict_proba") else est.transform(A)
        out[name] = (pickle.dumps(est, protocol=4), A, np.asarray(pred))
with open("tests/data/pickles_boltzmann_0.1.pkl", "wb") as f:
    pickle.dump(out, f, protocol=4)
