"""Optimizers: ``update(params, grads)`` in place, state kept as arrays.

``params`` and ``grads`` are dicts with the same keys (``layer.params`` /
``layer.grads``); each array is updated in place by one fused kernel pass.
"""
import numpy as np

from .._kernels import dense as _k
from .._threads import threads_for


class Optimizer:
    """Base class of the optimizers: the step size, the step count and the hooks
    the trainer calls.

    Parameters
    ----------
    learning_rate_init : float, default=1e-3
        Initial step size; ``learning_rate`` holds the current one.
    """

    def __init__(self, learning_rate_init=1e-3):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.t = 0

    def _state(self, name, params):
        st = getattr(self, name, None)
        if st is None or st.keys() != params.keys():
            st = {k: np.zeros_like(v) for k, v in params.items()}
            setattr(self, name, st)
        return st

    def _flat(self, params, grads, state_names):
        """Per parameter: ``(key, p, g, *states)`` as flat views, cached while
        the arrays stay the same objects (the cache holds them, so an id
        cannot be reused); spares ~20 reshapes per step."""
        states = [self._state(n, params) for n in state_names]
        ident = tuple(id(a) for d in (params, grads, *states) for a in d.values())
        cache = self.__dict__.get("_flat_cache")
        if cache is None or cache[0] != ident:
            rows = [(k, p.reshape(-1), grads[k].reshape(-1), *(s[k].reshape(-1) for s in states))
                    for k, p in params.items()]
            cache = self._flat_cache = (ident, rows)
        return cache[1]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_flat_cache", None)
        return state

    def update(self, params, grads, l2=None):
        """Step every ``params[k]`` along ``grads[k] + l2[k] * params[k]`` in place.

        Parameters
        ----------
        params : dict of str to ndarray
            The parameters, updated in place.
        grads : dict of str to ndarray
            Their gradients, same keys and shapes.
        l2 : dict of str to float or None, default=None
            Per-parameter L2 coefficients (missing keys 0): the trainer folds
            the weight penalty into the step's single memory pass.

        Returns
        -------
        float
            ``Σ ‖params[k]‖²`` over the keys of ``l2``, before the step (the
            penalty's value, read in the same pass).
        """
        raise NotImplementedError

    @property
    def scheduled_rate(self):
        """The rate a learning-rate schedule sets: the step size ``learning_rate``."""
        return self.learning_rate

    @scheduled_rate.setter
    def scheduled_rate(self, value):
        self.learning_rate = float(value)

    def iteration_ends(self, time_step):
        """Update the schedule after an epoch (the trainer calls it).

        Parameters
        ----------
        time_step : int
            The number of samples seen so far.
        """

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops after ``n_iter_no_change`` epochs without progress.

        Parameters
        ----------
        msg : str
            The trainer's message about the stall, printed when ``verbose``.
        verbose : bool
            Print what is decided.

        Returns
        -------
        bool
            ``True`` to stop (an adaptive schedule lowers the rate instead while
            it can).
        """
        if verbose:
            print(msg + " Stopping.")
        return True


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and Nesterov momentum.

    Parameters
    ----------
    learning_rate_init : float, default=0.1
        Initial step size ``η``.
    lr_schedule : {"constant", "invscaling", "adaptive"}, default="constant"
        ``invscaling``: ``lr = lr_init / t**power_t`` (t = samples seen);
        ``adaptive``: divide by 5 each time progress stalls, stop below 1e-6.
    momentum : float, default=0.9
        Momentum ``μ``, in [0, 1]; 0 is plain gradient descent.
    nesterov : bool, default=True
        Use Nesterov's momentum (the step looks ahead along the velocity).
    power_t : float, default=0.5
        Exponent of the ``invscaling`` schedule.

    Notes
    -----
    ``v ← μ v − η g``; ``p ← p + v`` or, with Nesterov, ``p ← p + μ v − η g``.
    """

    def __init__(self, learning_rate_init=0.1, lr_schedule="constant", momentum=0.9,
                 nesterov=True, power_t=0.5):
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.power_t = float(power_t)
        self.velocity = None

    def update(self, params, grads, l2=None):
        l2 = l2 or {}
        sq = 0.0
        for k, p, g, vel in self._flat(params, grads, ("velocity",)):
            s = _k.sgd_update(p, g, vel, lr=self.learning_rate, momentum=self.momentum,
                              nesterov=self.nesterov, l2=l2.get(k, 0.0),
                              n_threads=threads_for(p.size, "optimizer"))
            if k in l2:
                sq += s
        return sq

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014).

    Parameters
    ----------
    learning_rate_init : float, default=1e-3
        Step size ``η``.
    beta_1 : float, default=0.9
        Decay of the first-moment estimate ``m``.
    beta_2 : float, default=0.999
        Decay of the second-moment estimate ``v``.
    epsilon : float, default=1e-8
        Added to ``sqrt(v)`` for numerical stability.

    Notes
    -----
    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``p ← p − η·sqrt(1−β₂ᵗ)/(1−β₁ᵗ) · m / (sqrt(v) + ε)``.
    """

    def __init__(self, learning_rate_init=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        super().__init__(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.ms = self.vs = None

    @property
    def scheduled_rate(self):
        """Adam's ``η`` before bias correction (``learning_rate_init``)."""
        return self.learning_rate_init

    @scheduled_rate.setter
    def scheduled_rate(self, value):
        self.learning_rate_init = float(value)

    def update(self, params, grads, l2=None):
        self.t += 1
        lr_t = (self.learning_rate_init * np.sqrt(1 - self.beta_2 ** self.t)
                / (1 - self.beta_1 ** self.t))
        self.learning_rate = lr_t
        l2 = l2 or {}
        sq = 0.0
        for k, p, g, m, v in self._flat(params, grads, ("ms", "vs")):
            s = _k.adam_update(p, g, m, v, lr_t=lr_t, beta_1=self.beta_1, beta_2=self.beta_2,
                               epsilon=self.epsilon, l2=l2.get(k, 0.0),
                               n_threads=threads_for(p.size, "optimizer"))
            if k in l2:
                sq += s
        return sq
