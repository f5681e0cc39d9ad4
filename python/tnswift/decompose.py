"""Tensor decompositions: CP (``parafac``), Tucker, tensor train and TT-matrix.

The decompositions run in the Swift core (TT-SVD, TT rounding, CP-ALS, HOSVD/HOOI); this
module normalises arguments and wraps the results in small classes holding NumPy arrays of the
input's dtype (float32 or float64). Reconstructions go through :func:`tnswift.einsum`.

Conventions
-----------
- ``TTTensor.cores[k]`` has shape ``(r_k, n_k, r_{k+1})`` with ``r_0 = r_d = 1``.
- ``tt_matrix(w, in_modes, out_modes)`` takes ``w`` of shape
  ``(prod(in_modes), prod(out_modes))``, i.e. ``(in_features, out_features)`` as in
  ``y = x @ w``; row and column indices are C-order mixed-radix numbers over the modes, and
  ``TTMatrix.cores[k]`` has shape ``(r_k, in_k, out_k, r_{k+1})``.
- ``CPTensor`` holds ``weights`` ``(rank,)`` and ``factors[k]`` ``(I_k, rank)``;
  ``TuckerTensor`` holds ``core`` (the ranks) and ``factors[k]`` ``(I_k, R_k)``.

Callbacks are called as ``callback(step, total, rel_error)`` after each step (each TT-SVD
bond, each ALS/HOOI iteration; ``rel_error`` is None when the method does not track it).
Returning ``False`` stops the run with a :class:`tnswift.TNError`; an exception raised by the
callback propagates unchanged; Ctrl-C stops the run with ``KeyboardInterrupt``.
"""

import math
import operator

import numpy as np

from . import _ext
from ._ext import ArgumentError, ShapeError
from ._operands import as_float_array
from .contract import einsum

__all__ = [
    "CPTensor",
    "TuckerTensor",
    "TTTensor",
    "TTMatrix",
    "parafac",
    "tucker",
    "tensor_train",
    "tt_matrix",
    "balanced_modes",
]


# ---------------------------------------------------------------------------- helpers

def _empty_of(dtype):
    return lambda shape: np.empty(shape, dtype=dtype)


def _index(value, name):
    """``value`` as a Python int (not bool), else ArgumentError."""
    if isinstance(value, bool):
        raise ArgumentError(f"{name} must be an integer, not bool")
    try:
        return operator.index(value)
    except TypeError:
        raise ArgumentError(f"{name} must be an integer, not {type(value).__name__}") from None


def _int_list(values, name):
    if isinstance(values, (str, bytes)):
        raise ArgumentError(f"{name} must be a sequence of integers, not {type(values).__name__}")
    try:
        items = list(values)
    except TypeError:
        raise ArgumentError(
            f"{name} must be a sequence of integers, not {type(values).__name__}") from None
    return [_index(v, f"{name}[{i}]") for i, v in enumerate(items)]


