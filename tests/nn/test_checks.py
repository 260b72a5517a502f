"""The checked layer entry points (``Layer.forward``/``backward``) and the
kernels' own argument checks: every wrong call is an error naming the layer
and what it expected, before any compiled code runs.

Each test here reproduces a call that crashed, corrupted memory or returned
garbage before the checks existed.
"""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from fastnut import nn
from fastnut._kernels import conv as kc
from fastnut._kernels import pool as kp

from tests._reference import conv as ref


def _built(layer, shape, dtype=np.float32):
    layer.build(shape, random_state=0, dtype=dtype)
    return layer


# -- the dilated convolution ----------------------------------------------------

def test_dilated_same_conv_from_the_report():
    """Conv2D(2, 3, dilation=5, padding="same") on 4 x 4: image 0 of a batch of 8
    differed from the same image alone (the zero fill of a tap that lies wholly
    in the padding wrote past its row, into the next image's columns)."""
    layer = _built(nn.Conv2D(2, 3, dilation=5, padding="same", use_bias=False), (1, 4, 4))
    X = np.random.default_rng(0).standard_normal((8, 1, 4, 4)).astype(np.float32)
    batch = layer.forward(X).copy()
    alone = np.concatenate([layer.forward(X[i:i + 1]).copy() for i in range(8)])
    # BLAS may round a row differently in another batch, by ~1e-7; the defect was 0.18
    np.testing.assert_allclose(batch, alone, atol=1e-5)


@pytest.mark.parametrize("dilation", [1, 2, 3, 5, 9])
@pytest.mark.parametrize("padding", ["same", "valid", 0, 1, 3, (4, 0), (0, 6)])
@pytest.mark.parametrize("hw", [(1, 1), (1, 4), (2, 3), (4, 4), (5, 2)])
@pytest.mark.parametrize("channels", [1, 16])
def test_conv_batched_equals_one_at_a_time_and_the_oracle(dilation, padding, hw, channels):
    """Batched (grouped lowering), one image at a time and the NumPy oracle agree,
    forward and backward, over dilation x padding x tiny images (both lowerings:
    1 channel -> im2col with grouping, 16 channels x 3 -> rows)."""
    rng = np.random.default_rng(dilation * 31 + hw[0] * 7 + hw[1])
    layer = nn.Conv2D(3, 3, padding=padding, dilation=dilation)
    try:
        out = layer.build((channels,) + hw, random_state=0, dtype=np.float64)
    except ValueError as exc:  # a kernel larger than the padded image
        assert "does not fit" in str(exc)
        return
    n = 7
    X = rng.standard_normal((n, channels) + hw)
    R = rng.standard_normal((n,) + out)
    W, b = layer.params["weight"], layer.params["bias"]
    d = layer.dilation
    Yr = ref.conv2d(X, W, b, (1, 1), (layer._ph, layer._pw), d, out[1:])
    dXr, dWr, dbr = ref.conv2d_backward(X, W, R, (1, 1), (layer._ph, layer._pw), d)
    Y = layer.forward(X, training=True).copy()
    dX = layer.backward(R.copy()).copy()
    np.testing.assert_allclose(Y, Yr, atol=1e-12)
    np.testing.assert_allclose(dX, dXr, atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], dWr, atol=1e-11)
    np.testing.assert_allclose(layer.grads["bias"], dbr, atol=1e-11)
    for i in range(n):
        Yi = layer.forward(X[i:i + 1], training=True)
        np.testing.assert_allclose(Yi, Y[i:i + 1], atol=1e-12)
        np.testing.assert_allclose(layer.backward(R[i:i + 1].copy()), dX[i:i + 1], atol=1e-12)


