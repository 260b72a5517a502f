"""Embedding: integer token ids ``(n, T)`` to vectors ``(n, T, D)``.

The lookup and its gradient run in ``fastnut._kernels.embedding``.
"""
import numpy as np
import scipy.sparse as sp

from .._kernels import embedding as _ke
from ._base import Layer
from ._conv1d import _threads_for, _typed_buffer


class Embedding(Layer):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    Parameters
    ----------
    num_embeddings : int
        Vocabulary size ``V``: ids are ``0 .. V-1``.
    embedding_dim : int
        Vector size ``D``.
    padding_idx : int or None, default=None
        The padding id (negative values count from the end, as in PyTorch).
        Its row of ``weight`` starts at zero and gets no gradient.  Runs of
        padding ids at the *end* of a sequence are sequence padding: those
        steps become NaN rows, fastnut's padding marker, so that the recurrent,
        ``Conv1D``, pooling and ``BatchNorm1D`` layers after this one skip
        them (see ``fastnut.nn._recurrent``).  A padding id inside a sequence
        is an ordinary step whose vector is the (zero) padding row, as in
        PyTorch.

    Notes
    -----
    ``params["weight"]`` has shape ``(V, D)``, initialised from ``N(0, 1)``
    like PyTorch's ``nn.Embedding``.  ``forward`` takes integer ids of shape
    ``(n, T)`` of any integer dtype, or floats holding integers where trailing
    NaN also marks padding (what a NaN-padded numeric array carries); any
    other value, an id out of range, or a NaN before a valid step is a
    ``ValueError``.  Every sequence needs at least one valid step.

    ``Y[i, t] = weight[ids[i, t]]``; the gradient is the scatter-add
    ``dL/dweight[v] = Σ_{(i, t): ids[i, t] = v} dY[i, t]`` over valid steps
    (compiled; threads split the columns, so there are no write conflicts).
    The ids have no gradient: ``backward`` returns None.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnut import nn
    >>> emb = nn.Embedding(10, 4, padding_idx=0)
    >>> emb.build((3,), random_state=0)
    (3, 4)
    >>> Y = emb.forward(np.array([[5, 2, 0], [7, 0, 0]]))
    >>> np.isnan(Y[:, :, 0]).tolist()
    [[False, False, True], [False, True, True]]
    """

    variable_axes = (0,)  # any number of steps T
    axis_names = ("T",)


    #: what a training forward keeps for backward (never pickled)
    _forward_state = ("_ctx",)

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None):
        super().__init__()
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        if padding_idx is not None:
            if (isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer))
                    or not -self.num_embeddings <= padding_idx < self.num_embeddings):
                raise ValueError(f"padding_idx must be an int in [-{self.num_embeddings}, "
                                 f"{self.num_embeddings}) or None, got {padding_idx!r}")
            padding_idx = int(padding_idx)
        self.padding_idx = padding_idx
        self.needs_input_grad = False

    def get_config(self):
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx}

    @property
    def _pad_row(self):
        if self.padding_idx is None:
            return -1
        return self.padding_idx % self.num_embeddings

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(f"Embedding expects token ids of shape (n, T); got per-sample "
                             f"shape {tuple(input_shape)}")
        W = rng.standard_normal((self.num_embeddings, self.embedding_dim)).astype(self.dtype)
        if self.padding_idx is not None:
            W[self._pad_row] = 0
        self.params["weight"] = W
        return (input_shape[0], self.embedding_dim)

    def _check_input(self, X):
        """Token ids keep their integer dtype (the base check would make them
        floats); ``_ids`` checks their shape, range and padding."""
        if self.input_shape is None:
            raise RuntimeError("Embedding is not built: call build(input_shape) before forward")
        if sp.issparse(X):
            raise TypeError(f"Embedding takes dense arrays of token ids; got a sparse "
                            f"{type(X).__name__} (convert it with .toarray())")
        X = np.asarray(X)
        if X.dtype.kind not in "iuf":
            raise TypeError(f"Embedding expects integer token ids; got dtype {X.dtype}")
        return X

    def _ids(self, X):
        """int64 ids (padded steps set to 0) and int32 lengths of a batch."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"Embedding expects a non-empty array of token ids of shape "
                             f"(n, T); got shape {X.shape}")
        n, T = X.shape
        V, pr = self.num_embeddings, self._pad_row
        if X.dtype.kind in "iu":
            ids = np.ascontiguousarray(X, np.int64)
            padstep = ids == pr if pr >= 0 else None
            nan = None
        elif X.dtype.kind == "f":
            nan = np.isnan(X)
            if np.isinf(X).any():
                raise ValueError("Embedding got infinite token ids")
            Xz = np.where(nan, 0, X)
            if (Xz != np.floor(Xz)).any():
                raise ValueError("Embedding expects integer token ids; got non-integer values")
            ids = np.ascontiguousarray(Xz, np.int64)
            padstep = nan if pr < 0 else (nan | (ids == pr))
        else:
            raise ValueError(f"Embedding expects integer token ids; got dtype {X.dtype}")
        if padstep is not None and padstep.any():
            valid_rev = ~padstep[:, ::-1]
            has = valid_rev.any(axis=1)
            if not has.all():
                i = int(np.flatnonzero(~has)[0])
                raise ValueError(f"sequence {i} is all padding: every sequence needs at least "
                                 "one token")
            lengths = (T - np.argmax(valid_rev, axis=1)).astype(np.int32)
            pad = np.arange(T)[None, :] >= lengths[:, None]
            if nan is not None and (nan & ~pad).any():
                i = int(np.flatnonzero((nan & ~pad).any(axis=1))[0])
                raise ValueError(f"sequence {i} has NaN before a valid token: NaN (like the "
                                 "padding id) may only pad the end of a sequence")
            ids[pad] = 0
        else:
            lengths = np.full(n, T, np.int32)
        if n and (ids.min() < 0 or ids.max() >= V):
            bad = ids[(ids < 0) | (ids >= V)][0]
            raise ValueError(f"token id {int(bad)} is out of range for Embedding("
                             f"num_embeddings={V}): ids must be in [0, {V})")
        return ids, lengths

    def _forward(self, X, training=False):
        ids, lengths = self._ids(X)
        n, T = ids.shape
        Y = self._buffer("Y", (n, T, self.embedding_dim))
        _ke.embedding_forward(self.params["weight"], ids, lengths, Y, n_threads=_threads_for(Y))
        if training:
            self._ctx = (ids, lengths)
        return Y

    def _backward(self, dY):
        ids, lengths = self._ctx
        dY = np.ascontiguousarray(dY, self.dtype)
        _ke.embedding_backward(dY, ids, lengths, self.grads["weight"], skip=self._pad_row,
                               n_threads=_threads_for(dY))
        return None

