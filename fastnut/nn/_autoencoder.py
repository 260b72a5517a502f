"""Layers and a loss for autoencoders.

* ``EncoderDecoder``: a ``Sequential`` split into an encoder (``encode``) and
  a decoder (``decode``); it also completes the weight gradient of tied
  layers after the backward pass.
* ``TiedDense``: a dense layer whose weight is the transpose of another
  ``Dense`` layer's (tied-weight decoders).
* ``ContractiveDense``: a ``Dense`` that adds the contractive penalty (squared
  Frobenius norm of its Jacobian) to the loss; ``ContractiveEncoder`` does
  the same for the Jacobian of a whole stack of dense layers.
* ``SparsityPenalty``: identity layer adding a KL-divergence or L1 sparsity
  penalty on its input (the code).
* ``Corruption``: Gaussian or masking noise at training time (denoising).
* ``RepeatSteps`` and ``TimeDistributedDense``: the sequence decoder's
  "repeat the code over time" and "same dense layer at every step".
* ``Reshape``: back from a flat code to feature maps (convolutional decoder).
* ``SumSquaredError``: reconstruction loss summed over outputs, optionally
  ignoring NaN targets (padded steps of variable-length sequences).

Activity penalties
------------------
A layer that adds a term to the training objective sets ``self.penalty`` (a
float) in ``forward(X, training=True)`` and adds the term's gradient in
``backward``.  ``Sequential.penalty`` sums its layers' and ``nn.Trainer``
adds it to the batch loss.  Penalties are averaged over the batch's rows,
like the losses without sample weights.
"""
import threading

import numpy as np

from .._kernels import dense as _k
from .._threads import threads_for
from ._activations import ACTIVATION_CODES
from ._base import Layer
from ._layers import Dense
from ._losses import Loss
from ._sequential import Sequential


class EncoderDecoder(Sequential):
    """An encoder followed by a decoder, itself a layer.

    Parameters
    ----------
    encoder : list of Layer
        Maps inputs to codes.
    decoder : list of Layer
        Maps codes back to reconstructions.

    Notes
    -----
    ``forward`` is ``decode(encode(X))``.  For sequence inputs ``(n, T, F)``
    the ``RepeatSteps`` layers of the decoder repeat the code over the
    input's ``T`` steps.  After ``backward``, the weight gradient of every
    ``Dense`` tied to a ``TiedDense`` holds both uses of the weight.
    """

    def __init__(self, encoder, decoder):
        encoder, decoder = list(encoder), list(decoder)
        if not encoder or not decoder:
            raise ValueError("EncoderDecoder needs at least one encoder and one decoder layer")
        super().__init__(encoder + decoder)
        self.n_encoder_layers = len(encoder)

    def get_config(self):
        k = self.n_encoder_layers
        return {"encoder": self.layers[:k], "decoder": self.layers[k:]}

    @property
    def code_shape(self):
        """Shape of one code (output of the encoder), once built."""
        return self.layers[self.n_encoder_layers - 1].output_shape

    @property
    def needs_input_grad(self):
        return self.layers[0].needs_input_grad if getattr(self, "layers", None) else True

    @needs_input_grad.setter
    def needs_input_grad(self, value):
        # a parameter-free input layer (noise) needs no gradient, and neither
        # does the first layer with parameters behind it
        for layer in getattr(self, "layers", []):
            layer.needs_input_grad = bool(value)
            if layer.params or value:
                break

    def encode(self, X, training=False):
        """Codes of ``X``: the encoder's output (an internal buffer)."""
        for layer in self.layers[:self.n_encoder_layers]:
            X = layer._forward(X, training=training)
        return X

    def decode(self, Z, training=False, n_steps=None):
        """Reconstructions of codes ``Z``; ``n_steps`` overrides the length
        sequence decoders repeat the code over."""
        for layer in self.layers[self.n_encoder_layers:]:
            if isinstance(layer, RepeatSteps):
                Z = layer._forward(Z, training=training, n_steps=n_steps)
            else:
                Z = layer._forward(Z, training=training)
        return Z

    def _forward(self, X, training=False):
        n_steps = X.shape[1] if X.ndim == 3 else None
        return self.decode(self.encode(X, training), training, n_steps)

    def __setstate__(self, state):
        super().__setstate__(state)
        for layer in self.layers:
            # a layer whose __setstate__ skips Layer's must still get its scratch
            if "_tls" not in layer.__dict__:
                layer._tls = threading.local()

    def _backward(self, dY):
        dX = super()._backward(dY)
        for layer in self.layers:
            if isinstance(layer, TiedDense):
                layer.source.grads["weight"] += layer.tied_grad
        return dX


