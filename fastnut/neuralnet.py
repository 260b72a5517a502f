"""Your own network and loss inside a scikit-learn estimator.

``NeuralNetClassifier`` and ``NeuralNetRegressor`` train any ``fastnut.nn``
network with the engine's trainer: every training parameter, schedule and
callback of the other families, on a network you describe with ``module=``.

>>> import numpy as np
>>> from fastnut import NeuralNetClassifier, nn
>>> X = np.random.RandomState(0).randn(60, 4)
>>> y = (X[:, 0] > 0).astype(int)
>>> clf = NeuralNetClassifier([nn.Dense(8, activation="tanh")], max_iter=50,
...                           learning_rate_init=0.01, random_state=0).fit(X, y)
>>> clf.score(X, y) > 0.9
True
"""
import copy

import numpy as np
from sklearn.utils._param_validation import StrOptions

from . import nn
from ._network import (CLASS_WEIGHT_CONSTRAINT, TRAIN_CONSTRAINTS, NetworkClassifier,
                       NetworkRegressor)

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor", "mlp_module"]


def mlp_module(input_shape, n_outputs, random_state, hidden_layer_sizes=(100,),
               activation="relu"):
    """The default ``module``: dense hidden layers and a dense output.

    ``module__hidden_layer_sizes`` and ``module__activation`` set them from
    the estimator (e.g. in a ``GridSearchCV`` grid).
    """
    layers = [nn.Dense(int(h), activation=activation) for h in hidden_layer_sizes]
    return nn.Sequential(layers + [nn.Dense(n_outputs)])


