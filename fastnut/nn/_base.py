"""The layer contract shared by every gradient-trained model in fastnut.

A layer is built once for an input shape (without the batch axis), then maps a
batch forward and a gradient backward::

    out_shape = layer.build(in_shape, random_state=0, dtype=np.float32)
    Y = layer.forward(X, training=True)   # X: (n, *in_shape) -> (n, *out_shape)
    dX = layer.backward(dY)               # dL/dX; fills layer.grads

``params`` and ``grads`` are dicts of arrays with the same keys; optimizers
update ``params`` in place (never rebind them), so views stay valid.
``buffers`` is a dict of fitted state that is not trained by gradient (batch
normalisation's ``running_mean``/``running_var``, PyTorch's buffers): layers
update it in place during ``forward(..., training=True)``, it pickles with
the layer, and optimizers never see it.
Parameter names and layouts follow PyTorch (``docs/architecture.md``).

Subclasses implement ``_build``, ``_forward`` and ``_backward``; ``forward``
and ``backward`` are defined once here and are the checked entry points.

Conventions every layer follows:

* ``forward`` keeps what ``backward`` needs for the *last* batch only.
* ``backward`` is only called after ``forward(..., training=True)``.
* When ``needs_input_grad`` is False (the first layer of a network),
  ``backward`` may skip dL/dX and return None.
* Arrays passed in are C-contiguous in the layer's dtype; layers never modify
  their input.  Outputs may be internal buffers reused by the next call of the
  same batch size: callers that keep an output across calls must copy it.
* Scratch comes from ``_buffer``, which is per thread: several threads may
  call ``forward(X, training=False)`` on one layer at once, so inference must
  not store anything on ``self`` (only ``training=True`` keeps state).
* Gradients are *sums* over the batch's loss terms as scaled by the loss
  (the loss divides by the batch size), never averaged again in a layer.
"""
import threading

import numpy as np
from sklearn.utils import check_random_state

from ._linalg import aligned_empty  # noqa: F401  (re-exported: the old home)


class Layer:
    """Base class: no parameters, identity shape."""

    #: extra training-objective term (activity penalty: sparsity, contractive)
    #: set by ``forward(X, training=True)``; its gradient is added by
    #: ``backward``, and ``nn.Trainer`` adds the value to the batch loss
    penalty = 0.0

    #: attributes ``forward(X, training=True)`` keeps for ``backward`` (the
    #: last batch, its outputs, masks): never pickled, since they hold
    #: training rows, and dropped by ``clear_forward_state``
    _forward_state = ("_X", "_Y", "_mask", "_idx")

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.input_shape = None
        self.output_shape = None
        self.dtype = None
        self.needs_input_grad = True
        self._tls = threading.local()

    # -- contract -----------------------------------------------------------
    def build(self, input_shape, random_state=None, dtype=np.float32):
        """Create parameters for inputs of shape ``(n, *input_shape)``.

        Returns the output shape without the batch axis.
        """
        self.input_shape = tuple(int(s) for s in input_shape)
        self.dtype = np.dtype(dtype)
        self.output_shape = self._build(self.input_shape, check_random_state(random_state))
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._tls = threading.local()
        return self.output_shape

    def _build(self, input_shape, rng):
        return input_shape

    def forward(self, X, training=False, **kwargs):
        """Map a batch ``X`` of shape ``(n, *input_shape)`` forward.

        This is the public, checked entry point of every layer: it is defined
        here once, and subclasses implement ``_forward`` (and ``_backward``)
        instead of overriding it.  Composite layers (``Sequential``, encoder
        stacks) call their children's ``_forward`` directly: the arrays they
        pass on were made by the previous layer and need no second check.
        """
        return self._forward(X, training=training, **kwargs)

    def backward(self, dY):
        """dL/dX for the last ``forward(..., training=True)``; fills ``grads``.

        The checked entry point, like ``forward``; subclasses implement
        ``_backward``.
        """
        return self._backward(dY)

    def _forward(self, X, training=False):
        raise NotImplementedError

    def _backward(self, dY):
        raise NotImplementedError

    def get_config(self):
        """Constructor arguments, enough to rebuild an equal (unbuilt) layer."""
        return {}

    # -- helpers for subclasses --------------------------------------------
    def _buffer(self, name, shape):
        """A scratch array reused while the batch size stays the same.

        Allocated once per (name, shape) and per thread: a training loop with
        a fixed batch size allocates nothing per step, and threads predicting
        at the same time never share scratch.
        """
        bufs = getattr(self._tls, "bufs", None)
        if bufs is None:
            bufs = self._tls.bufs = {}
        buf = bufs.get(name)
        if buf is None or buf.shape != shape:
            buf = bufs[name] = aligned_empty(shape, self.dtype)
        return buf

    def clear_forward_state(self):
        """Forget what the last training ``forward`` kept for ``backward``.

        Estimators call it at the end of ``fit``: a fitted model holds its
        weights, not its last training batch.
        """
        for name in self._forward_state:
            self.__dict__.pop(name, None)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_tls", None)  # scratch is never pickled
        state.pop("grads", None)  # the last batch's gradients: recreated as zeros
        for name in self._forward_state:
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        state.setdefault("buffers", {})  # layers pickled before buffers existed
        self.__dict__.update(state)
        self._tls = threading.local()
        if "grads" not in self.__dict__:
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