class TiedDense(Dense):
    """Dense layer using the transpose of ``source``'s weight.

    ``Y = act(X @ source.weightᵀ + bias)``, mapping ``source.units`` features
    back to ``source``'s input width.  Only ``bias`` is a parameter of this
    layer; the weight's gradient is left in ``tied_grad`` (shape of
    ``source.params["weight"]``) for ``EncoderDecoder`` to add to
    ``source.grads["weight"]``, so use it inside an ``EncoderDecoder`` after
    its source.
    """

    def __init__(self, source, activation="identity", use_bias=True, init_factor=6.0):
        if not isinstance(source, Dense):
            raise TypeError(f"TiedDense ties to a Dense layer, got {type(source).__name__}")
        super().__init__(1, activation=activation, use_bias=use_bias, init_factor=init_factor)
        self.source = source
        self.tied_grad = None

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("units")
        return {"source": self.source, **cfg}

    def _build(self, input_shape, rng):
        src = self.source
        if src.output_shape is None:
            raise ValueError("TiedDense must be built after the Dense layer it ties to")
        if tuple(input_shape) != (src.units,):
            raise ValueError(f"TiedDense tied to a Dense({src.units}) expects inputs of shape "
                             f"(n, {src.units}); got per-sample shape {input_shape}")
        self.units = src.input_shape[0]
        if self.use_bias:
            bound = np.sqrt(self.init_factor / (src.units + self.units))
            self.params["bias"] = rng.uniform(-bound, bound, self.units).astype(self.dtype)
        self._act = ACTIVATION_CODES[self.activation]
        self._empty = np.empty(0, self.dtype)
        return (self.units,)

    def _kernel(self):
        return self.source.params["weight"].T

    def _store_weight_grad(self, X, D):
        # dL/d(source weight) = (Xᵀ D)ᵀ = Dᵀ X, added to the source by EncoderDecoder
        tg = self._buffer("tied_grad", self.source.params["weight"].shape)
        np.matmul(D.T, X, out=tg)
        self.tied_grad = tg

    def __getstate__(self):
        state = super().__getstate__()
        state["tied_grad"] = None
        return state


def _act_slope(name, Y, out):
    """``act'(Z)`` from the activation's output ``Y`` into ``out``."""
    if name == "logistic":
        np.subtract(1.0, Y, out=out)
        out *= Y
    elif name == "tanh":
        np.multiply(Y, Y, out=out)
        np.subtract(1.0, out, out=out)
    elif name == "relu":
        np.greater(Y, 0, out=out, casting="unsafe")
    else:
        out.fill(1.0)
    return out


