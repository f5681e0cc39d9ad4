"""The transformer's tensorized sublayers (re-exported by :mod:`tnswift.nn`).

- :class:`TTFeedForward` — the position-wise feed-forward block with both linear maps stored
  as TT-matrices.
- :class:`MultiLinearAttention` — multi-linear attention (Ma et al. 2019, "A Tensorized
  Transformer for Language Modeling"): attention as a block-term tensor decomposition with
  shared factor matrices.

Each is one Swift object (``TTFeedForward`` / ``MultiLinearAttention``) behind a ``tn_ff`` /
``tn_attention`` handle; this module only normalises arguments and shapes. As for the other
layers, :meth:`parameters` and :meth:`grads` are NumPy views of the layer's own storage, the
GIL is released in forward and backward, and backward must run on the thread that made the
last forward.
"""

import threading

import numpy as np

from . import _ext
from ._ext import ArgumentError, ShapeError
from ._arguments import dtype_code as _dtype_code, modes as _modes, positive as _positive
from ._arguments import seed as _seed, tt_ranks as _tt_ranks
from ._layer_base import ParameterViews, check_same_thread
from .activations import _KINDS

_ACTIVATIONS = {name: _KINDS[name] for name in ("relu", "gelu")}  # the tn_activation codes


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{name} must be True or False, not {value!r}")
    return bool(value)


class TTFeedForward(ParameterViews):
    """A transformer feed-forward block whose two linear maps are TT-matrices::

        y = act(x @ W1 + b1) @ W2 + b2,   W1 (d_model, d_ff), W2 (d_ff, d_model)

    ``act`` is ReLU (as in Vaswani et al.) or the exact, erf-based GELU. Both maps are
    TT-matrices over the same number of modes d: W1's rows are the model modes and its columns
    the hidden modes (W2 the other way round), with the same bond ranks. The block acts on the
    last axis of x, so x may be (batch, d_model), (batch, seq, d_model), ...

    Args:
        d_model: an int (split into ``order`` balanced modes) or the model modes themselves.
        d_ff: an int (split into as many balanced modes as d_model has) or the hidden modes.
        rank: the TT rank of every bond, the d - 1 bond ranks, or d + 1 ranks with 1 at both
            ends; both maps use it.
        activation: ``"relu"`` (default) or ``"gelu"``.
        bias: whether both maps add a bias (default True).
        order: the number of modes d when d_model is an int (default 3).
        dtype: float32 (default) or float64.
        seed: fixes the initialisation (each reconstructed weight has the variance of a
            PyTorch-default dense layer of the same fan-in; zero biases).

    ``layer(x)`` returns y shaped like x. ``layer.backward(dy)`` fills :meth:`grads`
    (replacing what was there) and returns dx (None with ``input_grad=False``).

    Parameters (:meth:`parameters` / :meth:`grads`): ``ff1.core_k`` (r_{k-1}, m_k, h_k, r_k)
    and ``ff1.bias`` (d_ff,) for W1 and b1, then ``ff2.core_k`` (r_{k-1}, h_k, m_k, r_k) and
    ``ff2.bias`` (d_model,) for W2 and b2 (no biases with ``bias=False``). A TT-matrix is
    ``W[(i_1..i_d), (j_1..j_d)] = core_0[0, i_1, j_1, :] @ ... @ core_{d-1}[:, i_d, j_d, 0]``
    (indices over the modes in C order).
    """

    def __init__(self, d_model, d_ff, rank, activation="relu", bias=True, order=3, dtype=np.float32, seed=0):
        model = _modes(d_model, "d_model", order)
        hidden = _modes(d_ff, "d_ff", len(model))
        if len(hidden) != len(model):
            raise ShapeError(f"TTFeedForward needs as many hidden modes as model modes (got model modes "
                             f"{model} and hidden modes {hidden})")
        if not isinstance(activation, str) or activation.lower() not in _ACTIVATIONS:
            raise ArgumentError(f"activation must be one of {', '.join(repr(a) for a in _ACTIVATIONS)} "
                                f"(got {activation!r})")
        ranks = _tt_ranks(rank, len(model), "TTFeedForward")
        self.activation = activation.lower()
        self._handle = _ext.ff_create(_dtype_code(dtype), _ACTIVATIONS[self.activation], list(model), list(hidden),
                                      ranks, _flag(bias, "bias"), _seed(seed))
        info = self._handle.info()
        self.d_model = info["model_dim"]
        self.d_ff = info["hidden_dim"]
        self.bias = info["bias"]
        self.dtype = np.dtype(info["dtype"])
        self.n_params = info["parameter_count"]
        self.compression = info["compression"]
        self._arrays = {name: (np.asarray(data), np.asarray(grad)) for name, data, grad in self._handle.parameters()}
        cores = [self._arrays[f"ff1.core_{k}"][0] for k in range(info["n_modes"])]
        self.model_modes = tuple(c.shape[1] for c in cores)
        self.hidden_modes = tuple(c.shape[2] for c in cores)
        self.ranks = tuple(c.shape[0] for c in cores) + (1,)
        self._x = None
        self._thread = None

    def forward(self, x):
        """y = act(x @ W1 + b1) @ W2 + b2 for x (..., d_model); y has x's shape. x is kept (not
        copied) for :meth:`backward`."""
        x = self._input(x, "x")
        if x.ndim < 1 or x.shape[-1] != self.d_model:
            raise ShapeError(f"x has shape {x.shape} but TTFeedForward expects (..., {self.d_model}) "
                             f"(d_model = {self.d_model})")
        y = np.empty(x.shape, dtype=self.dtype)
        self._handle.forward(x, y)
        self._x = x
        self._thread = threading.get_ident()
        return y

    __call__ = forward

    def backward(self, dy, input_grad=True):
        """Gradients of ``sum(y * dy)`` at the last forward's input: fills :meth:`grads`
        (replacing what was there) and returns dx shaped like x, or None with
        ``input_grad=False``."""
        if self._x is None:
            raise ArgumentError("backward() needs a forward() first: the gradients are taken at the last "
                                "forward's input")
        check_same_thread(self._thread, "TTFeedForward")
        x = self._x
        dy = self._input(dy, "dy")
        if dy.shape != x.shape:
            raise ShapeError(f"dy has shape {dy.shape} but the last forward returned y of shape {x.shape}")
        dx = np.empty(x.shape, dtype=self.dtype) if input_grad else None
        self._handle.backward(dy, x, dx)
        return dx

    def __repr__(self):
        return (f"TTFeedForward(model_modes={self.model_modes}, hidden_modes={self.hidden_modes}, "
                f"ranks={self.ranks}, activation={self.activation!r}, bias={self.bias}, dtype={self.dtype}, "
                f"n_params={self.n_params}, compression={self.compression:.3g})")


