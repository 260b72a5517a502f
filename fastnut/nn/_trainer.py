"""The one training loop of fastnut's gradient-trained estimators.

``Trainer`` owns mini-batching, shuffling, sample weights, the L2 penalty,
gradient clipping, early stopping (restoring the best weights), verbose lines,
the loss curve and divergence detection.  Estimators configure it; they never
write their own loop.  L-BFGS goes through ``scipy.optimize.minimize``.
"""
import time
import warnings

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from dataclasses import dataclass, field
from typing import Optional

from sklearn.utils import check_random_state

from .._kernels import dense as _dense
from .._threads import StepThreads
from ._optimizers import SGD, Adam


def _copy_weights(net):
    """Copies of ``net``'s parameters and buffers: what a restore puts back.

    The buffers (running statistics) belong with the weights they were
    accumulated for: restoring one without the other gives a network whose
    normalisation does not match its weights.
    """
    return ({k: v.copy() for k, v in net.params.items()},
            {k: v.copy() for k, v in getattr(net, "buffers", {}).items()})


def _is_penalized(key):
    """L2 applies to weights (``weight``, ``weight_ih`` ...), never to biases."""
    return key.rsplit(".", 1)[-1].startswith("weight")


def _take_rows(A, idx, out):
    """``out[...] = A[idx]`` (rows): float arrays through the prefetching
    gather kernel (~1.7x ``np.take`` when ``A`` is out of cache)."""
    if (A.dtype in (np.float32, np.float64) and out.dtype == A.dtype and A.ndim >= 2
            and A.flags.c_contiguous and out.flags.c_contiguous and idx.dtype == np.intp):
        _dense.gather_rows(A.reshape(A.shape[0], -1), idx, out.reshape(out.shape[0], -1))
    else:
        np.take(A, idx, axis=0, out=out)


class DivergenceError(ValueError):
    """Raised when the loss becomes NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a network is trained, in one value.

    Estimators build it from their constructor parameters (and their
    family's visible fixed values) and hand it whole to ``Trainer``.

    Parameters
    ----------
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
    learning_rate_init : float, default=1e-3
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        SGD's schedule.
    power_t : float, default=0.5
        Exponent of SGD's ``invscaling`` schedule.
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decay rates and stability term.
    alpha : float, default=0.0
        L2 penalty: adds ``0.5 · alpha · Σ‖W‖² / Σw`` to each batch's loss.
    batch_size : int, default=200
        Rows per mini-batch (clipped to the training rows once, by the
        estimator; the trainer uses it as given, the last batch may be shorter).
    shuffle : bool, default=True
    max_iter : int, default=200
        Epochs (iterations for lbfgs).
    max_fun : int, default=15000
        Loss evaluations for lbfgs.
    tol : float, default=1e-4
    n_iter_no_change : int or None, default=10
        Stop when the training loss (the validation score with
        ``early_stopping``) has not improved by ``tol`` for more than this many
        epochs; None never stops on a plateau (all ``max_iter`` epochs run,
        and with ``early_stopping`` the best epoch's weights are kept).
    early_stopping : bool, default=False
    clip_norm : float or None, default=None
        Rescale the gradient when its global L2 norm exceeds this.
    verbose : bool, default=False
    lr_schedule : Schedule, callable or None, default=None
        The learning rate of each epoch (see ``fastnut.schedules``): a
        ``Schedule`` is called as ``schedule(epoch, base_lr, history)``, any
        other callable as ``f(epoch)`` (``epoch`` counts from 0 over all
        epochs of the model, across ``warm_start``/``partial_fit`` calls).
        It sets SGD's step size or Adam's ``η`` (before bias correction).
        None leaves the optimizer's own rule (``learning_rate``) untouched.
    """
    solver: str = "adam"
    learning_rate_init: float = 1e-3
    learning_rate: str = "constant"
    power_t: float = 0.5
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    alpha: float = 0.0
    batch_size: int = 200
    shuffle: bool = True
    max_iter: int = 200
    max_fun: int = 15000
    tol: float = 1e-4
    n_iter_no_change: Optional[int] = 10
    early_stopping: bool = False
    clip_norm: Optional[float] = None
    verbose: bool = False
    lr_schedule: object = None

    def make_optimizer(self):
        """A fresh optimizer for ``solver`` (None for lbfgs)."""
        if self.solver == "sgd":
            return SGD(self.learning_rate_init, self.learning_rate, self.momentum,
                       self.nesterovs_momentum, self.power_t)
        if self.solver == "adam":
            return Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        if self.solver == "lbfgs":
            return None
        raise ValueError(f"unknown solver {self.solver!r}; expected 'adam', 'sgd' or 'lbfgs'")


