"""ONNX export of fitted fastnut estimators through skl2onnx.

``import fastnut.onnx`` registers a parser, a shape calculator and a
converter with skl2onnx for every fastnut estimator whose inference is a
fixed graph, so that ``skl2onnx.to_onnx(model, X_sample)`` works on a fitted
fastnut model and on a scikit-learn ``Pipeline`` that contains one.
:func:`to_onnx` is the one-line form.  Needs the ``onnx`` extra
(``pip install "fastnut[onnx]"``: skl2onnx, onnx and onnxruntime).

What each estimator exports
---------------------------
* ``MLPClassifier``, ``CNNClassifier``, ``RNNClassifier``, ``DBNClassifier``,
  ``NeuralNetClassifier``: outputs ``label`` (``predict``) and
  ``probabilities`` (``predict_proba``).
  As for scikit-learn's classifiers in skl2onnx, single-label models wrap
  the probabilities in a ``ZipMap`` (a list of dicts) unless the option
  ``zipmap=False`` is given; :func:`to_onnx` gives it.  Multilabel models
  output the 0/1 indicator matrix and the per-label probabilities.
* ``MLPRegressor``, ``CNNRegressor``, ``RNNRegressor``, ``NeuralNetRegressor``:
  ``variable`` of shape ``(n, n_outputs)`` (identity or, with
  ``loss="poisson"``, exp output), as skl2onnx does for scikit-learn's
  regressors.
* ``NeuralNetClassifier`` / ``NeuralNetRegressor`` export whatever ``module``
  they were trained with, layer by layer (below), followed by the link of
  their loss.  A custom ``nn.Loss`` other than the default one of the target
  (``SoftmaxCrossEntropy``/``BinaryLogLoss``, ``SquaredError``/``Poisson``)
  is refused at conversion time: its ``predict`` has no ONNX form here.
* The autoencoders: ``transform`` (the codes); with the option
  ``inverse=True`` the graph is ``inverse_transform`` (codes in,
  reconstructions out, in the form of the training input).
* ``SelfOrganizingMap``: ``label`` (``predict``, the best-matching unit's
  index) and ``variable`` (``transform``, that unit's map coordinates); with
  the option ``transform_only=True`` only ``variable``, so that the map can
  be a step in the middle of a ``Pipeline``.
* ``BernoulliRBM``, ``GaussianBernoulliRBM``, ``DeepBeliefNetwork``,
  ``DeepBoltzmannMachine`` (its mean-field iterations unrolled): ``variable``
  (``transform``).

The graph computes in the model's dtype (float32 by default) and casts its
input to it, as fastnut's own validation does.  Images may come as
``(n, C, H, W)``, ``(n, H, W)`` or flat ``(n, C*H*W)``; sequences as
``(n, T, F)``, ``(n, T)`` or flat ``(n, T*F)``, with any number of steps ``T``
and trailing all-NaN steps as padding: the graph computes each sequence's
length from the NaN pattern and hands it to the ONNX recurrent operators as
``sequence_lens``. ``RNNClassifier``/``RNNRegressor`` with ``vocab_size`` take
token ids ``(n, T)`` (int64 or float, trailing 0 as padding) through
``Embedding``'s ``Gather``; with ``output="sequence"`` (one output per step)
they are refused with a ``NotImplementedError`` that points to
:func:`network_to_onnx` for the per-step raw outputs. (:func:`to_onnx` leaves
``T`` free when the sample is 3-D or the model takes token ids;
``skl2onnx.to_onnx`` fixes every axis but the first to the sample's unless
given ``initial_types``.)

Network layers
--------------
Networks are translated layer by layer: :data:`LAYER_EMITTERS` maps a
``fastnut.nn`` layer class to a function ``emit(g, layer, x, ctx) -> y``
that appends the layer's nodes to the graph ``g`` (a :class:`Graph`) and
returns the name of its output.  A new layer type is one function::

    @fastnut.onnx.register_layer(MyLayer)
    def _emit_my_layer(g, layer, x, ctx):
        return g.op("Relu", x)

Lookup follows the class's MRO, so a subclass that computes what its base
computes at inference (``ContractiveDense``) needs no entry of its own.
The layers of ``fastnut.nn`` all have one: ``Dense``, ``TiedDense``,
``TimeDistributedDense``, ``Activation``, ``Dropout``/``Corruption``
(identity), ``Flatten``, ``Reshape``, ``Conv2D``, ``MaxPool2D``,
``AvgPool2D``, ``GlobalAvgPool2D``, ``Upsample2D``, ``RepeatSteps``, ``LSTM``,
``GRU``, ``SimpleRNN``, ``BatchNorm1D``/``BatchNorm2D`` (ONNX
``BatchNormalization`` with the running statistics, i.e. inference mode),
``Residual`` (branch + identity or projection, ``Add``), ``Conv1D``,
``MaxPool1D``, ``AvgPool1D``, ``GlobalAvgPool1D``, ``GlobalMaxPool1D`` and
``Embedding`` (``Gather``).  The sequence layers keep fastnut's NaN padding
in the graph: they read each sequence's length from the NaN pattern (or from
the earlier sequence layer), treat padded steps as zeros (convolution) or as
absent (pooling, averages over valid steps only), write NaN at the output
steps past a sequence's new length, and ``Embedding`` turns trailing padding
ids (and NaN) into NaN steps; so a padded sequence gets what it gets alone.

:func:`network_to_onnx` exports a bare built network (``nn.Sequential``)
the same way, without an estimator around it.

The converters read only public state: fitted attributes (``network_``,
``classes_``, ``components_``, ``weights_``, ...), the layers' ``params``
(PyTorch names and layouts) and their configuration attributes.
"""
import numpy as np

try:
    import onnx
    import skl2onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx.common.data_types import (BooleanTensorType, DoubleTensorType,
                                            FloatTensorType, Int64TensorType,
                                            StringTensorType)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastnut.onnx needs skl2onnx and onnx (and onnxruntime to run the models): "
        "pip install \"fastnut[onnx]\"" f" (original error: {exc})") from exc

from . import (Autoencoder, BernoulliRBM, CNNClassifier, CNNRegressor, ContractiveAutoencoder,
               ConvAutoencoder, DBNClassifier, DeepBeliefNetwork, DeepBoltzmannMachine,
               DenoisingAutoencoder, GaussianBernoulliRBM, LSTMAutoencoder, MLPClassifier,
               MLPRegressor, NeuralNetClassifier, NeuralNetRegressor, RNNClassifier,
               RNNRegressor, SelfOrganizingMap, SequenceCNNClassifier, SequenceCNNRegressor,
               SparseAutoencoder, nn)

