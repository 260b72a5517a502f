"""Residual block: ``f(x) + shortcut(x)``."""
import numpy as np
from sklearn.utils import check_random_state

from ._base import Layer
from ._conv import Conv2D
from ._conv1d import Conv1D
from ._layers import Dense
from ._sequential import Sequential


def _stride_for(size, out):
    """The stride s with ceil(size / s) == out (a 1x1 window), or None."""
    for s in range(1, size + 1):
        if -(-size // s) == out:
            return s
    return None


class Residual(Layer):
    """A block whose output is ``f(x) + shortcut(x)`` (He et al., 2016).

    Parameters
    ----------
    layers : Layer or list of Layer
        The residual branch ``f`` (a list becomes an ``nn.Sequential``).
    shortcut : None, "projection" or Layer, default=None
        ``None``: the identity, so ``f`` must keep the input's shape.
        ``"projection"``: a learned linear map to ``f``'s output shape, made at
        ``build`` from the input's rank: a 1x1 ``Conv2D`` for images
        ``(C, H, W)``, a ``Conv1D`` with ``kernel_size=1`` for sequences
        ``(T, F)``, a ``Dense`` for vectors ``(F,)``, all without bias (as
        torchvision's ``downsample``), with the stride that gives ``f``'s
        spatial size (``ceil(size / stride)``).  A Layer: any layer mapping
        the input to ``f``'s output shape.

    Notes
    -----
    ``params``/``grads``/``buffers`` gather the branches' under ``"body.<name>"``
    and ``"shortcut.<name>"`` (PyTorch ``state_dict`` style).  Backward:
    ``dL/dx = f'(x)ᵀ dY + shortcut'(x)ᵀ dY``.  Follow the block with
    ``Activation("relu")`` for ResNet's post-addition ReLU.  On NaN-padded
    sequences the output is NaN at padded steps (both branches are) and the
    input gradient is 0 there.

    Examples
    --------
    >>> from fastnut import nn
    >>> block = nn.Residual([nn.Conv2D(16, 3, stride=2, padding=1, activation="relu"),
    ...                      nn.Conv2D(16, 3, padding=1)], shortcut="projection")
    >>> block.build((8, 10, 10), random_state=0)
    (16, 5, 5)
    >>> sorted(block.params)
    ['body.0.bias', 'body.0.weight', 'body.1.bias', 'body.1.weight', 'shortcut.weight']
    """

    @property
    def variable_axes(self):
        """The free input axes of the branch (a sequence branch's T)."""
        return self.body.variable_axes

    @property
    def axis_names(self):
        return self.body.axis_names


    #: the padded steps of the last training batch (never pickled)
    _forward_state = ("_pad",)

    def __init__(self, layers, shortcut=None):
        super().__init__()
        if isinstance(layers, Layer):
            self.body = layers
        else:
            self.body = Sequential(list(layers))
        if not (shortcut is None or shortcut == "projection" or isinstance(shortcut, Layer)):
            raise ValueError(f"shortcut must be None, 'projection' or a fastnut.nn Layer; "
                             f"got {shortcut!r}")
        self.shortcut = shortcut
        self.shortcut_layer = shortcut if isinstance(shortcut, Layer) else None

    def get_config(self):
        return {"layers": self.body, "shortcut": self.shortcut}

    def _projection(self, in_shape, out_shape):
        bad = ValueError(f"Residual cannot project inputs of shape {in_shape} onto the "
                         f"branch's output shape {out_shape}; pass a shortcut layer")
        if len(in_shape) != len(out_shape):
            raise bad
        if len(in_shape) == 1:
            return Dense(out_shape[0], use_bias=False)
        strides = [_stride_for(a, b) for a, b in zip(in_shape[:-1] if len(in_shape) == 2
                                                     else in_shape[1:],
                                                     out_shape[:-1] if len(in_shape) == 2
                                                     else out_shape[1:])]
        if any(s is None for s in strides):
            raise bad
        if len(in_shape) == 2:
            return Conv1D(out_shape[1], 1, stride=strides[0], use_bias=False)
        if len(in_shape) == 3:
            return Conv2D(out_shape[0], 1, stride=tuple(strides), use_bias=False)
        raise bad

    def build(self, input_shape, random_state=None, dtype=np.float32):
        rng = check_random_state(random_state)
        shape = tuple(int(s) for s in input_shape)
        self.input_shape, self.dtype = shape, np.dtype(dtype)
        out = tuple(self.body.build(shape, random_state=rng, dtype=dtype))
        if self.shortcut == "projection":
            self.shortcut_layer = self._projection(shape, out)
        if self.shortcut_layer is not None:
            s_out = tuple(self.shortcut_layer.build(shape, random_state=rng, dtype=dtype))
            if s_out != out:
                raise ValueError(f"Residual: the shortcut maps {shape} to {s_out}, the branch "
                                 f"to {out}; they must agree")
        elif out != shape:
            raise ValueError(f"Residual with an identity shortcut needs a branch that keeps "
                             f"the shape {shape}; it gives {out}. Use "
                             f"shortcut='projection'")
        self.output_shape = out
        self._tls = __import__("threading").local()
        self._gather()
        return out

    def _gather(self):
        self.params, self.grads, self.buffers = {}, {}, {}
        parts = [("body", self.body)]
        if self.shortcut_layer is not None:
            parts.append(("shortcut", self.shortcut_layer))
        for prefix, layer in parts:
            for name, value in layer.params.items():
                self.params[f"{prefix}.{name}"] = value
                self.grads[f"{prefix}.{name}"] = layer.grads[name]
            for name, value in getattr(layer, "buffers", {}).items():
                self.buffers[f"{prefix}.{name}"] = value

    @property
    def needs_input_grad(self):
        return self.body.needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value):
        if "body" in self.__dict__:
            self.body.needs_input_grad = bool(value)
            if self.shortcut_layer is not None:
                self.shortcut_layer.needs_input_grad = bool(value)

    @property
    def penalty(self):
        p = self.body.penalty
        if self.shortcut_layer is not None:
            p = p + self.shortcut_layer.penalty
        return p

    def _forward(self, X, training=False):
        Yb = self.body._forward(X, training=training)
        Ys = X if self.shortcut_layer is None else \
            self.shortcut_layer._forward(X, training=training)
        if Yb.shape != Ys.shape:
            raise ValueError(f"Residual: the branch gives {Yb.shape}, the shortcut "
                             f"{Ys.shape} for inputs of shape {X.shape}")
        Y = self._buffer("Y", Yb.shape)
        np.add(Yb, Ys, out=Y)
        if training:
            # padded steps of a sequence batch: their input gradient is 0
            self._pad = np.isnan(X[:, :, 0]) if X.ndim == 3 else None
        return Y

    def _backward(self, dY):
        dY = np.ascontiguousarray(dY, self.dtype)
        # layers may overwrite the gradient they are given (Dense does)
        dYb = self._buffer("dYb", dY.shape)
        np.copyto(dYb, dY)
        if self.shortcut_layer is None:
            dXs = dY
        else:
            dYs = self._buffer("dYs", dY.shape)
            np.copyto(dYs, dY)
            dXs = self.shortcut_layer._backward(dYs)
        dXb = self.body._backward(dYb)
        if dXb is None or dXs is None:
            return None
        dX = self._buffer("dX", dXb.shape)
        np.add(dXb, dXs, out=dX)
        if self._pad is not None and self._pad.any():
            dX[self._pad] = 0
        return dX

    def clear_forward_state(self):
        super().clear_forward_state()
        self.body.clear_forward_state()
        if self.shortcut_layer is not None:
            self.shortcut_layer.clear_forward_state()

    def __setstate__(self, state):
        super().__setstate__(state)
        self._gather()