class ContractiveDense(Dense):
    """Dense layer that adds the contractive penalty of its Jacobian.

    Parameters
    ----------
    units : int
    activation : {"identity", "relu", "tanh", "logistic"}, default="logistic"
    use_bias : bool, default=True
    init_factor : float, default=6.0
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
            S = _act_slope(self.activation, Y, self._buffer("S", Y.shape))
            if self.activation != "relu":
                S *= S  # g = s'(z)^2 (relu's 0/1 slope is its own square)
            G = self._buffer("G", (self.units,))
            np.sum(S, axis=0, out=G)
            self._wsq, self._g, self._G = wsq, S, G
            self.penalty = self.contractive_weight / X.shape[0] * float(np.dot(G, wsq))
        return Y

    def _backward(self, dY):
        lam_n = self.contractive_weight / self._X.shape[0]
        D = dY
        if self._act:
            _k.act_backward(D, self._Y, self._act, threads_for(D.size, "elementwise"))
        if self.activation in ("logistic", "tanh"):
            # dP/dz = lam/n * w_j * dg/dz, with dg/dz = g * (2(1-2h) | -4h)
            dg = self._buffer("dg", D.shape)
            if self.activation == "logistic":
                np.multiply(self._Y, -4.0, out=dg)
                dg += 2.0
            else:
                np.multiply(self._Y, -4.0, out=dg)
            dg *= self._g
            dg *= self._wsq
            dg *= lam_n
            D += dg
        np.matmul(self._X.T, D, out=self.grads["weight"])
        gw = self.grads["weight"]
        gw += (2.0 * lam_n) * self.params["weight"] * self._G
        if self.use_bias:
            np.sum(D, axis=0, out=self.grads["bias"])
        if not self.needs_input_grad:
            return None
        dX = self._buffer("dX", self._X.shape)
        np.matmul(D, self.params["weight"].T, out=dX)
        return dX

    def __getstate__(self):
        state = super().__getstate__()
        for k in ("_wsq", "_g", "_G", "_X", "_Y"):
            state.pop(k, None)
        return state


def _slope_derivative(name, Y, S):
    """``d s'(z) / dz`` from the output ``Y`` and the slope ``S = s'(z)``."""
    if name == "logistic":
        return S * (1.0 - 2.0 * Y)
    if name == "tanh":
        return -2.0 * Y * S
    return None  # relu, identity: piecewise-constant slope


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
    # arrays are (width_l, n, width_1), never as wide as the input.  They are
    # laid out so that each product with a weight matrix is one GEMM.
    def _forward(self, X, training=False):
        Y = super()._forward(X, training=training)
        if training:
            lam, n = self.contractive_weight, X.shape[0]
            W = [layer.params["weight"] for layer in self.layers]
            S = [_act_slope(layer.activation, layer._Y, np.empty_like(layer._Y)).T
                 for layer in self.layers]  # (width_l, n)
            # layer 2 from the diagonal P_1 without building it
            A = W[1].T[:, None, :] * S[0].T[None, :, :]
            P = S[1][:, :, None] * A
            As, Ps = [None, A], [None, P]
            for l in range(2, len(W)):
                k = P.shape[0]
                A = (W[l].T @ P.reshape(k, -1)).reshape(W[l].shape[1], n, -1)
                P = S[l][:, :, None] * A
                As.append(A)
                Ps.append(P)
            C = W[0].T @ W[0]
            Q = P.reshape(-1, C.shape[0])
            QC = Q @ C
            self._slopes, self._As, self._Ps, self._QC = S, As, Ps, QC
            self._penalty = lam / n * float(np.dot(QC.reshape(-1), Q.reshape(-1)))
        return Y

    def _backward(self, dY):
        layers = self.layers
        n = dY.shape[0]
        L = len(layers)
        lam_n = self.contractive_weight / n
        W = [layer.params["weight"] for layer in layers]
        S = self._slopes
        # reverse pass through the Jacobian product: extra dL/dz_l and dL/dW_l
        P = self._Ps[-1]
        Q = P.reshape(-1, P.shape[2])
        dW_direct = [None] * L
        dW_direct[0] = (2.0 * lam_n) * (W[0] @ (Q.T @ Q))  # through C = W_1ᵀ W_1
        dP = (2.0 * lam_n) * self._QC.reshape(P.shape)
        dS = [None] * L
        for l in range(L - 1, 0, -1):
            A = self._As[l]
            width = A.shape[0]
            dS[l] = (dP * A).sum(axis=2).T  # (n, width)
            dA = dP * S[l][:, :, None]
            if l > 1:
                k = self._Ps[l - 1].shape[0]
                dA2 = dA.reshape(width, -1)
                dW_direct[l] = self._Ps[l - 1].reshape(k, -1) @ dA2.T
                dP = (W[l] @ dA2).reshape(k, n, -1)
            else:
                dW_direct[1] = (dA * S[0].T[None, :, :]).sum(axis=1).T
                dS[0] = (dA * W[1].T[:, None, :]).sum(axis=0)
        dz_extra = [None] * L
        for l in range(L):
            ds = _slope_derivative(layers[l].activation, layers[l]._Y, S[l].T)
            if ds is not None:
                dz_extra[l] = dS[l] * ds
        # the ordinary backward pass, with the penalty's terms added
        D = dY
        for l in range(L - 1, -1, -1):
            layer = layers[l]
            if layer._act:
                _k.act_backward(D, layer._Y, layer._act, threads_for(D.size, "elementwise"))
            if dz_extra[l] is not None:
                D += dz_extra[l]
            np.matmul(layer._X.T, D, out=layer.grads["weight"])
            layer.grads["weight"] += dW_direct[l]
            if layer.use_bias:
                np.sum(D, axis=0, out=layer.grads["bias"])
            if l == 0 and not layer.needs_input_grad:
                return None
            dX = layer._buffer("dX", layer._X.shape)
            np.matmul(D, layer.params["weight"].T, out=dX)
            D = dX
        return D

    def __getstate__(self):
        state = super().__getstate__()
        for k in ("_slopes", "_As", "_Ps", "_QC"):
            state.pop(k, None)
        return state


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

    def __getstate__(self):
        state = super().__getstate__()
        for k in ("_X", "_dh"):
            state.pop(k, None)
        return state


class Corruption(Layer):
    """Input corruption at training time (denoising); identity at inference.

    Parameters
    ----------
    kind : {"gaussian", "masking"}, default="gaussian"
        ``gaussian`` adds ``level · N(0, 1)`` noise; ``masking`` sets each
        value to 0 with probability ``level``.
    level : float, default=0.1

    Fresh noise is drawn for every batch from a generator seeded by
    ``build``'s ``random_state``, so training is reproducible.
    """

    def __init__(self, kind="gaussian", level=0.1):
        super().__init__()
        if kind not in ("gaussian", "masking"):
            raise ValueError(f"noise must be 'gaussian' or 'masking', got {kind!r}")
        self.kind = kind
        self.level = float(level)
        if self.level < 0 or (kind == "masking" and self.level >= 1):
            raise ValueError(f"noise level must be >= 0 (and < 1 for masking), got {level!r}")

    def get_config(self):
        return {"kind": self.kind, "level": self.level}

    def _build(self, input_shape, rng):
        self._rng = np.random.default_rng(rng.randint(2 ** 31))
        return input_shape

    def _forward(self, X, training=False):
        if not training or self.level == 0.0:
            if training:
                self._mask = None
            return X  # inference stores nothing on self (thread safety)
        Y = self._buffer("Y", X.shape)
        if self.kind == "gaussian":
            self._rng.standard_normal(X.shape, dtype=self.dtype, out=Y)
            Y *= self.level
            Y += X
            self._mask = None
        else:
            mask = self._buffer("mask", X.shape)
            np.greater_equal(self._rng.random(X.shape, dtype=self.dtype), self.level,
                             out=mask, casting="unsafe")
            np.multiply(X, mask, out=Y)
            self._mask = mask
        return Y

    def _backward(self, dY):
        if not self.needs_input_grad:
            return None
        if self._mask is None:
            return dY
        dX = self._buffer("dX", dY.shape)
        np.multiply(dY, self._mask, out=dX)
        return dX


class RepeatSteps(Layer):
    """Repeat a vector over time: ``(n, k) -> (n, T, k)``.

    ``forward(X, n_steps=T)`` overrides the built length (a sequence
    decoder reconstructs inputs of any length).  Backward sums over time.
    """

    def __init__(self, n_steps):
        super().__init__()
        self.n_steps = int(n_steps)
        if self.n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps!r}")

    def get_config(self):
        return {"n_steps": self.n_steps}

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(f"RepeatSteps expects inputs of shape (n, k); got per-sample "
                             f"shape {input_shape}")
        return (self.n_steps, input_shape[0])

    def _forward(self, X, training=False, n_steps=None):
        T = self.n_steps if n_steps is None else int(n_steps)
        Y = self._buffer("Y", (X.shape[0], T, X.shape[1]))
        np.copyto(Y, X[:, None, :])
        return Y

    def _backward(self, dY):
        if not self.needs_input_grad:
            return None
        dX = self._buffer("dX", (dY.shape[0], dY.shape[2]))
        np.sum(dY, axis=1, out=dX)
        return dX


class TimeDistributedDense(Dense):
    """The same ``Dense`` applied at every step: ``(n, T, H) -> (n, T, units)``.

    Parameters as ``Dense``; ``weight (H, units)``, ``bias (units,)``.  The
    batch and time axes are merged into one GEMM.
    """

    def _build(self, input_shape, rng):
        if len(input_shape) != 2:
            raise ValueError(f"TimeDistributedDense expects inputs of shape (n, T, features); "
                             f"got per-sample shape {input_shape}")
        Dense._build(self, (input_shape[1],), rng)
        return (input_shape[0], self.units)

    def _forward(self, X, training=False):
        n, T, H = X.shape
        Y = super()._forward(np.ascontiguousarray(X).reshape(n * T, H), training=training)
        return Y.reshape(n, T, self.units)

    def _backward(self, dY):
        n, T, U = dY.shape
        dX = super()._backward(np.ascontiguousarray(dY).reshape(n * T, U))
        return None if dX is None else dX.reshape(n, T, -1)


class Reshape(Layer):
    """Reshape ``(n, *input_shape)`` to ``(n, *shape)`` (a view, no copy)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def get_config(self):
        return {"shape": self.shape}

    def _build(self, input_shape, rng):
        if int(np.prod(input_shape)) != int(np.prod(self.shape)):
            raise ValueError(f"Reshape to {self.shape} needs {int(np.prod(self.shape))} values "
                             f"per sample; got per-sample shape {input_shape}")
        return self.shape

    def _forward(self, X, training=False):
        return X.reshape((X.shape[0],) + self.shape)

    def _backward(self, dY):
        if not self.needs_input_grad:
            return None
        return dY.reshape((dY.shape[0],) + self.input_shape)


