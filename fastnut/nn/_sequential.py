"""Sequential: a chain of layers that is itself a layer."""
from sklearn.utils import check_random_state

from ._base import Layer, chain_axes


class Sequential(Layer):
    """Run ``layers`` one after the other.

    ``params`` / ``grads`` gather the layers' under keys ``"<index>.<name>"``
    (PyTorch's ``state_dict`` naming, e.g. ``"0.weight"``); the arrays are the
    layers' own, so an optimizer updating them updates the layers.  ``buffers``
    gathers the layers' buffers the same way (``"1.running_mean"``).

    Parameters
    ----------
    layers : list of Layer
        The layers, in the order they run.
    """

    def __init__(self, layers):
        super().__init__()
        self.layers = list(layers)
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes fastnut.nn layers, got {type(layer).__name__}")

    def get_config(self):
        return {"layers": self.layers}

    def build(self, input_shape, random_state=None, dtype=None):
        import numpy as np
        dtype = np.float32 if dtype is None else dtype
        rng = check_random_state(random_state)
        shape = first = self._parse_shape(input_shape)
        self.input_shape, self._trained, self.dtype = None, None, np.dtype(dtype)
        for layer in self.layers:
            shape = layer.build(shape, random_state=rng, dtype=dtype)
        self.input_shape, self.output_shape = first, shape
        self._gather()
        return shape

    @property
    def variable_axes(self):
        """The free input axes of the first layer that is not elementwise."""
        return chain_axes(self.layers)[0]

    @property
    def elementwise(self):
        return chain_axes(self.layers)[1]

    @property
    def axis_names(self):
        return chain_axes(self.layers, names=True)[2]

    def _gather(self):
        self.params, self.grads, self.buffers = {}, {}, {}
        for i, layer in enumerate(self.layers):
            for name, value in layer.params.items():
                self.params[f"{i}.{name}"] = value
                self.grads[f"{i}.{name}"] = layer.grads[name]
            for name, value in getattr(layer, "buffers", {}).items():
                self.buffers[f"{i}.{name}"] = value

    @property
    def needs_input_grad(self):
        return self.layers[0].needs_input_grad if self.layers else True

    @needs_input_grad.setter
    def needs_input_grad(self, value):
        if getattr(self, "layers", None):
            self.layers[0].needs_input_grad = bool(value)

    @property
    def penalty(self):
        """Sum of the layers' activity penalties of the last training forward."""
        return sum(layer.penalty for layer in self.layers)

    def _check_input(self, X):
        # a first layer with its own input rule decides (Embedding keeps
        # integer token ids instead of making them floats)
        first = self.layers[0] if self.layers else None
        if (first is not None and self.input_shape is not None
                and type(first)._check_input is not Layer._check_input):
            return first._check_input(X)
        return super()._check_input(X)

    def _forward(self, X, training=False):
        for layer in self.layers:
            X = layer._forward(X, training=training)
        return X

    def _backward(self, dY):
        for layer in reversed(self.layers):
            dY = layer._backward(dY)
            if dY is None:
                return None
        return dY

    def clear_forward_state(self):
        super().clear_forward_state()
        for layer in self.layers:
            layer.clear_forward_state()

    def __setstate__(self, state):
        super().__setstate__(state)
        self._gather()  # re-link the dicts to the layers' arrays after unpickling
