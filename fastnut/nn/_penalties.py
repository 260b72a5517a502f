"""Activity penalties: layers that add a term to the training objective.

* ``SparsityPenalty``: identity layer adding a KL-divergence or L1 sparsity
  penalty on its input (the code).
* ``ContractiveDense``: a ``Dense`` that adds the contractive penalty
  (squared Frobenius norm of its Jacobian); ``ContractiveEncoder`` does the
  same for the Jacobian of a whole stack of dense layers.

A layer that adds a term to the objective sets ``self.penalty`` (a float) in
``forward(X, training=True)`` and adds the term's gradient in ``backward``.
``Sequential.penalty`` sums its layers' and ``nn.Trainer`` adds it to the
batch loss.  Penalties are averaged over the batch's rows, like the losses
without sample weights.  The contractive layers hand their gradient terms to
``Dense._backward(dY, extra_dz, extra_dw)``, so the backward pass (and its
GEMM kernel) is ``Dense``'s own.
"""
import numpy as np

from ._activations import slope, slope_derivative
from ._base import Layer
from ._layers import Dense
from ._linalg import gram, matmul
from ._sequential import Sequential


def _mm(A, B):
    """``A @ B`` into a new array, through the engine's GEMM dispatch."""
    return matmul(A, B, np.empty((A.shape[0], B.shape[1]), np.result_type(A, B)))


class SparsityPenalty(Layer):
    """Identity layer adding a sparsity penalty on its input activations.

    Parameters
    ----------
    kind : {"kl", "l1"}, default="kl"
    target : float, default=0.05
        Target mean activation ``ρ`` of each unit (``kind="kl"``).
    weight : float, default=0.1
        ``β`` below.

    Notes
    -----
    With ``ρ̂_j = (1/n) Σ_i h_ij`` (clipped into ``[ε, 1-ε]``), the KL
    penalty is

    .. math::

        P = β \\sum_j ρ \\log\\frac{ρ}{ρ̂_j} + (1-ρ)\\log\\frac{1-ρ}{1-ρ̂_j},
        \\qquad \\frac{∂P}{∂h_{ij}} = \\frac{β}{n}\\left(-\\frac{ρ}{ρ̂_j}
        + \\frac{1-ρ}{1-ρ̂_j}\\right),

    which needs activations in ``[0, 1]`` (a logistic code).  The L1 penalty
    is ``P = (β/n) Σ_ij |h_ij|`` with gradient ``(β/n) sign(h_ij)``.
    """

    elementwise = True


    def __init__(self, kind="kl", target=0.05, weight=0.1):
        super().__init__()
        if kind not in ("kl", "l1"):
            raise ValueError(f"sparsity kind must be 'kl' or 'l1', got {kind!r}")
        self.kind = kind
        self.target = float(target)
        if kind == "kl" and not 0.0 < self.target < 1.0:
            raise ValueError(f"sparsity target must be in (0, 1), got {target!r}")
        self.weight = float(weight)
        if self.weight < 0:
            raise ValueError(f"sparsity weight must be >= 0, got {weight!r}")
        self.penalty = 0.0

    def get_config(self):
        return {"kind": self.kind, "target": self.target, "weight": self.weight}

    def _forward(self, X, training=False):
        if training:
            n = X.shape[0]
            if self.kind == "kl":
                eps = np.finfo(self.dtype).eps
                rho, rh = self.target, np.clip(X.mean(axis=0), eps, 1 - eps)
                self.penalty = self.weight * float(np.sum(
                    rho * np.log(rho / rh) + (1 - rho) * np.log((1 - rho) / (1 - rh))))
                self._dh = ((self.weight / n) * (-rho / rh + (1 - rho) / (1 - rh))).astype(
                    self.dtype)
            else:
                self.penalty = self.weight / n * float(np.abs(X).sum())
            self._X = X
        return X

    def _backward(self, dY):
        dX = self._buffer("dX", dY.shape)
        if self.kind == "kl":
            np.add(dY, self._dh, out=dX)
        else:
            np.sign(self._X, out=dX)
            dX *= self.weight / dY.shape[0]
            dX += dY
        return dX

    _forward_state = Layer._forward_state + ("_dh",)


