"""Argument checks shared by the layer and convolution classes: dtypes, positive sizes,
modes, ranks and seeds, each failing with the package's exceptions and the argument's name."""

import numpy as np

from . import _ext
from ._ext import ArgumentError, DTypeError, ShapeError
from .decompose import _index, balanced_modes


def layer_dtype(dtype):
    """float32 or float64 as a NumPy dtype; anything else is a DTypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"dtype must be float32 or float64, not {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise DTypeError(f"dtype must be float32 or float64, not {dt}")
    return dt


def dtype_code(dtype):
    """The tn_dtype of a float32 / float64 dtype."""
    return _ext.FLOAT32 if layer_dtype(dtype) == np.float32 else _ext.FLOAT64


def positive(value, name):
    v = _index(value, name)
    if v < 1:
        raise ArgumentError(f"{name} must be at least 1 (got {v})")
    return v


def modes(value, name, order):
    """An int (split into ``order`` balanced modes) or a sequence of modes, as a tuple."""
    if isinstance(value, (str, bytes)):
        raise ArgumentError(f"{name} must be an integer or a sequence of integers, not {type(value).__name__}")
    if hasattr(value, "__iter__"):
        result = tuple(_index(m, f"{name}[{i}]") for i, m in enumerate(value))
        if not result:
            raise ShapeError(f"{name} is empty; a layer needs at least one mode")
        if min(result) < 1:
            raise ShapeError(f"{name} {result}: every mode must be at least 1")
        return result
    n = _index(value, name)
    if n < 1:
        raise ShapeError(f"{name} must be at least 1 (got {n})")
    return tuple(balanced_modes(n, positive(order, "order")))


def prod(values):
    p = 1
    for v in values:
        p *= v
    return p


def rank_list(rank, name):
    """An int or a non-empty sequence of ints, each at least 1, as a list."""
    if hasattr(rank, "__iter__") and not isinstance(rank, (str, bytes)):
        ranks = [_index(r, f"{name}[{i}]") for i, r in enumerate(rank)]
        if not ranks:
            raise ArgumentError(f"{name} is empty")
        for r in ranks:
            if r < 1:
                raise ArgumentError(f"{name} {ranks}: every rank must be at least 1")
        return ranks
    return [positive(rank, name)]


def tt_ranks(rank, n_modes, who):
    """One TT rank for every bond, the n_modes - 1 bond ranks, or n_modes + 1 ranks with 1 at
    both ends, as the bond ranks (or the single rank)."""
    ranks = rank_list(rank, "rank")
    if len(ranks) == n_modes + 1:
        if ranks[0] != 1 or ranks[-1] != 1:
            raise ShapeError(f"rank {ranks} has d + 1 entries, so its first and last must be 1")
        return ranks[1:-1]
    if len(ranks) != 1 and len(ranks) != n_modes - 1:
        raise ShapeError(f"rank has {len(ranks)} entries; {who} with {n_modes} modes takes one, "
                         f"{n_modes - 1} bond ranks or {n_modes + 1} ranks with 1 at both ends")
    return ranks


def seed(value):
    s = _index(value, "seed")
    if s < 0:
        raise ArgumentError(f"seed must be non-negative (got {s})")
    return s


def dense_operand(value, name, ndim, layout):
    """A float32/float64 array of ``ndim`` dimensions (a dense weight or kernel to convert);
    other input converts to float64."""
    if not isinstance(value, np.ndarray):
        value = np.asarray(value, dtype=np.float64)
    if value.dtype not in (np.float32, np.float64):
        raise DTypeError(f"{name} has dtype {value.dtype}; expected float32 or float64")
    if value.ndim != ndim:
        raise ShapeError(f"{name} has shape {value.shape}; expected {layout}")
    return value


def matching_bias(bias, name, value, size):
    """None, or ``bias`` as an array of ``value``'s dtype and shape (size,)."""
    if bias is None:
        return None
    if not isinstance(bias, np.ndarray):
        bias = np.asarray(bias, dtype=value.dtype)
    if bias.dtype != value.dtype:
        raise DTypeError(f"bias has dtype {bias.dtype} but {name} is {value.dtype}")
    if bias.shape != (size,):
        raise ShapeError(f"bias has shape {bias.shape}; the {name} {value.shape} needs ({size},)")
    return bias
