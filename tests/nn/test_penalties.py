"""Activity and contractive penalties (SparsityPenalty, ContractiveDense,
ContractiveEncoder): values against the NumPy oracles in tests/_reference/autoencoder.py,
gradients against central finite differences."""
import numpy as np
import pytest

from fastnut import nn
from fastnut.nn import ContractiveDense, ContractiveEncoder, SparsityPenalty
from tests._reference import autoencoder as ref
from tests._reference.gradcheck import numerical_gradient

@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu", "identity"])
def test_contractive_penalty_is_the_jacobian_frobenius_norm(activation):
    rng = np.random.default_rng(1)
    layer = ContractiveDense(4, activation=activation, contractive_weight=0.3)
    layer.build((5,), random_state=0, dtype=np.float64)
    X = rng.standard_normal((6, 5))
    layer.forward(X, training=True)
    want = ref.contractive_penalty(X, layer.params["weight"], layer.params["bias"],
                                   activation, 0.3)
    np.testing.assert_allclose(layer.penalty, want, rtol=1e-6)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu"])
def test_deep_contractive_penalty_is_the_whole_encoder_jacobian_norm(activation, depth):
    rng = np.random.default_rng(6)
    layers = [nn.Dense(4, activation=activation), nn.Dense(3, activation=activation),
              nn.Dense(2, activation="logistic")][3 - depth:]
    enc = ContractiveEncoder(layers, contractive_weight=0.4)
    enc.build((5,), random_state=0, dtype=np.float64)
    X = rng.standard_normal((6, 5))
    enc.forward(X, training=True)
    want = ref.encoder_contractive_penalty(
        X, [l.params["weight"] for l in layers], [l.params["bias"] for l in layers],
        [l.activation for l in layers], 0.4)
    np.testing.assert_allclose(enc.penalty, want, rtol=1e-6)
    # and its gradients (with the layer's own output term) match finite differences
    R = rng.standard_normal((6, 2))

    def objective():
        return float(np.sum(enc.forward(X, training=True) * R)) + enc.penalty

    objective()
    dX = enc.backward(R.copy()).copy()
    analytic = {k: g.copy() for k, g in enc.grads.items()}
    np.testing.assert_allclose(dX, numerical_gradient(objective, X), rtol=1e-5, atol=1e-8)
    for k, p in enc.params.items():
        np.testing.assert_allclose(analytic[k], numerical_gradient(objective, p),
                                   rtol=1e-5, atol=1e-8, err_msg=k)


@pytest.mark.parametrize("depth", [2, 3])
def test_deep_contractive_float32_matches_float64(depth):
    """float32 takes the GEMM kernel and its Gram product (ssyrk); float64
    takes NumPy: the same penalty and gradients to float32 precision."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 50))
    R = rng.standard_normal((40, 8))
    got = {}
    for dtype in (np.float64, np.float32):
        layers = [nn.Dense(w, activation="logistic") for w in (48, 24, 8)[3 - depth:]]
        enc = ContractiveEncoder(layers, contractive_weight=0.4)
        enc.build((50,), random_state=0, dtype=dtype)
        if dtype == np.float32:  # the same weights as the float64 encoder
            for k, p in enc.params.items():
                p[...] = got[np.float64][1][k]
        else:
            params = {k: p.copy() for k, p in enc.params.items()}
        enc.forward(X.astype(dtype), training=True)
        dX = enc.backward(R.astype(dtype))
        got[dtype] = (enc.penalty, params, dX.copy(),
                      {k: g.astype(np.float64) for k, g in enc.grads.items()})
    (p64, _, dx64, g64), (p32, _, dx32, g32) = got[np.float64], got[np.float32]
    np.testing.assert_allclose(p32, p64, rtol=1e-5)
    np.testing.assert_allclose(dx32, dx64, rtol=2e-4, atol=1e-6)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], rtol=2e-4, atol=1e-6, err_msg=k)


def test_kl_sparsity_penalty_value_and_gradient():
    rng = np.random.default_rng(2)
    H = rng.uniform(0.05, 0.95, (8, 3))
    layer = SparsityPenalty("kl", target=0.1, weight=0.5)
    layer.build((3,), dtype=np.float64)
    layer.forward(H, training=True)
    np.testing.assert_allclose(layer.penalty, ref.kl_sparsity_penalty(H, 0.1, 0.5), rtol=1e-12)
    R = rng.standard_normal(H.shape)

    def objective():
        layer.forward(H, training=True)
        return float(np.sum(H * R)) + layer.penalty

    objective()
    analytic = layer.backward(R.copy()).copy()
    np.testing.assert_allclose(analytic, numerical_gradient(objective, H), rtol=1e-6, atol=1e-9)