class ContractiveDense(Dense):
    """Dense layer that adds the contractive penalty of its Jacobian.

    Parameters
    ----------
    units : int
        Output width.
    activation : {"identity", "relu", "tanh", "logistic"}, default="logistic"
        The activation ``s`` of the layer.
    use_bias : bool, default=True
        Add a learned bias ``params["bias"]``.
    init_factor : float, default=6.0
        Glorot-uniform bound factor, as for ``Dense``.
    contractive_weight : float, default=0.1
        ``λ`` below.

    Notes
    -----
    With ``h = s(z)``, ``z = x W + b``, the Jacobian ``∂h/∂x`` of one sample
    is ``diag(s'(z)) Wᵀ``, so

    .. math::

        P = \\frac{λ}{n} \\sum_i \\lVert J(x_i) \\rVert_F^2
          = \\frac{λ}{n} \\sum_i \\sum_j s'(z_{ij})^2 \\sum_k W_{kj}^2 .

    Writing ``g = s'(z)²`` and ``w_j = Σ_k W_kj²``:
    ``∂P/∂W_kj = (2λ/n) W_kj Σ_i g_ij`` directly, plus the path through
    ``z`` with ``∂P/∂z_ij = (λ/n) w_j ∂g_ij/∂z_ij``, where ``∂g/∂z`` is
    ``2 h²(1-h)²(1-2h)`` for logistic, ``-4 h (1-h²)²`` for tanh and 0 for
    relu and identity (piecewise constant slopes).  ``s'(z)`` is recovered
    from ``h``, so nothing but the forward buffers is kept.
    """

    def __init__(self, units, activation="logistic", use_bias=True, init_factor=6.0,
                 contractive_weight=0.1):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         init_factor=init_factor)
        self.contractive_weight = float(contractive_weight)
        if self.contractive_weight < 0:
            raise ValueError(f"contractive_weight must be >= 0, got {contractive_weight!r}")
        self.penalty = 0.0

    def get_config(self):
        return {**super().get_config(), "contractive_weight": self.contractive_weight}

    def _forward(self, X, training=False):
        Y = super()._forward(X, training=training)
        if training:
            W = self.params["weight"]
            wsq = self._buffer("wsq", (self.units,))
            np.einsum("kj,kj->j", W, W, out=wsq)
            S = slope(self.activation, Y, self._buffer("S", Y.shape))
            if self.activation != "relu":
                S *= S  # g = s'(z)^2 (relu's 0/1 slope is its own square)
            G = self._buffer("G", (self.units,))
            np.sum(S, axis=0, out=G)
            self._wsq, self._g, self._G = wsq, S, G
            self.penalty = (self.contractive_weight / max(X.shape[0], 1)
                            * float(np.dot(G, wsq)))
        return Y

    _forward_state = Dense._forward_state + ("_wsq", "_g", "_G")

    def _backward(self, dY):
        lam_n = self.contractive_weight / dY.shape[0]
        extra_dz = None
        if self.activation in ("logistic", "tanh"):
            # dP/dz = lam/n * w_j * dg/dz, with dg/dz = g * (2(1-2h) | -4h)
            extra_dz = self._buffer("dg", dY.shape)
            np.multiply(self._Y, -4.0, out=extra_dz)
            if self.activation == "logistic":
                extra_dz += 2.0
            extra_dz *= self._g
            extra_dz *= self._wsq
            extra_dz *= lam_n
        # dP/dW_kj = (2 lam / n) W_kj G_j, the direct term
        extra_dw = self._buffer("dw", self.params["weight"].shape)
        np.multiply(self.params["weight"], self._G, out=extra_dw)
        extra_dw *= 2.0 * lam_n
        return super()._backward(dY, extra_dz=extra_dz, extra_dw=extra_dw)