__all__ = ["to_onnx", "network_to_onnx", "register_layer", "LAYER_EMITTERS", "Graph",
           "CLASSIFIERS",
           "REGRESSORS", "AUTOENCODERS"]

#: the lowest main-domain opset the converters emit for
MIN_OPSET = 13

CLASSIFIERS = (MLPClassifier, CNNClassifier, RNNClassifier, SequenceCNNClassifier, DBNClassifier,
               NeuralNetClassifier)
REGRESSORS = (MLPRegressor, CNNRegressor, RNNRegressor, SequenceCNNRegressor,
              NeuralNetRegressor)
AUTOENCODERS = (Autoencoder, SparseAutoencoder, ContractiveAutoencoder,
                DenoisingAutoencoder, ConvAutoencoder, LSTMAutoencoder)
_RBMS = (BernoulliRBM, GaussianBernoulliRBM)


# -- the graph builder -----------------------------------------------------------------

class Graph:
    """Append nodes and constants to the graph skl2onnx is building.

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
        The converter call's scope (it makes unique names).
    container : skl2onnx.common._container.ModelComponentContainer
        The converter call's container (it receives nodes and initializers).
    dtype : numpy dtype
        Compute dtype: float constants are stored in it.
    """

    def __init__(self, scope, container, dtype):
        self.scope = scope
        self.container = container
        self.dtype = np.dtype(dtype)
        self.opset = int(container.target_opset)
        if self.opset < MIN_OPSET:
            raise RuntimeError(f"fastnut's ONNX converters need target_opset >= {MIN_OPSET}, "
                               f"got {self.opset}")

    @property
    def proto_dtype(self):
        """ONNX element type of the compute dtype."""
        return TensorProto.DOUBLE if self.dtype == np.float64 else TensorProto.FLOAT

    def name(self, hint):
        """Make a variable name unique in the graph.

        Parameters
        ----------
        hint : str
            The start of the name.

        Returns
        -------
        str
            A name no other variable of the graph has.
        """
        return self.scope.get_unique_variable_name(hint)

    def const(self, value, dtype=None, hint="c"):
        """Add a constant initializer.

        Parameters
        ----------
        value : array-like
            The constant (numbers or strings).
        dtype : numpy dtype or None, default=None
            Its dtype; None stores floats in the compute dtype and keeps others.
        hint : str, default="c"
            The start of its name.

        Returns
        -------
        str
            The name of the initializer.
        """
        arr = np.asarray(value)
        if dtype is not None:
            arr = arr.astype(dtype)
        elif arr.dtype.kind == "f":
            arr = arr.astype(self.dtype)
        name = self.name(hint)
        if arr.dtype.kind in "OUS":  # string tensors cannot travel as raw data
            self.container.add_initializer(name, TensorProto.STRING, list(arr.shape),
                                           [str(s).encode("utf-8") for s in arr.ravel()])
        else:
            tensor = numpy_helper.from_array(np.ascontiguousarray(arr), name)
            self.container.add_initializer(name, tensor.data_type, list(arr.shape), tensor)
        return name

    def ints(self, values):
        """Add an int64 1-D constant (shapes, axes).

        Parameters
        ----------
        values : sequence of int
            The integers.

        Returns
        -------
        str
            The name of the initializer.
        """
        return self.const(np.asarray(values, dtype=np.int64), hint="shape")

    def op(self, op_type, *inputs, outputs=1, domain="", hint=None, **attrs):
        """Add one node.

        Parameters
        ----------
        op_type : str
            The ONNX operator (``"MatMul"``, ``"Relu"``, ...).
        *inputs : str
            The names of its inputs.
        outputs : int or list of str, default=1
            How many outputs to name, or the names to write to.
        domain : str, default=""
            The operator's domain; ``""`` is the standard ONNX domain.
        hint : str or None, default=None
            The start of the output names; None uses the operator's name.
        **attrs : dict
            The operator's attributes.

        Returns
        -------
        str or list of str
            The output name, or the list of names when there are several.
        """
        if isinstance(outputs, int):
            outs = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        else:
            outs = list(outputs)
        self.container.add_node(op_type, list(inputs), outs, op_domain=domain,
                                name=self.scope.get_unique_operator_name(op_type), **attrs)
        return outs[0] if len(outs) == 1 else outs

    def reduce(self, op_type, x, axes, keepdims=0):
        """Reduce over ``axes``, in the form the target opset wants.

        The axes are an input from opset 13 for ``ReduceSum`` and from 18 for
        the other reductions, an attribute before.

        Parameters
        ----------
        op_type : str
            ``"ReduceSum"``, ``"ReduceMax"``, ``"ReduceMean"``, ...
        x : str
            The name of the input.
        axes : sequence of int
            The axes reduced.
        keepdims : int, default=0
            1 keeps the reduced axes with size 1.

        Returns
        -------
        str
            The name of the output.
        """
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if as_input:
            return self.op(op_type, x, self.ints(axes), keepdims=keepdims)
        return self.op(op_type, x, axes=list(axes), keepdims=keepdims)

    def unsqueeze(self, x, axes):
        """Insert axes of size 1.

        Parameters
        ----------
        x : str
            The name of the input.
        axes : sequence of int
            Where the new axes go, in the output.

        Returns
        -------
        str
            The name of the output.
        """
        return self.op("Unsqueeze", x, self.ints(axes))

    def reshape(self, x, shape):
        """Reshape, ONNX's way (0 copies an input size, -1 is inferred).

        Parameters
        ----------
        x : str
            The name of the input.
        shape : sequence of int
            The new shape.

        Returns
        -------
        str
            The name of the output.
        """
        return self.op("Reshape", x, self.ints(shape))

    def cast(self, x, to=None):
        """Cast to another element type.

        Parameters
        ----------
        x : str
            The name of the input.
        to : int or None, default=None
            The ONNX ``TensorProto`` element type; None casts to the compute dtype.

        Returns
        -------
        str
            The name of the output.
        """
        return self.op("Cast", x, to=self.proto_dtype if to is None else to)

    def activation(self, x, name):
        """Apply one of fastnut's activations by name (``fastnut.nn`` Dense/Conv2D/Activation).

        Parameters
        ----------
        x : str
            The name of the input.
        name : {"identity", "relu", "tanh", "logistic"} or None
            The activation; None and ``"identity"`` add no node.

        Returns
        -------
        str
            The name of the output.
        """
        if name in (None, "identity"):
            return x
        op = {"relu": "Relu", "tanh": "Tanh", "logistic": "Sigmoid"}.get(name)
        if op is None:
            raise NotImplementedError(f"no ONNX form of activation {name!r}")
        return self.op(op, x)

    def dense(self, x, weight, bias=None, activation=None):
        """Add a dense layer, ``act(x @ weight + bias)``.

        Parameters
        ----------
        x : str
            The name of the input, shape (n, in).
        weight : ndarray of shape (in, out)
            The weight, stored as a constant.
        bias : ndarray of shape (out,) or None, default=None
            The bias; None adds none.
        activation : str or None, default=None
            The activation, as for ``activation``.

        Returns
        -------
        str
            The name of the output.
        """
        y = self.op("MatMul", x, self.const(weight, hint="W"))
        if bias is not None:
            y = self.op("Add", y, self.const(bias, hint="b"))
        return self.activation(y, activation)


