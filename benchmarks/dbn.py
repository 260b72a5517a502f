"""Deep belief network and deep Boltzmann machine epochs: one compiled call against
the Python mini-batch loop they replaced.

Workloads (one thread, same process, alternating runs, each call one epoch
continuing from the state the previous call of the same side left; both start
from the state the estimator's fit hands to the loop: greedily pre-trained
weights, one epoch per layer):

* DBN up-down epoch: ``DeepBeliefNetwork``'s defaults -- layers 784 -> 256 ->
  256, batch 10, CD-1 in the top RBM -- on 5,000 rows of the RBM benchmark's
  structured binary images, float32.
* DBM epoch: ``DeepBoltzmannMachine``'s defaults -- layers 784 -> 256 -> 128,
  batch 100, 100 persistent chains, 10 mean-field sweeps, 1 Gibbs sweep --
  on the same 5,000 rows, float32.

The baseline is the loop the estimators ran before (``tests/_reference/
boltzmann.py`` with ``FastnutOps``: NumPy-level Python per mini-batch, with
fastnut's float32 GEMM and fused sigmoid + sample kernel), and
``max_abs_diff`` is the largest weight difference between the two after one
epoch from the same state and key: round-off, as long as no sample lands
within round-off of its probability (a flip then sends the chains apart).
"""
import numpy as np

from ._common import one_thread, time_alternating
from .rbm import synthetic_binary


def _dbn_state(X, widths):
    """The state up-down fine-tuning starts from: the greedily trained stack."""
    from fastnut import DeepBeliefNetwork
    dbn = DeepBeliefNetwork(widths[1:], n_iter=1, random_state=0).fit(X)
    return [dbn.coefs_, dbn.intercepts_, dbn.generative_coefs_, dbn.generative_intercepts_]


def _dbm_state(X, widths, n_chains):
    """The state joint training starts from: pre-trained weights, chains from the data."""
    from fastnut import DeepBoltzmannMachine
    dbm = DeepBoltzmannMachine(widths[1:], n_iter=0, pretrain_iter=1, n_chains=n_chains,
                               random_state=0).fit(X)
    b = [dbm.intercept_visible_] + dbm.intercepts_
    return [dbm.coefs_, b, [np.zeros_like(w) for w in dbm.coefs_],
            [np.zeros_like(a) for a in b], dbm.chains_]


def _copy(state):
    return [[a.copy() for a in group] for group in state]


def _max_diff(a, b, groups):
    return float(max(np.abs(x - y).max() for g in groups for x, y in zip(a[g], b[g])))


def run(args, peak):
    from fastnut import _boltzmann as D
    from tests._reference import boltzmann as twin

    n = 1000 if args.quick else 5000
    X = synthetic_binary(n)
    rows = []
    with one_thread(), D.blas_limit():
        # -- DBN up-down ------------------------------------------------------------
        widths, bs, lr, k = (784, 256, 256), 10, 0.01, 1
        init = _dbn_state(X, widths)
        fast, slow = _copy(init), _copy(init)
        a, b = _copy(init), _copy(init)
        D.up_down_epoch(X, *a, batch_size=bs, learning_rate=lr, k=k, key=7, stream=0)
        twin.up_down_epoch(X, *b, bs, lr, k, twin.FastnutOps(7, 0))
        diff = _max_diff(a, b, (0, 2))
        fns = {
            "compiled": lambda: D.up_down_epoch(X, *fast, batch_size=bs, learning_rate=lr,
                                                k=k, key=7, stream=0),
            "python_loop": lambda: twin.up_down_epoch(X, *slow, bs, lr, k,
                                                      twin.FastnutOps(7, 0)),
        }
        t = time_alternating(fns, reps=1 if args.quick else 5, min_time=0.0, warmup=1)
        rows.append({"name": f"DBN up-down epoch ({n}x784->256->256, batch {bs}, CD-{k}, f32)",
                     "compiled_s": t["compiled"], "python_loop_s": t["python_loop"],
                     "speedup": t["python_loop"] / t["compiled"], "max_abs_diff": diff})

        # -- DBM --------------------------------------------------------------------
        widths, bs, C, n_mf, n_g = (784, 256, 128), 100, 100, 10, 1
        kw = dict(learning_rate=0.01, momentum=0.5, weight_decay=1e-4)
        init = _dbm_state(X, widths, C)
        fast, slow = _copy(init), _copy(init)
        a, b = _copy(init), _copy(init)
        D.dbm_epoch(X, *a, batch_size=bs, n_mean_field=n_mf, n_gibbs_steps=n_g, key=7,
                    stream=0, **kw)
        twin.dbm_epoch(X, *b, bs, kw["learning_rate"], kw["momentum"], kw["weight_decay"],
                       n_mf, n_g, twin.FastnutOps(7, 0))
        diff = _max_diff(a, b, (0, 1))
        fns = {
            "compiled": lambda: D.dbm_epoch(X, *fast, batch_size=bs, n_mean_field=n_mf,
                                            n_gibbs_steps=n_g, key=7, stream=0, **kw),
            "python_loop": lambda: twin.dbm_epoch(
                X, *slow, bs, kw["learning_rate"], kw["momentum"], kw["weight_decay"], n_mf,
                n_g, twin.FastnutOps(7, 0)),
        }
        t = time_alternating(fns, reps=1 if args.quick else 5, min_time=0.0, warmup=1)
        rows.append({"name": f"DBM epoch ({n}x784->256->128, batch {bs}, {C} chains, "
                             f"{n_mf} mean-field, {n_g} Gibbs, f32)",
                     "compiled_s": t["compiled"], "python_loop_s": t["python_loop"],
                     "speedup": t["python_loop"] / t["compiled"], "max_abs_diff": diff})
    return rows