class ContractiveEncoder(Sequential):
    """Dense layers whose whole Jacobian is penalised (deep contractive encoder).

    Parameters
    ----------
    layers : list of Dense
        The encoder, input to code.
    contractive_weight : float, default=0.1
        ``λ`` below.

    Notes
    -----
    With ``h_l = s_l(z_l)``, ``z_l = h_{l-1} W_l + b_l`` and
    ``D_l = diag(s_l'(z_l))``, the Jacobian of one sample is the product
    ``J = D_L W_Lᵀ ⋯ D_1 W_1ᵀ`` and the penalty is

    .. math::

        Ω = \\frac{λ}{n} \\sum_i \\lVert J(x_i) \\rVert_F^2 .

    Writing ``J = P_L W_1ᵀ`` with ``P_1 = D_1`` and ``P_l = D_l W_lᵀ P_{l-1}``,
    ``‖J‖_F² = Σ (P_L C) ∘ P_L`` with ``C = W_1ᵀ W_1``, so the batch arrays
    are ``width_l × n × width_1`` (never as wide as the input).  The reverse
    pass, with ``A_l = W_lᵀ P_{l-1}``: ``∂Ω/∂s_l' = Σ ∂Ω/∂P_l ∘ A_l`` flows
    into ``z_l`` through ``s_l''`` and joins the ordinary backward pass;
    ``∂Ω/∂W_l`` gains ``Σ P_{l-1} (∂Ω/∂A_l)ᵀ``, ``∂Ω/∂P_{l-1} = W_l ∂Ω/∂A_l``,
    and ``∂Ω/∂W_1`` gains ``2 W_1 ∂Ω/∂C``.  Two layers at least; for one,
    ``ContractiveDense`` is the closed form.
    """

    def __init__(self, layers, contractive_weight=0.1):
        super().__init__(layers)
        for layer in self.layers:
            if type(layer) is not Dense:
                raise TypeError("ContractiveEncoder takes Dense layers, got "
                                f"{type(layer).__name__}")
        if len(self.layers) < 2:
            raise ValueError("ContractiveEncoder needs at least two Dense layers; use "
                             "ContractiveDense for one")
        self.contractive_weight = float(contractive_weight)
        if self.contractive_weight < 0:
            raise ValueError(f"contractive_weight must be >= 0, got {contractive_weight!r}")
        self._penalty = 0.0

    def get_config(self):
        return {"layers": self.layers, "contractive_weight": self.contractive_weight}

    @property
    def penalty(self):
        return self._penalty

    # With P_1 = D_1 and P_l = D_l W_lᵀ P_{l-1} (per sample, width_l × width_1),
    # J = P_L W_1ᵀ and ‖J‖² = Σ (P_L C) ∘ P_L with C = W_1ᵀ W_1: the batch
    # arrays are (width_l, n, width_1) in C order, never as wide as the input,
    # so that each product with a weight matrix is one GEMM and every
    # reduction of the reverse pass runs over contiguous rows.
    def _forward(self, X, training=False):
        if not training:
            return super()._forward(X)
        outs = []
        for layer in self.layers:
            X = layer._forward(X, training=True)
            outs.append(X)
        lam, n = self.contractive_weight, X.shape[0]
        W = [layer.params["weight"] for layer in self.layers]
        S = [slope(layer.activation, Y, np.empty_like(Y))   # (n, width_l)
             for layer, Y in zip(self.layers, outs)]
        W2T = np.ascontiguousarray(W[1].T)
        # layer 2 from the diagonal P_1 without building it:
        # P_2[j, i, k] = s_2[i, j] W_2[k, j] s_1[i, k]
        P = self._buffer("P2", (W2T.shape[0], n, W2T.shape[1]))
        np.multiply(W2T[:, None, :], S[0][None, :, :], out=P)
        P *= S[1].T[:, :, None]
        As, Ps = [None, None], [None, P]
        for l in range(2, len(W)):
            k = P.shape[0]
            A = _mm(W[l].T, P.reshape(k, -1)).reshape(W[l].shape[1], n, -1)
            P = S[l].T[:, :, None] * A
            As.append(A)
            Ps.append(P)
        C = gram(W[0])
        Q = P.reshape(-1, C.shape[0])
        QC = matmul(Q, C, self._buffer("QC", Q.shape))
        self._outs, self._slopes, self._As, self._Ps, self._QC = outs, S, As, Ps, QC
        # (an empty batch has no penalty: max(n, 1) keeps 0/0 out)
        self._penalty = lam / max(n, 1) * float(np.dot(QC.reshape(-1), Q.reshape(-1)))
        return X

    _forward_state = ("_outs", "_slopes", "_As", "_Ps", "_QC")

    def clear_forward_state(self):
        super().clear_forward_state()
        for name in self._forward_state:
            self.__dict__.pop(name, None)

    def _backward(self, dY):
        layers = self.layers
        n = dY.shape[0]
        L = len(layers)
        # every term below is linear in dP = c QC: the reverse pass runs on
        # QC itself and c scales the (small) results
        c = 2.0 * self.contractive_weight / max(n, 1)
        W = [layer.params["weight"] for layer in layers]
        S = self._slopes
        P = self._Ps[-1]
        Q = P.reshape(-1, P.shape[2])
        dW_extra = [None] * L
        dW_extra[0] = _mm(W[0], gram(Q))   # through C = W_1ᵀ W_1
        dP = self._QC.reshape(P.shape)
        dS = [None] * L
        for l in range(L - 1, 1, -1):
            A = self._As[l]
            width, k = A.shape[0], self._Ps[l - 1].shape[0]
            dS[l] = np.einsum("jik,jik->ij", dP, A)
            dA2 = (dP * S[l].T[:, :, None]).reshape(width, -1)
            dW_extra[l] = _mm(self._Ps[l - 1].reshape(k, -1), dA2.T)
            dP = _mm(W[l], dA2).reshape(k, n, -1)
        # layer 2, whose A_2[j, i, k] = W_2[k, j] s_1[i, k] is not kept:
        # V = dP ∘ s_1 gives dS_2 = V W_2 and dW_2 = Σ_i s_2 V; Z = dP ∘ W_2ᵀ
        # gives dS_1 = Σ_j s_2 Z
        W2T = np.ascontiguousarray(W[1].T)
        V = self._buffer("V", dP.shape)
        np.multiply(dP, S[0][None, :, :], out=V)
        dS[1] = np.matmul(V, W2T[:, :, None])[:, :, 0].T
        dW_extra[1] = np.matmul(S[1].T[:, None, :], V)[:, 0, :].T
        Z = np.multiply(dP, W2T[:, None, :], out=V)
        dS[0] = np.matmul(S[1][:, None, :], Z.transpose(1, 0, 2))[:, 0, :]
        # the ordinary backward pass of each Dense, with the penalty's terms
        # handed to its gradient hook
        D = dY
        for l in range(L - 1, -1, -1):
            ds = slope_derivative(layers[l].activation, self._outs[l], S[l])
            extra_dz = None if ds is None else np.ascontiguousarray(c * dS[l] * ds)
            dW_extra[l] *= c
            D = layers[l]._backward(D, extra_dz=extra_dz,
                                    extra_dw=np.ascontiguousarray(dW_extra[l]))
            if D is None:
                return None
        return D