# -- layers ------------------------------------------------------------------------------

#: ``fastnut.nn`` layer class -> ``emit(g, layer, x, ctx) -> output name``
LAYER_EMITTERS = {}


def register_layer(*classes):
    """Register ``emit(g, layer, x, ctx)`` as the ONNX form of ``classes`` (a decorator).

    ``x`` is the name of the layer's input (batch first, the layout of
    ``layer.forward``); ``ctx`` is a dict shared by the layers of one
    network (the recurrent layers keep the sequence lengths there).  The
    function returns the name of the layer's output.

    Parameters
    ----------
    *classes : type
        The ``fastnut.nn`` layer classes the function converts.

    Returns
    -------
    callable
        The decorator, which records the function and returns it unchanged.
    """
    def deco(fn):
        for cls in classes:
            LAYER_EMITTERS[cls] = fn
        return fn
    return deco


def emit_layer(g, layer, x, ctx):
    """Append ``layer``'s inference graph to ``g``; returns the output name."""
    for cls in type(layer).__mro__:
        fn = LAYER_EMITTERS.get(cls)
        if fn is not None:
            return fn(g, layer, x, ctx)
    raise NotImplementedError(
        f"fastnut.onnx has no ONNX form of the layer {type(layer).__name__}; register one "
        "with fastnut.onnx.register_layer")


def emit_layers(g, layers, x, ctx=None):
    """Append a chain of layers; returns the last output name."""
    ctx = {} if ctx is None else ctx
    for layer in layers:
        x = emit_layer(g, layer, x, ctx)
    return x


@register_layer(nn.Sequential)
def _emit_sequential(g, layer, x, ctx):
    return emit_layers(g, layer.layers, x, ctx)


@register_layer(nn.Dense)
def _emit_dense(g, layer, x, ctx):
    return g.dense(x, layer.params["weight"], layer.params.get("bias"), layer.activation)


@register_layer(nn.TiedDense)
def _emit_tied_dense(g, layer, x, ctx):
    return g.dense(x, layer.source.params["weight"].T, layer.params.get("bias"),
                   layer.activation)


# TimeDistributedDense: (n, T, H) @ (H, units) is the same MatMul
register_layer(nn.TimeDistributedDense)(_emit_dense)


@register_layer(nn.Activation)
def _emit_activation(g, layer, x, ctx):
    y = g.activation(x, layer.activation)
    if layer.activation == "relu":  # padded (NaN) steps stay NaN, as fastnut's ReLU
        y = g.op("Where", g.op("IsNaN", x), x, y)
    return y


@register_layer(nn.Dropout, nn.Corruption, nn.SparsityPenalty)
def _emit_identity(g, layer, x, ctx):
    return x  # training-time only (noise, dropout) or a penalty on an identity layer


@register_layer(nn.Flatten)
def _emit_flatten(g, layer, x, ctx):
    return g.op("Flatten", x, axis=1)


@register_layer(nn.Reshape)
def _emit_reshape(g, layer, x, ctx):
    return g.reshape(x, [-1, *layer.shape])


