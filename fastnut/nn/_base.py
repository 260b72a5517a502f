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

Checks
------
``forward`` and ``backward`` check their argument before any kernel runs, so
``_forward``/``_backward`` (and the compiled kernels behind them) may trust
it.  ``forward(X)`` needs a built layer and converts ``X`` (any array-like of
real numbers: lists, other dtypes, other memory layouts) to a C-contiguous
array of the layer's dtype; sparse matrices, complex, object and string
arrays are a ``TypeError``.  ``X.shape[1:]`` must equal ``input_shape``
except on the axes a layer declares in ``variable_axes`` (a recurrent
layer's time axis; ``build`` accepts None or -1 there), and a layer with
``elementwise = True`` (activations, dropout, noise) takes any per-sample
shape of the built rank.  Anything else is a ``ValueError`` that names the
layer and the shape it expected.  ``backward(dY)`` needs a
``forward(..., training=True)`` first (else ``RuntimeError``) and ``dY`` of
exactly that call's output shape, batch included.  The per-call cost of a
correct call is a few attribute lookups.
"""
import threading

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from ._linalg import aligned_empty  # noqa: F401  (re-exported: the old home)

#: sizes the compiled kernels index with 32-bit ints
INT32_MAX = 2 ** 31 - 1


def _shape_text(shape, names=()):
    """``(n, 3, 28, 28)``; a free axis (-1) shows its name from ``names`` or ``*``."""
    names = tuple(names) + ("*",) * len(shape)
    return "(" + ", ".join(["n"] + [names[a] if s < 0 else str(s)
                                    for a, s in enumerate(shape)]) + ")"


def chain_axes(layers, names=False):
    """(variable_axes, elementwise) of a chain of layers as seen from its input
    (and its ``axis_names`` too with ``names=True``).

    Elementwise layers keep the shape, so the first layer that is not
    elementwise decides; a chain of elementwise layers is elementwise.
    """
    for layer in layers:
        if not layer.elementwise:
            out = tuple(layer.variable_axes), False
            return out + (tuple(layer.axis_names),) if names else out
    return ((), True, ()) if names else ((), True)


def as_batch(X, dtype, name, what="X"):
    """``X`` as a C-contiguous ndarray of ``dtype``, or a TypeError naming the layer."""
    if sp.issparse(X):
        raise TypeError(f"{name} takes dense arrays; got a sparse {type(X).__name__} as "
                        f"{what} (convert it with .toarray())")
    if not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} could not read {what} ({type(X).__name__}) as an array "
                            f"of {np.dtype(dtype).name}: {exc}") from None
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} takes real numbers ({np.dtype(dtype).name}); got {what} of "
                        f"dtype {X.dtype}")
    return np.ascontiguousarray(X, dtype=dtype)


def check_batch(X, expected, dtype, name, variable=(), anything=False, what="X",
                axis_names=()):
    """``X`` converted by ``as_batch`` with per-sample shape ``expected``.

    Sizes on the ``variable`` axes (and -1 entries of ``expected``) are free;
    with ``anything`` only the rank is checked.  Raises ValueError naming the
    layer ``name`` and the expected shape.
    """
    X = as_batch(X, dtype, name, what)
    got = X.shape[1:]
    ok = X.ndim == len(expected) + 1
    if ok and not anything:
        ok = all(g == e or e < 0 or axis in variable
                 for axis, (g, e) in enumerate(zip(got, expected)))
    if not ok:
        shown = tuple(-1 if axis in variable else e for axis, e in enumerate(expected))
        text = _shape_text(shown, axis_names)
        if anything:
            raise ValueError(f"{name} expects {what} with {len(expected) + 1} axes, like "
                             f"{text}; got {X.shape}")
        free = " (any size where * stands)" if "*" in text else ""
        raise ValueError(f"{name} expects {what} of shape {text}{free}; got {X.shape}")
    return X


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

    #: axes of the per-sample input shape whose size may differ from the
    #: built ``input_shape`` (a recurrent layer's time axis: ``(0,)``)
    variable_axes = ()

    #: names of the per-sample axes for error messages (``("T",)``: a free
    #: first axis shows as ``T``)
    axis_names = ()

    #: True for layers that take any per-sample shape of the built rank and
    #: return the same shape (activations, dropout, noise, penalties)
    elementwise = False

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

        Parameters
        ----------
        input_shape : tuple of int
            The per-sample input shape, without the batch axis; -1 or None on
            an axis the layer accepts in any size (the time axis of sequences).
        random_state : int, RandomState instance or None, default=None
            Seeds the initial weights (and the noise of noise layers).
        dtype : {numpy.float32, numpy.float64}, default=numpy.float32
            The dtype of the parameters and of the arrays the layer computes.

        Returns
        -------
        tuple of int
            The per-sample output shape, without the batch axis.
        """
        shape = self._parse_shape(input_shape)
        self.input_shape = None  # unbuilt until _build succeeds
        self._trained = None
        self.dtype = np.dtype(dtype)
        self.output_shape = self._build(shape, check_random_state(random_state))
        self.input_shape = shape
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._tls = threading.local()
        return self.output_shape

    def _parse_shape(self, input_shape):
        """``input_shape`` as a tuple of ints; None or -1 (stored as -1) only on
        the axes in ``variable_axes``."""
        name = type(self).__name__
        try:
            raw = tuple(input_shape)
        except TypeError:
            raise TypeError(f"{name}.build takes the per-sample input shape as a tuple of "
                            f"ints; got {input_shape!r}") from None
        variable, anything = chain_axes([self])
        shape = []
        for axis, s in enumerate(raw):
            if s is None or (isinstance(s, (int, np.integer)) and s == -1):
                if not anything and axis not in variable:
                    raise ValueError(f"{name} needs a fixed size on axis {axis + 1} of its "
                                     f"input; got input_shape {raw}")
                shape.append(-1)
                continue
            if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) \
                    or not 0 <= s <= INT32_MAX:
                raise ValueError(f"{name}.build: input_shape must hold sizes >= 0 (without "
                                 f"the batch axis); got {raw}")
            shape.append(int(s))
        return tuple(shape)

    def _build(self, input_shape, rng):
        return input_shape

    def forward(self, X, training=False, **kwargs):
        """Map a batch ``X`` of shape ``(n, *input_shape)`` forward.

        Parameters
        ----------
        X : array-like of shape (n, *input_shape)
            The batch; converted to the layer's dtype and C order if needed.
        training : bool, default=False
            Keep what ``backward`` needs (and draw the noise of noise layers);
            inference stores nothing on the layer.
        **kwargs : dict
            Options of particular layers (``RepeatSteps`` takes ``n_steps``).

        Returns
        -------
        Y : ndarray of shape (n, *output_shape)
            The output, in a buffer the layer reuses: copy it to keep it past
            the next call.

        Notes
        -----
        This is the public, checked entry point of every layer: it is defined
        here once, and subclasses implement ``_forward`` (and ``_backward``)
        instead of overriding it.  Composite layers (``Sequential``, encoder
        stacks) call their children's ``_forward`` directly: the arrays they
        pass on were made by the previous layer and need no second check.
        See the module docstring for what is checked and converted.
        """
        if (X.__class__ is not np.ndarray or X.dtype != self.dtype
                or not X.flags.c_contiguous or X.shape[1:] != self.input_shape):
            X = self._check_input(X)
        Y = self._forward(X, training=training, **kwargs)
        if training:
            self._trained = Y.shape
        return Y

    def backward(self, dY):
        """Back-propagate ``dL/dY`` of the last ``forward(..., training=True)``; fills ``grads``.

        The checked entry point, like ``forward``; subclasses implement
        ``_backward``.

        Parameters
        ----------
        dY : array-like of shape (n, *output_shape)
            The gradient of the loss with respect to that call's output.

        Returns
        -------
        dX : ndarray of shape (n, *input_shape) or None
            ``dL/dX``; None when ``needs_input_grad`` is False (the first layer
            of a network).
        """
        shape = self.__dict__.get("_trained")
        if shape is None or dY.__class__ is not np.ndarray or dY.dtype != self.dtype \
                or not dY.flags.c_contiguous or not dY.flags.writeable or dY.shape != shape:
            dY = self._check_grad(dY, shape)
        return self._backward(dY)

    def _check_input(self, X):
        """The slow path of ``forward``'s check: convert ``X`` or raise."""
        name = type(self).__name__
        if self.input_shape is None:
            raise RuntimeError(f"{name} is not built: call build(input_shape) before forward")
        variable, anything = chain_axes([self])
        return check_batch(X, self.input_shape, self.dtype, name, variable, anything,
                           axis_names=self.axis_names)

    def _check_grad(self, dY, shape):
        name = type(self).__name__
        if shape is None:
            raise RuntimeError(f"{name}.backward needs a forward(X, training=True) first")
        dY = as_batch(dY, self.dtype, name, "dY")
        if not dY.flags.writeable:  # layers may work on the gradient in place
            dY = dY.copy()
        if dY.shape != shape:
            raise ValueError(f"{name}.backward expects dY of shape {shape}, the output of the "
                             f"last forward(X, training=True); got {dY.shape}")
        return dY

    def _forward(self, X, training=False):
        raise NotImplementedError

    def _backward(self, dY):
        raise NotImplementedError

    def get_config(self):
        """Return the constructor arguments, enough to rebuild an equal (unbuilt) layer.

        Returns
        -------
        dict
            Keyword arguments of ``type(self)(**config)``.
        """
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
        self.__dict__.pop("_trained", None)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_tls", None)  # scratch is never pickled
        state.pop("grads", None)  # the last batch's gradients: recreated as zeros
        for name in self._forward_state:
            state.pop(name, None)
        state.pop("_trained", None)  # neither is the last training call
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
