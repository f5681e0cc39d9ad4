"""One-shot contractions: ``einsum`` and ``contract_path``."""

import operator

import numpy as np

from ._ext import FLOAT32, FLOAT64, ShapeError
from ._operands import check_out, prepare_operands
from ._options import FLOAT32_DTYPE, dtype_code, memory_limit_value, optimize_code
from ._pathinfo import PathInfo
from ._plans import einsum_plan
from ._sublists import from_interleaved

__all__ = ["einsum", "contract_path", "PathInfo"]

_empty = np.empty
_shape_of = operator.attrgetter("shape")


def _normalise_call(subscripts, operands):
    """Accept both ``(subscripts, *operands)`` and NumPy's interleaved sublist form."""
    if not isinstance(subscripts, str):
        return from_interleaved((subscripts,) + operands)
    if " " in subscripts:
        subscripts = subscripts.replace(" ", "")
    return subscripts, operands


def einsum(subscripts, *operands, out=None, optimize="auto", memory_limit=None):
    """Evaluate an Einstein summation, like ``numpy.einsum``, with an optimised pairwise path.

    Parameters
    ----------
    subscripts : str
        NumPy grammar: ``"ij,jk->ik"``, implicit output (``"ij,jk"``), ``...`` broadcasting,
        repeated labels (traces/diagonals). NumPy's interleaved form
        ``einsum(op0, sublist0, op1, sublist1, ..., [sublistout])`` is accepted too.
    *operands : array_like
        float32 or float64 arrays (anything ``np.asarray`` turns into one). Mixed float32 and
        float64 operands promote to float64. Arrays are read in place (zero-copy) unless their
        byte order is non-native or their strides are not multiples of the itemsize.
    out : numpy.ndarray, optional
        Writable array of exactly the result's shape and dtype that receives the result.
    optimize : {"auto", "optimal", "greedy", "none", True, False}
        Path search strategy; True means "auto", False means "none" (left to right).
    memory_limit : int, optional
        Largest intermediate allowed, in elements.

    Returns
    -------
    numpy.ndarray or numpy scalar
        ``out`` when given; otherwise a new array, or a NumPy scalar for a full reduction
        (as ``numpy.einsum`` returns).

    Raises
    ------
    SubscriptError, ShapeError, DTypeError, ArgumentError
        Malformed subscripts, shapes that do not fit, unsupported dtypes, bad options.

    Plans are cached (LRU, 256 entries) by subscripts, shapes, dtype and options.
    """
    subscripts, operands = _normalise_call(subscripts, operands)
    arrays, dtype = prepare_operands(operands)
    plan = einsum_plan(subscripts, tuple(map(_shape_of, arrays)),
                       FLOAT32 if dtype is FLOAT32_DTYPE else FLOAT64,
                       optimize_code(optimize), memory_limit_value(memory_limit))
    if out is None:
        result = _empty(plan.output_shape, dtype)
        plan.execute(arrays, result)
        return result if result.ndim else result[()]
    check_out(out, plan.output_shape, dtype)
    if out.flags.aligned:
        plan.execute(arrays, out)
    else:
        result = _empty(plan.output_shape, dtype)
        plan.execute(arrays, result)
        np.copyto(out, result)
    return out


def _shape_tuple(index, shape):
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ShapeError(
            f"shape of operand {index} must be a sequence of integers, got {shape!r}") from None


def contract_path(subscripts, *operands, shapes=False, optimize="auto", memory_limit=None):
    """Plan a contraction without running it; return ``(path, info)`` like opt_einsum.

    Parameters
    ----------
    subscripts : str
        As for :func:`einsum` (the interleaved sublist form is accepted too).
    *operands : array_like or tuple of int
        The operands, or with ``shapes=True`` their shapes.
    shapes : bool
        Whether ``operands`` are shapes. Plans from shapes use float64.
    optimize, memory_limit
        As for :func:`einsum`.

    Returns
    -------
    path : list of tuple of int
        opt_einsum form: each step contracts two positions of the current operand list and
        appends the result.
    info : PathInfo
        ``str(info)`` is the engine's cost report; attributes ``opt_cost``, ``naive_cost``,
        ``largest_intermediate``, ``speedup``, ``path``, ``eq``.
    """
    subscripts, operands = _normalise_call(subscripts, operands)
    if shapes:
        shape_list = tuple([_shape_tuple(i, s) for i, s in enumerate(operands)])
        code = dtype_code(np.float64)
    else:
        shape_list = tuple([np.shape(op) for op in operands])
        all_f32 = bool(operands) and all(
            getattr(op, "dtype", None) == FLOAT32_DTYPE for op in operands)
        code = dtype_code(np.float32 if all_f32 else np.float64)
    plan = einsum_plan(subscripts, shape_list, code, optimize_code(optimize),
                       memory_limit_value(memory_limit))
    info = PathInfo(subscripts, plan)
    return list(info.path), info
