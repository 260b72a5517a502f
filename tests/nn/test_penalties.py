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


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu"])
def test_deep_contractive_penalty_is_the_whole_encoder_jacobian_norm(activation):
    rng = np.random.default_rng(6)
    layers = [nn.Dense(4, activation=activation), nn.Dense(3, activation=activation),
              nn.Dense(2, activation="logistic")]
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
