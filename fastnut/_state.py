"""Fitted state that changes all at once: fits are staged, predictions read one snapshot.

scikit-learn does not promise that ``fit`` and ``predict`` may overlap on one
object, but fastnut's kernels run without the GIL on whatever arrays they are
given, so a prediction that read the network of the previous fit and the input
shape of the next one would run the kernels out of bounds.  Every fastnut
estimator therefore keeps its fitted state consistent:

* a fitting method (``fit``, ``partial_fit``, ``fit_transform``,
  ``fit_predict``) runs on a *twin*: a new instance of the class whose
  ``__dict__`` starts as a copy of the estimator's.  Fitted attributes are
  deep-copied first when the fit continues the previous state
  (``partial_fit``, ``warm_start=True``), so training never writes into the
  arrays a concurrent prediction reads.  When the fit returns, the twin's
  ``__dict__`` replaces the estimator's in one assignment.  A fit that raises
  leaves the estimator as it was: unfitted if it was fresh, with its previous
  model if it was fitted.
* a reading method (``predict``, ``transform``, ``score_samples``, ...) runs
  on a *view*: an instance whose ``__dict__`` is a copy of the estimator's
  taken once at the start, so one call uses one network from start to end
  (the old one or the new one, never parts of both).

Constructor parameters and random generators are never copied (a
``random_state`` given as a ``RandomState`` instance is consumed as
scikit-learn consumes it; a failed continuing fit has still advanced the
shuffling generator).  ``gibbs`` and ``sample`` of the RBMs and the deep belief
network are not wrapped: they advance the estimator's random stream.  The deep
Boltzmann machine's ``sample`` modifies nothing and reads its fitted state
once.

Classes opt in by deriving from ``AtomicState``; the methods are wrapped when
the class is created, for the names below that the class itself defines.
"""
import copy
import functools

import numpy as np

from sklearn.utils._available_if import _AvailableIfDescriptor

from ._validation import refuse_zero_columns

#: methods that (re)fit: run on a twin, committed when they return
FIT_METHODS = ("fit", "partial_fit", "fit_transform", "fit_predict")
#: methods that continue the fitted state (their twin gets copies of it)
INCREMENTAL_METHODS = ("partial_fit",)
#: methods that only read the fitted state: run on a snapshot
READ_METHODS = (
    "predict", "predict_proba", "predict_log_proba", "decision_function",
    "transform", "inverse_transform", "score_samples", "score", "reconstruct",
    "free_energy", "posteriors", "quantization_error", "topographic_error",
    "umatrix", "hit_map", "label_map", "_mean_hiddens", "_sample_hiddens",
)


def _twin(est, deep):
    """A new instance sharing ``est``'s parameters, with its fitted state (copied if deep)."""
    twin = object.__new__(type(est))
    state = dict(est.__dict__)
    if deep:
        params = set(type(est)._get_param_names())
        # parameter objects (a RandomState, say) stay the user's objects
        memo = {id(state[k]): state[k] for k in params if k in state}
        # random generators are shared, not copied: they are no part of the model
        # (and copying a RandomState costs ~0.7 ms, more than a small partial_fit)
        memo.update({id(v): v for v in state.values()
                     if isinstance(v, (np.random.RandomState, np.random.Generator))})
        fitted = {k: v for k, v in state.items() if k not in params}
        state.update(copy.deepcopy(fitted, memo))
    twin.__dict__ = state
    return twin


def _view(est):
    view = object.__new__(type(est))
    view.__dict__ = est.__dict__.copy()  # one C call: atomic with respect to a commit
    return view


def _staged(method, incremental):
    @functools.wraps(method)
    def fit_on_twin(self, *args, **kwargs):
        if args:
            refuse_zero_columns(self, args[0])
        deep = incremental or bool(self.__dict__.get("warm_start", False))
        twin = _twin(self, deep)
        result = method(twin, *args, **kwargs)
        self.__dict__ = twin.__dict__  # the commit: one assignment
        return self if result is twin else result

    fit_on_twin._fastnut_state = True
    return fit_on_twin


def _snapshot(method):
    @functools.wraps(method)
    def read_view(self, *args, **kwargs):
        if args:
            refuse_zero_columns(self, args[0])
        return method(_view(self), *args, **kwargs)

    read_view._fastnut_state = True
    return read_view


def _wrap(attr, wrapper):
    if isinstance(attr, _AvailableIfDescriptor):
        if not getattr(attr.fn, "_fastnut_state", False):
            attr.fn = wrapper(attr.fn)
        return attr
    if callable(attr) and not getattr(attr, "_fastnut_state", False):
        return wrapper(attr)
    return attr


class AtomicState:
    """Mixin: staged fits and snapshot reads (see the module docstring)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in FIT_METHODS:
            if name in cls.__dict__:
                inc = name in INCREMENTAL_METHODS
                setattr(cls, name, _wrap(cls.__dict__[name],
                                         lambda m, inc=inc: _staged(m, inc)))
        for name in READ_METHODS:
            if name in cls.__dict__:
                setattr(cls, name, _wrap(cls.__dict__[name], _snapshot))