@pytest.mark.parametrize("dilation", [10_000, 46_340, 65_536])
def test_huge_dilation_on_a_tiny_image(dilation):
    """Out-of-bounds write (10,000), free(): invalid pointer (65,536), no return in
    60 s (46,340) before: now only the centre tap sees the image."""
    layer = _built(nn.Conv2D(2, 3, dilation=dilation, padding="same"), (1, 4, 4), np.float64)
    X = np.random.default_rng(1).standard_normal((3, 1, 4, 4))
    Y = layer.forward(X, training=True)
    W, b = layer.params["weight"], layer.params["bias"]
    expected = np.einsum("oc,nchw->nohw", W[:, :, 1, 1], X) + b[None, :, None, None]
    np.testing.assert_allclose(Y, expected, atol=1e-12)
    dX = layer.backward(np.ones_like(Y))
    np.testing.assert_allclose(dX, np.broadcast_to(W[:, :, 1, 1].sum(axis=0)[None, :, None, None],
                                                   X.shape), atol=1e-12)


@pytest.mark.parametrize("padding", [1, 3, "same"])
def test_huge_stride_with_padding(padding):
    """A stride near 2**31 overflowed the first-valid-output computation (found by
    tests/test_fuzz.py: a segfault in the forward pass)."""
    layer = _built(nn.Conv2D(2, 3, stride=2 ** 31 - 1, padding=padding), (1, 5, 5), np.float64)
    X = np.random.default_rng(2).standard_normal((2, 1, 5, 5))
    Y = layer.forward(X, training=True)
    Yr = ref.conv2d(X, layer.params["weight"], layer.params["bias"], layer.stride,
                    (layer._ph, layer._pw), (1, 1), Y.shape[2:])
    np.testing.assert_allclose(Y, Yr, atol=1e-12)
    dX = layer.backward(np.ones_like(Y))
    dXr = ref.conv2d_backward(X, layer.params["weight"], np.ones_like(Y), layer.stride,
                              (layer._ph, layer._pw), (1, 1))[0]
    np.testing.assert_allclose(dX, dXr, atol=1e-12)


# -- build refuses what the kernels cannot index ---------------------------------

@pytest.mark.parametrize("make,shape,match", [
    (lambda: nn.Conv2D(2, 3, dilation=2 ** 30, padding="same"), (1, 4, 4), "padded height"),
    (lambda: nn.Conv2D(2, 3, padding=100_000), (1, 4, 4), "outputs"),
    (lambda: nn.Conv2D(2, 3, padding=20_000), (3, 4, 4), "outputs"),
    (lambda: nn.Conv2D(2, 3, stride=2, padding=2_000), (64, 4, 4), "lowered input"),
    (lambda: nn.Conv2D(4, 40_000), (1, 40_000, 40_000), "weights|input values"),
    (lambda: nn.Upsample2D(2 ** 16), (1, 8, 8), "outputs"),
    (lambda: nn.MaxPool2D(2), (1, 2 ** 16, 2 ** 16), "input values"),
])
def test_build_refuses_sizes_beyond_the_kernels(make, shape, match):
    layer = make()
    with pytest.raises(ValueError, match=match) as info:
        layer.build(shape)
    assert "2**31 - 1" in str(info.value) and type(layer).__name__ in str(info.value)
    assert layer.input_shape is None  # still unbuilt


def test_geometry_parameters_beyond_32_bits_are_refused():
    for kw in (dict(stride=2 ** 31), dict(dilation=2 ** 31), dict(kernel_size=2 ** 32),
               dict(padding=2 ** 31)):
        with pytest.raises(ValueError, match="2\\*\\*31 - 1"):
            nn.Conv2D(2, **{"kernel_size": 3, **kw})
    with pytest.raises(ValueError, match="2\\*\\*31 - 1"):
        nn.MaxPool2D(2, stride=2 ** 40)
    with pytest.raises(ValueError, match=">= 1"):
        nn.Upsample2D(0)


def test_build_refuses_empty_images_and_bad_shapes():
    with pytest.raises(ValueError, match="C, H, W >= 1"):
        nn.Conv2D(2, 1).build((0, 4, 4))
    with pytest.raises(ValueError, match="C, H, W >= 1"):
        nn.GlobalAvgPool2D().build((2, 0, 3))
    with pytest.raises(ValueError, match="sizes >= 0"):
        nn.Dense(3).build((-2,))
    with pytest.raises(ValueError, match="fixed size on axis 1"):
        nn.Dense(3).build((None,))
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Dense(3).build(5)