class MultiLinearAttention(ParameterViews):
    """Multi-linear attention (Ma et al. 2019, "A Tensorized Transformer for Language Modeling").

    Attention is written as a block-term tensor decomposition in which every block shares the
    same three factor matrices and keeps only its own diagonal core. For one sequence, with
    queries Q (n, d_model) and keys / values K, V (N, d_model):

    1. Shared projections, each R wide: ``Qh = Q @ Wq + bq``, ``Kh = K @ Wk + bk``,
       ``Vh = V @ Wv + bv``.
    2. Block h is a Tucker product with a diagonal core g_h (length R), i.e. a sum of R outer
       products: ``T_h[i, j, k] = sum_r g_h[r] * Qh[i, r] * Kh[j, r] * Vh[k, r]`` (n, N, N).
       There is no softmax over the keys and no 1/sqrt(d) scaling.
    3. The H blocks are averaged, ``Tbar = (T_1 + ... + T_H) / H``; each query's N x N slice is
       flattened (C order) and the slices stacked into an (n, N*N) matrix, which the output
       layer maps back: ``Y[i, o] = sum_{j,k} Tbar[i, j, k] * Wo[j*N + k, o] + bo[o]``.

    Because of that flattening Wo has N*N rows: the key / value length N (``key_length``) is
    fixed when the layer is made, while the query length n is free. With
    ``softmax_cores=True`` the stored ``cores`` are logits and ``g_h = softmax(cores[h])``;
    by default they are used as they are. Masks, dropout, residuals and layer norm are not part
    of the layer. The n x N x N tensor is never formed (the cost is about R * N^2 * d_model per
    sequence).

    Args:
        d_model: the features of q, k, v and of the output.
        key_length: N, the length of k and v.
        blocks: H, the number of diagonal cores.
        rank: R, the core length and the projections' width.
        bias: whether the projections and the output layer add biases (default True).
        softmax_cores: see above (default False).
        dtype: float32 (default) or float64.
        seed: fixes the initialisation (weights like PyTorch-default dense layers, zero biases,
            cores uniform in (0, 1)).

    ``layer(q, k, v)`` takes q (batch, n, d_model) and k, v (batch, N, d_model) and returns y
    (batch, n, d_model); self-attention is ``layer(x, x, x)`` (then n = N).
    ``layer.backward(dy)`` fills :meth:`grads` (replacing what was there) and returns
    ``(dq, dk, dv)`` (for self-attention, dx = dq + dk + dv); ``input_grad=False`` skips them
    and returns None.

    Parameters (:meth:`parameters` / :meth:`grads`), weights stored (in, out):
    ``query.weight`` (d_model, R), ``query.bias`` (R,), ``key.weight``, ``key.bias``,
    ``value.weight``, ``value.bias``, ``cores`` (H, R), ``output.weight`` (N*N, d_model),
    ``output.bias`` (d_model,); the biases only with ``bias=True``.
    """

    def __init__(self, d_model, key_length, blocks, rank, bias=True, softmax_cores=False, dtype=np.float32, seed=0):
        sizes = [_positive(v, name) for v, name in ((d_model, "d_model"), (key_length, "key_length"),
                                                     (blocks, "blocks"), (rank, "rank"))]
        self._handle = _ext.attention_create(_dtype_code(dtype), *sizes, _flag(bias, "bias"),
                                             _flag(softmax_cores, "softmax_cores"), _seed(seed))
        info = self._handle.info()
        self.d_model = info["model_dim"]
        self.key_length = info["key_length"]
        self.blocks = info["blocks"]
        self.rank = info["rank"]
        self.bias = info["bias"]
        self.softmax_cores = info["softmax_cores"]
        self.dtype = np.dtype(info["dtype"])
        self.n_params = info["parameter_count"]
        self._arrays = {name: (np.asarray(data), np.asarray(grad)) for name, data, grad in self._handle.parameters()}
        self._last = None
        self._thread = None

    def forward(self, q, k, v):
        """y (batch, n, d_model) for q (batch, n, d_model) and k, v (batch, key_length,
        d_model). The inputs are kept (not copied) for :meth:`backward`."""
        q, k, v = (self._input(a, name) for a, name in ((q, "q"), (k, "k"), (v, "v")))
        if q.ndim != 3 or q.shape[2] != self.d_model:
            raise ShapeError(f"q has shape {q.shape} but MultiLinearAttention expects (batch, seq, {self.d_model}) "
                             f"(d_model = {self.d_model})")
        want = (q.shape[0], self.key_length, self.d_model)
        for a, name in ((k, "k"), (v, "v")):
            if a.shape != want:
                raise ShapeError(f"{name} has shape {a.shape} but the layer expects {want} (q's batch, the key "
                                 f"length N = {self.key_length} the output weight is sized for, d_model)")
        y = np.empty(q.shape, dtype=self.dtype)
        self._handle.forward(q, k, v, y)
        self._last = (q, k, v)
        self._thread = threading.get_ident()
        return y

    __call__ = forward

    def backward(self, dy, input_grad=True):
        """Gradients of ``sum(y * dy)`` at the last forward's inputs: fills :meth:`grads`
        (replacing what was there) and returns ``(dq, dk, dv)`` shaped like q, k, v, or None
        with ``input_grad=False``."""
        if self._last is None:
            raise ArgumentError("backward() needs a forward() first: the gradients are taken at the last "
                                "forward's inputs")
        check_same_thread(self._thread, "MultiLinearAttention")
        q, k, v = self._last
        dy = self._input(dy, "dy")
        if dy.shape != q.shape:
            raise ShapeError(f"dy has shape {dy.shape} but the last forward returned y of shape {q.shape}")
        grads = tuple(np.empty(a.shape, dtype=self.dtype) for a in (q, k, v)) if input_grad else (None,) * 3
        self._handle.backward(dy, q, k, v, *grads)
        return grads if input_grad else None

    def __repr__(self):
        return (f"MultiLinearAttention(d_model={self.d_model}, key_length={self.key_length}, blocks={self.blocks}, "
                f"rank={self.rank}, bias={self.bias}, softmax_cores={self.softmax_cores}, dtype={self.dtype}, "
                f"n_params={self.n_params})")