def _eps(eps):
    """None -> -1 (no tolerance, as the C ABI spells it); otherwise a finite eps >= 0."""
    if eps is None:
        return -1.0
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise ArgumentError(f"eps must be None or a number, not {type(eps).__name__}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ArgumentError(f"eps must be finite and non-negative (got {eps!r})")
    return value


def _callback(callback):
    if callback is not None and not callable(callback):
        raise ArgumentError(f"callback must be None or callable, not {type(callback).__name__}")
    return callback


def _common(arrays, names):
    """Arrays as float32/float64 ndarrays of one dtype (float64 when mixed)."""
    arrays = [as_float_array(n, a) for n, a in zip(names, arrays)]
    if len({a.dtype for a in arrays}) > 1:
        arrays = [a.astype(np.float64) for a in arrays]
    return arrays


def _tt_caps(rank, d):
    """TT rank caps for the d - 1 bonds: None, an int, d - 1 caps, or d + 1 ranks with 1 at
    both ends (TensorLy's form)."""
    if rank is None:
        return None
    if not hasattr(rank, "__len__") and not hasattr(rank, "__iter__"):
        return [_index(rank, "rank")] * max(d - 1, 0)
    caps = _int_list(rank, "rank")
    if len(caps) == d + 1:
        if caps[0] != 1 or caps[-1] != 1:
            raise ShapeError(f"rank {caps} has d + 1 = {d + 1} entries, so its first and last "
                             "entries must be 1")
        return caps[1:-1]
    if len(caps) != max(d - 1, 0):
        raise ShapeError(f"rank has {len(caps)} entries; a TT of order {d} takes one int, "
                         f"{max(d - 1, 0)} bond ranks or {d + 1} ranks with 1 at both ends")
    return caps


def _rel_error(x, dense):
    x = np.asarray(x, dtype=np.float64)
    if x.shape != dense.shape:
        raise ShapeError(f"x has shape {x.shape} but the decomposition has shape {dense.shape}")
    diff = np.linalg.norm((x - dense.astype(np.float64)).ravel())
    scale = np.linalg.norm(x.ravel())
    return float(diff / scale) if scale > 0 else float(diff)


def _matmul(a, b):
    return einsum("ij,jk->ik", a, b)


# ---------------------------------------------------------------------------- TT

class TTTensor:
    """A tensor in tensor-train format: ``X[i_1..i_d] = G_1[:, i_1, :] @ ... @ G_d[:, i_d, :]``.

    ``cores[k]`` has shape ``(r_k, n_k, r_{k+1})`` with ``r_0 = r_d = 1``. Constructing from
    arrays validates the shapes (:class:`tnswift.ShapeError`).
    """

    def __init__(self, cores, *, errors=None):
        cores = list(cores) if not isinstance(cores, np.ndarray) else [cores]
        if not cores:
            raise ShapeError("a TT tensor needs at least one core")
        cores = _common(cores, [f"core {k}" for k in range(len(cores))])
        for k, c in enumerate(cores):
            if c.ndim != 3:
                raise ShapeError(f"TT core {k} has shape {c.shape}; cores must be 3-D "
                                 "(left rank, mode size, right rank)")
            if min(c.shape) < 1:
                raise ShapeError(f"TT core {k} has shape {c.shape}; every size must be at least 1")
            if k > 0 and cores[k - 1].shape[2] != c.shape[0]:
                raise ShapeError(f"TT core {k - 1} has right rank {cores[k - 1].shape[2]} but "
                                 f"TT core {k} has left rank {c.shape[0]}")
        if cores[0].shape[0] != 1 or cores[-1].shape[2] != 1:
            raise ShapeError(f"the first TT core must have left rank 1 and the last right rank 1 "
                             f"(got {cores[0].shape} and {cores[-1].shape})")
        self.cores = cores
        self.errors = list(errors or [])

    @property
    def dtype(self):
        return self.cores[0].dtype

    @property
    def shape(self):
        return tuple(c.shape[1] for c in self.cores)

    @property
    def ranks(self):
        """The d + 1 TT ranks, 1 at both ends."""
        return [1] + [c.shape[-1] for c in self.cores]

    @property
    def n_params(self):
        return int(sum(c.size for c in self.cores))

    def to_dense(self):
        """The full tensor (cores contracted left to right with :func:`tnswift.einsum`)."""
        result = self.cores[0].reshape(self.cores[0].shape[1], -1)
        for c in self.cores[1:]:
            r, n, s = c.shape
            result = _matmul(result, c.reshape(r, n * s)).reshape(-1, s)
        return result.reshape(self.shape)

    def rel_error(self, x):
        """``‖x − dense‖ / ‖x‖`` in float64."""
        return _rel_error(x, self.to_dense())

    def _pair(self, other, what):
        if not isinstance(other, TTTensor) or isinstance(other, TTMatrix) != isinstance(self, TTMatrix):
            raise ArgumentError(f"{what} needs another {type(self).__name__}, not {type(other).__name__}")
        a, b = self._tt_cores(), other._tt_cores()
        if len(a) != len(b):
            raise ShapeError(f"{what}: the tensors have {len(a)} and {len(b)} cores")
        both = _common(a + b, [f"core {k}" for k in range(len(a) + len(b))])
        return both[:len(a)], both[len(a):]

    def _tt_cores(self):
        return self.cores

    def _from_tt_cores(self, cores, errors=None):
        return TTTensor(cores, errors=errors)

    def inner(self, other):
        """The inner product ``Σ self[i] · other[i]`` (no dense tensor is formed)."""
        a, b = self._pair(other, "inner")
        return _ext.tt_inner(a, b)

    def norm(self):
        """The Frobenius norm, from the cores."""
        return math.sqrt(max(self.inner(self), 0.0))

    def __add__(self, other):
        if not isinstance(other, TTTensor):
            return NotImplemented
        a, b = self._pair(other, "+")
        cores, _ = _ext.tt_add(a, b, _empty_of(a[0].dtype))
        return self._from_tt_cores(cores)

    def round(self, eps=None, rank=None):
        """TT rounding: ``‖X − round(X)‖ ≤ eps · ‖X‖`` unless ``rank`` caps bind first.

        ``rank`` is an int, d - 1 bond caps, or d + 1 ranks with 1 at both ends.
        """
        cores = self._tt_cores()
        caps = _tt_caps(rank, len(cores))
        new, _ = _ext.tt_round(cores, caps, _eps(eps), _empty_of(cores[0].dtype))
        return self._from_tt_cores(new)

    def __repr__(self):
        return f"{type(self).__name__}(shape={self.shape}, ranks={self.ranks}, dtype={self.dtype})"


class TTMatrix(TTTensor):
    """A matrix in TT-matrix (MPO) format, ``w`` of shape ``(prod(in_modes), prod(out_modes))``.

    ``cores[k]`` has shape ``(r_k, in_k, out_k, r_{k+1})``. ``to_dense()`` and ``to_matrix()``
    return the 2-D matrix; ``shape`` is its ``(rows, columns)``.
    """

    def __init__(self, cores, *, errors=None):
        cores = list(cores) if not isinstance(cores, np.ndarray) else [cores]
        if not cores:
            raise ShapeError("a TT-matrix needs at least one core")
        cores = _common(cores, [f"core {k}" for k in range(len(cores))])
        for k, c in enumerate(cores):
            if c.ndim != 4:
                raise ShapeError(f"TT-matrix core {k} has shape {c.shape}; cores must be 4-D "
                                 "(left rank, in mode, out mode, right rank)")
        merged = TTTensor([c.reshape(c.shape[0], c.shape[1] * c.shape[2], c.shape[3]) for c in cores])
        self.cores = cores
        self.errors = list(errors or [])
        self._merged = merged.cores

    @property
    def in_modes(self):
        return tuple(c.shape[1] for c in self.cores)

    @property
    def out_modes(self):
        return tuple(c.shape[2] for c in self.cores)

    @property
    def shape(self):
        return (math.prod(self.in_modes), math.prod(self.out_modes))

    def _tt_cores(self):
        return self._merged

    def _from_tt_cores(self, cores, errors=None):
        return TTMatrix([c.reshape(c.shape[0], m, n, c.shape[2])
                         for c, m, n in zip(cores, self.in_modes, self.out_modes)], errors=errors)

    def to_matrix(self):
        """The full ``(prod(in_modes), prod(out_modes))`` matrix."""
        d = len(self.cores)
        dense = TTTensor(self._merged).to_dense()
        interleaved = [s for pair in zip(self.in_modes, self.out_modes) for s in pair]
        order = list(range(0, 2 * d, 2)) + list(range(1, 2 * d, 2))
        return np.ascontiguousarray(dense.reshape(interleaved).transpose(order)).reshape(self.shape)

    to_dense = to_matrix

    def __repr__(self):
        return (f"TTMatrix(in_modes={self.in_modes}, out_modes={self.out_modes}, "
                f"ranks={self.ranks}, dtype={self.dtype})")


# ---------------------------------------------------------------------------- CP and Tucker

class CPTensor:
    """A CP (Kruskal) tensor: ``X = Σ_r weights[r] · factors[0][:, r] ∘ … ∘ factors[-1][:, r]``.

    Unpacks like TensorLy's: ``weights, factors = cp``.
    """

    def __init__(self, weights, factors, *, errors=None):
        factors = list(factors)
        if not factors:
            raise ShapeError("a CP tensor needs at least one factor")
        arrays = _common([weights] + factors, ["weights"] + [f"factor {k}" for k in range(len(factors))])
        weights, factors = arrays[0], arrays[1:]
        if weights.ndim != 1 or weights.shape[0] < 1:
            raise ShapeError(f"weights have shape {weights.shape}; expected (rank,) with rank >= 1")
        rank = weights.shape[0]
        for k, f in enumerate(factors):
            if f.ndim != 2 or f.shape[1] != rank or f.shape[0] < 1:
                raise ShapeError(f"factor {k} has shape {f.shape}; expected (I_{k}, {rank}) for rank {rank}")
        self.weights = weights
        self.factors = factors
        self.errors = list(errors or [])

    def __iter__(self):
        return iter((self.weights, self.factors))

    @property
    def dtype(self):
        return self.weights.dtype

    @property
    def rank(self):
        return int(self.weights.shape[0])

    @property
    def ranks(self):
        """The CP rank (an int; CP has one rank for every mode)."""
        return self.rank

    @property
    def shape(self):
        return tuple(f.shape[0] for f in self.factors)

    @property
    def n_params(self):
        return int(self.weights.size + sum(f.size for f in self.factors))

    def to_dense(self):
        d = len(self.factors)
        args = [self.weights, [d]]
        for k, f in enumerate(self.factors):
            args += [f, [k, d]]
        return einsum(*args, list(range(d)))

    def rel_error(self, x):
        return _rel_error(x, self.to_dense())

    def __repr__(self):
        return f"CPTensor(shape={self.shape}, rank={self.rank}, dtype={self.dtype})"


class TuckerTensor:
    """A Tucker tensor: ``core`` (shape = the ranks) multiplied by ``factors[k]`` ``(I_k, R_k)``
    along each mode. Unpacks like TensorLy's: ``core, factors = tucker_tensor``."""

    def __init__(self, core, factors, *, errors=None):
        factors = list(factors)
        arrays = _common([core] + factors, ["core"] + [f"factor {k}" for k in range(len(factors))])
        core, factors = arrays[0], arrays[1:]
        if core.ndim != len(factors) or core.ndim < 1:
            raise ShapeError(f"the core has shape {core.shape} but {len(factors)} factors were given; "
                             "one factor per core dimension is needed")
        for k, f in enumerate(factors):
            if f.ndim != 2 or f.shape[1] != core.shape[k] or f.shape[0] < 1:
                raise ShapeError(f"factor {k} has shape {f.shape}; expected (I_{k}, {core.shape[k]}) "
                                 f"to match core dimension {k}")
        self.core = core
        self.factors = factors
        self.errors = list(errors or [])

    def __iter__(self):
        return iter((self.core, self.factors))

    @property
    def dtype(self):
        return self.core.dtype

    @property
    def ranks(self):
        return tuple(self.core.shape)

    @property
    def shape(self):
        return tuple(f.shape[0] for f in self.factors)

    @property
    def n_params(self):
        return int(self.core.size + sum(f.size for f in self.factors))

    def to_dense(self):
        d = len(self.factors)
        args = [self.core, list(range(d))]
        for k, f in enumerate(self.factors):
            args += [f, [d + k, k]]
        return einsum(*args, list(range(d, 2 * d)))

    def rel_error(self, x):
        return _rel_error(x, self.to_dense())

    def __repr__(self):
        return f"TuckerTensor(shape={self.shape}, ranks={self.ranks}, dtype={self.dtype})"


# ---------------------------------------------------------------------------- entry points

def tensor_train(x, rank=None, eps=None, callback=None):
    """TT-SVD of ``x``.

    Parameters
    ----------
    x : array_like, float32 or float64, every mode >= 1
    rank : int, or d - 1 bond ranks, or d + 1 ranks with 1 at both ends; optional caps
    eps : float, optional
        Relative tolerance: ``‖x − TT‖_F ≤ eps · ‖x‖_F`` unless a rank cap binds first.
        With neither rank nor eps, the decomposition is exact (full ranks).
    callback : callable(step, total, rel_error), optional

    Returns
    -------
    TTTensor with cores of ``x``'s dtype.
    """
    x = as_float_array("x", x)
    caps = _tt_caps(rank, x.ndim)
    cores, errors = _ext.tt_svd(x, caps, _eps(eps), _callback(callback), _empty_of(x.dtype))
    return TTTensor(cores, errors=errors)


def tt_matrix(w, in_modes, out_modes, rank=None, eps=None, callback=None):
    """TT-matrix decomposition of ``w`` of shape ``(prod(in_modes), prod(out_modes))``.

    ``w`` is ``(in_features, out_features)`` as in ``y = x @ w``. ``rank`` and ``eps`` as in
    :func:`tensor_train` (over the d merged modes ``in_k · out_k``). Returns a
    :class:`TTMatrix` with cores ``(r_k, in_k, out_k, r_{k+1})``.
    """
    w = as_float_array("w", w)
    rows = _int_list(in_modes, "in_modes")
    cols = _int_list(out_modes, "out_modes")
    if len(rows) != len(cols):
        raise ShapeError(f"in_modes {rows} and out_modes {cols} must have the same length")
    caps = _tt_caps(rank, len(rows))
    cores, errors = _ext.tt_matrix(w, rows, cols, caps, _eps(eps), _callback(callback),
                                   _empty_of(w.dtype))
    return TTMatrix(cores, errors=errors)


def _seed(random_state):
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**63))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**62))
    seed = _index(random_state, "random_state")
    if not 0 <= seed < 2**64:
        raise ArgumentError(f"random_state must be None, a Generator, a RandomState or an int in "
                            f"[0, 2**64) (got {seed})")
    return seed