class SumSquaredError(Loss):
    """Reconstruction error ``0.5 · avg_w Σ_outputs (y - P)²``, identity link.

    Unlike ``SquaredError`` (scikit-learn's MLP value, a mean over outputs)
    the value is a sum over outputs, so value and gradient ``(P - y) w / Σw``
    describe the same objective and penalties can be added to it exactly.

    Parameters
    ----------
    masked : bool, default=False
        Targets that are NaN (padded steps of NaN-padded sequences) are left
        out of the value and get a zero gradient.
    """
    name = "sum_squared_error"

    def __init__(self, masked=False):
        self.masked = bool(masked)

    def _diff(self, P, y, out):
        np.subtract(P, y, out=out)
        if self.masked:
            out[np.isnan(y)] = 0.0  # from y: a NaN prediction must still show
        return out

    def value(self, P, y, sample_weight=None):
        d = self._diff(P, y, np.empty_like(P))
        per_sample = np.einsum("ij,ij->i", d.reshape(len(d), -1), d.reshape(len(d), -1))
        return float(0.5 * np.average(per_sample, weights=sample_weight))

    def gradient(self, P, y, sample_weight, weight_sum, out):
        self._diff(P, y, out)
        if sample_weight is not None:
            out *= sample_weight.reshape((-1,) + (1,) * (out.ndim - 1))
        out *= 1.0 / weight_sum
        return out
