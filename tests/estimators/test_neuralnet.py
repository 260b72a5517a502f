"""NeuralNetClassifier / NeuralNetRegressor: your own network and loss."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from fastnut import MLPClassifier, MLPRegressor, NeuralNetClassifier, NeuralNetRegressor, nn
from fastnut.callbacks import EarlyStopping
from fastnut.neuralnet import mlp_module
from fastnut.schedules import StepDecay

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 5)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def test_default_module_is_the_mlp():
    X, y = _data()
    kw = dict(max_iter=5, random_state=0, dtype=np.float64)
    a = NeuralNetClassifier(**kw).fit(X, y)
    b = MLPClassifier(alpha=0.0001, **kw).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    r = NeuralNetRegressor(**kw).fit(X, X[:, 0])
    m = MLPRegressor(**kw).fit(X, X[:, 0])
    np.testing.assert_array_equal(r.predict(X), m.predict(X))


def test_list_sequential_and_callable_modules_are_the_same_network():
    X, y = _data()
    kw = dict(max_iter=5, random_state=0)
    body = [nn.Dense(7, activation="tanh")]
    a = NeuralNetClassifier(body, **kw).fit(X, y)
    b = NeuralNetClassifier(nn.Sequential([nn.Dense(7, activation="tanh")]), **kw).fit(X, y)
    c = NeuralNetClassifier(mlp_module, module__hidden_layer_sizes=(7,),
                            module__activation="tanh", **kw).fit(X, y)
    for other in (b, c):
        np.testing.assert_array_equal(a.predict_proba(X), other.predict_proba(X))
    assert not body[0].params  # the parameter is never built or trained
    assert a.network_.layers[-1].units == 3 and a.n_outputs_ == 3


def test_module_params_route_through_get_set_params_and_clone():
    est = NeuralNetClassifier(mlp_module, module__hidden_layer_sizes=(4,))
    assert est.get_params()["module__hidden_layer_sizes"] == (4,)
    est.set_params(module__hidden_layer_sizes=(6,), max_iter=3)
    twin = clone(est)
    assert twin.get_params()["module__hidden_layer_sizes"] == (6,) and twin.max_iter == 3
    X, y = _data()
    assert twin.fit(X, y).network_.layers[0].units == 6
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['hidden'\]; "
                                        "parameters of a callable module are named"):
        NeuralNetClassifier(hidden=3).fit(X, y)


def test_module_params_in_grid_search_with_two_jobs():
    X, y = _data(150)
    grid = GridSearchCV(
        NeuralNetClassifier(mlp_module, max_iter=30, learning_rate_init=0.01, random_state=0),
        {"module__hidden_layer_sizes": [(2,), (16,)], "module__activation": ["relu", "tanh"]},
        cv=2, n_jobs=2).fit(X, y)
    assert set(grid.cv_results_["param_module__hidden_layer_sizes"]) == {(2,), (16,)}
    assert grid.best_estimator_.network_.layers[0].units == \
        grid.best_params_["module__hidden_layer_sizes"][0]


def test_custom_loss_schedule_callbacks_and_pickle():
    X, y = _data()
    reg = NeuralNetRegressor([nn.Dense(8, activation="relu")], loss=nn.Poisson(),
                             max_iter=20, lr_schedule=StepDecay(5, 0.5),
                             callbacks=[EarlyStopping(patience=3)], random_state=0)
    target = np.exp(0.3 * X[:, 0])
    reg.fit(X, target)
    assert (reg.predict(X) > 0).all()  # Poisson's exp link
    assert [r["learning_rate"] for r in reg.history_][:6] == [1e-3] * 5 + [5e-4]
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    clf = NeuralNetClassifier([nn.Dense(6)], loss=nn.SoftmaxCrossEntropy(), max_iter=3,
                              class_weight="balanced").fit(X, y)
    assert clf.predict_proba(X).shape == (len(y), 3)


def test_module_errors():
    X, y = _data()
    with pytest.raises(ValueError, match="module__ parameters \\['units'\\] are passed to a "
                                         "callable module"):
        NeuralNetClassifier([nn.Dense(3)], module__units=3).fit(X, y)
    with pytest.raises(ValueError, match=r"output shape is \(4,\); the target needs \(3,\)"):
        NeuralNetClassifier(lambda shape, n, rng: nn.Sequential([nn.Dense(4)])).fit(X, y)
    with pytest.raises(TypeError, match="module must return a fastnut.nn Layer"):
        NeuralNetClassifier(lambda shape, n, rng: None).fit(X, y)