def parafac(x, rank, *, n_iter_max=100, init="svd", tol=1e-8, random_state=None, callback=None):
    """CP decomposition of ``x`` by alternating least squares (TensorLy's ``parafac``).

    Parameters
    ----------
    x : array_like, float32 or float64, order >= 2
    rank : int, the number of rank-one terms (1 to ``x.size``)
    n_iter_max : int, at most this many iterations
    init : "svd", "random", or a CPTensor (or a ``(weights, factors)`` pair) to start from
    tol : float, stop once the relative error changes by less than this (0: run all iterations)
    random_state : None, int, numpy Generator or RandomState; seeds ``init="random"``
    callback : callable(step, total, rel_error), optional; called after each iteration

    Returns
    -------
    CPTensor with unit-norm factor columns, the scale in ``weights``, and ``errors`` (the
    relative error after each iteration).
    """
    x = as_float_array("x", x)
    rank = _index(rank, "rank")
    n_iter_max = _index(n_iter_max, "n_iter_max")
    init_arrays = None
    if isinstance(init, str):
        kinds = {"svd": 0, "random": 1}
        if init not in kinds:
            raise ArgumentError(f"init must be 'svd', 'random' or a CPTensor, not {init!r}")
        kind = kinds[init]
    else:
        try:
            weights, factors = init
        except (TypeError, ValueError):
            raise ArgumentError(f"init must be 'svd', 'random' or a CPTensor, not "
                                f"{type(init).__name__}") from None
        given = init if isinstance(init, CPTensor) else CPTensor(weights, factors)
        kind = 2
        init_arrays = [np.ascontiguousarray(a, dtype=x.dtype) for a in [given.weights] + given.factors]
    seed = _seed(random_state) if kind == 1 else 0
    arrays, errors = _ext.cp_als(x, rank, kind, seed, init_arrays, n_iter_max, float(tol),
                                 _callback(callback), _empty_of(x.dtype))
    return CPTensor(arrays[0], arrays[1:], errors=errors)