def conv_pads(layer):
    """ONNX ``pads`` (top, left, bottom, right) of a built ``nn.Conv2D``.

    From the layer's public configuration: ``"same"`` pads so that the
    output has ``ceil(H / stride)`` rows, the odd pixel at the bottom/right.
    """
    _, H, W = layer.input_shape
    if layer.padding == "valid":
        return [0, 0, 0, 0]
    if layer.padding == "same":
        pads = []
        for size, k, s, d in zip((H, W), layer.kernel_size, layer.stride, layer.dilation):
            out = -(-size // s)
            total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        (t, b), (l, r) = pads
        return [t, l, b, r]
    ph, pw = layer.padding
    return [ph, pw, ph, pw]


@register_layer(nn.Conv2D)
def _emit_conv2d(g, layer, x, ctx):
    inputs = [x, g.const(layer.params["weight"], hint="W")]
    if "bias" in layer.params:
        inputs.append(g.const(layer.params["bias"], hint="b"))
    y = g.op("Conv", *inputs, kernel_shape=list(layer.kernel_size),
             strides=list(layer.stride), dilations=list(layer.dilation),
             pads=conv_pads(layer))
    return g.activation(y, layer.activation)


@register_layer(nn.MaxPool2D)
def _emit_maxpool(g, layer, x, ctx):
    return g.op("MaxPool", x, kernel_shape=list(layer.pool_size), strides=list(layer.stride))


@register_layer(nn.AvgPool2D)
def _emit_avgpool(g, layer, x, ctx):
    return g.op("AveragePool", x, kernel_shape=list(layer.pool_size),
                strides=list(layer.stride))


@register_layer(nn.GlobalAvgPool2D)
def _emit_global_avgpool(g, layer, x, ctx):
    return g.op("Flatten", g.op("GlobalAveragePool", x), axis=1)


@register_layer(nn.Upsample2D)
def _emit_upsample(g, layer, x, ctx):
    # each pixel becomes an sh x sw block: (n,C,H,1,W,1) broadcast to (n,C,H,sh,W,sw)
    C, H, W = layer.input_shape
    sh, sw = layer.size
    y = g.reshape(x, [-1, C, H, 1, W, 1])
    y = g.op("Expand", y, g.ints([1, 1, 1, sh, 1, sw]))
    return g.reshape(y, [-1, C, H * sh, W * sw])


@register_layer(nn.RepeatSteps)
def _emit_repeat_steps(g, layer, x, ctx):
    ctx["lengths"] = False  # the repeated code has no padding: every step is valid
    y = g.unsqueeze(x, [1])
    return g.op("Expand", y, g.ints([1, ctx.get("n_steps") or layer.n_steps, 1]))


def sequence_lengths(g, x):
    """Lengths (int32, shape (n,)) of the NaN-padded sequences ``x`` (n, T, F),
    and ``x`` with its NaN set to 0, computed in the graph.

    As ``fastnut._validation.sequence_lengths``: trailing steps that are NaN
    in every feature are padding; length = position of the last valid step.
    """
    nan = g.op("IsNaN", x)
    step_nan = g.reduce("ReduceMin", g.cast(nan), [2])             # (n, T): 1 = padded
    valid = g.op("Sub", g.const(np.ones((), g.dtype)), step_nan)
    ones = g.op("Expand", g.const(np.ones((), g.dtype)), g.op("Shape", valid))
    position = g.op("CumSum", ones, g.const(np.array(1, np.int64)))  # 1..T along axis 1
    last = g.reduce("ReduceMax", g.op("Mul", valid, position), [1])  # (n,)
    lengths = g.cast(last, TensorProto.INT32)
    clean = g.op("Where", nan, g.const(np.zeros((), g.dtype)), x)
    return lengths, clean


#: fastnut (PyTorch) gate blocks in ONNX's order: LSTM i,f,g,o -> i,o,f,c;
#: GRU r,z,n -> z,r,h
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def _recurrent_op(layer):
    if isinstance(layer, nn.LSTM):
        return "LSTM"
    if isinstance(layer, nn.GRU):
        return "GRU"
    return "RNN"


@register_layer(nn.LSTM, nn.GRU, nn.SimpleRNN)
def _emit_recurrent(g, layer, x, ctx):
    op = _recurrent_op(layer)
    H = layer.hidden_size
    nd = 2 if layer.bidirectional else 1
    order = _GATE_ORDER[op]

    def gates(a):
        return np.concatenate([a[k * H:(k + 1) * H] for k in order], axis=0)

    lengths = ctx.get("lengths")
    if lengths is None:  # the first sequence layer reads the NaN-padded input
        lengths, x = sequence_lengths(g, x)
        ctx["lengths"] = lengths
    elif lengths is not False:  # lengths of an earlier sequence layer; NaN steps to 0
        x = g.op("Where", g.op("IsNaN", x), g.const(np.zeros((), g.dtype)), x)
    W, R, B = [], [], []
    for sfx in ("", "_reverse")[:nd]:
        p = layer.params
        W.append(gates(p["weight_ih" + sfx]))
        R.append(gates(p["weight_hh" + sfx]))
        B.append(np.concatenate([gates(p["bias_ih" + sfx]), gates(p["bias_hh" + sfx])]))
    inputs = [g.op("Transpose", x, perm=[1, 0, 2]),  # ONNX: (T, n, F)
              g.const(np.stack(W), hint="W"), g.const(np.stack(R), hint="R"),
              g.const(np.stack(B), hint="B")]
    if lengths is not False:
        inputs.append(lengths)
    attrs = dict(hidden_size=H, direction="bidirectional" if nd == 2 else "forward")
    if op == "GRU":
        attrs["linear_before_reset"] = 1  # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    outs = g.op(op, *inputs, outputs=3 if op == "LSTM" else 2, **attrs)
    Y, Y_h = outs[0], outs[1]
    if layer.return_sequences:
        # (T, nd, n, H) -> (n, T, nd*H); padded steps are 0 (the lengths travel in ctx)
        y = g.op("Transpose", Y, perm=[2, 0, 1, 3])
        return g.reshape(y, [0, 0, nd * H])
    # final states (nd, n, H) -> (n, nd*H): forward at the last valid step,
    # reverse after running back from it to step 0
    return g.reshape(g.op("Transpose", Y_h, perm=[1, 0, 2]), [-1, nd * H])


# -- normalisation, residual blocks, 1-D convolution and pooling, embeddings -------------
#
# Sequence layers keep fastnut's NaN-padding semantics in the graph: each one
# takes the lengths of its input's sequences from ``ctx["lengths"]`` (set by an
# earlier sequence layer) or computes them from the NaN pattern, reads padded
# steps as zeros (convolution) or as absent (pooling), writes NaN at the output
# steps past each sequence's new length and leaves that length in ``ctx``.

def _nan(g):
    return g.const(np.array(np.nan, g.dtype), hint="nan")


def _seq_lengths(g, x, ctx):
    """(lengths int32 (n,) or None when nothing is padded, ``x`` with NaN set to 0)."""
    lengths = ctx.get("lengths")
    if lengths is False:
        return None, x
    if lengths is None:
        lengths, clean = sequence_lengths(g, x)
        ctx["lengths"] = lengths
        return lengths, clean
    return lengths, g.op("Where", g.op("IsNaN", x), g.const(np.zeros((), g.dtype)), x)


def _step_mask(g, x, lengths):
    """bool (n, T): step ``t`` of ``x`` (steps on axis 1) is before ``lengths``."""
    T = g.op("Squeeze", g.op("Gather", g.op("Shape", x), g.ints([1]), axis=0), g.ints([0]))
    steps = g.op("Range", g.const(np.array(0, np.int64)), T, g.const(np.array(1, np.int64)))
    return g.op("Less", g.unsqueeze(steps, [0]),
                g.unsqueeze(g.cast(lengths, TensorProto.INT64), [1]))


def _mask_steps(g, y, lengths, ctx):
    """``y`` (n, T, F) with NaN at the steps past ``lengths``; ``ctx`` takes them."""
    if lengths is None:
        return y
    ctx["lengths"] = lengths
    return g.op("Where", g.unsqueeze(_step_mask(g, y, lengths), [2]), y, _nan(g))


def _out_lengths(g, lengths, k, s, d, padding):
    """Valid output steps per sequence, as ``fastnut.nn._conv1d._geometry``."""
    if lengths is None:
        return None
    e = d * (k - 1) + 1
    L = g.cast(lengths, TensorProto.INT64)

    def c(v):
        return g.const(np.array(v, np.int64))

    if padding in ("same", "causal"):
        out = g.op("Div", g.op("Add", L, c(s - 1)), c(s))
    else:
        p = 0 if padding == "valid" else padding
        out = g.op("Add", g.op("Div", g.op("Add", L, c(2 * p - e)), c(s)), c(1))
    return g.cast(out, TensorProto.INT32)


def _pads_1d(k, d, padding):
    """ONNX ``pads`` (begin, end) giving fastnut's output length for any T."""
    e = d * (k - 1) + 1
    if padding == "same":
        left = (e - 1) // 2
        return [left, e - 1 - left]
    if padding == "causal":
        return [e - 1, 0]
    p = 0 if padding == "valid" else padding
    return [p, p]


def _channels_first(g, x):
    return g.op("Transpose", x, perm=[0, 2, 1])


@register_layer(nn.BatchNorm1D, nn.BatchNorm2D)
def _emit_batchnorm(g, layer, x, ctx):
    C = layer._C if hasattr(layer, "_C") else len(layer.buffers["running_mean"])
    scale = layer.params["weight"] if layer.affine else np.ones(C, layer.dtype)
    bias = layer.params["bias"] if layer.affine else np.zeros(C, layer.dtype)
    inputs = [g.const(scale, hint="scale"), g.const(bias, hint="B"),
              g.const(layer.buffers["running_mean"], hint="mean"),
              g.const(layer.buffers["running_var"], hint="var")]
    seq = isinstance(layer, nn.BatchNorm1D) and len(layer.input_shape) == 2
    y = g.op("BatchNormalization", _channels_first(g, x) if seq else x, *inputs,
             epsilon=layer.eps)
    if seq:
        y = _channels_first(g, y)
    if layer.activation == "relu":  # padded (NaN) steps stay NaN, as the fused kernel
        y = g.op("Where", g.op("IsNaN", y), y, g.op("Relu", y))
    return y


@register_layer(nn.Residual)
def _emit_residual(g, layer, x, ctx):
    body_ctx = dict(ctx)
    yb = emit_layer(g, layer.body, x, body_ctx)
    ys = x if layer.shortcut_layer is None else emit_layer(g, layer.shortcut_layer, x,
                                                           dict(ctx))
    ctx.update(body_ctx)
    return g.op("Add", yb, ys)


@register_layer(nn.Conv1D)
def _emit_conv1d(g, layer, x, ctx):
    lengths, clean = _seq_lengths(g, x, ctx)
    inputs = [_channels_first(g, clean), g.const(layer.params["weight"], hint="W")]
    if "bias" in layer.params:
        inputs.append(g.const(layer.params["bias"], hint="b"))
    k, s, d = layer.kernel_size, layer.stride, layer.dilation
    y = g.op("Conv", *inputs, kernel_shape=[k], strides=[s], dilations=[d],
             pads=_pads_1d(k, d, layer.padding))
    y = g.activation(_channels_first(g, y), layer.activation)
    return _mask_steps(g, y, _out_lengths(g, lengths, k, s, d, layer.padding), ctx)


@register_layer(nn.MaxPool1D)
def _emit_maxpool1d(g, layer, x, ctx):
    lengths, _ = _seq_lengths(g, x, ctx)
    if lengths is not None:  # padded steps are absent: -inf never wins a window
        x = g.op("Where", g.unsqueeze(_step_mask(g, x, lengths), [2]), x,
                 g.const(np.array(-np.inf, g.dtype)))
    k, s = layer.pool_size, layer.stride
    y = g.op("MaxPool", _channels_first(g, x), kernel_shape=[k], strides=[s],
             pads=_pads_1d(k, 1, layer.padding))
    return _mask_steps(g, _channels_first(g, y),
                       _out_lengths(g, lengths, k, s, 1, layer.padding), ctx)


@register_layer(nn.AvgPool1D)
def _emit_avgpool1d(g, layer, x, ctx):
    lengths, clean = _seq_lengths(g, x, ctx)
    k, s = layer.pool_size, layer.stride
    attrs = dict(kernel_shape=[k], strides=[s], pads=_pads_1d(k, 1, layer.padding))
    if lengths is None:
        y = g.op("AveragePool", _channels_first(g, x), count_include_pad=0, **attrs)
        return _channels_first(g, y)
    # mean over the window's valid steps: pooled sum / pooled count of valid steps
    valid = g.unsqueeze(g.cast(_step_mask(g, x, lengths)), [1])          # (n, 1, T)
    total = g.op("AveragePool", _channels_first(g, clean), count_include_pad=1, **attrs)
    count = g.op("AveragePool", valid, count_include_pad=1, **attrs)
    y = _channels_first(g, g.op("Div", total, count))
    return _mask_steps(g, y, _out_lengths(g, lengths, k, s, 1, layer.padding), ctx)


@register_layer(nn.GlobalAvgPool1D)
def _emit_global_avgpool1d(g, layer, x, ctx):
    lengths, clean = _seq_lengths(g, x, ctx)
    ctx["lengths"] = False  # the output is a vector
    if lengths is None:
        return g.reduce("ReduceMean", x, [1])
    total = g.reduce("ReduceSum", clean, [1])
    return g.op("Div", total, g.unsqueeze(g.cast(lengths), [1]))


@register_layer(nn.GlobalMaxPool1D)
def _emit_global_maxpool1d(g, layer, x, ctx):
    lengths, _ = _seq_lengths(g, x, ctx)
    ctx["lengths"] = False
    if lengths is not None:
        x = g.op("Where", g.unsqueeze(_step_mask(g, x, lengths), [2]), x,
                 g.const(np.array(-np.inf, g.dtype)))
    return g.reduce("ReduceMax", x, [1])


@register_layer(nn.Embedding)
def _emit_embedding(g, layer, x, ctx):
    """Gather of the ids; trailing padding ids (and NaN) become NaN steps."""
    W = g.const(layer.params["weight"], hint="embedding")
    pr = layer._pad_row
    if g.dtype.kind == "f":
        x = g.cast(x)  # ids as floats (what a checked estimator input carries)
    nan = g.op("IsNaN", x)
    ids = g.cast(g.op("Where", nan, g.const(np.zeros((), g.dtype)), x), TensorProto.INT64)
    padstep = nan if pr < 0 else g.op("Or", nan, g.op("Equal", ids, g.ints(pr)))
    # length = position of the last non-padding step (as sequence_lengths)
    valid = g.op("Not", padstep)
    ones = g.op("Expand", g.const(np.ones((), np.int64)), g.op("Shape", ids))
    position = g.op("CumSum", ones, g.const(np.array(1, np.int64)))
    last = g.reduce("ReduceMax", g.op("Mul", g.cast(valid, TensorProto.INT64), position), [1])
    lengths = g.cast(last, TensorProto.INT32)
    inside = g.op("Less", g.op("Sub", position, g.const(np.array(1, np.int64))),
                  g.unsqueeze(last, [1]))
    ids = g.op("Where", inside, ids, g.const(np.zeros((), np.int64)))
    y = g.op("Gather", W, ids, axis=0)                                   # (n, T, D)
    ctx["lengths"] = lengths
    return g.op("Where", g.unsqueeze(inside, [2]), y, _nan(g))


# -- estimator inputs --------------------------------------------------------------------

def _tensor_type(dtype):
    return DoubleTensorType if np.dtype(dtype) == np.float64 else FloatTensorType


def _label_type(classes):
    kind = np.asarray(classes).dtype.kind
    if kind in "iu":
        return Int64TensorType
    if kind == "b":
        return BooleanTensorType
    if kind == "f":
        return DoubleTensorType
    return StringTensorType


def _network_input(g, model, x):
    """The network's input from the graph input: cast and reshaped like ``_check_X``."""
    x = g.cast(x)
    if isinstance(model, (CNNClassifier, CNNRegressor, ConvAutoencoder)):
        return g.reshape(x, [-1, *model.image_shape_])
    if isinstance(model, (RNNClassifier, RNNRegressor, SequenceCNNClassifier,
                          SequenceCNNRegressor)):
        if "vocab_size_" in model.__dict__:  # token ids (n, T): the Embedding reads them
            return x
        return g.reshape(x, [0, -1, model.sequence_shape_[1]])
    if isinstance(model, LSTMAutoencoder):
        return g.reshape(x, [0, -1, model.input_shape_[1]])
    return x


def _check_link(model):
    """The graph applies the link of the estimator's own loss (softmax, logistic,
    identity, exp); a ``NeuralNet*`` model trained with another ``nn.Loss``
    predicts through that loss's ``predict``, which has no ONNX form here."""
    if not isinstance(model, (NeuralNetClassifier, NeuralNetRegressor)):
        return
    loss = model.loss
    if loss is None or isinstance(loss, str):
        return
    if isinstance(model, NeuralNetClassifier):
        expected = (nn.SoftmaxCrossEntropy if model.out_activation_ == "softmax"
                    else nn.BinaryLogLoss)
    else:
        expected = type(nn.get_loss("poisson" if model.out_activation_ == "exp"
                                    else "squared_error"))
    if type(loss) is not expected:
        raise NotImplementedError(
            f"fastnut.onnx cannot export {type(model).__name__} with loss="
            f"{type(loss).__name__}: its predictions go through that loss's predict; the "
            f"converter knows the links of {expected.__name__} only")


def _check_per_sample_output(model):
    """Per-step outputs (``output="sequence"``) have no converter here: refuse clearly."""
    if isinstance(model, (RNNClassifier, RNNRegressor, SequenceCNNClassifier,
                          SequenceCNNRegressor)) and isinstance(
            model.network_.layers[-1], nn.TimeDistributedDense):
        raise NotImplementedError(
            f"fastnut.onnx cannot export {type(model).__name__} with output='sequence' (one "
            "output per step): its labels mark padded steps with NaN/None, which an ONNX "
            "tensor of labels cannot hold. Export the network instead, "
            "fastnut.onnx.network_to_onnx(model.network_), for the per-step raw outputs "
            "(equal to model.network_.forward(X) at the valid steps).")


def _first_dim(operator):
    return operator.inputs[0].get_first_dimension()


# -- networks: classifiers and regressors ------------------------------------------------

def _network_dtype(model):
    return model.network_.dtype


def _is_multilabel(model):
    return model.out_activation_ == "logistic" and model.n_outputs_ > 1


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    if not _is_multilabel(model):
        # skl2onnx's own classifier parser: label + probabilities, ZipMap unless zipmap=False
        return _parse_sklearn_classifier(scope, model, inputs, custom_parsers)
    op = scope.declare_local_operator(_ALIASES[type(model)], model)
    op.inputs = inputs
    for name in ("label", "probabilities"):
        op.outputs.append(scope.declare_local_variable(name, FloatTensorType()))
    return list(op.outputs)


def _shape_classifier(operator):
    model = operator.raw_operator
    _check_per_sample_output(model)
    N = _first_dim(operator)
    n_classes = len(model.classes_)
    if _is_multilabel(model):
        operator.outputs[0].type = Int64TensorType([N, n_classes])
    else:
        operator.outputs[0].type = _label_type(model.classes_)([N])
    operator.outputs[1].type = _tensor_type(_network_dtype(model))([N, n_classes])


def _convert_classifier(scope, operator, container):
    model = operator.raw_operator
    g = Graph(scope, container, _network_dtype(model))
    _check_link(model)
    Z = emit_layer(g, model.network_, _network_input(g, model, operator.inputs[0].full_name),
                   {})
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    classes = np.asarray(model.classes_)
    if model.out_activation_ == "softmax":
        g.op("Softmax", Z, outputs=[proba], axis=1)
        g.op("Gather", g.const(classes, dtype=_label_dtype(classes), hint="classes"),
             g.op("ArgMax", Z, axis=1, keepdims=0), outputs=[label], axis=0)
        return
    # logistic: decisions from the logits (Z > 0), as fastnut's predict
    P = g.op("Sigmoid", Z)
    positive = g.op("Greater", Z, g.const(np.zeros((), g.dtype)))
    if model.n_outputs_ == 1:
        g.op("Concat", g.op("Sub", g.const(np.ones((), g.dtype)), P), P,
             outputs=[proba], axis=1)
        index = g.reshape(g.cast(positive, TensorProto.INT64), [-1])
        g.op("Gather", g.const(classes, dtype=_label_dtype(classes), hint="classes"), index,
             outputs=[label], axis=0)
    else:  # multilabel: the indicator matrix
        g.op("Identity", P, outputs=[proba])
        g.op("Cast", positive, outputs=[label], to=TensorProto.INT64)


def _label_dtype(classes):
    kind = classes.dtype.kind
    return {"i": np.int64, "u": np.int64, "b": np.bool_, "f": np.float64}.get(kind, object)


def _parse_single(names):
    """A parser declaring one operator with outputs ``names``."""
    def parser(scope, model, inputs, custom_parsers=None):
        op = scope.declare_local_operator(_ALIASES[type(model)], model)
        op.inputs = inputs
        for name in names:
            op.outputs.append(scope.declare_local_variable(name, FloatTensorType()))
        return list(op.outputs)
    return parser


def _shape_regressor(operator):
    model = operator.raw_operator
    _check_per_sample_output(model)
    operator.outputs[0].type = _tensor_type(_network_dtype(model))(
        [_first_dim(operator), model.n_outputs_])


def _convert_regressor(scope, operator, container):
    model = operator.raw_operator
    g = Graph(scope, container, _network_dtype(model))
    _check_link(model)
    Z = emit_layer(g, model.network_, _network_input(g, model, operator.inputs[0].full_name),
                   {})
    out = operator.outputs[0].full_name
    if model.out_activation_ == "exp":
        g.op("Exp", Z, outputs=[out])
    else:
        g.op("Identity", Z, outputs=[out])


# -- autoencoders ------------------------------------------------------------------------

def _inverse(scope, model):
    return bool(scope.get_options(model, dict(inverse=False))["inverse"])


def _reconstruction_shape(model):
    """Per-sample shape of ``inverse_transform``'s output (the training input's form)."""
    probe = model.inverse_transform(np.zeros((1, model.n_components), model.network_.dtype))
    return list(probe.shape[1:])


def _shape_autoencoder(operator):
    model = operator.raw_operator
    N = _first_dim(operator)
    shape = (_reconstruction_shape(model) if _inverse(operator.scope_inst, model)
             else [model.n_components])
    operator.outputs[0].type = _tensor_type(_network_dtype(model))([N, *shape])


def _convert_autoencoder(scope, operator, container):
    model = operator.raw_operator
    net = model.network_
    g = Graph(scope, container, _network_dtype(model))
    x = operator.inputs[0].full_name
    out = operator.outputs[0].full_name
    k = net.n_encoder_layers
    if not _inverse(scope, model):
        y = emit_layers(g, net.layers[:k], _network_input(g, model, x))
        g.op("Identity", y, outputs=[out])
        return
    ctx = {"lengths": False}
    if isinstance(model, LSTMAutoencoder):
        ctx["n_steps"] = model.input_shape_[0]
    y = emit_layers(g, net.layers[k:], g.cast(x), ctx)
    if getattr(model, "loss", None) == "binary_cross_entropy":
        y = g.op("Sigmoid", y)  # the loss's link, as fastnut's inverse_transform
    g.op("Reshape", y, g.ints([-1, *_reconstruction_shape(model)]), outputs=[out])


# -- self-organizing map -----------------------------------------------------------------

def _parse_som(scope, model, inputs, custom_parsers=None):
    # inside a Pipeline only the transform output may go on to the next step
    only = scope.get_options(model, dict(transform_only=False))["transform_only"]
    return _parse_single(["variable"] if only else ["label", "variable"])(
        scope, model, inputs, custom_parsers)


def _shape_som(operator):
    N = _first_dim(operator)
    if len(operator.outputs) == 2:
        operator.outputs[0].type = Int64TensorType([N])
    operator.outputs[-1].type = DoubleTensorType([N, 2])


def _convert_som(scope, operator, container):
    model = operator.raw_operator
    W = model.weights_.reshape(-1, model.weights_.shape[-1])   # (U, d)
    g = Graph(scope, container, W.dtype)
    x = g.cast(operator.inputs[0].full_name)
    # the kernel's scores (lower is better; ties to the lowest unit, as ArgMin)
    if model.metric == "manhattan":
        diff = g.op("Sub", g.unsqueeze(x, [1]), g.const(W[None], hint="W"))
        scores = g.reduce("ReduceSum", g.op("Abs", diff), [2])
    else:
        XW = g.op("MatMul", x, g.const(W.T, hint="Wt"))
        sq = np.einsum("ij,ij->i", W.astype(np.float64), W.astype(np.float64))
        if model.metric == "euclidean":   # ||w||^2 - 2 x.w
            scores = g.op("Sub", g.const(sq), g.op("Add", XW, XW))
        else:                             # cosine: -x.w / ||w|| (0 for a zero unit)
            inv = np.where(sq > 0, 1.0 / np.sqrt(np.where(sq > 0, sq, 1.0)), 0.0)
            scores = g.op("Neg", g.op("Mul", XW, g.const(inv)))
    outputs = [operator.outputs[0].full_name] if len(operator.outputs) == 2 else 1
    bmu = g.op("ArgMin", scores, axis=1, keepdims=0, outputs=outputs)
    g.op("Gather", g.const(_som_coordinates(model), dtype=np.float64, hint="coordinates"), bmu,
         outputs=[operator.outputs[-1].full_name], axis=0)


def _som_coordinates(model):
    """Map coordinates of every unit, as ``transform`` returns them."""
    U = model.n_rows * model.n_cols
    r, c = np.divmod(np.arange(U), model.n_cols)
    if model.topology == "hexagonal":
        return np.column_stack([r * (np.sqrt(3.0) / 2.0), c + 0.5 * (r % 2)])
    return np.column_stack([r, c]).astype(np.float64)


# -- Boltzmann machines ------------------------------------------------------------------

def _shape_transformer(n_out, dtype_of):
    def shape(operator):
        model = operator.raw_operator
        operator.outputs[0].type = _tensor_type(dtype_of(model))(
            [_first_dim(operator), n_out(model)])
    return shape


def _sigmoid_layer(g, x, W, b):
    return g.dense(x, W, b, "logistic")


def _unit_interval(g, x):
    # fastnut clips RBM/DBN inputs to [0, 1]
    return g.op("Clip", x, g.const(np.zeros((), g.dtype)), g.const(np.ones((), g.dtype)))


def _convert_rbm(scope, operator, container):
    model = operator.raw_operator
    g = Graph(scope, container, model.components_.dtype)
    x = g.cast(operator.inputs[0].full_name)
    if isinstance(model, GaussianBernoulliRBM):
        x = g.op("Div", g.op("Sub", x, g.const(model.mean_)),
                 g.const(model.scale_ * model.sigma_))
    else:
        x = _unit_interval(g, x)
    h = g.dense(x, model.components_.T, model.intercept_hidden_)
    g.op("Sigmoid", h, outputs=[operator.outputs[0].full_name])


def _convert_dbn(scope, operator, container):
    model = operator.raw_operator
    g = Graph(scope, container, model.coefs_[0].dtype)
    h = _unit_interval(g, g.cast(operator.inputs[0].full_name))
    for W, b in zip(model.coefs_, model.intercepts_):
        h = _sigmoid_layer(g, h, W, b)
    g.op("Identity", h, outputs=[operator.outputs[0].full_name])


def _convert_dbm(scope, operator, container):
    """Mean-field posteriors of ``DeepBoltzmannMachine.transform``, iterations unrolled."""
    model = operator.raw_operator
    W, b = model.coefs_, model.intercepts_
    L = len(W)
    g = Graph(scope, container, W[0].dtype)
    v = _unit_interval(g, g.cast(operator.inputs[0].full_name))
    # bottom-up start with doubled weights below the top layer
    mu = [v]
    for l in range(L):
        mu.append(_sigmoid_layer(g, mu[-1], W[l] * W[l].dtype.type(2) if l < L - 1 else W[l],
                                 b[l]))
    Wc = [g.const(w, hint="W") for w in W]
    WTc = [g.const(np.ascontiguousarray(w.T), hint="Wt") for w in W]
    bc = [g.const(bb, hint="b") for bb in b]
    for _ in range(model.n_mean_field):
        for l in range(1, L + 1):   # in place, bottom to top (as fastnut)
            a = g.op("MatMul", mu[l - 1], Wc[l - 1])
            if l < L:
                a = g.op("Add", a, g.op("MatMul", mu[l + 1], WTc[l]))
            mu[l] = g.op("Sigmoid", g.op("Add", a, bc[l - 1]))
    g.op("Identity", mu[-1], outputs=[operator.outputs[0].full_name])


# -- registration ------------------------------------------------------------------------

_ALIASES = {}
_CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "nocl": [True, False],
                       "output_class_labels": [False, True]}


