"""Tensor-train embeddings (re-exported by :mod:`tnswift.nn`).

:class:`TTEmbedding` is a drop-in for ``torch.nn.Embedding`` (and, with ``mode``, for
``torch.nn.EmbeddingBag``) whose table E (num_embeddings, embedding_dim) is a TT-matrix
(Khrulkov et al. 2019): row modes v_1..v_d (their product at least num_embeddings), column
modes d_1..d_d (their product embedding_dim), cores ``core_k`` of shape
(r_{k-1}, v_k, d_k, r_k), r_0 = r_d = 1 -- tensorly-torch's ``blocktt`` layout. A lookup
gathers rows through the cores; the table is never built, so a ten-million-row vocabulary
costs a few megabytes and a call costs what its lookups cost.
"""

import threading

import numpy as np

from . import _ext
from ._ext import ArgumentError, DTypeError, ShapeError
from ._arguments import dense_operand, dtype_code as _dtype_code
from ._arguments import positive as _positive, rank_list as _ranks, seed as _seed
from ._layer_base import ParameterViews, check_same_thread
from .decompose import _index

_MODES = {"sum": _ext.EMBEDDING_SUM, "mean": _ext.EMBEDDING_MEAN}


def _mode_list(value, name, order):
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ArgumentError(f"{name} must be a sequence of integers")
    result = [_index(m, f"{name}[{i}]") for i, m in enumerate(value)]
    if len(result) != order:
        raise ShapeError(f"{name} has {len(result)} modes but n_modes is {order}")
    return result


def _bag_mode(mode):
    if mode is None:
        return None
    if mode not in _MODES:
        raise ArgumentError(f"mode must be None (rows), 'sum' or 'mean' (got {mode!r})")
    return mode