@dataclass
class Progress:
    """Where training stands: what ``warm_start`` and ``partial_fit`` continue.

    ``best_params`` and ``best_buffers`` (early stopping only) are copies of
    the weights and of the layers' buffers (batch normalisation's running
    statistics) at the best epoch, never data.
    """
    n_iter: int = 0
    t: int = 0
    loss_curve: list = field(default_factory=list)
    best_loss: Optional[float] = np.inf
    validation_scores: Optional[list] = None
    best_validation_score: Optional[float] = None
    no_improvement_count: int = 0
    best_params: Optional[dict] = None
    best_buffers: Optional[dict] = None
    #: one record per epoch: epoch (from 1), loss, validation_score,
    #: learning_rate, seconds
    history: list = field(default_factory=list)
    #: where the row order stands, kept by a trainer with
    #: ``resumable_shuffles=True``: ``{"origin": the shuffling generator's
    #: state (RandomState.get_state(legacy=False)) when the order was the
    #: identity, "n": rows, "count": shuffles since}``; builtins and one small
    #: array, so it pickles and skops-loads, and O(1) in the number of rows
    shuffle_order: Optional[dict] = None

    @classmethod
    def start(cls, early_stopping):
        if early_stopping:
            return cls(best_loss=None, validation_scores=[], best_validation_score=-np.inf)
        return cls()