def _register(cls, shape_fct, convert_fct, parser, options=None):
    alias = f"Fastnut{cls.__name__}"
    _ALIASES[cls] = alias
    update_registered_converter(cls, alias, shape_fct, convert_fct, parser=parser,
                                options=options)


def _register_all():
    for cls in CLASSIFIERS:
        _register(cls, _shape_classifier, _convert_classifier, _parse_classifier,
                  _CLASSIFIER_OPTIONS)
    for cls in REGRESSORS:
        _register(cls, _shape_regressor, _convert_regressor, _parse_single(["variable"]))
    for cls in AUTOENCODERS:
        _register(cls, _shape_autoencoder, _convert_autoencoder, _parse_single(["variable"]),
                  {"inverse": [False, True]})
    _register(SelfOrganizingMap, _shape_som, _convert_som, _parse_som,
              {"transform_only": [False, True]})
    for cls in _RBMS:
        _register(cls, _shape_transformer(lambda m: m.components_.shape[0],
                                          lambda m: m.components_.dtype),
                  _convert_rbm, _parse_single(["variable"]))
    coef_shape = _shape_transformer(lambda m: m.coefs_[-1].shape[1], lambda m: m.coefs_[0].dtype)
    _register(DeepBeliefNetwork, coef_shape, _convert_dbn, _parse_single(["variable"]))
    _register(DeepBoltzmannMachine, coef_shape, _convert_dbm, _parse_single(["variable"]))