class TTEmbedding(ParameterViews):
    """A TT-matrix embedding table.

    Args:
        num_embeddings: rows that can be looked up.
        embedding_dim: the length of each row.
        rank: the TT rank of every bond, or a list of ``n_modes - 1`` ranks.
        n_modes: the number of modes d (default 3) when the mode lists are not given.
        row_modes / col_modes: the modes themselves (default: balanced splits; rows are padded
            up when num_embeddings does not split evenly, e.g. for a prime).
        padding_idx: a row whose lookups give zeros and no gradient (``torch.nn.Embedding``).
        mode: None for one row per index; ``"sum"`` or ``"mean"`` to reduce bags of indices as
            ``torch.nn.EmbeddingBag`` does (1-D indices with ``offsets``, or 2-D indices, one bag
            per row). ``"mean"`` divides by the bag's non-padding lookups; empty bags give zeros.
        std: each table entry's standard deviation at initialisation (1, as ``nn.Embedding``).
        dtype: float32 (default) or float64.
        seed: fixes the initialisation.

    ``layer(indices)`` returns rows of shape ``indices.shape + (embedding_dim,)`` (or
    ``(bags, embedding_dim)`` with a mode); ``layer.backward(dy)`` fills the core gradients
    (repeated indices add up) and returns None -- indices have no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, rank=8, n_modes=3, row_modes=None, col_modes=None,
                 padding_idx=None, mode=None, std=1.0, dtype=np.float32, seed=0):
        order = _positive(n_modes, "n_modes")
        ranks = _ranks(rank, "rank")
        std = float(std)
        if not np.isfinite(std) or std < 0:
            raise ArgumentError(f"std must be finite and non-negative (got {std})")
        padding = -1 if padding_idx is None else _index(padding_idx, "padding_idx")
        if padding_idx is not None and padding < 0:
            padding += _index(num_embeddings, "num_embeddings")    # torch's negative padding_idx
        handle = _ext.embedding_create(_dtype_code(dtype), _positive(num_embeddings, "num_embeddings"),
                                       _positive(embedding_dim, "embedding_dim"), order,
                                       _mode_list(row_modes, "row_modes", order),
                                       _mode_list(col_modes, "col_modes", order), ranks, padding, std, _seed(seed))
        self._attach(handle, _bag_mode(mode))

    def _attach(self, handle, mode):
        self._handle = handle
        info = handle.info()
        self.num_embeddings = info["num_embeddings"]
        self.embedding_dim = info["embedding_dim"]
        self.padding_idx = None if info["padding_idx"] < 0 else info["padding_idx"]
        self.row_modes = tuple(info["row_modes"])
        self.col_modes = tuple(info["col_modes"])
        self.ranks = tuple(info["ranks"])
        self.dtype = np.dtype(info["dtype"])
        self.n_params = info["parameter_count"]
        self.compression = info["compression"]
        self.mode = mode
        self._arrays = {name: (np.asarray(data), np.asarray(grad)) for name, data, grad in handle.parameters()}
        self._last = None

    @classmethod
    def from_dense(cls, table, rank=None, eps=None, n_modes=3, row_modes=None, col_modes=None, padding_idx=None,
                   mode=None):
        """A TT embedding fitted to a dense table (num_embeddings, embedding_dim) by TT-SVD: with
        ``rank`` (a cap on every bond) or ``eps`` (``||E - E_hat||_F <= eps ||E||_F``); give
        exactly one. The dtype is the table's."""
        table = dense_operand(table, "table", 2, "(num_embeddings, embedding_dim)")
        if (rank is None) == (eps is None):
            raise ArgumentError("from_dense needs exactly one of rank or eps")
        r = -1 if rank is None else _positive(rank, "rank")
        e = -1.0 if eps is None else float(eps)
        if eps is not None and not (np.isfinite(e) and e >= 0):
            raise ArgumentError(f"eps must be finite and non-negative (got {eps})")
        order = _positive(n_modes, "n_modes")
        padding = -1 if padding_idx is None else _index(padding_idx, "padding_idx")
        if padding_idx is not None and padding < 0:
            padding += table.shape[0]
        handle = _ext.embedding_from_dense(table, order, _mode_list(row_modes, "row_modes", order),
                                           _mode_list(col_modes, "col_modes", order), r, e, padding)
        layer = cls.__new__(cls)
        layer._attach(handle, _bag_mode(mode))
        return layer

    # -- forward / backward

    @staticmethod
    def _indices(indices, name):
        a = np.asarray(indices)
        if a.dtype.kind not in "iu":
            if a.size == 0 and a.dtype.kind == "f":
                a = a.astype(np.int64)
            else:
                raise DTypeError(f"{name} must be integers, not {a.dtype}")
        if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
            raise ArgumentError(f"{name} has a value past int64")
        return np.ascontiguousarray(a, dtype=np.int64)

    def _lookups(self, indices, offsets):
        """(flat int64 indices, int64 offsets or None, tn_embedding_mode, output shape)."""
        idx = self._indices(indices, "indices")
        if self.mode is None:
            if offsets is not None:
                raise ArgumentError("offsets are for bags: make the embedding with mode='sum' or 'mean'")
            return idx.reshape(-1), None, _ext.EMBEDDING_ROWS, idx.shape + (self.embedding_dim,)
        if offsets is None:
            if idx.ndim != 2:
                raise ShapeError(f"bags need 2-D indices (one bag per row) or 1-D indices with offsets "
                                 f"(got shape {idx.shape})")
            bags, width = idx.shape
            off = np.arange(0, bags * width, width, dtype=np.int64) if bags else np.zeros(0, np.int64)
            if bags == 0:
                return idx.reshape(-1), None, None, (0, self.embedding_dim)
            return idx.reshape(-1), off, _MODES[self.mode], (bags, self.embedding_dim)
        if idx.ndim != 1:
            raise ShapeError(f"with offsets the indices must be 1-D (got shape {idx.shape})")
        off = self._indices(offsets, "offsets")
        if off.ndim != 1 or off.size == 0:
            raise ShapeError(f"offsets must be a non-empty 1-D array of bag starts (got shape {off.shape})")
        return idx, off, _MODES[self.mode], (off.size, self.embedding_dim)

    def forward(self, indices, offsets=None):
        """The rows of ``indices`` (any integer array), or one reduced row per bag. Indices
        must be in ``[0, num_embeddings)``."""
        idx, off, mode, shape = self._lookups(indices, offsets)
        out = np.empty(shape, dtype=self.dtype)
        if mode is not None:
            self._handle.forward(idx, off, mode, out.reshape(-1, self.embedding_dim))
        self._last = (idx, off, mode, shape)
        self._thread = threading.get_ident()
        return out

    __call__ = forward

    def backward(self, dy):
        """Gradients of ``sum(y * dy)`` for the last forward: fills :meth:`grads` (replacing
        what was there; lookups of the same row add up, padding_idx adds nothing). Returns
        None: indices have no gradient."""
        if self._last is None:
            raise ArgumentError("backward() needs a forward() first: the gradients are taken for "
                                "the last forward's indices")
        check_same_thread(self._thread, "TTEmbedding")
        idx, off, mode, shape = self._last
        dy = self._input(dy, "dy")
        if dy.shape != shape:
            raise ShapeError(f"dy has shape {dy.shape} but the last forward returned shape {shape}")
        if mode is None:
            self.zero_grad()
            return None
        self._handle.backward(idx, off, mode, dy.reshape(-1, self.embedding_dim))
        return None

    def to_dense(self):
        """The whole table (num_embeddings, embedding_dim) -- as large as a dense embedding."""
        table = np.empty((self.num_embeddings, self.embedding_dim), dtype=self.dtype)
        self._handle.dense_table(table)
        return table

    def __repr__(self):
        extra = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        extra += "" if self.mode is None else f", mode={self.mode!r}"
        return (f"TTEmbedding({self.num_embeddings}, {self.embedding_dim}, row_modes={self.row_modes}, "
                f"col_modes={self.col_modes}, ranks={self.ranks}{extra}, dtype={self.dtype}, "
                f"n_params={self.n_params}, compression={self.compression:.3g})")
