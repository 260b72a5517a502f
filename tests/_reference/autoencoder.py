"""Slow, obviously-correct NumPy references for the autoencoder penalties."""
import numpy as np

ACT = {"identity": lambda z: z, "relu": lambda z: np.maximum(z, 0),
       "tanh": np.tanh, "logistic": lambda z: 1 / (1 + np.exp(-z))}


def dense_forward(X, weights, biases, activations):
    """Chain of dense layers ``h = act(h @ W + b)``."""
    h = X
    for W, b, a in zip(weights, biases, activations):
        h = ACT[a](h @ W + b)
    return h


def jacobian_fd(f, x, eps=1e-6):
    """Central-difference Jacobian ``∂f/∂x`` of a vector function at one sample."""
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = eps
        cols.append((f(x + e) - f(x - e)) / (2 * eps))
    return np.stack(cols, axis=1)  # (out, in)


def contractive_penalty(X, W, b, activation, weight):
    """``(λ/n) Σ_i ‖∂h/∂x(x_i)‖_F²`` of one layer, from numerical Jacobians."""
    f = lambda x: ACT[activation](x @ W + b)  # noqa: E731
    return weight / len(X) * sum(float(np.sum(jacobian_fd(f, x) ** 2)) for x in X)


def kl_sparsity_penalty(H, target, weight):
    """``β Σ_j KL(ρ ‖ mean_i h_ij)`` for Bernoulli units."""
    rho_hat = H.mean(axis=0)
    return weight * float(np.sum(target * np.log(target / rho_hat)
                                 + (1 - target) * np.log((1 - target) / (1 - rho_hat))))


def encoder_contractive_penalty(X, weights, biases, activations, weight):
    """``(λ/n) Σ_i ‖∂f/∂x(x_i)‖_F²`` of a whole dense encoder ``f``, numerically."""
    f = lambda x: dense_forward(x[None], weights, biases, activations)[0]  # noqa: E731
    return weight / len(X) * sum(float(np.sum(jacobian_fd(f, x) ** 2)) for x in X)