# -- forward: shapes -----------------------------------------------------------------

@pytest.mark.parametrize("layer,shape,bad,expected", [
    (nn.MaxPool2D(2), (1, 8, 8), (64, 64, 8, 8), r"\(n, 1, 8, 8\)"),
    (nn.AvgPool2D(2), (1, 8, 8), (2, 1, 8, 9), r"\(n, 1, 8, 8\)"),
    (nn.GlobalAvgPool2D(), (3, 4, 4), (2, 3, 4), r"\(n, 3, 4, 4\)"),
    (nn.Upsample2D(2), (2, 3, 3), (2, 2, 3, 4), r"\(n, 2, 3, 3\)"),
    (nn.Conv2D(4, 3), (1, 8, 8), (2, 1, 5, 5), r"\(n, 1, 8, 8\)"),
    (nn.Dense(3), (5,), (2, 4), r"\(n, 5\)"),
    (nn.Dense(3), (5,), (5,), r"\(n, 5\)"),
    (nn.Flatten(), (2, 3), (4, 3, 2), r"\(n, 2, 3\)"),
    (nn.LSTM(4), (6, 3), (2, 6, 2), r"\(n, T, 3\)"),
    (nn.GRU(4, return_sequences=True), (6, 3), (2, 3), r"\(n, T, 3\)"),
    (nn.Sequential([nn.Conv2D(2, 3), nn.MaxPool2D(2)]), (1, 8, 8), (64, 64, 8, 8),
     r"Sequential expects X of shape \(n, 1, 8, 8\)"),
    (nn.Sequential([nn.Dropout(0.1), nn.LSTM(4)]), (6, 3), (2, 6, 5), r"\(n, T, 3\)"),
    (nn.Activation("relu"), (4,), (2, 4, 1), r"2 axes"),
    (nn.RepeatSteps(3), (4,), (2, 5), r"\(n, 4\)"),
    (nn.TimeDistributedDense(2), (5, 3), (2, 5, 4), r"\(n, T, 3\)"),
    (nn.Reshape((2, 3)), (6,), (2, 5), r"\(n, 6\)"),
])
def test_forward_refuses_the_wrong_shape(layer, shape, bad, expected):
    _built(layer, shape)
    X = np.ones(bad, np.float32)
    with pytest.raises(ValueError, match=expected) as info:
        layer.forward(X)
    assert type(layer).__name__ in str(info.value) and str(bad) in str(info.value)


def test_free_axes_accept_any_size():
    lstm = _built(nn.LSTM(4, return_sequences=True), (6, 3), np.float64)
    X = np.random.default_rng(0).standard_normal((2, 9, 3))
    assert lstm.forward(X).shape == (2, 9, 4)
    net = _built(nn.Sequential([nn.Dropout(0.2), nn.GRU(3, return_sequences=True),
                                nn.TimeDistributedDense(2)]), (None, 3))
    assert net.input_shape == (-1, 3) and net.output_shape == (-1, 2)
    Y = net.forward(X, training=True)
    assert Y.shape == (2, 9, 2)
    assert net.backward(np.ones_like(Y)) is not None
    act = _built(nn.Activation("tanh"), (4,))
    assert act.forward(np.zeros((3, 7))).shape == (3, 7)


def test_forward_before_build():
    for layer in (nn.Dense(3), nn.Conv2D(1, 1), nn.Sequential([nn.Dense(2)])):
        with pytest.raises(RuntimeError, match=f"{type(layer).__name__} is not built"):
            layer.forward(np.zeros((1, 3)))


def test_failed_build_leaves_the_layer_unbuilt():
    layer = nn.Conv2D(2, 3)
    layer.build((1, 8, 8))
    with pytest.raises(ValueError):
        layer.build((1, 2, 2))
    with pytest.raises(RuntimeError, match="not built"):
        layer.forward(np.zeros((1, 1, 2, 2), np.float32))


# -- forward: dtype, layout, containers ---------------------------------------------

POOLS = [nn.MaxPool2D(2), nn.AvgPool2D(2), nn.GlobalAvgPool2D(), nn.Upsample2D(2)]


