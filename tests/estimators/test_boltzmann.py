"""The Boltzmann estimators on their drivers: DeepBoltzmannMachine's pre-training
parameters and pure ``sample``, models pickled before the drivers moved, and the
rule that no estimator module reaches into another's privates."""
import ast
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

import fastnut
from fastnut import DeepBoltzmannMachine
from fastnut._boltzmann import greedy_pretrain

FIXTURE = Path(__file__).parents[1] / "data" / "pickles_boltzmann_0.1.pkl"
PACKAGE = Path(fastnut.__file__).parent


@pytest.fixture(scope="module")
def X():
    return load_digits().data[:240] / 16.0


def _dbm_scales(L):
    return [(2.0 if i < L - 1 else 1.0, 2.0 if i > 0 else 1.0) for i in range(L)]


# -- pre-training honours the constructor -------------------------------------------------
def test_dbm_pretraining_uses_the_constructor_parameters(X):
    kw = dict(pretrain_iter=2, pretrain_learning_rate=0.07, pretrain_batch_size=7,
              pretrain_k=2, pretrain_method="pcd", momentum=0.0, weight_decay=0.0)
    dbm = DeepBoltzmannMachine((12, 6), n_iter=0, random_state=0, dtype=np.float64, **kw)
    params = dbm.get_params()
    for name, value in kw.items():
        assert params[name] == value
    dbm.fit(X)
    coefs, hb, vb = greedy_pretrain(
        X, [12, 6], learning_rate=0.07, batch_size=7, n_iter=2, k=2, method="pcd",
        momentum=0.0, weight_decay=0.0, rng=np.random.RandomState(0),
        input_scales=_dbm_scales(2))
    for a, b in zip(dbm.coefs_ + dbm.intercepts_ + [dbm.intercept_visible_],
                    coefs + hb + [vb[0]]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("change", [dict(momentum=0.0), dict(weight_decay=0.1),
                                    dict(pretrain_batch_size=20), dict(pretrain_k=3),
                                    dict(pretrain_method="pcd")])
def test_each_pretraining_parameter_reaches_the_rbms(X, change):
    base = dict(hidden_layer_sizes=(10, 5), n_iter=0, pretrain_iter=2, random_state=0,
                dtype=np.float64)
    a = DeepBoltzmannMachine(**base).fit(X)
    b = DeepBoltzmannMachine(**base, **change).fit(X)
    assert not np.allclose(a.coefs_[0], b.coefs_[0])


def test_dbm_defaults_pretrain_as_before(X):
    """The defaults are the values pre-training used to hard-code."""
    dbm = DeepBoltzmannMachine((10, 5), n_iter=0, pretrain_iter=2, random_state=0,
                               dtype=np.float64).fit(X)
    coefs, _, _ = greedy_pretrain(
        X, [10, 5], learning_rate=0.05, batch_size=10, n_iter=2, k=1, method="cd",
        momentum=0.5, weight_decay=1e-4, rng=np.random.RandomState(0),
        input_scales=_dbm_scales(2))
    for a, b in zip(dbm.coefs_, coefs):
        np.testing.assert_array_equal(a, b)


# -- sample() is a pure function of the fitted model and the seed -----------------------
def _state_bytes(est):
    return pickle.dumps(est.__dict__, protocol=4)


def test_dbm_sample_leaves_the_fitted_state_unchanged(X):
    dbm = DeepBoltzmannMachine((10, 5), n_iter=2, pretrain_iter=1, n_chains=9,
                               random_state=0).fit(X)
    before = _state_bytes(dbm)
    chains = list(dbm.chains_)
    a = dbm.sample(5, n_steps=7, random_state=3)
    dbm.sample(4, n_steps=3)                         # random_state=None too
    assert _state_bytes(dbm) == before
    assert all(c is d for c, d in zip(dbm.chains_, chains)) and len(dbm.chains_) == 3
    np.testing.assert_array_equal(a, dbm.sample(5, n_steps=7, random_state=3))
    np.random.seed(0)
    b = dbm.sample(5, n_steps=7)
    np.random.seed(0)
    np.testing.assert_array_equal(b, dbm.sample(5, n_steps=7))   # None: NumPy's generator


def test_concurrent_dbm_samples_equal_serial_ones(X):
    dbm = DeepBoltzmannMachine((16, 8), n_iter=1, pretrain_iter=1, n_chains=20,
                               random_state=0).fit(X)
    serial = [dbm.sample(30, n_steps=40, random_state=s) for s in range(6)]
    before = _state_bytes(dbm)
    out = [None] * 6
    barrier = threading.Barrier(6)

    def work(s):
        barrier.wait()
        out[s] = dbm.sample(30, n_steps=40, random_state=s)
    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(out, serial):
        np.testing.assert_array_equal(a, b)
    assert _state_bytes(dbm) == before


# -- models pickled before the move --------------------------------------------------------
def _cases():
    with open(FIXTURE, "rb") as f:
        return pickle.load(f)


@pytest.mark.parametrize("name", sorted(_cases()))
def test_boltzmann_pickles_from_before_the_drivers_load(name):
    blob, data, expected = _cases()[name]
    if name == "DeepBoltzmannMachine":
        assert b"fastnut.dbn" in blob    # the class's module at the time
    est = pickle.loads(blob)
    got = est.predict_proba(data) if hasattr(est, "predict_proba") else est.transform(data)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    again = pickle.loads(pickle.dumps(est))
    if name == "DeepBoltzmannMachine":
        assert type(again).__module__ == "fastnut.dbm"
        S = again.sample(3, n_steps=5, random_state=0)
        assert S.shape == (3, data.shape[1]) and set(np.unique(S)) <= {0.0, 1.0}


def test_dbm_is_importable_from_its_old_module():
    from fastnut.dbn import DeepBoltzmannMachine as Old
    assert Old is DeepBoltzmannMachine and DeepBoltzmannMachine.__module__ == "fastnut.dbm"


# -- layering --------------------------------------------------------------------------------
ESTIMATOR_MODULES = sorted(p.stem for p in PACKAGE.glob("*.py")
                           if not p.stem.startswith("_") and p.stem not in
                           ("plotting", "callbacks", "schedules", "onnx"))


@pytest.mark.parametrize("module", ESTIMATOR_MODULES)
def test_no_estimator_module_imports_another_ones_privates(module):
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 \
                and node.module in ESTIMATOR_MODULES:
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"fastnut/{module}.py imports {private} from .{node.module}"


def test_boltzmann_estimators_run_no_numeric_loops():
    """rbm.py, dbn.py and dbm.py call the drivers: no GEMM or kernel module of their own."""
    for module in ("dbn", "dbm"):
        src = (PACKAGE / f"{module}.py").read_text()
        assert "matmul" not in src and "layer_conditional" not in src, module