_register_all()


def _input_type(dtype):
    kind = np.dtype(dtype).kind
    if kind in "iub":
        return Int64TensorType
    return DoubleTensorType if np.dtype(dtype) == np.float64 else FloatTensorType


def to_onnx(model, X_sample, path=None, *, inverse=False, target_opset=None):
    """Convert a fitted fastnut model (or a Pipeline containing fastnut models) to ONNX.

    Parameters
    ----------
    model : estimator or Pipeline
        The fitted fastnut estimator, or a Pipeline of fitted steps (fastnut's
        and scikit-learn's).
    X_sample : array-like
        A few input rows; they fix the input's dtype and rank (e.g. flat
        ``(n, C*H*W)`` rows or ``(n, C, H, W)`` images).
    path : str or path-like, default=None
        Also write the model to this ``.onnx`` file.
    inverse : bool, default=False
        For autoencoders: export ``inverse_transform`` (codes in) instead of
        ``transform``; ``X_sample`` is then a few codes.
    target_opset : int, default=None
        The ONNX opset; None uses skl2onnx's latest tested opset.

    Returns
    -------
    onnx.ModelProto
        Classifiers output ``label`` and ``probabilities`` as plain tensors
        (no ZipMap).

    Examples
    --------
    >>> import numpy as np, onnxruntime as ort
    >>> from fastnut import MLPClassifier
    >>> import fastnut.onnx
    >>> X = np.random.default_rng(0).random((100, 4), dtype=np.float32)
    >>> clf = MLPClassifier((8,), solver="lbfgs", random_state=0).fit(X, X[:, 0] > 0.5)
    >>> sess = ort.InferenceSession(fastnut.onnx.to_onnx(clf, X[:1]).SerializeToString(),
    ...                             providers=["CPUExecutionProvider"])
    >>> label, proba = sess.run(None, {"X": X})
    >>> bool((label == clf.predict(X)).all()), bool(np.allclose(proba, clf.predict_proba(X),
    ...                                                          atol=1e-5))
    (True, True)
    """
    options = {cls: {"zipmap": False} for cls in CLASSIFIERS}
    if inverse:
        options.update({cls: {"inverse": True} for cls in AUTOENCODERS})
    X_sample = np.asarray(X_sample)
    if X_sample.ndim < 2:
        raise ValueError(f"X_sample must have a batch axis and at least one more; got shape "
                         f"{X_sample.shape}")
    dims = [None] * (X_sample.ndim - 1) + [int(X_sample.shape[-1])]  # (n, T, F): any T
    first = model.steps[0][1] if hasattr(model, "steps") else model
    if isinstance(first, (RNNClassifier, RNNRegressor)) and "vocab_size_" in first.__dict__:
        dims = [None, None]  # token ids (n, T): any T
    if X_sample.ndim == 4:
        dims = [None, *map(int, X_sample.shape[1:])]
    initial = [("X", _input_type(X_sample.dtype)(dims))]
    onx = skl2onnx.to_onnx(model, initial_types=initial, options=options,
                           target_opset=target_opset)
    if path is not None:
        onnx.save_model(onx, str(path))
    return onx