class _NeuralNetMixin:
    """``module=`` and ``module__*`` routing over the network base."""

    _FIXED_TRAIN_PARAMS = {}

    def _module_params(self):
        return {k[len("module__"):]: v for k, v in self.__dict__.items()
                if k.startswith("module__")}

    def get_params(self, deep=True):
        """Get the parameters, the ``module__<name>`` ones included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update({k: v for k, v in self.__dict__.items() if k.startswith("module__")})
        return params

    def set_params(self, **params):
        """Set parameters, ``module__<name>`` ones included.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to their new values.

        Returns
        -------
        self : object
            The estimator.
        """
        # module__<name> are parameters; "module_params" (the name of the
        # **kwargs in the signature) is kept like an unknown __init__ keyword:
        # the error comes at fit, as scikit-learn's conventions ask
        for key in [k for k in params if k.startswith("module__") or k == "module_params"]:
            setattr(self, key, params.pop(key))
        return super().set_params(**params) if params else self

    def _make_network(self, X, Y, rng):
        params = self.get_params(deep=False)
        unknown = sorted(k for k in self.__dict__ if not (
            k in params or k.startswith("_") or k.endswith("_")))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments {unknown}; "
                            "parameters of a callable module are named module__<name>.")
        n_outputs, sample_shape = Y.shape[1], tuple(X.shape[1:])
        module, extra = self.module, self._module_params()
        if module is None:
            module = mlp_module
        if extra and not callable(module) or isinstance(module, nn.Layer) and extra:
            raise ValueError(f"module__ parameters {sorted(extra)} are passed to a callable "
                             f"module; module={type(self.module).__name__} takes none.")
        if isinstance(module, nn.Sequential):
            module = module.layers
        if isinstance(module, (list, tuple)):
            net = nn.Sequential(copy.deepcopy(list(module)) + [nn.Dense(n_outputs)])
        elif isinstance(module, nn.Layer):
            net = nn.Sequential([copy.deepcopy(module), nn.Dense(n_outputs)])
        else:
            net = module(sample_shape, n_outputs, rng, **extra)
            if not isinstance(net, nn.Layer):
                raise TypeError(f"module must return a fastnut.nn Layer, got "
                                f"{type(net).__name__}")
        net.build(sample_shape, random_state=rng, dtype=self._compute_dtype())
        if tuple(net.output_shape) != (n_outputs,):
            raise ValueError(f"The module's output shape is {tuple(net.output_shape)}; the "
                             f"target needs ({n_outputs},).")
        self.n_outputs_ = n_outputs
        return net


_MODULE_CONSTRAINTS = {
    "module": [list, tuple, nn.Layer, callable, None],
    **TRAIN_CONSTRAINTS,
}


class NeuralNetClassifier(_NeuralNetMixin, NetworkClassifier):
    """A classifier around your own ``fastnut.nn`` network.

    Softmax cross-entropy for multiclass targets, logistic log-loss for
    binary and multilabel ones (one output per label, one for binary), or
    your own ``nn.Loss``.

    Parameters
    ----------
    module : list of Layer, nn.Sequential, callable or None, default=None
        The network. A list of ``fastnut.nn`` layers or an ``nn.Sequential``
        is the body: fastnut appends the output ``nn.Dense`` sized to the
        target (copies are trained; the parameter is never modified). A
        callable ``module(input_shape, n_outputs, random_state, **params)``
        returns the whole network (built or not) with ``n_outputs`` raw
        outputs; its keyword arguments are given to the estimator as
        ``module__<name>=value`` and are parameters like any other
        (``get_params``, ``set_params``, ``clone``, ``GridSearchCV``). None is
        ``mlp_module``: one hidden ``Dense(100, activation="relu")``.
    loss : nn.Loss or None, default=None
        None picks the log-loss of the target (above).
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer. Schedules and callbacks need "adam" or "sgd".
    alpha : float, default=0.0001
        L2 penalty on the weights.
    batch_size : int or "auto", default="auto"
        Rows per mini-batch; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        SGD's own rate rule (scikit-learn's); "constant" with ``lr_schedule``.
    learning_rate_init : float, default=0.001
        Initial (base) learning rate.
    power_t : float, default=0.5
        Exponent of SGD's "invscaling" rule.
    max_iter : int, default=200
        Epochs (iterations for lbfgs).
    shuffle : bool, default=True
        Shuffle the rows every epoch.
    random_state : int, RandomState instance or None, default=None
        Weight initialisation, shuffling and the early-stopping split.
    tol : float, default=1e-4
        Smallest improvement of the loss (or validation score) that counts.
    verbose : bool, default=False
        One line per epoch.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for SGD.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when their score
        stalls for ``n_iter_no_change`` epochs and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or None, default=10
        Stop when the training loss (the validation score with
        ``early_stopping``) has not improved by ``tol`` for more than this
        many epochs; None never stops on a plateau.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    clip_norm : float or None, default=None
        Rescale the gradient when its global L2 norm exceeds this.
    lr_schedule : Schedule, callable or None, default=None
        Learning rate per epoch (``fastnut.schedules``, or ``epoch -> rate``).
    callbacks : list of Callback or None, default=None
        ``fastnut.callbacks`` objects or your own, called every epoch.
    class_weight : dict, "balanced" or None, default=None
        Class weights, as in scikit-learn, multiplied with ``sample_weight``.
    dtype : {np.float32, np.float64}, default=np.float32
        Compute dtype.
    **module_params : keyword arguments ``module__<name>=value``
        Keyword arguments of a callable ``module`` (see ``module``).

    Attributes
    ----------
    network_ : fastnut.nn.Sequential or fastnut.nn.Layer
        The trained network (raw outputs; the loss holds the output link).
    loss_ : float
        Loss at the last epoch.
    loss_curve_ : list of float
        Training loss per epoch (sgd/adam).
    history_ : list of dict
        One record per epoch: epoch, loss, validation_score, learning_rate,
        seconds.
    validation_scores_ : list of float or None
    best_loss_ : float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
    n_outputs_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fastnut import NeuralNetClassifier, nn
    >>> X, y = load_iris(return_X_y=True)
    >>> net = [nn.Dense(16, activation="relu"), nn.Dropout(0.1)]
    >>> clf = NeuralNetClassifier(net, max_iter=200, learning_rate_init=0.01,
    ...                           random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    _parameter_constraints = {**_MODULE_CONSTRAINTS, "loss": [nn.Loss, None],
                              **CLASS_WEIGHT_CONSTRAINT}

    def __init__(self, module=None, *, loss=None, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, clip_norm=None,
                 lr_schedule=None, callbacks=None, class_weight=None, dtype=np.float32,
                 **module_params):
        self.module = module
        self.loss = loss
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.clip_norm = clip_norm
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.class_weight = class_weight
        self.dtype = dtype
        for key, value in module_params.items():
            setattr(self, key, value)  # module__<name>; anything else is an error at fit

    def _make_loss(self):
        if self.loss is None:
            return super()._make_loss()
        return copy.deepcopy(self.loss)


class NeuralNetRegressor(_NeuralNetMixin, NetworkRegressor):
    """A regressor around your own ``fastnut.nn`` network.

    Squared error (identity output) or Poisson (exp output) on one or
    several targets, or your own ``nn.Loss``.

    Parameters
    ----------
    module : list of Layer, nn.Sequential, callable or None, default=None
        The network. A list of ``fastnut.nn`` layers or an ``nn.Sequential``
        is the body: fastnut appends the output ``nn.Dense`` sized to the
        target (copies are trained; the parameter is never modified). A
        callable ``module(input_shape, n_outputs, random_state, **params)``
        returns the whole network (built or not) with ``n_outputs`` raw
        outputs; its keyword arguments are given to the estimator as
        ``module__<name>=value`` and are parameters like any other
        (``get_params``, ``set_params``, ``clone``, ``GridSearchCV``). None is
        ``mlp_module``: one hidden ``Dense(100, activation="relu")``.
    loss : {"squared_error", "poisson"} or nn.Loss, default="squared_error"
        The training loss, whose output link is also the prediction's.
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer. Schedules and callbacks need "adam" or "sgd".
    alpha : float, default=0.0001
        L2 penalty on the weights.
    batch_size : int or "auto", default="auto"
        Rows per mini-batch; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        SGD's own rate rule (scikit-learn's); "constant" with ``lr_schedule``.
    learning_rate_init : float, default=0.001
        Initial (base) learning rate.
    power_t : float, default=0.5
        Exponent of SGD's "invscaling" rule.
    max_iter : int, default=200
        Epochs (iterations for lbfgs).
    shuffle : bool, default=True
        Shuffle the rows every epoch.
    random_state : int, RandomState instance or None, default=None
        Weight initialisation, shuffling and the early-stopping split.
    tol : float, default=1e-4
        Smallest improvement of the loss (or validation score) that counts.
    verbose : bool, default=False
        One line per epoch.
    warm_start : bool, default=False
        Continue from the fitted weights, optimizer state and random streams
        (shuffling, noise) at the next fit, for ``max_iter`` more epochs: two
        warm-started halves equal one run, also across a save and load.
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for SGD.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when their score
        stalls for ``n_iter_no_change`` epochs and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the rows held out for ``early_stopping``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or None, default=10
        Stop when the training loss (the validation score with
        ``early_stopping``) has not improved by ``tol`` for more than this
        many epochs; None never stops on a plateau.
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    clip_norm : float or None, default=None
        Rescale the gradient when its global L2 norm exceeds this.
    lr_schedule : Schedule, callable or None, default=None
        Learning rate per epoch (``fastnut.schedules``, or ``epoch -> rate``).
    callbacks : list of Callback or None, default=None
        ``fastnut.callbacks`` objects or your own, called every epoch.
    dtype : {np.float32, np.float64}, default=np.float32
        Compute dtype.
    **module_params : keyword arguments ``module__<name>=value``
        Keyword arguments of a callable ``module`` (see ``module``).

    Attributes
    ----------
    network_ : fastnut.nn.Sequential or fastnut.nn.Layer
        The trained network (raw outputs; the loss holds the output link).
    loss_ : float
        Loss at the last epoch.
    loss_curve_ : list of float
        Training loss per epoch (sgd/adam).
    history_ : list of dict
        One record per epoch: epoch, loss, validation_score, learning_rate,
        seconds.
    validation_scores_ : list of float or None
    best_loss_ : float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
    n_outputs_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import NeuralNetRegressor
    >>> X = np.random.RandomState(0).rand(200, 3)
    >>> reg = NeuralNetRegressor(module__hidden_layer_sizes=(16,), batch_size=20,
    ...                          learning_rate_init=0.01, random_state=0)
    >>> reg.fit(X, X.sum(axis=1)).score(X, X.sum(axis=1)) > 0.9
    True
    """

    _parameter_constraints = {**_MODULE_CONSTRAINTS,
                              "loss": [StrOptions({"squared_error", "poisson"}), nn.Loss]}

    def __init__(self, module=None, *, loss="squared_error", solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, clip_norm=None,
                 lr_schedule=None, callbacks=None, dtype=np.float32, **module_params):
        self.module = module
        self.loss = loss
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.clip_norm = clip_norm
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.dtype = dtype
        for key, value in module_params.items():
            setattr(self, key, value)  # module__<name>; anything else is an error at fit

    def _loss_name(self):
        return self.loss if isinstance(self.loss, str) else getattr(self.loss, "name", "")

    def _make_loss(self):
        if isinstance(self.loss, str):
            return nn.get_loss(self.loss)
        return copy.deepcopy(self.loss)