class Trainer:
    """Mini-batch (or L-BFGS) training of ``network`` under ``loss``.

    Parameters
    ----------
    network : Layer
        Built network mapping inputs to raw outputs (no output link).
    loss : Loss
        The loss of the raw outputs (``nn.get_loss(name)`` or a ``Loss``).
    config : TrainConfig, default=TrainConfig()
        Every training parameter (batch size, epochs, solver, stopping rule).
    optimizer : Optimizer or None, default=None
        The optimizer to continue with (its moments, its learning rate);
        None starts ``config.make_optimizer()``.
    progress : Progress or None, default=None
        The progress to continue from; None starts afresh.
    random_state : int, RandomState instance or None, default=None
        Shuffling.
    resumable_shuffles : bool, default=False
        Each epoch shuffles the previous epoch's order (scikit-learn's
        scheme); each ``fit_epochs`` call starts from the identity order and
        the generator as given. True: the trainer also keeps in
        ``progress.shuffle_order`` where the order stands, and a
        non-incremental ``fit_epochs`` continuing a progress that has it
        rebuilds the order and the generator from it (replaying the
        shuffles) instead: successive calls then shuffle as one call would.

    Notes
    -----
    A trainer is made for one call of ``fit_epochs`` or ``fit_lbfgs`` and is
    not reconfigured afterwards: what carries over to the next call is
    ``optimizer``, ``progress`` and ``rng``, which the caller passes to the
    next trainer.
    """

    def __init__(self, network, loss, config=None, *, optimizer=None, progress=None,
                 random_state=None, resumable_shuffles=False):
        config = TrainConfig() if config is None else config
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.network, self.loss, self.config = network, loss, config
        self.optimizer = config.make_optimizer() if optimizer is None else optimizer
        self.progress = Progress.start(config.early_stopping) if progress is None else progress
        self.rng = check_random_state(random_state)
        self.resumable_shuffles = resumable_shuffles
        network.needs_input_grad = False  # nobody needs dL/dX of the input

    # progress, readable on the trainer
    n_iter = property(lambda self: self.progress.n_iter)
    t = property(lambda self: self.progress.t)
    loss_curve = property(lambda self: self.progress.loss_curve)
    best_loss = property(lambda self: self.progress.best_loss)
    validation_scores = property(lambda self: self.progress.validation_scores)
    best_validation_score = property(lambda self: self.progress.best_validation_score)
    alpha = property(lambda self: self.config.alpha)
    clip_norm = property(lambda self: self.config.clip_norm)

    # -- one batch ------------------------------------------------------------
    def loss_and_grad(self, X, y, sample_weight=None, fold_l2=False):
        """Run forward and backward on one batch; fill ``network.grads``.

        Parameters
        ----------
        X : ndarray of shape (n, *input_shape)
            The batch.
        y : ndarray of shape (n, n_outputs)
            Its targets.
        sample_weight : ndarray of shape (n,) or None, default=None
            Per-sample weights; None weighs the samples equally.
        fold_l2 : bool, default=False
            Leave the L2 term to the optimizer's pass over the parameters
            (ignored with ``clip_norm``): neither its gradient nor its value
            is included here; ``self.l2_coefs`` holds the coefficients to give
            ``optimizer.update``, and the caller adds
            ``0.5 * alpha * sq / self.weight_sum`` with the ``sq`` it returns.

        Returns
        -------
        float
            The loss of the batch, penalties included (L2 only without ``fold_l2``).
        """
        net, loss = self.network, self.loss
        Z = net.forward(X, training=True)
        wsum = float(sample_weight.sum()) if sample_weight is not None else float(X.shape[0])
        self.weight_sum = wsum
        dZ = self._buf("dZ", Z.shape, Z.dtype)
        value = loss.evaluate(Z, y, sample_weight, wsum, self._buf("P", Z.shape, Z.dtype), dZ)
        value += getattr(net, "penalty", 0.0)
        net.backward(dZ)
        self.l2_coefs = None
        if self.alpha:
            scale = self.alpha / wsum
            penalized = [k for k in net.params if _is_penalized(k)]
            if fold_l2 and self.clip_norm is None:
                self.l2_coefs = dict.fromkeys(penalized, scale)
                return value
            sq = 0.0
            for k in penalized:
                flat = net.params[k].reshape(-1)
                sq += float(np.dot(flat, flat))
                # in place, no temporary: a large temporary per step costs
                # page faults that dwarf the arithmetic
                _dense.axpy_inplace(net.grads[k].reshape(-1), flat, alpha=scale)
            value += 0.5 * self.alpha * sq / wsum
        if self.clip_norm is not None:
            norm = np.sqrt(sum(float(np.dot(g.reshape(-1), g.reshape(-1)))
                               for g in net.grads.values()))
            if norm > self.clip_norm:
                for g in net.grads.values():
                    g *= self.clip_norm / norm
        return value

    def _buf(self, name, shape, dtype):
        bufs = self.__dict__.setdefault("_bufs", {})
        b = bufs.get(name)
        if b is None or b.shape != shape or b.dtype != dtype:
            b = bufs[name] = np.empty(shape, dtype)
        return b

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_bufs", None)
        state.pop("_tuner", None)
        return state

    def _step_threads(self):
        """The StepThreads of this trainer's steps (kept across partial_fit
        calls, new when the environment's thread count changed)."""
        tuner = self.__dict__.get("_tuner")
        if tuner is None or tuner.stale():
            tuner = self._tuner = StepThreads()
        return tuner

    # -- epochs ---------------------------------------------------------------
    def fit_epochs(self, X, y, sample_weight=None, *, incremental=False, validation=None,
                   score=None, epoch_end=None):
        """Run up to ``config.max_iter`` epochs (one when ``incremental``).

        Parameters
        ----------
        X : ndarray of shape (n, *input_shape)
            The training samples.
        y : ndarray of shape (n, n_outputs)
            Their targets.
        sample_weight : ndarray of shape (n,) or None, default=None
            Per-sample weights; None weighs the samples equally.
        incremental : bool, default=False
            Run one epoch (``partial_fit``).
        validation : tuple (X_val, y_val, sw_val) or None, default=None
            The held-out set scored after each epoch when early stopping is on.
        score : callable or None, default=None
            ``score(X_val, y_val, sw_val)``, higher is better.
        epoch_end : callable or None, default=None
            Called after each epoch with its ``progress.history`` record;
            returning True stops training.

        Returns
        -------
        bool
            True when training stopped by itself (converged, or stopped by
            ``epoch_end``), False when it ran out of epochs.
        """
        net, cfg, prog = self.network, self.config, self.progress
        n = X.shape[0]
        bs = max(1, int(cfg.batch_size))
        patience = np.inf if cfg.n_iter_no_change is None else cfg.n_iter_no_change
        snapshot = _copy_weights(net)
        if cfg.early_stopping and prog.best_params is None:
            prog.best_params, prog.best_buffers = _copy_weights(net)
        elif cfg.early_stopping and prog.best_buffers is None:
            # a progress saved before buffers were kept: start from the current ones
            prog.best_buffers = _copy_weights(net)[1]
        tuner = self._step_threads()
        idx = np.arange(n)
        order = None  # the resumable order, once shuffling starts
        xb = yb = None
        converged = False
        for _ in range(cfg.max_iter):
            t0 = time.perf_counter()
            lr = self._scheduled_rate()
            if cfg.shuffle:
                if self.resumable_shuffles and order is None:
                    idx = order = self._resume_order(n, incremental)
                self.rng.shuffle(idx)
                if order is not None:
                    rec = prog.shuffle_order
                    prog.shuffle_order = dict(rec, count=rec["count"] + 1)
            total = 0.0
            for start in range(0, n, bs):
                stop = min(start + bs, n)
                if sp.issparse(X):
                    sel = idx[start:stop] if cfg.shuffle else slice(start, stop)
                    Xb, Yb = X[sel].toarray(), y[sel]
                    swb = sample_weight[sel] if sample_weight is not None else None
                elif cfg.shuffle:
                    sel = idx[start:stop]
                    if xb is None or xb.shape[0] != stop - start:
                        xb = np.empty((stop - start,) + X.shape[1:], X.dtype)
                        # autoencoders: the target is the input array itself
                        yb = xb if y is X else np.empty((stop - start,) + y.shape[1:], y.dtype)
                    _take_rows(X, sel, xb)
                    if yb is not xb:
                        _take_rows(y, sel, yb)
                    Xb, Yb = xb, yb
                    swb = sample_weight[sel] if sample_weight is not None else None
                else:
                    Xb, Yb = X[start:stop], y[start:stop]
                    swb = sample_weight[start:stop] if sample_weight is not None else None
                if swb is not None and not swb.any():
                    # a mini-batch of zero-weight rows carries no information: no step
                    continue
                with tuner.step(timed=stop - start == bs):
                    with np.errstate(over="ignore", invalid="ignore"):
                        value = self.loss_and_grad(Xb, Yb, swb, fold_l2=True)
                    if np.isfinite(value):
                        sq = self.optimizer.update(net.params, net.grads, self.l2_coefs)
                if not np.isfinite(value):
                    if cfg.early_stopping and np.isfinite(prog.best_validation_score):
                        # as scikit-learn: the epoch scores NaN, the best weights by
                        # validation score are kept, a grid search carries on
                        prog.validation_scores.append(float("nan"))
                        warnings.warn(
                            f"The training loss became {value} at epoch {prog.n_iter + 1}: "
                            "training diverged, stopped; the weights of the best "
                            "validation score are kept. Lower learning_rate_init, scale "
                            "the inputs (e.g. StandardScaler) or raise alpha.",
                            ConvergenceWarning)
                        self._restore(prog.best_params, prog.best_buffers)
                        return False
                    self._restore(*snapshot)
                    raise DivergenceError(
                        "Solver produced non-finite parameter weights. The input data may "
                        "contain large values and need to be preprocessed. (The training "
                        f"loss became {value} at epoch {prog.n_iter + 1}: training "
                        "diverged. Lower learning_rate_init, scale the inputs (e.g. "
                        "StandardScaler) or raise alpha. The parameters were restored to "
                        "their values before this call to fit.)"
                    )
                if self.l2_coefs:
                    value += 0.5 * cfg.alpha * sq / self.weight_sum
                total += value * (stop - start)
            prog.n_iter += 1
            prog.t += n
            epoch_loss = total / n
            prog.loss_curve.append(epoch_loss)
            self._track_progress(validation, score)
            if cfg.verbose:
                line = f"Iteration {prog.n_iter}, loss = {epoch_loss:.8f}"
                if cfg.early_stopping:
                    line += f", validation score = {prog.validation_scores[-1]:.6f}"
                print(line + f", time = {time.perf_counter() - t0:.3f}s", flush=True)
            prog.history.append({
                "epoch": len(prog.history) + 1, "loss": epoch_loss,
                "validation_score": (prog.validation_scores[-1] if cfg.early_stopping
                                     else None),
                "learning_rate": lr, "seconds": time.perf_counter() - t0})
            self.optimizer.iteration_ends(prog.t)
            stop = False
            if prog.no_improvement_count > patience:
                what = "Validation score" if cfg.early_stopping else "Training loss"
                msg = (f"{what} did not improve more than tol={cfg.tol:f} for "
                       f"{cfg.n_iter_no_change} consecutive epochs.")
                if self.optimizer.trigger_stopping(msg, cfg.verbose):
                    converged = stop = True
                else:
                    prog.no_improvement_count = 0
            if epoch_end is not None and epoch_end(prog.history[-1]):
                converged = stop = True
            if stop or incremental:
                break
        if cfg.early_stopping:
            self._restore(prog.best_params, prog.best_buffers)
        return converged

    def _resume_order(self, n, incremental):
        """The row order to shuffle next (``resumable_shuffles``); may replace ``rng``."""
        prog = self.progress
        rec = prog.shuffle_order
        if rec is not None and not incremental:
            rng = np.random.RandomState()
            rng.set_state(rec["origin"])
            idx = np.arange(rec["n"])
            for _ in range(rec["count"]):
                rng.shuffle(idx)
            self.rng = rng
            if rec["n"] == n:
                return idx
        prog.shuffle_order = {"origin": self.rng.get_state(legacy=False), "n": n, "count": 0}
        return np.arange(n)

    def _scheduled_rate(self):
        """Set this epoch's learning rate from ``config.lr_schedule``; return it."""
        schedule = self.config.lr_schedule
        if schedule is None:
            return self.optimizer.scheduled_rate
        epoch = len(self.progress.history)
        if hasattr(schedule, "learning_rate_at"):
            lr = schedule.learning_rate_at(epoch, self.config.learning_rate_init,
                                           self.progress.history)
        else:
            lr = schedule(epoch)
        lr = float(lr)
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr_schedule gave the learning rate {lr!r} for epoch {epoch}; "
                             "a learning rate is a positive finite number.")
        self.optimizer.scheduled_rate = lr
        return lr

    @property
    def last_loss(self):
        return self.loss_curve[-1] if self.loss_curve else None

    def _track_progress(self, validation, score):
        cfg, prog = self.config, self.progress
        if cfg.early_stopping:
            s = float(score(*validation))
            prog.validation_scores.append(s)
            if s < prog.best_validation_score + cfg.tol:
                prog.no_improvement_count += 1
            else:
                prog.no_improvement_count = 0
            if s > prog.best_validation_score:
                prog.best_validation_score = s
                for k, v in self.network.params.items():
                    prog.best_params[k][...] = v
                for k, v in getattr(self.network, "buffers", {}).items():
                    prog.best_buffers[k][...] = v
        else:
            last = prog.loss_curve[-1]
            if last > prog.best_loss - cfg.tol:
                prog.no_improvement_count += 1
            else:
                prog.no_improvement_count = 0
            if last < prog.best_loss:
                prog.best_loss = last

    def _restore(self, saved, saved_buffers=None):
        """Put ``saved`` weights (and ``saved_buffers``: running statistics) back."""
        for k, v in self.network.params.items():
            v[...] = saved[k]
        for k, v in (saved_buffers or {}).items():
            self.network.buffers[k][...] = v

    # -- L-BFGS ---------------------------------------------------------------
    def fit_lbfgs(self, X, y, sample_weight=None):
        """Train with full-batch L-BFGS-B over all parameters (in float64 for scipy).

        Runs up to ``config.max_iter`` iterations and ``config.max_fun``
        evaluations; ``n_iter`` then holds the iterations and the loss curve
        is left empty (as scikit-learn's).

        Parameters
        ----------
        X : ndarray of shape (n, *input_shape)
            The training samples.
        y : ndarray of shape (n, n_outputs)
            Their targets.
        sample_weight : ndarray of shape (n,) or None, default=None
            Per-sample weights; None weighs the samples equally.

        Returns
        -------
        float
            The final loss.
        """
        net, cfg = self.network, self.config
        max_iter, max_fun, tol = cfg.max_iter, cfg.max_fun, cfg.tol
        keys = list(net.params)
        sizes = [net.params[k].size for k in keys]
        offsets = np.cumsum([0] + sizes)

        def unpack(theta):
            for k, a, b in zip(keys, offsets[:-1], offsets[1:]):
                p = net.params[k]
                p.reshape(-1)[...] = theta[a:b]

        Xd = X.toarray() if sp.issparse(X) else X

        def fun(theta):
            unpack(theta)
            value = self.loss_and_grad(Xd, y, sample_weight)
            grad = np.concatenate([net.grads[k].reshape(-1) for k in keys]).astype(np.float64)
            if not np.isfinite(value):
                return np.inf, grad
            return value, grad

        theta0 = np.concatenate([net.params[k].reshape(-1) for k in keys]).astype(np.float64)
        iprint = 1 if cfg.verbose else -1
        res = scipy.optimize.minimize(
            fun, theta0, method="L-BFGS-B", jac=True,
            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
        )
        if cfg.verbose and iprint > 0:
            print(f"L-BFGS: {res.nit} iterations, loss = {res.fun:.8f}, {res.message}")
        unpack(res.x)
        if not np.isfinite(res.fun):
            unpack(theta0)
            raise DivergenceError(
                "L-BFGS produced a non-finite loss: scale the inputs or raise alpha. "
                "The parameters were restored to their values before this call to fit."
            )
        if res.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {res.nit} iteration(s) "
                f"(status={res.status}): {res.message}. Increase max_iter or scale the data.",
                ConvergenceWarning,
            )
        self.progress.n_iter = int(min(res.nit, max_iter))
        self.progress.loss_curve = []
        return float(res.fun)