@pytest.mark.parametrize("layer", POOLS + [nn.Conv2D(2, 3, padding=1)],
                         ids=lambda layer: type(layer).__name__)
def test_dtype_layout_and_lists_are_converted(layer):
    """float64 into a float32 layer was 'Buffer dtype mismatch', a Fortran-ordered
    batch 'ndarray is not C-contiguous', a list an AttributeError."""
    _built(layer, (2, 4, 6))
    X = np.random.default_rng(0).standard_normal((3, 2, 4, 6))
    expected = layer.forward(X.astype(np.float32)).copy()
    before = X.copy()
    for variant in (X, np.asfortranarray(X), X.tolist(), X[:, :, :, ::-1][:, :, :, ::-1],
                    X.astype(np.float16).astype(np.float64)):
        Y = layer.forward(variant)
        assert Y.dtype == np.float32
        np.testing.assert_allclose(Y, expected, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(X, before)  # never modified
    assert layer.forward(np.ones((2, 2, 4, 6), np.int64)).dtype == np.float32


@pytest.mark.parametrize("bad,match", [
    (sp.csr_matrix(np.ones((2, 5))), "sparse"),
    (np.ones((2, 5), complex), "complex"),
    (np.array([["a"] * 5] * 2), "<U1"),
    (np.ones((2, 5), object), "object"),
    ([[1.0] * 5, [1.0] * 4], "could not read X"),
    ("hello", "<U5"),
])
def test_forward_refuses_what_is_not_real_numbers(bad, match):
    layer = _built(nn.Dense(3), (5,))
    with pytest.raises(TypeError, match=match) as info:
        layer.forward(bad)
    assert "Dense" in str(info.value)


# -- backward ---------------------------------------------------------------------------

def test_backward_before_forward_names_the_layer():
    """Dense.backward before forward was AttributeError: '_Y'."""
    for layer in (nn.Dense(3), nn.Conv2D(1, 1), nn.MaxPool2D(1), nn.LSTM(2),
                  nn.Sequential([nn.Dense(2)])):
        _built(layer, (1, 3) if isinstance(layer, nn.LSTM) else
               (3,) if isinstance(layer, (nn.Dense, nn.Sequential)) else (1, 3, 3))
        with pytest.raises(RuntimeError, match=type(layer).__name__ + r"\.backward needs"):
            layer.backward(np.zeros((1,) + layer.output_shape, np.float32))
        X = np.zeros((1,) + layer.input_shape, np.float32)
        layer.forward(X)  # inference keeps nothing for backward
        with pytest.raises(RuntimeError, match=r"forward\(X, training=True\)"):
            layer.backward(np.zeros((1,) + layer.output_shape, np.float32))


def test_lstm_backward_twice():
    """The second backward was a TypeError from inside the layer."""
    layer = _built(nn.LSTM(3), (4, 2))
    Y = layer.forward(np.ones((2, 4, 2), np.float32), training=True)
    layer.backward(np.ones_like(Y))
    with pytest.raises(RuntimeError, match="LSTM.backward needs a forward"):
        layer.backward(np.ones_like(Y))
    net = _built(nn.Sequential([nn.LSTM(3), nn.Dense(1)]), (4, 2))
    Y = net.forward(np.ones((2, 4, 2), np.float32), training=True)
    net.backward(np.ones_like(Y))
    with pytest.raises(RuntimeError, match="LSTM.backward"):
        net.backward(np.ones_like(Y))


@pytest.mark.parametrize("layer,shape,n", [
    (nn.MaxPool2D(2), (1, 8, 8), 4),      # scattered to garbage indices
    (nn.MaxPool2D(3, stride=1), (2, 5, 5), 3),
    (nn.AvgPool2D(2), (1, 8, 8), 4),      # overflow
    (nn.Upsample2D(2), (2, 3, 3), 4),
    (nn.GlobalAvgPool2D(), (2, 3, 3), 4),
    (nn.Conv2D(2, 3, activation="tanh"), (1, 6, 6), 4),  # read past Y
    (nn.Conv2D(2, 3, activation="logistic", use_bias=False), (1, 6, 6), 4),
    (nn.Conv2D(2, 3, activation="relu"), (1, 6, 6), 4),
    (nn.Activation("tanh"), (5,), 4),
    (nn.Dense(3, activation="tanh", use_bias=False), (5,), 4),
    (nn.Dense(3), (5,), 4),
    (nn.LSTM(3), (4, 2), 4),               # non-finite gradients (out-of-bounds read)
    (nn.LSTM(3, return_sequences=True), (4, 2), 5),
    (nn.Sequential([nn.Conv2D(2, 3), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(2)]),
     (1, 6, 6), 4),
])
def test_backward_refuses_dY_that_is_not_the_last_training_output(layer, shape, n):
    _built(layer, shape)
    X = np.random.default_rng(0).standard_normal((n,) + shape).astype(np.float32)
    Y = layer.forward(X, training=True)
    out = Y.shape
    name = type(layer).__name__
    wrong = [(n - 1,) + out[1:], (n + 1,) + out[1:], out[:-1] + (out[-1] + 1,),
             (out[1], out[0]) + out[2:], out[1:], out + (1,)]
    for bad in wrong:
        if bad == out:
            continue
        with pytest.raises(ValueError, match=rf"{name}\.backward expects dY of shape") as info:
            layer.backward(np.ones(bad, np.float32))
        assert str(out) in str(info.value) and str(bad) in str(info.value)
    # right shape, other dtype/layout/container: converted
    dX = layer.backward(np.ones(out, np.float32)).copy()
    layer.forward(X, training=True)
    np.testing.assert_allclose(layer.backward(np.ones(out[::-1]).T), dX, rtol=1e-6)
    layer.forward(X, training=True)
    np.testing.assert_allclose(layer.backward(np.ones(out).tolist()), dX, rtol=1e-6)


def test_lstm_time_major_dY_is_refused():
    """dY of shape (T, n, H) for (n, T, H) was accepted."""
    layer = _built(nn.LSTM(3, return_sequences=True), (4, 2))
    layer.forward(np.ones((2, 4, 2), np.float32), training=True)
    with pytest.raises(ValueError, match=r"\(2, 4, 3\)"):
        layer.backward(np.ones((4, 2, 3), np.float32))


def test_encoder_decoder_checks_codes_and_inputs():
    net = _built(nn.EncoderDecoder([nn.Dense(3, "tanh")], [nn.Dense(5)]), (5,))
    with pytest.raises(ValueError, match=r"EncoderDecoder expects X of shape \(n, 5\)"):
        net.encode(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"EncoderDecoder.decode expects codes of shape \(n, 3\)"):
        net.decode(np.zeros((2, 5)))
    Z = net.encode(np.zeros((2, 5)).tolist())
    assert net.decode(Z.astype(np.float64)).shape == (2, 5)


def test_pickle_keeps_no_training_call():
    layer = _built(nn.Dense(2), (3,))
    layer.forward(np.ones((4, 3), np.float32), training=True)
    clone = pickle.loads(pickle.dumps(layer))
    with pytest.raises(RuntimeError, match="backward needs"):
        clone.backward(np.ones((4, 2), np.float32))


# -- the kernels check their own arguments (O(1)) --------------------------------------------

def test_pool_kernels_refuse_inconsistent_shapes():
    X = np.ones((2, 1, 8, 8), np.float32)
    idx = np.empty((2, 1, 4, 4), np.int32)
    with pytest.raises(ValueError, match="maxpool2d_forward"):
        kp.maxpool2d_forward(X, np.empty((2, 1, 5, 4), np.float32), idx, 2, 2, 2, 2, 1)
    with pytest.raises(ValueError, match="argmax"):
        kp.maxpool2d_forward(X, np.empty((2, 1, 4, 4), np.float32), idx[:1], 2, 2, 2, 2, 1)
    with pytest.raises(ValueError, match="maxpool2d_backward"):
        kp.maxpool2d_backward(np.ones((4, 1, 4, 4), np.float32), idx, X.copy(), 2, 2, 2, 2, 1)
    with pytest.raises(ValueError, match="avgpool2d_forward"):
        kp.avgpool2d_forward(X, np.empty((2, 1, 4, 4), np.float32), 3, 3, 2, 2, 1)
    with pytest.raises(ValueError, match="does not fit"):
        kp.avgpool2d_forward(X, np.empty((2, 1, 0, 0), np.float32), 9, 9, 1, 1, 1)
    with pytest.raises(ValueError, match="avgpool2d_backward"):
        kp.avgpool2d_backward(np.ones((64, 64, 4, 4), np.float32), X.copy(), 2, 2, 2, 2, 1)
    with pytest.raises(ValueError, match="global_avgpool_forward"):
        kp.global_avgpool_forward(X, np.empty((1, 1), np.float32), 1)
    with pytest.raises(ValueError, match="global_avgpool_backward"):
        kp.global_avgpool_backward(np.ones((2, 3), np.float32), X.copy(), 1)
    with pytest.raises(ValueError, match="upsample_nearest_forward"):
        kp.upsample_nearest_forward(X, np.empty((2, 1, 16, 15), np.float32), 2, 2, 1)
    with pytest.raises(ValueError, match="upsample_nearest_backward"):
        kp.upsample_nearest_backward(np.ones((2, 1, 8, 8), np.float32), X.copy(), 2, 2, 1)


def _conv_args(n=2, C=1, H=6, W=6, Co=2, k=3, Ho=4, Wo=4, nt=1):
    plan = kc.conv2d_plan(C, k, k, 1, 1, Co, Ho, Wo)
    f = np.float32
    return dict(X=np.ones((n, C, H, W), f), Wt=np.ones((Co, C, k, k), f), b=np.ones(Co, f),
                Y=np.empty((n, Co, Ho, Wo), f), col=np.empty((nt, plan["col"]), f),
                g=np.empty((nt, plan["g"]), f), acc=np.empty((nt, plan["acc"]), f),
                wr=np.empty(plan["wr"], f))


def test_conv_kernels_refuse_inconsistent_arguments():
    def fwd(a, pad=0, dil=1, nt=1):
        kc.conv2d_forward(a["X"], a["Wt"], a["b"], a["Y"], a["col"], a["g"], a["wr"],
                          1, 1, pad, pad, dil, dil, False, nt)

    def bwd(a, dY, nt=1):
        kc.conv2d_backward(a["X"], a["Wt"], dY, dY, np.empty_like(a["X"]),
                           np.empty_like(a["Wt"]), np.empty_like(a["b"]), a["col"], a["g"],
                           a["acc"], a["wr"], 1, 1, 0, 0, 1, 1, False, True, nt)

    fwd(_conv_args())  # consistent: fine
    a = _conv_args()
    a["Y"] = np.empty((2, 2, 0, 4), np.float32)
    with pytest.raises(ValueError, match="empty output"):
        fwd(a)
    a = _conv_args()
    a["Wt"] = np.ones((2, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="input channels"):
        fwd(a)
    a = _conv_args()
    a["b"] = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="bias"):
        fwd(a)
    a = _conv_args()
    a["Y"] = np.empty((3, 2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="output"):
        fwd(a)
    a = _conv_args()
    a["col"] = a["col"][:, :-1]
    with pytest.raises(ValueError, match="scratch col"):
        fwd(a)
    with pytest.raises(ValueError, match="scratch col"):
        fwd(_conv_args(n=64, nt=1), nt=2)  # two groups on two threads, one row of scratch
    with pytest.raises(ValueError, match="dilation"):
        fwd(_conv_args(), dil=0)
    with pytest.raises(ValueError, match="padding"):
        fwd(_conv_args(), pad=-1)
    a = _conv_args()
    bwd(a, np.ones((2, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="conv2d_backward"):
        bwd(a, np.ones((3, 2, 4, 4), np.float32))
    a["acc"] = a["acc"][:, :3]
    with pytest.raises(ValueError, match="scratch acc"):
        bwd(a, np.ones((2, 2, 4, 4), np.float32))