class _Standalone:
    """The part of skl2onnx's scope and container that :class:`Graph` uses,
    for graphs built without skl2onnx (:func:`network_to_onnx`)."""

    def __init__(self, target_opset):
        self.target_opset = target_opset
        self.nodes, self.initializers, self._names = [], [], set()

    def _unique(self, hint):
        name, i = hint, 0
        while name in self._names:
            i += 1
            name = f"{hint}{i}"
        self._names.add(name)
        return name

    get_unique_variable_name = get_unique_operator_name = _unique

    def add_initializer(self, name, onnx_type, shape, content):
        if not isinstance(content, TensorProto):
            content = helper.make_tensor(name, onnx_type, shape, content)
        self.initializers.append(content)

    def add_node(self, op_type, inputs, outputs, op_domain="", name=None, **attrs):
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name,
                                           domain=op_domain, **attrs))


def network_to_onnx(network, path=None, *, target_opset=None):
    """Convert a built ``fastnut.nn`` layer (e.g. an ``nn.Sequential``) to ONNX, at inference.

    The graph has one input ``X`` of shape ``(n, *network.input_shape)``
    (sequences: any number of steps, NaN-padded at the end) and one output
    ``Y``, what ``network.forward(X)`` returns (with recurrent layers that
    return sequences, padded steps are 0 instead of NaN).

    Parameters
    ----------
    network : fastnut.nn.Layer
        Built (``network.build(...)``) or taken from a fitted estimator's
        ``network_``.
    path : str or path-like, default=None
        Also write the model to this file.
    target_opset : int, default=None
        The ONNX opset; None uses skl2onnx's latest tested opset.

    Returns
    -------
    onnx.ModelProto
        The model.
    """
    if getattr(network, "input_shape", None) is None:
        raise ValueError("network_to_onnx needs a built layer: call network.build(...) first")
    opset = target_opset or skl2onnx.get_latest_tested_opset_version()
    b = _Standalone(opset)
    for name in ("X", "Y"):
        b._names.add(name)
    g = Graph(b, b, network.dtype)
    y = emit_layer(g, network, "X", {})
    g.op("Identity", y, outputs=["Y"])
    elem = g.proto_dtype
    shape = [None, *network.input_shape]
    if len(network.input_shape) == 2:  # sequences: any length
        shape[1] = None
    graph = helper.make_graph(
        b.nodes, "fastnut_network",
        [helper.make_tensor_value_info("X", elem, shape)],
        [helper.make_tensor_value_info("Y", elem, None)], initializer=b.initializers)
    onx = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                            producer_name="fastnut")
    if path is not None:
        onnx.save_model(onx, str(path))
    return onx
