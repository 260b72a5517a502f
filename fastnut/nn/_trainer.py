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

from .._kernels import dense as _dense


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


class Trainer:
    """Mini-batch (or L-BFGS) training of ``network`` under ``loss``.

    Parameters
    ----------
    network : Layer
        Built network mapping inputs to raw outputs (no output link).
    loss : Loss
    optimizer : Optimizer or None
        ``None`` for L-BFGS.
    alpha : float
        L2 penalty: adds ``0.5 · alpha · Σ‖W‖² / Σw`` to each batch's loss.
    clip_norm : float or None
        Rescale the gradient when its global L2 norm exceeds this.
    """

    def __init__(self, network, loss, optimizer, *, alpha=0.0, batch_size=200,
                 shuffle=True, tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 verbose=False, clip_norm=None, random_state=None):
        self.network, self.loss, self.optimizer = network, loss, optimizer
        self.alpha, self.batch_size, self.shuffle = float(alpha), int(batch_size), bool(shuffle)
        self.tol, self.n_iter_no_change = float(tol), int(n_iter_no_change)
        self.early_stopping, self.verbose = bool(early_stopping), verbose
        self.clip_norm = clip_norm
        self.rng = random_state
        self.loss_curve = []
        self.validation_scores = [] if early_stopping else None
        self.best_loss = None if early_stopping else np.inf
        self.best_validation_score = -np.inf if early_stopping else None
        self.no_improvement_count = 0
        self.n_iter = 0
        self.t = 0
        self.best_params = None
        network.needs_input_grad = False  # nobody needs dL/dX of the input

    # -- one batch ------------------------------------------------------------
    def loss_and_grad(self, X, y, sample_weight=None, fold_l2=False):
        """Forward + backward on one batch; fills ``network.grads``, returns the loss.

        With ``fold_l2`` (and no ``clip_norm``) the L2 term is left to the
        optimizer's pass over the parameters: neither its gradient nor its
        value is included here; ``self.l2_coefs`` holds the coefficients to
        give ``optimizer.update``, and the caller adds
        ``0.5 * alpha * sq / self.weight_sum`` with the ``sq`` it returns.
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
                _dense.axpy_inplace(net.grads[k].reshape(-1), flat, scale)
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
        return state

    # -- epochs ---------------------------------------------------------------
    def fit_epochs(self, X, y, sample_weight=None, *, max_iter=200, incremental=False,
                   validation=None, score=None):
        """Run up to ``max_iter`` epochs (one when ``incremental``).

        ``validation`` is ``(X_val, y_val, sw_val)`` scored by ``score(X, y, sw)``
        (higher is better) after each epoch when early stopping is on.
        Returns True when training stopped by itself (converged).
        """
        net = self.network
        n = X.shape[0]
        bs = min(self.batch_size, n)
        snapshot = {k: v.copy() for k, v in net.params.items()}
        if self.early_stopping and self.best_params is None:
            self.best_params = {k: v.copy() for k, v in net.params.items()}
        idx = np.arange(n)
        xb = yb = None
        converged = False
        for _ in range(max_iter):
            t0 = time.perf_counter()
            if self.shuffle:
                self.rng.shuffle(idx)
            total = 0.0
            for start in range(0, n, bs):
                stop = min(start + bs, n)
                if sp.issparse(X):
                    sel = idx[start:stop] if self.shuffle else slice(start, stop)
                    Xb, Yb = X[sel].toarray(), y[sel]
                    swb = sample_weight[sel] if sample_weight is not None else None
                elif self.shuffle:
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
                with np.errstate(over="ignore", invalid="ignore"):
                    value = self.loss_and_grad(Xb, Yb, swb, fold_l2=True)
                if not np.isfinite(value):
                    self._restore(snapshot)
                    raise DivergenceError(
                        f"The training loss became {value} at epoch {self.n_iter + 1}: "
                        "training diverged. Lower learning_rate_init, scale the inputs "
                        "(e.g. StandardScaler) or raise alpha. The parameters were "
                        "restored to their values before this call to fit."
                    )
                sq = self.optimizer.update(net.params, net.grads, self.l2_coefs)
                if self.l2_coefs:
                    value += 0.5 * self.alpha * sq / self.weight_sum
                total += value * (stop - start)
            self.n_iter += 1
            self.t += n
            epoch_loss = total / n
            self.loss_curve.append(epoch_loss)
            self._track_progress(validation, score)
            if self.verbose:
                line = f"Iteration {self.n_iter}, loss = {epoch_loss:.8f}"
                if self.early_stopping:
                    line += f", validation score = {self.validation_scores[-1]:.6f}"
                print(line + f", time = {time.perf_counter() - t0:.3f}s", flush=True)
            self.optimizer.iteration_ends(self.t)
            if self.no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if self.early_stopping else "Training loss"
                msg = (f"{what} did not improve more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs.")
                if self.optimizer.trigger_stopping(msg, self.verbose):
                    converged = True
                    break
                self.no_improvement_count = 0
            if incremental:
                break
        if self.early_stopping:
            self._restore(self.best_params)
        return converged

    @property
    def last_loss(self):
        return self.loss_curve[-1] if self.loss_curve else None

    def _track_progress(self, validation, score):
        if self.early_stopping:
            s = float(score(*validation))
            self.validation_scores.append(s)
            if s < self.best_validation_score + self.tol:
                self.no_improvement_count += 1
            else:
                self.no_improvement_count = 0
            if s > self.best_validation_score:
                self.best_validation_score = s
                for k, v in self.network.params.items():
                    self.best_params[k][...] = v
        else:
            last = self.loss_curve[-1]
            if last > self.best_loss - self.tol:
                self.no_improvement_count += 1
            else:
                self.no_improvement_count = 0
            if last < self.best_loss:
                self.best_loss = last

    def _restore(self, saved):
        for k, v in self.network.params.items():
            v[...] = saved[k]

    # -- L-BFGS ---------------------------------------------------------------
    def fit_lbfgs(self, X, y, sample_weight=None, *, max_iter=200, max_fun=15000, tol=1e-4):
        """Full-batch L-BFGS-B over all parameters (in float64 for scipy).

        Returns the number of iterations and sets ``loss_curve`` to the final loss.
        """
        net = self.network
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
        iprint = 1 if self.verbose else -1
        res = scipy.optimize.minimize(
            fun, theta0, method="L-BFGS-B", jac=True,
            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
        )
        if self.verbose and iprint > 0:
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
        self.n_iter = int(min(res.nit, max_iter))
        self.loss_curve = []
        return float(res.fun)