def tucker(x, rank=None, *, method="hooi", eps=None, n_iter_max=100, tol=1e-8, callback=None):
    """Tucker decomposition of ``x`` with orthonormal factors.

    Parameters
    ----------
    x : array_like, float32 or float64
    rank : int (the same for every mode), one rank per mode, or None (then eps decides)
    method : "hooi" (higher-order orthogonal iteration, starts from HOSVD) or "hosvd"
    eps : float, optional relative tolerance for choosing the ranks by HOSVD
        (``‖x − X̂‖ ≤ eps · ‖x‖`` for HOSVD)
    n_iter_max, tol : HOOI's iteration limit and stopping tolerance
    callback : callable(step, total, rel_error), optional

    Returns
    -------
    TuckerTensor with ``errors`` (HOOI: one per iteration; HOSVD: one).
    """
    x = as_float_array("x", x)
    if rank is None:
        ranks = None
    elif not hasattr(rank, "__len__") and not hasattr(rank, "__iter__"):
        ranks = [_index(rank, "rank")] * x.ndim
    else:
        ranks = _int_list(rank, "rank")
        if len(ranks) != x.ndim:
            raise ShapeError(f"rank has {len(ranks)} entries but x has {x.ndim} modes (shape {x.shape})")
    methods = {"hosvd": 0, "hooi": 1}
    if method not in methods:
        raise ArgumentError(f"method must be 'hooi' or 'hosvd', not {method!r}")
    core_factors, errors = _ext.tucker(x, ranks, _eps(eps), methods[method],
                                       _index(n_iter_max, "n_iter_max"), float(tol),
                                       _callback(callback), _empty_of(x.dtype))
    return TuckerTensor(core_factors[0], core_factors[1:], errors=errors)


def balanced_modes(n, order):
    """Factor ``n`` into ``order`` near-equal integers whose product is ``n``, largest first
    (e.g. ``balanced_modes(1024, 5) == [4, 4, 4, 4, 4]``): modes for :func:`tt_matrix`."""
    return _ext.balanced_modes(_index(n, "n"), _index(order, "order"))
